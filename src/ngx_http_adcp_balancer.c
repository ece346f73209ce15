
/*
 * ngx_http_adcp_balancer_module: adcp_balancer, an upstream module of its
 * own in the adcp .so.
 *
 *   upstream adcp_adapters {
 *       adcp_balancer;      # each request's peer is its platform's upstream
 *       keepalive 128;      # nginx's keep-alive pool, wrapping this one
 *   }
 *   location /mcp { adcp on; proxy_pass http://adcp_adapters; }
 *
 * A constant proxy_pass, so nginx neither parses a URL nor looks an
 * upstream up by name per request.  What a peer needs is worked out once
 * per platform, in the platform's own pool (freed with it), on the first
 * request that uses the platform: for each upstream the platform names
 * (its "upstream" and each route), an IP host:port becomes a sockaddr, the
 * name of an upstream{} block a pointer to that block (its own balancer
 * then picks among its servers, so proxy_next_upstream works within them),
 * and a host name is resolved with nginx's resolver (the location's
 * "resolver"), the requests that need it waiting, never blocking.
 *
 * Per request, init_peer reads the peer the access handler chose (the
 * request's ctx) and points the upstream at it: no allocation for an
 * address, the upstream{} block's own (request pool) peer data otherwise.
 *
 * A host name with several addresses is balanced over them as an upstream
 * with several servers is by nginx's round robin: successive requests
 * take them in turn, a request whose connect fails goes on to an address
 * it has not tried (proxy_next_upstream), and an address that failed is
 * skipped for NGX_HTTP_ADCP_PEER_FAIL_TIMEOUT by this worker (nginx's
 * max_fails=1 fail_timeout=10s) unless nothing else is left.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_adcp.h"
#include "ngx_http_adcp_request.h"
#include "ngx_http_adcp_balancer.h"
#include "ngx_http_adcp_balancer_private.h"
#include "ngx_http_adcp_str.h"


static char *ngx_http_adcp_balancer(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static void *ngx_http_adcp_balancer_create_main_conf(ngx_conf_t *cf);
static ngx_int_t ngx_http_adcp_balancer_init_upstream(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us);
static ngx_int_t ngx_http_adcp_balancer_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us);
static ngx_int_t ngx_http_adcp_balancer_no_platform(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us) NGX_HTTP_ADCP_COLD;
static ngx_int_t ngx_http_adcp_balancer_init_addrs(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx, ngx_http_adcp_peer_t *peer)
    NGX_HTTP_ADCP_NOINLINE;
static ngx_int_t ngx_http_adcp_balancer_get_peer(ngx_peer_connection_t *pc,
    void *data);
static ngx_int_t ngx_http_adcp_balancer_get_next(ngx_peer_connection_t *pc,
    void *data);
static void ngx_http_adcp_balancer_set_peer(ngx_peer_connection_t *pc,
    ngx_addr_t *addr);
static void ngx_http_adcp_balancer_free_next(ngx_peer_connection_t *pc,
    void *data, ngx_uint_t state);
static ngx_int_t ngx_http_adcp_balancer_get_none(ngx_peer_connection_t *pc,
    void *data);
static void ngx_http_adcp_balancer_free_peer(ngx_peer_connection_t *pc,
    void *data, ngx_uint_t state);
static ngx_inline ngx_http_adcp_peer_t *ngx_http_adcp_balancer_pick(
    ngx_http_adcp_platform_t *pf, ngx_str_t *task, ngx_log_t *log);
static ngx_http_adcp_peer_t *ngx_http_adcp_balancer_route(
    ngx_http_adcp_platform_t *pf, ngx_str_t *task, ngx_log_t *log)
    NGX_HTTP_ADCP_NOINLINE;
static ngx_http_adcp_peers_t *ngx_http_adcp_balancer_peers(
    ngx_http_adcp_platform_t *pf, ngx_log_t *log);
static void ngx_http_adcp_balancer_peer_init(ngx_http_adcp_platform_t *pf,
    ngx_str_t *name, ngx_http_adcp_peer_t *peer, ngx_log_t *log);
static ngx_http_adcp_peer_t *ngx_http_adcp_balancer_chosen(
    ngx_http_request_t *r, ngx_http_adcp_ctx_t *ctx);


static ngx_command_t  ngx_http_adcp_balancer_commands[] = {

    { ngx_string("adcp_balancer"),
      NGX_HTTP_UPS_CONF|NGX_CONF_NOARGS,
      ngx_http_adcp_balancer,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_adcp_balancer_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_http_adcp_balancer_create_main_conf, /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_http_adcp_balancer_module = {
    NGX_MODULE_V1,
    &ngx_http_adcp_balancer_module_ctx,    /* module context */
    ngx_http_adcp_balancer_commands,       /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/* adcp_balancer; in an upstream{} block, before keepalive */

static char *
ngx_http_adcp_balancer(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_adcp_balancer_main_conf_t *bmcf = conf;

    ngx_http_upstream_server_t     *us;
    ngx_http_upstream_srv_conf_t   *uscf, **p;

    uscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_upstream_module);

    if (uscf->peer.init_upstream) {
        return "must be the first balancing directive of its upstream{}, "
               "before \"keepalive\" (and with no other balancer)";
    }

    uscf->flags = NGX_HTTP_UPSTREAM_CREATE;
    uscf->peer.init_upstream = ngx_http_adcp_balancer_init_upstream;

    /* a placeholder, so that the upstream{} has a "server" */

    us = ngx_array_push(uscf->servers);
    if (us == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(us, sizeof(ngx_http_upstream_server_t));

    if (bmcf->balancers == NULL) {
        bmcf->balancers = ngx_array_create(cf->pool, 2,
                                  sizeof(ngx_http_upstream_srv_conf_t *));
        if (bmcf->balancers == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    p = ngx_array_push(bmcf->balancers);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    *p = uscf;

    return NGX_CONF_OK;
}


static void *
ngx_http_adcp_balancer_create_main_conf(ngx_conf_t *cf)
{
    /*
     * set by ngx_pcalloc():
     *
     *     bmcf->balancers = NULL;
     */

    return ngx_pcalloc(cf->pool, sizeof(ngx_http_adcp_balancer_main_conf_t));
}


static ngx_int_t
ngx_http_adcp_balancer_init_upstream(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us)
{
    if (us->servers->nelts != 1) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "upstream \"%V\" with \"adcp_balancer\" takes no "
                      "\"server\": its peers come from the platforms, "
                      "in %s:%ui", &us->host, us->file_name, us->line);
        return NGX_ERROR;
    }

    if (us->shm_zone) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "upstream \"%V\" with \"adcp_balancer\" does not "
                      "take \"zone\", in %s:%ui",
                      &us->host, us->file_name, us->line);
        return NGX_ERROR;
    }

    us->peer.init = ngx_http_adcp_balancer_init_peer;
    us->peer.data = NULL;

    return NGX_OK;
}


/*
 * Per request: the peer the access handler chose; an upstream{} block's
 * own balancer goes on at once (its init_peer), anything else is
 * ngx_http_adcp_balancer_init_addrs()'s.  A request without a platform
 * (a location without "adcp on", or no adcp_factory) gets no peer: 502,
 * logged.
 */

static ngx_int_t
ngx_http_adcp_balancer_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us)
{
    ngx_http_adcp_ctx_t   *ctx;
    ngx_http_adcp_peer_t  *peer;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_adcp_module);

    if (ctx == NULL || ngx_http_adcp_platform(ctx) == NULL) {
        return ngx_http_adcp_balancer_no_platform(r, us);
    }

    peer = ngx_http_adcp_balancer_chosen(r->main, ctx);

    if (peer == NULL || peer->type != NGX_HTTP_ADCP_PEER_UPSTREAM) {
        return ngx_http_adcp_balancer_init_addrs(r, ctx, peer);
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "adcp balancer: tenant \"%V\" -> upstream \"%V\"",
                   ctx->tenant, &peer->uscf->host);

    return peer->uscf->peer.init(r, peer->uscf);
}


static ngx_int_t
ngx_http_adcp_balancer_no_platform(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us)
{
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "adcp_balancer: upstream \"%V\": the request has no "
                  "platform (\"adcp on\" and \"adcp_factory\" are "
                  "needed where it is used)", &us->host);

    r->upstream->peer.free = ngx_http_adcp_balancer_free_peer;
    r->upstream->peer.tries = 1;
    r->upstream->peer.get = ngx_http_adcp_balancer_get_none;
    r->upstream->peer.data = NULL;

    return NGX_OK;
}


/*
 * The peer is addresses (an IP, or a host name resolved), or none chosen
 * yet (a request the access handler did not see: the platform's pick)
 */

static ngx_int_t
ngx_http_adcp_balancer_init_addrs(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx, ngx_http_adcp_peer_t *peer)
{
    ngx_http_upstream_t    *u;
    ngx_http_adcp_tries_t  *tries;

    u = r->upstream;

    if (peer == NULL) {
        peer = ngx_http_adcp_balancer_pick(ngx_http_adcp_platform(ctx),
                                           &ctx->env->task,
                                           r->connection->log);

        if (peer && peer->type == NGX_HTTP_ADCP_PEER_UPSTREAM) {
            ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "adcp balancer: tenant \"%V\" -> upstream "
                           "\"%V\"", ctx->tenant, &peer->uscf->host);

            return peer->uscf->peer.init(r, peer->uscf);
        }
    }

    u->peer.free = ngx_http_adcp_balancer_free_peer;
    u->peer.tries = 1;

    if (peer == NULL || peer->naddrs == 0) {

        if (peer && peer->type == NGX_HTTP_ADCP_PEER_NAME) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "adcp_balancer: tenant \"%V\": \"%V\" is not "
                          "resolved", ctx->tenant, peer->name);

        } else if (peer) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "adcp_balancer: tenant \"%V\": the platform's "
                          "upstream is unusable", ctx->tenant);
        }

        u->peer.get = ngx_http_adcp_balancer_get_none;
        u->peer.data = NULL;

        return NGX_OK;
    }

    if (peer->naddrs == 1) {
        u->peer.get = ngx_http_adcp_balancer_get_peer;
        u->peer.data = peer;

        return NGX_OK;
    }

    tries = ngx_pcalloc(r->pool, sizeof(ngx_http_adcp_tries_t));
    if (tries == NULL) {
        return NGX_ERROR;
    }

    tries->peer = peer;
    tries->tenant = ctx->tenant;

    u->peer.get = ngx_http_adcp_balancer_get_next;
    u->peer.free = ngx_http_adcp_balancer_free_next;
    u->peer.data = tries;
    u->peer.tries = peer->naddrs;

    return NGX_OK;
}


/* one address */

static ngx_int_t
ngx_http_adcp_balancer_get_peer(ngx_peer_connection_t *pc, void *data)
{
    ngx_http_adcp_peer_t *peer = data;

    ngx_addr_t  *addr;

    addr = &peer->addrs[0];

    ngx_http_adcp_balancer_set_peer(pc, addr);

    return NGX_OK;
}


/*
 * Several addresses: the next in turn this request has not tried, one
 * that has not failed lately first
 */

static ngx_int_t
ngx_http_adcp_balancer_get_next(ngx_peer_connection_t *pc, void *data)
{
    ngx_http_adcp_tries_t *tries = data;

    time_t                 now;
    uintptr_t              bit;
    ngx_uint_t             i, k, n, found;
    ngx_addr_t            *addr;
    ngx_http_adcp_peer_t  *peer;

    peer = tries->peer;
    n = peer->naddrs;
    now = ngx_time();
    found = n;

    for (k = 0; k < n; k++) {
        i = (peer->next + k) % n;
        bit = (uintptr_t) 1 << i;

        if (tries->tried & bit) {
            continue;
        }

        if (peer->failed[i] == 0
            || now - peer->failed[i] >= NGX_HTTP_ADCP_PEER_FAIL_TIMEOUT)
        {
            found = i;
            break;
        }

        if (found == n) {
            found = i;      /* failed lately: only if nothing else is left */
        }
    }

    if (found == n) {
        return NGX_BUSY;
    }

    peer->next = found + 1;
    tries->tried |= (uintptr_t) 1 << found;
    tries->current = found;

    addr = &peer->addrs[found];

    ngx_http_adcp_balancer_set_peer(pc, addr);

    return NGX_OK;
}


static void
ngx_http_adcp_balancer_set_peer(ngx_peer_connection_t *pc, ngx_addr_t *addr)
{
    pc->sockaddr = addr->sockaddr;
    pc->socklen = addr->socklen;
    pc->name = &addr->name;
    pc->cached = 0;
    pc->connection = NULL;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, pc->log, 0,
                   "adcp balancer: peer %V", pc->name);
}


static void
ngx_http_adcp_balancer_free_next(ngx_peer_connection_t *pc, void *data,
    ngx_uint_t state)
{
    ngx_http_adcp_tries_t *tries = data;

    ngx_http_adcp_peer_t  *peer;

    peer = tries->peer;

    if (state & NGX_PEER_FAILED) {

        if (peer->failed[tries->current] == 0) {
            ngx_log_error(NGX_LOG_WARN, pc->log, 0,
                          "adcp_balancer: tenant \"%V\": %V of \"%V\" "
                          "failed, skipped for %ds while others answer",
                          tries->tenant, &peer->addrs[tries->current].name,
                          peer->name, NGX_HTTP_ADCP_PEER_FAIL_TIMEOUT);
        }

        peer->failed[tries->current] = ngx_time();

    } else {
        peer->failed[tries->current] = 0;
    }

    if (pc->tries) {
        pc->tries--;
    }
}


static ngx_int_t
ngx_http_adcp_balancer_get_none(ngx_peer_connection_t *pc, void *data)
{
    static ngx_str_t  none = ngx_string("adcp_balancer");

    pc->name = &none;

    return NGX_BUSY;
}


static void
ngx_http_adcp_balancer_free_peer(ngx_peer_connection_t *pc, void *data,
    ngx_uint_t state)
{
    if (pc->tries) {
        pc->tries--;
    }
}


/*
 * From the access handler, after the platform is resolved and allowed:
 * chooses the request's peer; a host name not yet resolved is resolved
 * while the request waits.  NGX_OK, NGX_DONE (waiting), NGX_DECLINED
 * (ctx->aux->err says why), NGX_ERROR.
 */

ngx_int_t
ngx_http_adcp_balancer_prepare(ngx_http_request_t *r, ngx_http_adcp_ctx_t *ctx)
{
    ngx_http_adcp_peer_t                *peer;
    ngx_http_adcp_resolve_t             *rs;
    ngx_http_adcp_balancer_main_conf_t  *bmcf;

    peer = ngx_http_adcp_balancer_chosen(r, ctx);

    if (peer == NULL) {
        bmcf = ngx_http_get_module_main_conf(r,
                                             ngx_http_adcp_balancer_module);

        if (bmcf->balancers == NULL || ngx_http_adcp_platform(ctx) == NULL)
        {
            return NGX_OK;
        }

        peer = ngx_http_adcp_balancer_pick(ngx_http_adcp_platform(ctx),
                                           &ctx->env->task,
                                           r->connection->log);
        if (peer == NULL) {
            return NGX_ERROR;
        }

        ngx_http_set_ctx(r, peer, ngx_http_adcp_balancer_module);
    }

    if (peer->type != NGX_HTTP_ADCP_PEER_NAME || peer->naddrs) {
        return NGX_OK;
    }

    rs = ctx->resolving
         ? ngx_http_get_module_ctx(r, ngx_http_adcp_balancer_module) : NULL;

    if (rs == NULL) {
        return ngx_http_adcp_balancer_resolve(r, ctx, peer);
    }

    if (!rs->done) {
        return NGX_DONE;
    }

    if (rs->failed) {
        return ngx_http_adcp_balancer_unavailable(r, ctx);
    }

    return NGX_OK;
}


/*
 * The peer the request's access handler chose, or NULL.  The module's own
 * request ctx holds it, or, once its host name is being resolved
 * (ctx->resolving), the resolution, which names it.
 */

static ngx_http_adcp_peer_t *
ngx_http_adcp_balancer_chosen(ngx_http_request_t *r, ngx_http_adcp_ctx_t *ctx)
{
    ngx_http_adcp_resolve_t  *rs;

    if (ctx->resolving) {
        rs = ngx_http_get_module_ctx(r, ngx_http_adcp_balancer_module);
        return rs->peer;
    }

    return ngx_http_get_module_ctx(r, ngx_http_adcp_balancer_module);
}


/*
 * The peer for a task: its route's, or the platform's upstream's; a
 * platform's peers are made once, on its first request, and most have no
 * routes: inline, no call
 */

static ngx_inline ngx_http_adcp_peer_t *
ngx_http_adcp_balancer_pick(ngx_http_adcp_platform_t *pf, ngx_str_t *task,
    ngx_log_t *log)
{
    if (pf->peers && (pf->routes == NULL || task->len == 0)) {
        return &((ngx_http_adcp_peers_t *) pf->peers)->upstream;
    }

    return ngx_http_adcp_balancer_route(pf, task, log);
}


static ngx_http_adcp_peer_t *
ngx_http_adcp_balancer_route(ngx_http_adcp_platform_t *pf, ngx_str_t *task,
    ngx_log_t *log)
{
    ngx_uint_t              i;
    ngx_keyval_t           *kv;
    ngx_http_adcp_peers_t  *peers;

    peers = pf->peers;

    if (peers == NULL) {
        peers = ngx_http_adcp_balancer_peers(pf, log);
        if (peers == NULL) {
            return NULL;
        }

        pf->peers = peers;
    }

    if (pf->routes && task->len) {
        kv = pf->routes->elts;

        for (i = 0; i < pf->routes->nelts; i++) {
            if (ngx_http_adcp_str_is(&kv[i].key, task->data, task->len)) {
                return &peers->routes[i];
            }
        }
    }

    return &peers->upstream;
}


/* once per platform, in its pool */

static ngx_http_adcp_peers_t *
ngx_http_adcp_balancer_peers(ngx_http_adcp_platform_t *pf, ngx_log_t *log)
{
    ngx_uint_t              i;
    ngx_keyval_t           *kv;
    ngx_http_adcp_peers_t  *peers;

    peers = ngx_pcalloc(pf->pool, sizeof(ngx_http_adcp_peers_t));
    if (peers == NULL) {
        return NULL;
    }

    ngx_http_adcp_balancer_peer_init(pf, &pf->upstream, &peers->upstream,
                                     log);

    if (pf->routes == NULL || pf->routes->nelts == 0) {
        return peers;
    }

    peers->routes = ngx_pcalloc(pf->pool,
                          sizeof(ngx_http_adcp_peer_t) * pf->routes->nelts);
    if (peers->routes == NULL) {
        return NULL;
    }

    kv = pf->routes->elts;

    for (i = 0; i < pf->routes->nelts; i++) {
        ngx_http_adcp_balancer_peer_init(pf, &kv[i].value, &peers->routes[i],
                                         log);
    }

    return peers;
}


/*
 * An upstream{} block of that name, else an IP address with an optional
 * port (80), else a host name with an optional port (80).
 */

static void
ngx_http_adcp_balancer_peer_init(ngx_http_adcp_platform_t *pf,
    ngx_str_t *name, ngx_http_adcp_peer_t *peer, ngx_log_t *log)
{
    ngx_int_t                       rc;
    ngx_url_t                       url;
    ngx_uint_t                      i, j;
    ngx_addr_t                     *addr;
    ngx_http_upstream_srv_conf_t  **uscfp, **bp;
    ngx_http_upstream_main_conf_t       *umcf;
    ngx_http_adcp_balancer_main_conf_t  *bmcf;

    peer->name = name;
    peer->type = NGX_HTTP_ADCP_PEER_BAD;

    umcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_upstream_module);
    bmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_adcp_balancer_module);

    uscfp = umcf->upstreams.elts;

    for (i = 0; i < umcf->upstreams.nelts; i++) {

        if (uscfp[i]->srv_conf == NULL
            || uscfp[i]->host.len != name->len
            || ngx_strncasecmp(uscfp[i]->host.data, name->data, name->len)
               != 0)
        {
            continue;
        }

        bp = bmcf->balancers->elts;

        for (j = 0; j < bmcf->balancers->nelts; j++) {
            if (bp[j] == uscfp[i]) {
                ngx_log_error(NGX_LOG_ERR, log, 0,
                              "adcp_balancer: tenant \"%V\": the platform "
                              "names the adcp_balancer upstream \"%V\"",
                              &pf->tenant, name);
                return;
            }
        }

        peer->type = NGX_HTTP_ADCP_PEER_UPSTREAM;
        peer->uscf = uscfp[i];

        return;
    }

    addr = ngx_pcalloc(pf->pool, sizeof(ngx_addr_t));
    if (addr == NULL) {
        return;
    }

    rc = ngx_parse_addr_port(pf->pool, addr, name->data, name->len);

    if (rc == NGX_OK) {
        if (ngx_inet_get_port(addr->sockaddr) == 0) {
            ngx_inet_set_port(addr->sockaddr, 80);
        }

        addr->name = *name;

        peer->type = NGX_HTTP_ADCP_PEER_ADDR;
        peer->addrs = addr;
        peer->naddrs = 1;

        return;
    }

    if (rc == NGX_ERROR) {
        return;
    }

    ngx_memzero(&url, sizeof(ngx_url_t));

    url.url = *name;
    url.default_port = 80;
    url.no_resolve = 1;

    if (ngx_parse_url(pf->pool, &url) != NGX_OK || url.host.len == 0) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "adcp_balancer: tenant \"%V\": \"%V\" is not an "
                      "upstream{}, an address or a host name",
                      &pf->tenant, name);
        return;
    }

    peer->type = NGX_HTTP_ADCP_PEER_NAME;
    peer->host = url.host;
    peer->port = url.port ? url.port : 80;
}
