
/*
 * ngx_http_adcp_module: configuration, per-worker and per-request state
 * shared by the module file and the feature files.
 */


#ifndef _NGX_HTTP_ADCP_H_INCLUDED_
#define _NGX_HTTP_ADCP_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_adcp_tenant.h"
#include "ngx_http_adcp_envelope.h"
#include "ngx_http_adcp_error.h"
#include "ngx_http_adcp_cache.h"
#include "ngx_http_adcp_zone.h"
#include "ngx_http_adcp_store.h"
#include "ngx_http_adcp_redis_conf.h"


/*
 * A rare path (a miss, an error, a rebuild of a list) kept out of its
 * caller: a function called once would be inlined, and its locals, saved
 * registers and stack canary would cost every request the frame of the
 * common path.  NGX_HTTP_ADCP_NOINLINE: the same for a path that is not
 * rare, only longer (a host other than the last one).
 */
#if (defined __GNUC__ || defined __clang__)
#define NGX_HTTP_ADCP_COLD      __attribute__((noinline, cold))
#define NGX_HTTP_ADCP_NOINLINE  __attribute__((noinline))
#else
#define NGX_HTTP_ADCP_COLD
#define NGX_HTTP_ADCP_NOINLINE
#endif


/* $adcp_cache_status */
#define NGX_HTTP_ADCP_CACHE_NONE     0
#define NGX_HTTP_ADCP_CACHE_HIT      1
#define NGX_HTTP_ADCP_CACHE_MISS     2
#define NGX_HTTP_ADCP_CACHE_WAIT     3
#define NGX_HTTP_ADCP_CACHE_EXPIRED  4
#define NGX_HTTP_ADCP_CACHE_STALE    5
#define NGX_HTTP_ADCP_CACHE_BYPASS   6
#define NGX_HTTP_ADCP_CACHE_SHARED   7   /* from the host's store */
#define NGX_HTTP_ADCP_CACHE_UPDATING 8   /* served while refreshed */

/* where a request is in resolving its platform */
#define NGX_HTTP_ADCP_ST_NEW         0
#define NGX_HTTP_ADCP_ST_WAITING     1   /* parked on a build in flight */
#define NGX_HTTP_ADCP_ST_LEAD        2   /* handed a build to start */
#define NGX_HTTP_ADCP_ST_DONE        3   /* platform, or err, is set */


typedef struct ngx_http_adcp_ctx_s  ngx_http_adcp_ctx_t;

/* a feature module's step in the handler: NGX_DECLINED goes on */
typedef ngx_int_t (*ngx_http_adcp_step_pt)(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx);


typedef struct {
    ngx_http_adcp_tenants_t     tenants;
    ngx_uint_t                  cache_size;
    ngx_msec_t                  cache_ttl;
    ngx_msec_t                  failure_ttl;
    ngx_msec_t                  failure_ttl_max;
    ngx_msec_t                  not_found_ttl;
    ngx_msec_t                  build_timeout;
    ngx_msec_t                  stale_if_error;
    size_t                      zone_size;
    size_t                      cache_shared;  /* adcp_cache_shared, 0: off */
    ngx_uint_t                  cache_refresh; /* adcp_cache_refresh, %,
                                                  0: off */
    ngx_flag_t                  platforms;     /* some adcp_factory is set */
    ngx_http_adcp_zone_t        zone;
    ngx_http_adcp_store_t       store;
    ngx_http_adcp_redis_conf_t  redis;
    ngx_flag_t                  tasks;         /* some adcp_async is set */
    ngx_http_adcp_step_pt       tasks_early;   /* then src/tasks/ sets */
    ngx_http_adcp_step_pt       tasks_late;    /*   these, else NULL */
} ngx_http_adcp_main_conf_t;


typedef struct {
    ngx_flag_t                  enable;        /* adcp on */
    ngx_http_complex_value_t   *tenant_key;    /* adcp_tenant_key */
    ngx_str_t                   factory;       /* adcp_factory */
    ngx_str_t                   validator;     /* adcp_validator */
} ngx_http_adcp_loc_conf_t;


typedef struct ngx_http_adcp_ctx_s  ngx_http_adcp_ctx_t;


/*
 * what a request needs only when it waits (on a build) or fails:
 * allocated then, in the request pool, so that a hit's ctx stays small
 * (adcp_balancer's peer and its host name lookup, and adcp_error_pages'
 * body, are in those modules' own request ctx)
 */

typedef struct {
    ngx_queue_t                 waiter;        /* in flight->waiters */
    ngx_http_request_t         *request;       /* the main request */
    ngx_http_adcp_ctx_t        *ctx;
    void                       *flight;
    ngx_http_adcp_error_t      *err;           /* when no platform */
} ngx_http_adcp_aux_t;


/*
 * per request, in the request pool; subrequests read their main's.  Kept
 * small: on a hit it is most of what the module adds to the request pool
 * (whose 4k blocks a few bytes more would make one more malloc per request:
 * with the platform's credential sent as a header, 80 bytes more did; on
 * the merged main of issues 15, 17 and 22, 8 bytes more did).  64 bytes:
 * a GET hit through bench/conf/adcp-real.conf fills two blocks with 8 bytes
 * to spare.  The pool cleanup stays in it (releasing the platform in the
 * log phase instead loses the reference when an internal redirect,
 * error_page or an adapter's X-Accel-Redirect, clears r->ctx:
 * t/41-redirect.t); the platform is its data, the request is aux's, the
 * tenant a pointer: see bench/RESULTS.md
 */

struct ngx_http_adcp_ctx_s {
    ngx_str_t                  *tenant;        /* the conf's id (a regex's,
                                                  adcp_tenant_key's: the
                                                  request pool's), or
                                                  ngx_http_adcp_no_tenant */
    ngx_http_adcp_envelope_t   *env;           /* a body's (request pool),
                                                  or ngx_http_adcp_no_env */

    ngx_http_adcp_slot_t       *slot;          /* host-wide state */
    ngx_http_adcp_aux_t        *aux;           /* NULL on a hit */
    ngx_pool_cleanup_t          cleanup;       /* its data: the platform the
                                                  request holds a reference
                                                  to (or NULL), released by
                                                  it; in the pool's list
                                                  once ->cleanups is set: it
                                                  outlives r->ctx (an
                                                  internal redirect) */

    unsigned                    state:2;       /* NGX_HTTP_ADCP_ST_* */
    unsigned                    cache_status:4;  /* NGX_HTTP_ADCP_CACHE_* */
    unsigned                    tenant_done:1;
    unsigned                    body_done:1;   /* envelope read (or none) */
    unsigned                    reading:1;     /* in the handler's call to
                                                  read the body */
    unsigned                    body_error:1;  /* read at once, not parsed
                                                  (out of memory) */
    unsigned                    has_env:1;     /* env holds a parsed body */
    unsigned                    cleanups:1;
    unsigned                    resolving:1;   /* adcp_balancer's peer by
                                                  name: in its own ctx */
    unsigned                    exec_checked:1;
    unsigned                    exec:1;        /* a task's execution */
    unsigned                    refresh:1;     /* this host's refresh
                                                  request */
};


#define ngx_http_adcp_ctx_err(ctx)  ((ctx)->aux ? (ctx)->aux->err : NULL)

/* the platform the request holds a reference to, or NULL */
#define ngx_http_adcp_platform(ctx)                                          \
    ((ngx_http_adcp_platform_t *) (ctx)->cleanup.data)


/*
 * the request's state beyond a hit's, made when first needed (here, not
 * in request.c: factory.c needs it, and request.c needs factory.c)
 */

static ngx_inline ngx_http_adcp_aux_t *
ngx_http_adcp_aux(ngx_http_request_t *r, ngx_http_adcp_ctx_t *ctx)
{
    if (ctx->aux == NULL) {
        ctx->aux = ngx_pcalloc(r->main->pool, sizeof(ngx_http_adcp_aux_t));

        if (ctx->aux) {
            ctx->aux->request = r->main;
            ctx->aux->ctx = ctx;
        }
    }

    return ctx->aux;
}


/*
 * A request parked in the access phase (a build, a host name), woken by
 * its write event: reading blocked again, the phases run on (here, as
 * aux is: factory.c and the balancer need it, request.c needs factory.c)
 */

static ngx_inline void
ngx_http_adcp_resume(ngx_http_request_t *r)
{
    if (ngx_handle_read_event(r->connection->read, 0) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    r->read_event_handler = ngx_http_block_reading;
    r->write_event_handler = ngx_http_core_run_phases;

    ngx_http_core_run_phases(r);
}


/* per worker */

typedef struct {
    ngx_http_adcp_cache_t       cache;
    ngx_http_adcp_zone_t       *zone;
    ngx_http_adcp_row_t        *row;          /* this worker's counters */
    ngx_http_adcp_store_t      *store;        /* ->sh NULL: none */
    uint32_t                    epoch;        /* the zone's, for the store */
    ngx_msec_t                  redis_down_ttl;   /* 0: no Redis */
} ngx_http_adcp_worker_t;


extern ngx_module_t             ngx_http_adcp_module;
extern ngx_http_adcp_envelope_t ngx_http_adcp_no_env;   /* never written */
extern ngx_str_t ngx_http_adcp_no_tenant;                /* "", never written */
extern ngx_http_adcp_worker_t  *ngx_http_adcp_worker;


#endif /* _NGX_HTTP_ADCP_H_INCLUDED_ */
