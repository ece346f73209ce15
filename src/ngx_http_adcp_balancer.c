
/*
 * ngx_http_adcp_module: adcp_balancer.
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


#define NGX_HTTP_ADCP_PEER_ADDR       0   /* addresses: IP, or resolved */
#define NGX_HTTP_ADCP_PEER_UPSTREAM   1   /* an upstream{} block */
#define NGX_HTTP_ADCP_PEER_NAME       2   /* a host name, to resolve */
#define NGX_HTTP_ADCP_PEER_BAD        3   /* unusable: logged when built */

#define NGX_HTTP_ADCP_PEER_FAIL_TIMEOUT  10    /* s */
#define NGX_HTTP_ADCP_PEER_MAX_ADDRS     (8 * sizeof(uintptr_t))


/* an upstream a platform names; in the platform's pool */

typedef struct {
    ngx_str_t                     *name;    /* the descriptor's string */
    ngx_uint_t                     type;    /* NGX_HTTP_ADCP_PEER_* */
    ngx_http_upstream_srv_conf_t  *uscf;    /* PEER_UPSTREAM */
    ngx_addr_t                    *addrs;   /* PEER_ADDR, PEER_NAME once */
    ngx_uint_t                     naddrs;  /* resolved */
    ngx_uint_t                     next;    /* round robin over addrs */
    time_t                        *failed;  /* per address, when it last
                                               failed; several addrs */
    ngx_str_t                      host;    /* PEER_NAME */
    in_port_t                      port;    /* PEER_NAME */
} ngx_http_adcp_peer_t;


/* a platform's peers: its upstream's, and one per route */

typedef struct {
    ngx_http_adcp_peer_t           upstream;
    ngx_http_adcp_peer_t          *routes;  /* parallel to pf->routes */
} ngx_http_adcp_peers_t;


/* a request's tries over a host name's addresses; in its pool */

typedef struct {
    ngx_http_adcp_peer_t          *peer;
    ngx_str_t                     *tenant;
    uintptr_t                      tried;   /* a bit per address */
    ngx_uint_t                     current;
} ngx_http_adcp_tries_t;


/* a request waiting for a host name; in the request's pool */

typedef struct {
    ngx_http_request_t            *request;
    ngx_http_adcp_platform_t      *platform;
    ngx_http_adcp_peer_t          *peer;
    ngx_resolver_ctx_t            *rctx;    /* NULL once done */
    unsigned                       done:1;
    unsigned                       failed:1;
} ngx_http_adcp_resolve_t;


static ngx_int_t ngx_http_adcp_balancer_init_upstream(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us);
static ngx_int_t ngx_http_adcp_balancer_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us);
static ngx_int_t ngx_http_adcp_balancer_get_peer(ngx_peer_connection_t *pc,
    void *data);
static ngx_int_t ngx_http_adcp_balancer_get_next(ngx_peer_connection_t *pc,
    void *data);
static void ngx_http_adcp_balancer_free_next(ngx_peer_connection_t *pc,
    void *data, ngx_uint_t state);
static ngx_int_t ngx_http_adcp_balancer_get_none(ngx_peer_connection_t *pc,
    void *data);
static void ngx_http_adcp_balancer_free_peer(ngx_peer_connection_t *pc,
    void *data, ngx_uint_t state);
static ngx_http_adcp_peer_t *ngx_http_adcp_balancer_pick(
    ngx_http_adcp_platform_t *pf, ngx_str_t *task, ngx_log_t *log);
static ngx_http_adcp_peers_t *ngx_http_adcp_balancer_peers(
    ngx_http_adcp_platform_t *pf, ngx_log_t *log);
static void ngx_http_adcp_balancer_peer_init(ngx_http_adcp_platform_t *pf,
    ngx_str_t *name, ngx_http_adcp_peer_t *peer, ngx_log_t *log);
static ngx_int_t ngx_http_adcp_balancer_resolve(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx, ngx_http_adcp_peer_t *peer);
static void ngx_http_adcp_balancer_resolved(ngx_resolver_ctx_t *rctx);
static void ngx_http_adcp_balancer_wake(ngx_http_request_t *r);
static void ngx_http_adcp_balancer_cleanup(void *data);
static ngx_int_t ngx_http_adcp_balancer_unavailable(ngx_http_adcp_ctx_t *ctx);


/* adcp_balancer; in an upstream{} block, before keepalive */

char *
ngx_http_adcp_balancer(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_adcp_main_conf_t *amcf = conf;

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

    if (amcf->balancers == NULL) {
        amcf->balancers = ngx_array_create(cf->pool, 2,
                                  sizeof(ngx_http_upstream_srv_conf_t *));
        if (amcf->balancers == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    p = ngx_array_push(amcf->balancers);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    *p = uscf;

    return NGX_CONF_OK;
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
 * Per request: the peer the access handler chose.  A request without a
 * platform (a location without "adcp on", or no adcp_factory) gets no
 * peer: 502, logged.
 */

static ngx_int_t
ngx_http_adcp_balancer_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us)
{
    ngx_http_upstream_t    *u;
    ngx_http_adcp_ctx_t    *ctx;
    ngx_http_adcp_peer_t   *peer;
    ngx_http_adcp_tries_t  *tries;

    u = r->upstream;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_adcp_module);

    peer = NULL;

    if (ctx == NULL || ctx->platform == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "adcp_balancer: upstream \"%V\": the request has no "
                      "platform (\"adcp on\" and \"adcp_factory\" are "
                      "needed where it is used)", &us->host);

    } else {
        /* the same choice as ngx_http_adcp_balancer_prepare()'s */

        peer = ngx_http_adcp_balancer_pick(ctx->platform, &ctx->env->task,
                                           r->connection->log);
    }

    if (peer && peer->type == NGX_HTTP_ADCP_PEER_UPSTREAM) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "adcp balancer: tenant \"%V\" -> upstream \"%V\"",
                       &ctx->tenant, &peer->uscf->host);

        return peer->uscf->peer.init(r, peer->uscf);
    }

    u->peer.free = ngx_http_adcp_balancer_free_peer;
    u->peer.tries = 1;

    if (peer == NULL || peer->naddrs == 0) {

        if (peer && peer->type == NGX_HTTP_ADCP_PEER_NAME) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "adcp_balancer: tenant \"%V\": \"%V\" is not "
                          "resolved", &ctx->tenant, peer->name);

        } else if (peer) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "adcp_balancer: tenant \"%V\": the platform's "
                          "upstream is unusable", &ctx->tenant);
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
    tries->tenant = &ctx->tenant;

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

    pc->sockaddr = addr->sockaddr;
    pc->socklen = addr->socklen;
    pc->name = &addr->name;
    pc->cached = 0;
    pc->connection = NULL;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, pc->log, 0,
                   "adcp balancer: peer %V", pc->name);

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

    pc->sockaddr = addr->sockaddr;
    pc->socklen = addr->socklen;
    pc->name = &addr->name;
    pc->cached = 0;
    pc->connection = NULL;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, pc->log, 0,
                   "adcp balancer: peer %V", pc->name);

    return NGX_OK;
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
    ngx_http_adcp_peer_t       *peer;
    ngx_http_adcp_resolve_t    *rs;
    ngx_http_adcp_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_adcp_module);

    if (amcf->balancers == NULL || ctx->platform == NULL) {
        return NGX_OK;
    }

    /*
     * not kept in ctx: the platform (a reference held) and the task fix
     * the choice, made again when the upstream starts
     */

    peer = ngx_http_adcp_balancer_pick(ctx->platform, &ctx->env->task,
                                       r->connection->log);
    if (peer == NULL) {
        return NGX_ERROR;
    }

    if (peer->type != NGX_HTTP_ADCP_PEER_NAME || peer->naddrs) {
        return NGX_OK;
    }

    rs = ctx->aux ? ctx->aux->resolve : NULL;

    if (rs == NULL) {
        return ngx_http_adcp_balancer_resolve(r, ctx, peer);
    }

    if (!rs->done) {
        return NGX_DONE;
    }

    if (rs->failed) {
        return ngx_http_adcp_balancer_unavailable(ctx);
    }

    return NGX_OK;
}


/* the peer for a task: its route's, or the platform's upstream's */

static ngx_http_adcp_peer_t *
ngx_http_adcp_balancer_pick(ngx_http_adcp_platform_t *pf, ngx_str_t *task,
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
            if (kv[i].key.len == task->len
                && ngx_memcmp(kv[i].key.data, task->data, task->len) == 0)
            {
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
    ngx_http_upstream_main_conf_t  *umcf;
    ngx_http_adcp_main_conf_t      *amcf;

    peer->name = name;
    peer->type = NGX_HTTP_ADCP_PEER_BAD;

    umcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_upstream_module);
    amcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_adcp_module);

    uscfp = umcf->upstreams.elts;

    for (i = 0; i < umcf->upstreams.nelts; i++) {

        if (uscfp[i]->srv_conf == NULL
            || uscfp[i]->host.len != name->len
            || ngx_strncasecmp(uscfp[i]->host.data, name->data, name->len)
               != 0)
        {
            continue;
        }

        bp = amcf->balancers->elts;

        for (j = 0; j < amcf->balancers->nelts; j++) {
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


/* a host name: resolved by the location's resolver while r waits */

static ngx_int_t
ngx_http_adcp_balancer_resolve(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx, ngx_http_adcp_peer_t *peer)
{
    ngx_resolver_ctx_t        *rctx, temp;
    ngx_http_cleanup_t        *cln;
    ngx_http_adcp_resolve_t   *rs;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    rs = ngx_pcalloc(r->pool, sizeof(ngx_http_adcp_resolve_t));
    if (rs == NULL || ngx_http_adcp_aux(r, ctx) == NULL) {
        return NGX_ERROR;
    }

    rs->request = r;
    rs->platform = ctx->platform;
    rs->peer = peer;

    temp.name = peer->host;

    rctx = ngx_resolve_start(clcf->resolver, &temp);

    if (rctx == NULL) {
        return NGX_ERROR;
    }

    if (rctx == NGX_NO_RESOLVER) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "adcp_balancer: tenant \"%V\": \"%V\" is a host name "
                      "and no \"resolver\" is configured here",
                      &ctx->tenant, peer->name);

        rs->done = 1;
        rs->failed = 1;
        ctx->aux->resolve = rs;

        return ngx_http_adcp_balancer_unavailable(ctx);
    }

    cln = ngx_http_cleanup_add(r, 0);
    if (cln == NULL) {
        ngx_resolve_name_done(rctx);
        return NGX_ERROR;
    }

    cln->handler = ngx_http_adcp_balancer_cleanup;
    cln->data = rs;

    rctx->name = peer->host;
    rctx->handler = ngx_http_adcp_balancer_resolved;
    rctx->data = rs;
    rctx->timeout = clcf->resolver_timeout;

    rs->rctx = rctx;
    ctx->aux->resolve = rs;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "adcp balancer: tenant \"%V\": resolving \"%V\"",
                   &ctx->tenant, &peer->host);

    if (ngx_resolve_name(rctx) != NGX_OK) {
        rs->rctx = NULL;
        return NGX_ERROR;
    }

    if (rs->done) {
        /* answered from the resolver's cache, at once */
        return rs->failed ? ngx_http_adcp_balancer_unavailable(ctx) : NGX_OK;
    }

    r->read_event_handler = ngx_http_test_reading;
    r->write_event_handler = ngx_http_adcp_balancer_wake;

    return NGX_DONE;
}


static void
ngx_http_adcp_balancer_resolved(ngx_resolver_ctx_t *rctx)
{
    ngx_http_adcp_resolve_t *rs = rctx->data;

    size_t                     len;
    u_char                    *p;
    ngx_uint_t                 i, n, async;
    ngx_addr_t                *addrs;
    ngx_pool_t                *pool;
    ngx_http_request_t        *r;
    ngx_http_adcp_peer_t      *peer;

    r = rs->request;
    peer = rs->peer;
    pool = rs->platform->pool;
    async = rctx->async;

    if (rctx->state) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "adcp_balancer: \"%V\" could not be resolved (%i: %s)",
                      &rctx->name, rctx->state,
                      ngx_resolver_strerror(rctx->state));
        rs->failed = 1;
        goto done;
    }

    if (peer->naddrs) {
        goto done;    /* another request's resolution came first */
    }

    n = ngx_min(rctx->naddrs, NGX_HTTP_ADCP_PEER_MAX_ADDRS);

    addrs = ngx_pcalloc(pool, sizeof(ngx_addr_t) * n);
    if (addrs == NULL) {
        rs->failed = 1;
        goto done;
    }

    if (n > 1) {
        peer->failed = ngx_pcalloc(pool, sizeof(time_t) * n);
        if (peer->failed == NULL) {
            rs->failed = 1;
            goto done;
        }
    }

    for (i = 0; i < n; i++) {
        addrs[i].socklen = rctx->addrs[i].socklen;
        addrs[i].sockaddr = ngx_palloc(pool, rctx->addrs[i].socklen);
        p = ngx_pnalloc(pool, NGX_SOCKADDR_STRLEN);

        if (addrs[i].sockaddr == NULL || p == NULL) {
            rs->failed = 1;
            goto done;
        }

        ngx_memcpy(addrs[i].sockaddr, rctx->addrs[i].sockaddr,
                   rctx->addrs[i].socklen);
        ngx_inet_set_port(addrs[i].sockaddr, peer->port);

        len = ngx_sock_ntop(addrs[i].sockaddr, addrs[i].socklen, p,
                            NGX_SOCKADDR_STRLEN, 1);
        addrs[i].name.len = len;
        addrs[i].name.data = p;
    }

    peer->addrs = addrs;
    peer->naddrs = n;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "adcp balancer: \"%V\": %ui addresses",
                   &peer->host, peer->naddrs);

done:

    ngx_resolve_name_done(rctx);

    rs->rctx = NULL;
    rs->done = 1;

    if (async) {
        ngx_post_event(r->connection->write, &ngx_posted_events);
    }
}


static void
ngx_http_adcp_balancer_wake(ngx_http_request_t *r)
{
    ngx_http_adcp_ctx_t      *ctx;
    ngx_http_adcp_resolve_t  *rs;

    ctx = ngx_http_get_module_ctx(r, ngx_http_adcp_module);
    rs = (ctx && ctx->aux) ? ctx->aux->resolve : NULL;

    if (rs == NULL || !rs->done) {
        return;
    }

    if (ngx_handle_read_event(r->connection->read, 0) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    r->read_event_handler = ngx_http_block_reading;
    r->write_event_handler = ngx_http_core_run_phases;

    ngx_http_core_run_phases(r);
}


static void
ngx_http_adcp_balancer_cleanup(void *data)
{
    ngx_http_adcp_resolve_t *rs = data;

    if (rs->rctx) {
        ngx_resolve_name_done(rs->rctx);
        rs->rctx = NULL;
    }
}


static ngx_int_t
ngx_http_adcp_balancer_unavailable(ngx_http_adcp_ctx_t *ctx)
{
    ngx_http_adcp_error_t  *err;

    err = ngx_pcalloc(ctx->request->pool, sizeof(ngx_http_adcp_error_t));
    if (err == NULL || ngx_http_adcp_aux(ctx->request, ctx) == NULL) {
        return NGX_ERROR;
    }

    err->code = NGX_HTTP_ADCP_ERR_SERVICE_UNAVAILABLE;
    ngx_str_set(&err->message, "the account's platform is unavailable, "
                "retry later");
    err->retry_after = 1;

    ctx->aux->err = err;

    return NGX_DECLINED;
}
