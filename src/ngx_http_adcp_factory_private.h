
/*
 * ngx_http_adcp_module: what the factory's files share (nothing outside
 * them includes it): a build in flight, one run of its subrequest, the
 * functions they call across.
 */


#ifndef _NGX_HTTP_ADCP_FACTORY_PRIVATE_H_INCLUDED_
#define _NGX_HTTP_ADCP_FACTORY_PRIVATE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_adcp.h"
#include "ngx_http_adcp_store.h"


/* a request waiting on another worker's build looks at its slot this often */
#define NGX_HTTP_ADCP_POLL        4


typedef struct ngx_http_adcp_flight_s  ngx_http_adcp_flight_t;


/* one run of the factory subrequest; in the leader's pool */

typedef struct {
    ngx_http_adcp_flight_t     *flight;    /* NULL once detached */
    ngx_http_request_t         *sr;
    u_char                     *buf;
    size_t                      len;
    ngx_http_adcp_platform_t   *pf;        /* built, being validated */
    ngx_http_adcp_ctx_t        *vctx;      /* the validator's variables */
    unsigned                    validating:1;
    unsigned                    oversize:1;
    unsigned                    read_error:1;
} ngx_http_adcp_attempt_t;


/* a build in flight; the worker's (ngx_alloc), freed when it ends */

struct ngx_http_adcp_flight_s {
    ngx_http_adcp_entry_t      *entry;
    ngx_queue_t                 waiters;   /* ngx_http_adcp_ctx_t.waiter */
    ngx_http_adcp_ctx_t        *leader;
    ngx_http_adcp_attempt_t    *attempt;
    ngx_event_t                 timer;
    ngx_uint_t                  generation;
    ngx_uint_t                  recheck;
    ngx_uint_t                  global;
    ngx_msec_t                  started;
    ngx_msec_t                  deadline;
    ngx_str_t                   body;      /* the descriptor as the factory
                                              returned it, in the leader's
                                              pool, for the store */
    unsigned                    remote:1;  /* another worker builds */
    unsigned                    claimed:1; /* this one builds for all */
    unsigned                    refresh:1; /* ahead of expiry, in the
                                              background of a request that
                                              was served */
};


#define NGX_HTTP_ADCP_BUILT       0
#define NGX_HTTP_ADCP_NOT_FOUND   1
#define NGX_HTTP_ADCP_FAILED      2


ngx_int_t ngx_http_adcp_factory_from_store(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx, ngx_http_adcp_entry_t *e, ngx_uint_t claimed);
ngx_http_adcp_platform_t *ngx_http_adcp_factory_shared(
    ngx_http_adcp_entry_t *e, ngx_msec_t after,
    ngx_http_adcp_store_meta_t *meta);
ngx_uint_t ngx_http_adcp_factory_take_shared(ngx_http_adcp_entry_t *e,
    ngx_msec_t after, ngx_http_adcp_slot_t *claimed);
void ngx_http_adcp_factory_keep(ngx_http_adcp_entry_t *e,
    ngx_http_adcp_platform_t *pf, ngx_uint_t gen, ngx_uint_t global,
    ngx_uint_t recheck);
void ngx_http_adcp_factory_store(ngx_http_adcp_flight_t *flight,
    ngx_http_adcp_platform_t *pf);
void ngx_http_adcp_factory_invalidated(ngx_str_t *tenant, void *data);
void ngx_http_adcp_factory_check(ngx_http_adcp_entry_t *e);
void ngx_http_adcp_factory_keep_stale(ngx_http_request_t *r,
    ngx_http_adcp_entry_t *e);
ngx_int_t ngx_http_adcp_factory_negative(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx, ngx_http_adcp_entry_t *e, ngx_msec_t until);
ngx_uint_t ngx_http_adcp_factory_active(ngx_msec_t until);
ngx_int_t ngx_http_adcp_factory_fly(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx, ngx_http_adcp_entry_t *e, ngx_uint_t claim);
void ngx_http_adcp_factory_flight_free(ngx_http_adcp_flight_t *flight);
ngx_int_t ngx_http_adcp_factory_build_start(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx);
ngx_int_t ngx_http_adcp_factory_build_done(ngx_http_request_t *sr, void *data,
    ngx_int_t rc);
ngx_http_request_t *ngx_http_adcp_factory_subrequest(ngx_http_request_t *r,
    ngx_str_t *uri, ngx_http_post_subrequest_pt handler,
    ngx_http_adcp_attempt_t *attempt, ngx_http_adcp_flight_t *flight);
void ngx_http_adcp_factory_build_timeout(ngx_event_t *ev);
void ngx_http_adcp_factory_flight_end(ngx_http_adcp_flight_t *flight,
    ngx_http_adcp_platform_t *pf, ngx_uint_t code);
void ngx_http_adcp_factory_cache_event(ngx_http_adcp_entry_t *e,
    ngx_uint_t event);
void ngx_http_adcp_factory_park(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx, ngx_http_adcp_flight_t *flight);
void ngx_http_adcp_factory_post(ngx_http_adcp_ctx_t *ctx);
void ngx_http_adcp_factory_release(void *data);
void ngx_http_adcp_factory_leave(void *data);
void ngx_http_adcp_factory_handover(ngx_http_adcp_flight_t *flight);
void ngx_http_adcp_factory_fail(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx, ngx_uint_t code, ngx_msec_t until);


/*
 * The platform's reference goes when the request's pool goes, after the
 * access log has run.  (Leaving a flight is registered when parking.)
 * ngx_pool_cleanup_add()'s linking, with the cleanup in the ctx: one
 * allocation and one call fewer on every hit (the ctx lives in this pool:
 * the main request's, which its subrequests share).
 */

static ngx_inline void
ngx_http_adcp_factory_cleanups(ngx_http_request_t *r, ngx_http_adcp_ctx_t *ctx)
{
    ngx_pool_cleanup_t  *cln;

    if (ctx->cleanups) {
        return;
    }

    cln = &ctx->cleanup;
    cln->handler = ngx_http_adcp_factory_release;
    cln->next = r->pool->cleanup;
    r->pool->cleanup = cln;

    ctx->cleanups = 1;
}


#endif /* _NGX_HTTP_ADCP_FACTORY_PRIVATE_H_INCLUDED_ */
