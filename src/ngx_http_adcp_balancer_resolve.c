
/*
 * ngx_http_adcp_balancer_module: a platform's upstream that names a host:
 * resolved with nginx's resolver (the location's "resolver") on the first
 * request that needs it, the requests that need it waiting, never
 * blocking; one that cannot be reached answered as AdCP's
 * SERVICE_UNAVAILABLE.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_adcp.h"
#include "ngx_http_adcp_request.h"
#include "ngx_http_adcp_balancer.h"
#include "ngx_http_adcp_balancer_private.h"


static void ngx_http_adcp_balancer_resolved(ngx_resolver_ctx_t *rctx);
static void ngx_http_adcp_balancer_wake(ngx_http_request_t *r);
static void ngx_http_adcp_balancer_cleanup(void *data);


/* a host name: resolved by the location's resolver while r waits */

ngx_int_t
ngx_http_adcp_balancer_resolve(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx, ngx_http_adcp_peer_t *peer)
{
    ngx_resolver_ctx_t        *rctx, temp;
    ngx_http_cleanup_t        *cln;
    ngx_http_adcp_resolve_t   *rs;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    rs = ngx_pcalloc(r->pool, sizeof(ngx_http_adcp_resolve_t));
    if (rs == NULL) {
        return NGX_ERROR;
    }

    rs->request = r;
    rs->platform = ngx_http_adcp_platform(ctx);
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
                      ctx->tenant, peer->name);

        rs->done = 1;
        rs->failed = 1;
        ngx_http_set_ctx(r, rs, ngx_http_adcp_balancer_module);
        ctx->resolving = 1;

        return ngx_http_adcp_balancer_unavailable(r, ctx);
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
    ngx_http_set_ctx(r, rs, ngx_http_adcp_balancer_module);
    ctx->resolving = 1;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "adcp balancer: tenant \"%V\": resolving \"%V\"",
                   ctx->tenant, &peer->host);

    if (ngx_resolve_name(rctx) != NGX_OK) {
        rs->rctx = NULL;
        return NGX_ERROR;
    }

    if (rs->done) {
        /* answered from the resolver's cache, at once */
        return rs->failed ? ngx_http_adcp_balancer_unavailable(r, ctx) : NGX_OK;
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
    rs = (ctx && ctx->resolving)
         ? ngx_http_get_module_ctx(r, ngx_http_adcp_balancer_module) : NULL;

    if (rs == NULL || !rs->done) {
        return;
    }

    ngx_http_adcp_resume(r);
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


ngx_int_t
ngx_http_adcp_balancer_unavailable(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx)
{
    if (ngx_http_adcp_aux(r, ctx) == NULL) {
        return NGX_ERROR;
    }

    /* retried after a second */

    ctx->aux->err = ngx_http_adcp_error_unavailable(r->main->pool,
                                                    ngx_current_msec);

    return ctx->aux->err ? NGX_DECLINED : NGX_ERROR;
}
