
/*
 * ngx_http_adcp_module: the platform factory.
 *
 * A request whose tenant has no live platform in this worker either joins
 * the tenant's build in flight or starts one.  Every request of a flight,
 * the one that started it (the leader) included, is parked the way
 * limit_req parks a delayed request (test_reading while it waits, so a
 * client that goes away is finalized and leaves the flight), and is woken
 * by posting its connection's write event when the flight ends.
 *
 * The leader runs the factory as a background subrequest (the way mirror
 * runs its own), so that the flight can end, and the leader answer, while
 * the subrequest is still running: the flight's timer (adcp_build_timeout)
 * bounds every request of it.  This module's body filter swallows the
 * subrequest's output into a 64k buffer; its post_subrequest handler
 * parses the descriptor and ends the flight.
 *
 * A leader that goes away hands the build to the first waiter, which starts
 * the factory again; the old subrequest, detached, is ignored when it ends.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_adcp.h"
#include "ngx_http_adcp_request.h"
#include "ngx_http_adcp_factory.h"
#include "ngx_http_adcp_descriptor.h"
#include "ngx_http_adcp_store.h"
#include "ngx_http_adcp_refresh.h"


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


static ngx_int_t ngx_http_adcp_lookup(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx);
static void ngx_http_adcp_check(ngx_http_adcp_entry_t *e);
static void ngx_http_adcp_keep_stale(ngx_http_request_t *r,
    ngx_http_adcp_entry_t *e);
static ngx_int_t ngx_http_adcp_negative(ngx_http_adcp_ctx_t *ctx,
    ngx_http_adcp_entry_t *e, ngx_msec_t until);
static ngx_uint_t ngx_http_adcp_active(ngx_msec_t until);
static void ngx_http_adcp_cache_event(ngx_http_adcp_entry_t *e,
    ngx_uint_t event);
static ngx_int_t ngx_http_adcp_from_store(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx, ngx_http_adcp_entry_t *e, ngx_uint_t claimed);
static ngx_http_adcp_platform_t *ngx_http_adcp_shared(
    ngx_http_adcp_entry_t *e, ngx_msec_t after,
    ngx_http_adcp_store_meta_t *meta);
static void ngx_http_adcp_keep(ngx_http_adcp_entry_t *e,
    ngx_http_adcp_platform_t *pf, ngx_uint_t gen, ngx_uint_t global,
    ngx_uint_t recheck);
static void ngx_http_adcp_store(ngx_http_adcp_flight_t *flight,
    ngx_http_adcp_platform_t *pf);
static void ngx_http_adcp_invalidated(ngx_str_t *tenant, void *data);
static ngx_int_t ngx_http_adcp_refresh(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx, ngx_http_adcp_entry_t *e);
static ngx_int_t ngx_http_adcp_refresh_start(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx, ngx_http_adcp_entry_t *e, ngx_uint_t claim);
static void ngx_http_adcp_refresh_leave(void *data);
static void ngx_http_adcp_handover(ngx_http_adcp_flight_t *flight);
static ngx_int_t ngx_http_adcp_fly(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx, ngx_http_adcp_entry_t *e, ngx_uint_t claim);
static void ngx_http_adcp_remote_poll(ngx_event_t *ev);
static void ngx_http_adcp_flight_free(ngx_http_adcp_flight_t *flight);
static ngx_int_t ngx_http_adcp_build_start(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx);
static ngx_int_t ngx_http_adcp_build_done(ngx_http_request_t *sr, void *data,
    ngx_int_t rc);
static ngx_int_t ngx_http_adcp_validate_start(ngx_http_request_t *sr,
    ngx_http_adcp_attempt_t *attempt, ngx_http_adcp_flight_t *flight,
    ngx_http_adcp_platform_t *pf);
static ngx_int_t ngx_http_adcp_validate_done(ngx_http_request_t *sr,
    void *data, ngx_int_t rc);
static void ngx_http_adcp_validate_cleanup(void *data);
static ngx_http_request_t *ngx_http_adcp_subrequest(ngx_http_request_t *r,
    ngx_str_t *uri, ngx_http_post_subrequest_pt handler,
    ngx_http_adcp_attempt_t *attempt, ngx_http_adcp_flight_t *flight);
static ngx_uint_t ngx_http_adcp_status(ngx_http_request_t *sr,
    ngx_int_t rc);
static void ngx_http_adcp_build_timeout(ngx_event_t *ev);
static void ngx_http_adcp_flight_end(ngx_http_adcp_flight_t *flight,
    ngx_http_adcp_platform_t *pf, ngx_uint_t code);
static void ngx_http_adcp_park(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx, ngx_http_adcp_flight_t *flight);
static void ngx_http_adcp_wake(ngx_http_request_t *r);
static void ngx_http_adcp_post(ngx_http_adcp_ctx_t *ctx);
static ngx_int_t ngx_http_adcp_cleanups(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx);
static void ngx_http_adcp_leave(void *data);
static ngx_int_t ngx_http_adcp_release(ngx_http_request_t *r);
static void ngx_http_adcp_fail(ngx_http_adcp_ctx_t *ctx, ngx_uint_t code,
    ngx_msec_t until);
static ngx_int_t ngx_http_adcp_capture_filter(ngx_http_request_t *r,
    ngx_chain_t *in);


static ngx_http_output_body_filter_pt  ngx_http_next_body_filter;


#define NGX_HTTP_ADCP_BUILT       0
#define NGX_HTTP_ADCP_NOT_FOUND   1
#define NGX_HTTP_ADCP_FAILED      2


/*
 * NGX_OK: ctx->platform is set; NGX_DONE: the request is parked;
 * NGX_DECLINED: no platform, ctx->aux->err says why; NGX_ERROR.
 */

ngx_int_t
ngx_http_adcp_factory_resolve(ngx_http_request_t *r, ngx_http_adcp_ctx_t *ctx)
{
    switch (ctx->state) {

    case NGX_HTTP_ADCP_ST_DONE:
        return ctx->platform ? NGX_OK : NGX_DECLINED;

    case NGX_HTTP_ADCP_ST_WAITING:
        return NGX_DONE;

    case NGX_HTTP_ADCP_ST_LEAD:
        return ngx_http_adcp_build_start(r, ctx);
    }

    return ngx_http_adcp_lookup(r, ctx);
}


/*
 * This host's refresh request (ngx_http_adcp_refresh.c) for a platform
 * built at "after": one worker of the host rebuilds it, unless another
 * builds it already or the store holds a later one.  NGX_DONE: parked on
 * the build; NGX_OK: nothing to do; NGX_ERROR.
 */

ngx_int_t
ngx_http_adcp_factory_refresh(ngx_http_request_t *r, ngx_http_adcp_ctx_t *ctx,
    ngx_msec_t after)
{
    ngx_uint_t                   claim;
    ngx_http_adcp_slot_t        *slot;
    ngx_http_adcp_entry_t       *e;
    ngx_http_adcp_worker_t      *w;
    ngx_http_adcp_platform_t    *pf;
    ngx_http_adcp_main_conf_t   *amcf;
    ngx_http_adcp_store_meta_t   meta;

    w = ngx_http_adcp_worker;

    if (w == NULL || w->store->sh == NULL) {
        return NGX_OK;
    }

    if (ngx_http_adcp_cleanups(r, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    ctx->state = NGX_HTTP_ADCP_ST_DONE;
    ctx->cache_status = NGX_HTTP_ADCP_CACHE_UPDATING;

    e = ngx_http_adcp_cache_get(&w->cache, &ctx->tenant, 1);

    if (e == NULL) {
        return NGX_OK;
    }

    if (!e->slot_tried) {
        e->slot = ngx_http_adcp_zone_slot(w->zone, &ctx->tenant,
                                          r->connection->log);
        e->slot_tried = 1;
    }

    slot = e->slot;

    if (slot == NULL || e->flight
        || ngx_http_adcp_active(slot->failed_until)
        || ngx_http_adcp_active(slot->not_found_until))
    {
        return NGX_OK;
    }

    amcf = ngx_http_get_module_main_conf(r, ngx_http_adcp_module);

    claim = ngx_http_adcp_zone_claim(w->zone, slot, amcf->build_timeout, 1);

    if (claim != NGX_HTTP_ADCP_CLAIM_OWN) {
        return NGX_OK;
    }

    pf = ngx_http_adcp_shared(e, after, &meta);

    if (pf) {
        ngx_http_adcp_zone_unclaim(w->zone, slot);
        ngx_http_adcp_keep(e, pf, meta.generation, meta.global,
                           meta.recheck);
        ngx_http_adcp_platform_release(pf);
        return NGX_OK;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "adcp: tenant \"%V\": refreshing its platform for the "
                   "host", &ctx->tenant);

    ctx->refresh = 1;

    return ngx_http_adcp_fly(r, ctx, e, claim);
}


static ngx_int_t
ngx_http_adcp_lookup(ngx_http_request_t *r, ngx_http_adcp_ctx_t *ctx)
{
    ngx_msec_t                  now;
    ngx_uint_t                  claim;
    ngx_http_adcp_row_t        *row;
    ngx_http_adcp_slot_t       *slot;
    ngx_http_adcp_entry_t      *e;
    ngx_http_adcp_cache_t      *cache;
    ngx_http_adcp_worker_t     *w;
    ngx_http_adcp_main_conf_t  *amcf;

    w = ngx_http_adcp_worker;

    if (w == NULL) {
        return NGX_ERROR;
    }

    cache = &w->cache;
    row = w->row;

    if (ngx_http_adcp_cleanups(r, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    ctx->state = NGX_HTTP_ADCP_ST_DONE;

    e = ngx_http_adcp_cache_get(cache, &ctx->tenant, 1);

    if (e == NULL) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "adcp: tenant \"%V\": every cache entry has a build "
                      "in flight, increase adcp_cache_size", &ctx->tenant);
        ngx_http_adcp_fail(ctx, NGX_HTTP_ADCP_ERR_SERVICE_UNAVAILABLE,
                           ngx_current_msec + 1000);
        return NGX_DECLINED;
    }

    if (!e->slot_tried) {
        e->slot = ngx_http_adcp_zone_slot(w->zone, &ctx->tenant,
                                          r->connection->log);
        e->slot_tried = 1;
    }

    slot = e->slot;
    ctx->slot = slot;

    if (e->platform || e->stale) {
        ngx_http_adcp_check(e);
    }

    if (e->platform) {

        /* the hit path: two words read from the zone above, no lock */

        if ((e->platform->expires == 0
             || (ngx_msec_int_t) (ngx_current_msec - e->platform->expires)
                < 0)
            && (w->redis_down_ttl == 0
                || w->zone->sh->redis_state == NGX_HTTP_ADCP_REDIS_SUBSCRIBED
                || ngx_current_msec - e->platform->built
                   < w->redis_down_ttl))
        {
            if (e->platform->refresh
                && (ngx_msec_int_t) (ngx_current_msec - e->platform->refresh)
                   >= 0)
            {
                return ngx_http_adcp_refresh(r, ctx, e);
            }

            ctx->platform = e->platform;
            ctx->platform->refs++;
            ctx->cache_status = NGX_HTTP_ADCP_CACHE_HIT;
            row->counters[NGX_HTTP_ADCP_C_HITS]++;
            return NGX_OK;
        }

        ngx_http_adcp_keep_stale(r, e);

        /* expired, or older than adcp_redis_down_ttl while Redis is down */

        ngx_http_adcp_cache_retire(cache, e);

        ctx->cache_status = NGX_HTTP_ADCP_CACHE_EXPIRED;

    } else {
        ctx->cache_status = NGX_HTTP_ADCP_CACHE_MISS;
    }

    now = ngx_current_msec;

    if (e->stale && (ngx_msec_int_t) (now - e->stale_until) >= 0) {
        ngx_http_adcp_cache_unstale(e);
    }

    if (ngx_http_adcp_active(slot ? slot->not_found_until
                                  : e->not_found_until))
    {
        row->counters[NGX_HTTP_ADCP_C_NEGATIVE]++;
        ngx_http_adcp_fail(ctx, NGX_HTTP_ADCP_ERR_ACCOUNT_NOT_FOUND, 0);
        return NGX_DECLINED;
    }

    if (ngx_http_adcp_active(slot ? slot->failed_until : e->failed_until)) {
        return ngx_http_adcp_negative(ctx, e,
                                      slot ? slot->failed_until
                                           : e->failed_until);
    }

    if (e->flight) {
        return ngx_http_adcp_fly(r, ctx, e, NGX_HTTP_ADCP_CLAIM_FREE);
    }

    /* the host's store: a descriptor another worker (or an earlier one) got */

    if (ngx_http_adcp_from_store(r, ctx, e, 0) == NGX_OK) {
        return NGX_OK;
    }

    claim = NGX_HTTP_ADCP_CLAIM_FREE;

    if (slot) {
        amcf = ngx_http_get_module_main_conf(r, ngx_http_adcp_module);
        claim = ngx_http_adcp_zone_claim(w->zone, slot, amcf->build_timeout,
                                         w->store->sh != NULL);

        /*
         * the claim's last holder may have stored its build between the
         * look above and the claim: looked at again, under the claim
         */

        if (claim == NGX_HTTP_ADCP_CLAIM_OWN
            && ngx_http_adcp_from_store(r, ctx, e, 1) == NGX_OK)
        {
            return NGX_OK;
        }

        if (claim == NGX_HTTP_ADCP_CLAIM_BUSY && e->stale) {
            return ngx_http_adcp_negative(ctx, e, now + 1000);
        }
    }

    return ngx_http_adcp_fly(r, ctx, e, claim);
}


/*
 * A fresh descriptor from the host's store, parsed into this worker's
 * cache and served ($adcp_cache_status SHARED); "claimed": the caller
 * holds the tenant's build claim, given back when the store has it.
 */

static ngx_int_t
ngx_http_adcp_from_store(ngx_http_request_t *r, ngx_http_adcp_ctx_t *ctx,
    ngx_http_adcp_entry_t *e, ngx_uint_t claimed)
{
    ngx_http_adcp_worker_t      *w;
    ngx_http_adcp_platform_t    *pf;
    ngx_http_adcp_store_meta_t   meta;

    w = ngx_http_adcp_worker;

    if (e->slot == NULL || w->store->sh == NULL) {
        return NGX_DECLINED;
    }

    pf = ngx_http_adcp_shared(e, 0, &meta);

    if (pf == NULL) {
        return NGX_DECLINED;
    }

    if (claimed) {
        ngx_http_adcp_zone_unclaim(w->zone, e->slot);
    }

    ngx_http_adcp_keep(e, pf, meta.generation, meta.global, meta.recheck);
    ngx_http_adcp_platform_release(pf);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "adcp: tenant \"%V\" from the platform store",
                   &ctx->tenant);

    ctx->platform = e->platform;
    ctx->platform->refs++;
    ctx->cache_status = NGX_HTTP_ADCP_CACHE_SHARED;
    w->row->counters[NGX_HTTP_ADCP_C_SHARED]++;

    return NGX_OK;
}


/*
 * The tenant's descriptor from the store if it was built under the
 * generations the tenant has now (and, with "after", later than that),
 * parsed: a platform with one reference, or NULL.
 */

static ngx_http_adcp_platform_t *
ngx_http_adcp_shared(ngx_http_adcp_entry_t *e, ngx_msec_t after,
    ngx_http_adcp_store_meta_t *meta)
{
    ngx_str_t                    body;
    const char                  *why;
    ngx_http_adcp_slot_t        *slot;
    ngx_http_adcp_worker_t      *w;
    ngx_http_adcp_platform_t    *pf;
    ngx_http_adcp_store_meta_t   want;

    w = ngx_http_adcp_worker;
    slot = e->slot;

    want.epoch = w->epoch;
    want.generation = slot->generation;
    want.global = w->zone->sh->generation;
    want.recheck = slot->recheck;

    if (ngx_http_adcp_store_get(w->store, &e->tenant, &want, after, &body,
                                meta, ngx_cycle->log)
        != NGX_OK)
    {
        return NULL;
    }

    /* Redis down: what is older than adcp_redis_down_ttl is not served */

    if (w->redis_down_ttl
        && w->zone->sh->redis_state != NGX_HTTP_ADCP_REDIS_SUBSCRIBED
        && ngx_current_msec - meta->built >= w->redis_down_ttl)
    {
        ngx_free(body.data);
        return NULL;
    }

    pf = ngx_http_adcp_descriptor_parse(&e->tenant, body.data, body.len,
                                        ngx_cycle->log, &why);
    ngx_free(body.data);

    if (pf == NULL) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "adcp: tenant \"%V\": bad descriptor in the platform "
                      "store: %s", &e->tenant, why);
        return NULL;
    }

    pf->built = meta->built;

    return pf;
}


/*
 * Into this worker's cache, with the generations it was built under and
 * its refresh point (adcp_cache_refresh of its lifetime)
 */

static void
ngx_http_adcp_keep(ngx_http_adcp_entry_t *e, ngx_http_adcp_platform_t *pf,
    ngx_uint_t gen, ngx_uint_t global, ngx_uint_t recheck)
{
    ngx_http_adcp_main_conf_t  *amcf;

    amcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_adcp_module);

    ngx_http_adcp_cache_set(&ngx_http_adcp_worker->cache, e, pf,
                            amcf->cache_ttl);
    ngx_http_adcp_cache_unstale(e);

    pf->refresh = 0;

    if (pf->expires && amcf->cache_refresh) {
        pf->refresh = pf->built
                      + (pf->expires - pf->built) / 100 * amcf->cache_refresh
                      + (pf->expires - pf->built) % 100 * amcf->cache_refresh
                        / 100;
    }

    e->seen = gen;
    e->seen_global = global;
    e->seen_recheck = recheck;
    e->failed_until = 0;
    e->not_found_until = 0;
    e->refresh_sent = 0;
}


/*
 * A build this worker made for the host goes to the store, unless the
 * tenant was invalidated since it started (the store checks under its
 * lock); one too big for the store is served all the same.
 */

static void
ngx_http_adcp_store(ngx_http_adcp_flight_t *flight,
    ngx_http_adcp_platform_t *pf)
{
    ngx_msec_t                   ttl;
    ngx_http_adcp_slot_t        *slot;
    ngx_http_adcp_worker_t      *w;
    ngx_http_adcp_main_conf_t   *amcf;
    ngx_http_adcp_store_meta_t   meta;

    w = ngx_http_adcp_worker;
    slot = flight->entry->slot;

    if (slot == NULL || w->store->sh == NULL || flight->body.len == 0) {
        return;
    }

    amcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_adcp_module);

    ttl = amcf->cache_ttl;

    if (pf->ttl && (ttl == 0 || pf->ttl < ttl)) {
        ttl = pf->ttl;
    }

    meta.epoch = w->epoch;
    meta.generation = flight->generation;
    meta.global = flight->global;
    meta.recheck = flight->recheck;
    meta.built = pf->built;
    meta.expires = ttl ? pf->built + ttl : 0;

    if (ngx_http_adcp_store_put(w->store, &flight->entry->tenant,
                                flight->body.data, flight->body.len, &meta,
                                &slot->generation, &w->zone->sh->generation,
                                ngx_cycle->log)
        == NGX_DECLINED)
    {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "adcp: tenant \"%V\" was invalidated during its "
                       "build: not stored", &flight->entry->tenant);
    }
}


/* an invalidation moved the generation: the store's copy goes */

static void
ngx_http_adcp_invalidated(ngx_str_t *tenant, void *data)
{
    ngx_http_adcp_store_t *store = data;

    ngx_http_adcp_store_remove(store, tenant);
}


/*
 * adcp_cache_refresh: past its refresh point a platform is still served
 * (UPDATING) while one worker of the host rebuilds it in the background;
 * a worker whose copy is older than the store's takes the store's.
 */

static ngx_int_t
ngx_http_adcp_refresh(ngx_http_request_t *r, ngx_http_adcp_ctx_t *ctx,
    ngx_http_adcp_entry_t *e)
{
    ngx_int_t                    rc;
    ngx_uint_t                   claim, status;
    ngx_http_adcp_slot_t        *slot;
    ngx_http_adcp_worker_t      *w;
    ngx_http_adcp_platform_t    *pf;
    ngx_http_adcp_main_conf_t   *amcf;
    ngx_http_adcp_store_meta_t   meta;

    w = ngx_http_adcp_worker;
    slot = e->slot;
    status = NGX_HTTP_ADCP_CACHE_UPDATING;

    if (e->flight) {
        goto serve;
    }

    if (slot == NULL
        || ngx_http_adcp_active(slot->failed_until)
        || ngx_http_adcp_active(slot->not_found_until))
    {
        /* a refresh failed: served as it is until it expires */

        status = NGX_HTTP_ADCP_CACHE_HIT;
        goto serve;
    }

    if (ngx_http_adcp_active(slot->claim_until)) {
        goto serve;
    }

    /* refreshed by another worker: its descriptor is in the store */

    if (w->store->sh) {
        pf = ngx_http_adcp_shared(e, e->platform->built, &meta);

        if (pf) {
            ngx_http_adcp_keep(e, pf, meta.generation, meta.global,
                               meta.recheck);
            ngx_http_adcp_platform_release(pf);

            status = NGX_HTTP_ADCP_CACHE_SHARED;
            w->row->counters[NGX_HTTP_ADCP_C_SHARED]++;

            goto serve;
        }
    }

    amcf = ngx_http_get_module_main_conf(r, ngx_http_adcp_module);

    /* asked for already, and not answered yet */

    if (e->refresh_sent
        && ngx_current_msec - e->refresh_sent < amcf->build_timeout)
    {
        goto serve;
    }

    e->refresh_sent = ngx_current_msec;

    /*
     * a request of its own rebuilds it for the host (a loopback request
     * any worker may answer); where the buyer's connection cannot be
     * copied, or the host keeps no store, a background subrequest of this
     * request, claimed here
     */

    if (w->store->sh) {
        rc = ngx_http_adcp_refresh_send(r, &e->tenant, e->platform->built,
                                        w->zone->sh->task_secret,
                                        amcf->build_timeout + 1000);
        if (rc == NGX_OK) {
            goto serve;
        }

        if (rc == NGX_ERROR) {
            status = NGX_HTTP_ADCP_CACHE_HIT;
            goto serve;
        }
    }

    claim = ngx_http_adcp_zone_claim(w->zone, slot, amcf->build_timeout,
                                     w->store->sh != NULL);

    if (claim == NGX_HTTP_ADCP_CLAIM_OWN && w->store->sh) {
        pf = ngx_http_adcp_shared(e, e->platform->built, &meta);

        if (pf) {
            ngx_http_adcp_zone_unclaim(w->zone, slot);
            ngx_http_adcp_keep(e, pf, meta.generation, meta.global,
                               meta.recheck);
            ngx_http_adcp_platform_release(pf);

            status = NGX_HTTP_ADCP_CACHE_SHARED;
            w->row->counters[NGX_HTTP_ADCP_C_SHARED]++;

            goto serve;
        }
    }

    if (claim != NGX_HTTP_ADCP_CLAIM_BUSY
        && ngx_http_adcp_refresh_start(r, ctx, e, claim) != NGX_OK)
    {
        status = NGX_HTTP_ADCP_CACHE_HIT;
    }

serve:

    ctx->platform = e->platform;
    ctx->platform->refs++;
    ctx->cache_status = status;

    if (status == NGX_HTTP_ADCP_CACHE_UPDATING) {
        w->row->counters[NGX_HTTP_ADCP_C_UPDATING]++;

    } else if (status == NGX_HTTP_ADCP_CACHE_HIT) {
        w->row->counters[NGX_HTTP_ADCP_C_HITS]++;
    }

    return NGX_OK;
}


/*
 * The refresh: a factory subrequest in the background of this request
 * (the way mirror runs its own), which is not parked: it goes on with the
 * current platform.  The flight has no waiters unless requests whose copy
 * expired meanwhile join it; if this request goes away first, one of them
 * takes the build over.
 */

static ngx_int_t
ngx_http_adcp_refresh_start(ngx_http_request_t *r, ngx_http_adcp_ctx_t *ctx,
    ngx_http_adcp_entry_t *e, ngx_uint_t claim)
{
    ngx_http_cleanup_t         *cln;
    ngx_http_adcp_slot_t       *slot;
    ngx_http_adcp_flight_t     *flight;
    ngx_http_adcp_attempt_t    *attempt;
    ngx_http_adcp_loc_conf_t   *alcf;
    ngx_http_adcp_main_conf_t  *amcf;

    slot = e->slot;
    amcf = ngx_http_get_module_main_conf(r, ngx_http_adcp_module);
    alcf = ngx_http_get_module_loc_conf(r, ngx_http_adcp_module);

    cln = ngx_http_cleanup_add(r, 0);
    attempt = ngx_pcalloc(r->pool, sizeof(ngx_http_adcp_attempt_t));
    flight = ngx_calloc(sizeof(ngx_http_adcp_flight_t), ngx_cycle->log);

    if (cln == NULL || attempt == NULL || flight == NULL
        || ngx_http_adcp_aux(r, ctx) == NULL)
    {
        if (flight) {
            ngx_free(flight);
        }

        if (cln) {
            cln->handler = NULL;
        }

        if (claim == NGX_HTTP_ADCP_CLAIM_OWN) {
            ngx_http_adcp_zone_unclaim(ngx_http_adcp_worker->zone, slot);
        }

        return NGX_ERROR;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "adcp: tenant \"%V\": refreshing its platform",
                   &ctx->tenant);

    flight->entry = e;
    flight->generation = slot->generation;
    flight->recheck = slot->recheck;
    flight->global = ngx_http_adcp_worker->zone->sh->generation;
    flight->started = ngx_current_msec;
    flight->deadline = ngx_current_msec + amcf->build_timeout;
    flight->claimed = (claim == NGX_HTTP_ADCP_CLAIM_OWN);
    flight->refresh = 1;
    flight->leader = ctx;
    ngx_queue_init(&flight->waiters);

    flight->timer.handler = ngx_http_adcp_build_timeout;
    flight->timer.data = flight;
    flight->timer.log = ngx_cycle->log;

    e->flight = flight;
    ctx->aux->flight = flight;

    cln->handler = ngx_http_adcp_refresh_leave;
    cln->data = ctx;

    ngx_add_timer(&flight->timer, amcf->build_timeout);

    if (ngx_http_adcp_subrequest(r, &alcf->factory, ngx_http_adcp_build_done,
                                 attempt, flight)
        == NULL)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "adcp: tenant \"%V\": could not start the factory "
                      "subrequest", &ctx->tenant);

        ngx_http_adcp_flight_end(flight, NULL, NGX_HTTP_ADCP_FAILED);
    }

    return NGX_OK;
}


/* the request that runs a refresh goes away before it ends */

static void
ngx_http_adcp_refresh_leave(void *data)
{
    ngx_http_adcp_ctx_t *ctx = data;

    ngx_http_adcp_flight_t  *flight;

    flight = ctx->aux ? ctx->aux->flight : NULL;

    if (flight == NULL || ctx->state != NGX_HTTP_ADCP_ST_DONE
        || flight->leader != ctx)
    {
        return;
    }

    ctx->aux->flight = NULL;
    flight->leader = NULL;

    ngx_http_adcp_handover(flight);
}


/*
 * Whether an entry's platform was invalidated (or rechecked) host-wide
 * since it was built: if so it goes; a recheck keeps it for serving stale
 * if the rebuild fails, an invalidation does not.
 */

static void
ngx_http_adcp_check(ngx_http_adcp_entry_t *e)
{
    ngx_uint_t               gen;
    ngx_http_adcp_slot_t    *slot;
    ngx_http_adcp_cache_t   *cache;
    ngx_http_adcp_worker_t  *w;

    w = ngx_http_adcp_worker;
    cache = &w->cache;
    slot = e->slot;

    gen = slot ? slot->generation : e->generation;

    if (gen != e->seen || w->zone->sh->generation != e->seen_global) {
        ngx_http_adcp_cache_drop(cache, e);
        ngx_http_adcp_cache_unstale(e);
        return;
    }

    if (slot && slot->recheck != e->seen_recheck) {
        e->seen_recheck = slot->recheck;

        if (e->platform == NULL) {
            return;
        }

        ngx_http_adcp_cache_unstale(e);
        e->stale = e->platform;
        e->stale->refs++;
        e->stale_until = e->platform->expires ? e->platform->expires
                                              : ngx_current_msec + 86400000;

        ngx_http_adcp_cache_drop(cache, e);
    }
}


/*
 * adcp_stale_if_error: an expired platform is kept to serve if its rebuild
 * fails, at most adcp_stale_if_error past its expiry and never past the
 * descriptor's own ttl (a token that expired must not be used).
 */

static void
ngx_http_adcp_keep_stale(ngx_http_request_t *r, ngx_http_adcp_entry_t *e)
{
    ngx_msec_t                  until;
    ngx_http_adcp_platform_t   *pf;
    ngx_http_adcp_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_adcp_module);
    pf = e->platform;

    if (amcf->stale_if_error == 0) {
        return;
    }

    until = pf->expires + amcf->stale_if_error;

    if (pf->ttl && (ngx_msec_int_t) (pf->built + pf->ttl - until) < 0) {
        until = pf->built + pf->ttl;
    }

    if ((ngx_msec_int_t) (until - ngx_current_msec) <= 0) {
        return;
    }

    ngx_http_adcp_cache_unstale(e);

    e->stale = pf;
    e->stale_until = until;
    pf->refs++;
}


/* answers from the failure memory: the stale platform, or an error */

static ngx_int_t
ngx_http_adcp_negative(ngx_http_adcp_ctx_t *ctx, ngx_http_adcp_entry_t *e,
    ngx_msec_t until)
{
    ngx_http_adcp_row_t  *row;

    row = ngx_http_adcp_worker->row;

    /* a recheck that failed from unverified disabled it: nothing served */

    if (e->stale && e->slot && ((ngx_http_adcp_slot_t *) e->slot)->no_stale)
    {
        ngx_http_adcp_cache_unstale(e);
    }

    if (e->stale) {
        ctx->platform = e->stale;
        ctx->platform->refs++;
        ctx->cache_status = NGX_HTTP_ADCP_CACHE_STALE;
        row->counters[NGX_HTTP_ADCP_C_STALE]++;
        return NGX_OK;
    }

    row->counters[NGX_HTTP_ADCP_C_NEGATIVE]++;
    ngx_http_adcp_fail(ctx, NGX_HTTP_ADCP_ERR_SERVICE_UNAVAILABLE, until);

    return NGX_DECLINED;
}


static ngx_uint_t
ngx_http_adcp_active(ngx_msec_t until)
{
    return until && (ngx_msec_int_t) (until - ngx_current_msec) > 0;
}


/*
 * Joins the tenant's build in flight in this worker, or starts one: a
 * factory call, or, while another worker of the host holds the tenant's
 * claim, a wait on the outcome of that worker's build (polled in the zone
 * every 20 ms, bounded by adcp_build_timeout).
 */

static ngx_int_t
ngx_http_adcp_fly(ngx_http_request_t *r, ngx_http_adcp_ctx_t *ctx,
    ngx_http_adcp_entry_t *e, ngx_uint_t claim)
{
    ngx_http_cleanup_t         *cln;
    ngx_http_adcp_slot_t       *slot;
    ngx_http_adcp_flight_t     *flight;
    ngx_http_adcp_main_conf_t  *amcf;

    /* leaving a flight: at once, even while a subrequest holds the pool */

    cln = ngx_http_cleanup_add(r, 0);
    if (cln == NULL || ngx_http_adcp_aux(r, ctx) == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_adcp_leave;
    cln->data = ctx;

    if (e->flight) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "adcp: tenant \"%V\" joins the build in flight",
                       &ctx->tenant);

        ctx->cache_status = NGX_HTTP_ADCP_CACHE_WAIT;
        ngx_http_adcp_worker->row->counters[NGX_HTTP_ADCP_C_WAITS]++;
        ngx_http_adcp_park(r, ctx, e->flight);

        return NGX_DONE;
    }

    amcf = ngx_http_get_module_main_conf(r, ngx_http_adcp_module);

    flight = ngx_calloc(sizeof(ngx_http_adcp_flight_t), ngx_cycle->log);
    if (flight == NULL) {
        return NGX_ERROR;
    }

    slot = e->slot;

    flight->entry = e;
    flight->generation = slot ? slot->generation : e->generation;
    flight->recheck = slot ? slot->recheck : 0;

    flight->global = ngx_http_adcp_worker->zone->sh->generation;
    flight->started = ngx_current_msec;
    ngx_queue_init(&flight->waiters);

    if (ctx->refresh) {
        flight->refresh = 1;
        ctx->cache_status = NGX_HTTP_ADCP_CACHE_UPDATING;

    } else {

        /* a miss starts a build; waiting on another worker's is a wait */

        ngx_http_adcp_worker->row->counters[claim == NGX_HTTP_ADCP_CLAIM_BUSY
                                            ? NGX_HTTP_ADCP_C_WAITS
                                            : NGX_HTTP_ADCP_C_MISSES]++;
    }

    flight->timer.handler = ngx_http_adcp_build_timeout;
    flight->timer.data = flight;
    flight->timer.log = ngx_cycle->log;
    flight->deadline = ngx_current_msec + amcf->build_timeout;
    flight->claimed = (claim == NGX_HTTP_ADCP_CLAIM_OWN);

    e->flight = flight;

    ngx_http_adcp_park(r, ctx, flight);

    /* not cancelable: a worker shutting down waits for its builds */

    if (claim == NGX_HTTP_ADCP_CLAIM_BUSY) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "adcp: tenant \"%V\": another worker builds it",
                       &ctx->tenant);

        ctx->cache_status = NGX_HTTP_ADCP_CACHE_WAIT;
        flight->remote = 1;
        flight->timer.handler = ngx_http_adcp_remote_poll;
        ngx_add_timer(&flight->timer, NGX_HTTP_ADCP_POLL);

        return NGX_DONE;
    }

    ngx_add_timer(&flight->timer, amcf->build_timeout);

    return ngx_http_adcp_build_start(r, ctx);
}


static void
ngx_http_adcp_remote_poll(ngx_event_t *ev)
{
    ngx_http_adcp_flight_t *flight = ev->data;

    ngx_uint_t                   claim;
    ngx_queue_t                 *q;
    ngx_msec_int_t               left;
    ngx_http_adcp_aux_t         *aux;
    ngx_http_adcp_ctx_t         *next;
    ngx_http_adcp_slot_t        *slot;
    ngx_http_adcp_platform_t    *pf;
    ngx_http_adcp_main_conf_t   *amcf;
    ngx_http_adcp_store_meta_t   meta;

    slot = flight->entry->slot;
    left = (ngx_msec_int_t) (flight->deadline - ngx_current_msec);

    if (left > 0 && ngx_http_adcp_zone_claimed(slot)) {
        ngx_add_timer(ev, NGX_HTTP_ADCP_POLL);
        return;
    }

    /* the build ended (or its worker died): its result is in the store */

    claim = NGX_HTTP_ADCP_CLAIM_FREE;

    for ( ;; ) {

        if (ngx_http_adcp_worker->store->sh) {
            pf = ngx_http_adcp_shared(flight->entry, 0, &meta);

            if (pf) {
                if (claim == NGX_HTTP_ADCP_CLAIM_OWN) {
                    ngx_http_adcp_zone_unclaim(ngx_http_adcp_worker->zone,
                                               slot);
                }

                ngx_http_adcp_flight_end(flight, pf, NGX_HTTP_ADCP_BUILT);
                ngx_http_adcp_platform_release(pf);
                return;
            }
        }

        if (claim == NGX_HTTP_ADCP_CLAIM_OWN) {
            break;
        }

        if (ngx_http_adcp_active(slot->not_found_until)) {
            ngx_http_adcp_flight_end(flight, NULL, NGX_HTTP_ADCP_NOT_FOUND);
            return;
        }

        if (ngx_http_adcp_active(slot->failed_until) || left <= 0) {
            ngx_http_adcp_flight_end(flight, NULL, NGX_HTTP_ADCP_FAILED);
            return;
        }

        if (ngx_queue_empty(&flight->waiters)) {
            ngx_http_adcp_flight_free(flight);
            return;
        }

        amcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                                   ngx_http_adcp_module);

        claim = ngx_http_adcp_zone_claim(ngx_http_adcp_worker->zone, slot,
                                         amcf->build_timeout,
                                         ngx_http_adcp_worker->store->sh
                                         != NULL);

        if (claim == NGX_HTTP_ADCP_CLAIM_BUSY) {
            ngx_add_timer(ev, NGX_HTTP_ADCP_POLL);
            return;
        }

        if (claim == NGX_HTTP_ADCP_CLAIM_FREE) {
            break;
        }

        /* looked at again under the claim */
    }

    if (claim == NGX_HTTP_ADCP_CLAIM_OWN) {
        flight->claimed = 1;
    }

    /* this worker builds (for the host, or its own: no store) */

    flight->remote = 0;
    ev->handler = ngx_http_adcp_build_timeout;
    ngx_add_timer(ev, (ngx_msec_t) left);

    q = ngx_queue_head(&flight->waiters);
    aux = ngx_queue_data(q, ngx_http_adcp_aux_t, waiter);
    next = aux->ctx;

    next->state = NGX_HTTP_ADCP_ST_LEAD;
    flight->leader = next;

    ngx_http_adcp_post(next);
}


/* a flight no request waits for any more: it ends without a result */

static void
ngx_http_adcp_flight_free(ngx_http_adcp_flight_t *flight)
{
    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "adcp: tenant \"%V\": build abandoned",
                   &flight->entry->tenant);

    if (flight->timer.timer_set) {
        ngx_del_timer(&flight->timer);
    }

    if (flight->attempt) {
        flight->attempt->flight = NULL;
    }

    if (flight->claimed && flight->entry->slot) {
        ngx_http_adcp_zone_unclaim(ngx_http_adcp_worker->zone,
                                   flight->entry->slot);
    }

    flight->entry->flight = NULL;
    ngx_free(flight);
}


static ngx_int_t
ngx_http_adcp_build_start(ngx_http_request_t *r, ngx_http_adcp_ctx_t *ctx)
{
    ngx_http_adcp_flight_t       *flight;
    ngx_http_adcp_attempt_t      *attempt;
    ngx_http_adcp_loc_conf_t     *alcf;

    flight = ctx->aux->flight;
    alcf = ngx_http_get_module_loc_conf(r, ngx_http_adcp_module);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "adcp: tenant \"%V\": calling the factory", &ctx->tenant);

    ctx->state = NGX_HTTP_ADCP_ST_WAITING;
    flight->leader = ctx;

    attempt = ngx_pcalloc(r->pool, sizeof(ngx_http_adcp_attempt_t));
    if (attempt == NULL) {
        goto failed;
    }

    if (ngx_http_adcp_subrequest(r, &alcf->factory, ngx_http_adcp_build_done,
                                 attempt, flight)
        == NULL)
    {
        goto failed;
    }

    return NGX_DONE;

failed:

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "adcp: tenant \"%V\": could not start the factory "
                  "subrequest", &ctx->tenant);

    ngx_http_adcp_flight_end(flight, NULL, NGX_HTTP_ADCP_FAILED);

    return NGX_DONE;
}


static ngx_int_t
ngx_http_adcp_build_done(ngx_http_request_t *sr, void *data, ngx_int_t rc)
{
    ngx_http_adcp_attempt_t *attempt = data;

    u_char                    *body;
    ngx_uint_t                 status;
    const char                *why;
    ngx_http_adcp_entry_t     *e;
    ngx_http_adcp_flight_t    *flight;
    ngx_http_adcp_platform_t  *pf;

    if (attempt->validating) {

        /* called again (a postponed subrequest): the result is in */

        return rc;
    }

    flight = attempt->flight;

    if (flight == NULL) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, sr->connection->log, 0,
                       "adcp: a detached factory subrequest ended");
        return rc;
    }

    attempt->flight = NULL;
    flight->attempt = NULL;
    e = flight->entry;

    status = ngx_http_adcp_status(sr, rc);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, sr->connection->log, 0,
                   "adcp: tenant \"%V\": factory status %ui, %uz bytes",
                   &e->tenant, status, attempt->len);

    if (status == NGX_HTTP_NOT_FOUND) {
        ngx_log_error(NGX_LOG_INFO, sr->connection->log, 0,
                      "adcp: tenant \"%V\": the factory does not know it",
                      &e->tenant);
        ngx_http_adcp_flight_end(flight, NULL, NGX_HTTP_ADCP_NOT_FOUND);
        return rc;
    }

    if (status < NGX_HTTP_OK || status >= NGX_HTTP_SPECIAL_RESPONSE) {
        ngx_log_error(NGX_LOG_ERR, sr->connection->log, 0,
                      "adcp: tenant \"%V\": the factory answered %ui",
                      &e->tenant, status);
        ngx_http_adcp_flight_end(flight, NULL, NGX_HTTP_ADCP_FAILED);
        return rc;
    }

    if (attempt->oversize || attempt->read_error || attempt->buf == NULL) {
        ngx_log_error(NGX_LOG_ERR, sr->connection->log, 0,
                      "adcp: tenant \"%V\": the factory's descriptor is %s",
                      &e->tenant,
                      attempt->oversize ? "over 64k"
                      : attempt->read_error ? "unreadable" : "empty");
        ngx_http_adcp_flight_end(flight, NULL, NGX_HTTP_ADCP_FAILED);
        return rc;
    }

    body = attempt->buf;
    body[attempt->len] = '\0';

    pf = ngx_http_adcp_descriptor_parse(&e->tenant, body, attempt->len,
                                        ngx_cycle->log, &why);

    if (pf == NULL) {
        ngx_log_error(NGX_LOG_ERR, sr->connection->log, 0,
                      "adcp: tenant \"%V\": bad descriptor: %s",
                      &e->tenant, why);
        ngx_http_adcp_flight_end(flight, NULL, NGX_HTTP_ADCP_FAILED);
        return rc;
    }

    flight->body.data = body;
    flight->body.len = attempt->len;

    if (ngx_http_adcp_validate_start(sr, attempt, flight, pf) == NGX_OK) {
        return rc;
    }

    ngx_http_adcp_flight_end(flight, pf, NGX_HTTP_ADCP_BUILT);

    ngx_http_adcp_platform_release(pf);

    return rc;
}


/*
 * adcp_validator: a second subrequest, with the fresh descriptor in its
 * variables ($adcp_tenant, $adcp_upstream, $adcp_platform_<name>); a 2xx
 * accepts the platform.  The attempt holds the platform meanwhile; the
 * leader's pool releases it if the subrequest never ends.
 */

static ngx_int_t
ngx_http_adcp_validate_start(ngx_http_request_t *sr,
    ngx_http_adcp_attempt_t *attempt, ngx_http_adcp_flight_t *flight,
    ngx_http_adcp_platform_t *pf)
{
    ngx_http_request_t          *r, *vsr;
    ngx_pool_cleanup_t          *cln;
    ngx_http_adcp_ctx_t         *vctx;
    ngx_http_adcp_loc_conf_t    *alcf;

    r = sr->parent;
    alcf = ngx_http_get_module_loc_conf(r, ngx_http_adcp_module);

    if (alcf->validator.len == 0) {
        return NGX_DECLINED;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "adcp: tenant \"%V\": calling the validator",
                   &flight->entry->tenant);

    vctx = ngx_pcalloc(r->pool, sizeof(ngx_http_adcp_ctx_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (vctx == NULL || cln == NULL) {
        goto failed;
    }

    vctx->env = &ngx_http_adcp_no_env;

    cln->handler = ngx_http_adcp_validate_cleanup;
    cln->data = attempt;

    vctx->tenant.len = flight->entry->tenant.len;
    vctx->tenant.data = ngx_pstrdup(r->pool, &flight->entry->tenant);
    if (vctx->tenant.data == NULL) {
        goto failed;
    }

    /* a reference for its variables, read up to its log phase */

    vctx->platform = pf;
    vctx->slot = flight->entry->slot;
    vctx->state = NGX_HTTP_ADCP_ST_DONE;
    vctx->tenant_done = 1;
    pf->refs++;

    attempt->vctx = vctx;
    attempt->pf = pf;
    attempt->validating = 1;

    vsr = ngx_http_adcp_subrequest(r, &alcf->validator,
                                   ngx_http_adcp_validate_done, attempt,
                                   flight);
    if (vsr == NULL) {
        goto failed;
    }

    ngx_http_set_ctx(vsr, vctx, ngx_http_adcp_module);

    return NGX_OK;

failed:

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "adcp: tenant \"%V\": could not start the validator "
                  "subrequest", &flight->entry->tenant);

    /* the variables' reference, if taken, goes with the leader's pool */

    attempt->pf = NULL;
    ngx_http_adcp_flight_end(flight, NULL, NGX_HTTP_ADCP_FAILED);
    ngx_http_adcp_platform_release(pf);

    return NGX_OK;
}


static ngx_int_t
ngx_http_adcp_validate_done(ngx_http_request_t *sr, void *data, ngx_int_t rc)
{
    ngx_http_adcp_attempt_t *attempt = data;

    ngx_uint_t                 status;
    ngx_http_adcp_flight_t    *flight;
    ngx_http_adcp_platform_t  *pf;

    flight = attempt->flight;
    pf = attempt->pf;
    attempt->pf = NULL;

    if (pf == NULL) {
        return rc;
    }

    if (flight == NULL) {
        ngx_http_adcp_platform_release(pf);
        return rc;
    }

    attempt->flight = NULL;
    flight->attempt = NULL;

    status = ngx_http_adcp_status(sr, rc);

    if (status >= NGX_HTTP_OK && status < NGX_HTTP_SPECIAL_RESPONSE) {
        ngx_http_adcp_flight_end(flight, pf, NGX_HTTP_ADCP_BUILT);

    } else {
        ngx_log_error(NGX_LOG_ERR, sr->connection->log, 0,
                      "adcp: tenant \"%V\": the validator refused the "
                      "platform (%ui)", &flight->entry->tenant, status);
        ngx_http_adcp_flight_end(flight, NULL, NGX_HTTP_ADCP_FAILED);
    }

    ngx_http_adcp_platform_release(pf);

    return rc;
}


static void
ngx_http_adcp_validate_cleanup(void *data)
{
    ngx_http_adcp_attempt_t *attempt = data;

    if (attempt->pf) {
        ngx_http_adcp_platform_release(attempt->pf);
        attempt->pf = NULL;
    }

    if (attempt->vctx && attempt->vctx->platform) {
        ngx_http_adcp_platform_release(attempt->vctx->platform);
        attempt->vctx->platform = NULL;
    }
}


/*
 * The validator subrequest's variables: its own state, even after an
 * internal redirect (which clears r->ctx, not r->post_subrequest).
 */

ngx_http_adcp_ctx_t *
ngx_http_adcp_factory_validator_ctx(ngx_http_request_t *r)
{
    ngx_http_adcp_attempt_t  *attempt;

    if (r->post_subrequest == NULL
        || r->post_subrequest->handler != ngx_http_adcp_validate_done)
    {
        return NULL;
    }

    attempt = r->post_subrequest->data;

    return attempt->vctx;
}


/*
 * A background subrequest for the attempt, with an empty body and headers
 * that say so (sr->headers_in is the subrequest's own copy): the buyer's
 * body is not the factory's business, and a proxied factory must not wait
 * for it.
 */

static ngx_http_request_t *
ngx_http_adcp_subrequest(ngx_http_request_t *r, ngx_str_t *uri,
    ngx_http_post_subrequest_pt handler, ngx_http_adcp_attempt_t *attempt,
    ngx_http_adcp_flight_t *flight)
{
    ngx_http_request_t          *sr;
    ngx_http_post_subrequest_t  *ps;

    ps = ngx_palloc(r->pool, sizeof(ngx_http_post_subrequest_t));
    if (ps == NULL) {
        return NULL;
    }

    ps->handler = handler;
    ps->data = attempt;

    if (ngx_http_subrequest(r, uri, NULL, &sr, ps,
                            NGX_HTTP_SUBREQUEST_BACKGROUND)
        != NGX_OK)
    {
        return NULL;
    }

    sr->request_body = ngx_pcalloc(r->pool, sizeof(ngx_http_request_body_t));
    if (sr->request_body == NULL) {
        return NULL;
    }

    sr->headers_in.content_length_n = -1;
    sr->headers_in.content_length = NULL;
    sr->headers_in.content_type = NULL;
    sr->headers_in.chunked = 0;

    attempt->sr = sr;
    attempt->flight = flight;
    flight->attempt = attempt;

    return sr;
}


static ngx_uint_t
ngx_http_adcp_status(ngx_http_request_t *sr, ngx_int_t rc)
{
    if (rc == NGX_ERROR || rc >= NGX_HTTP_SPECIAL_RESPONSE
        || sr->headers_out.status == 0)
    {
        return (rc >= NGX_HTTP_SPECIAL_RESPONSE) ? (ngx_uint_t) rc
                                                 : NGX_HTTP_BAD_GATEWAY;
    }

    return sr->headers_out.status;
}


/*
 * The flight fails at once; the subrequest's upstream, if it has one, is
 * closed, so that it holds neither the factory nor the leader's
 * connection.  The leader is parked and alive here: a leader that leaves
 * detaches its attempt first.
 */

static void
ngx_http_adcp_build_timeout(ngx_event_t *ev)
{
    ngx_http_adcp_flight_t *flight = ev->data;

    ngx_http_upstream_t      *u;
    ngx_http_adcp_attempt_t  *attempt;

    ngx_log_error(NGX_LOG_ERR, ev->log, 0,
                  "adcp: tenant \"%V\": the platform build timed out",
                  &flight->entry->tenant);

    attempt = flight->attempt;

    ngx_http_adcp_flight_end(flight, NULL, NGX_HTTP_ADCP_FAILED);

    if (attempt == NULL) {
        return;
    }

    u = attempt->sr->upstream;

    if (u && u->cleanup && *u->cleanup) {
        (*u->cleanup)(attempt->sr);
    }
}


/*
 * Ends a flight: caches the platform unless an invalidation came during
 * the build, or remembers the failure; hands the result to every request
 * of the flight and wakes them.
 */

static void
ngx_http_adcp_flight_end(ngx_http_adcp_flight_t *flight,
    ngx_http_adcp_platform_t *pf, ngx_uint_t code)
{
    ngx_msec_t                  until;
    ngx_uint_t                  gen, status;
    ngx_queue_t                *q;
    ngx_http_adcp_aux_t        *aux;
    ngx_http_adcp_ctx_t        *ctx;
    ngx_http_adcp_slot_t       *slot;
    ngx_http_adcp_entry_t      *e;
    ngx_http_adcp_worker_t     *w;
    ngx_http_adcp_platform_t   *serve;
    ngx_http_adcp_main_conf_t  *amcf;

    e = flight->entry;
    slot = e->slot;
    w = ngx_http_adcp_worker;
    amcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_adcp_module);

    if (flight->timer.timer_set) {
        ngx_del_timer(&flight->timer);
    }

    if (flight->attempt) {
        flight->attempt->flight = NULL;
    }

    e->flight = NULL;

    if (flight->refresh && flight->leader) {

        /* the request that ran the refresh was served already */

        flight->leader->aux->flight = NULL;
        flight->leader = NULL;
    }

    if (!flight->remote) {

        /* stored before the claim goes: the host's waiters look there */

        if (pf) {
            ngx_http_adcp_store(flight, pf);
        }

        ngx_http_adcp_zone_built(w->zone, slot,
                                 pf ? NGX_HTTP_ADCP_BUILD_OK
                             : (code == NGX_HTTP_ADCP_NOT_FOUND)
                               ? NGX_HTTP_ADCP_BUILD_NOT_FOUND
                               : NGX_HTTP_ADCP_BUILD_FAILED,
                                 e->stale != NULL
                                 || (flight->refresh && e->platform),
                                 flight->recheck, flight->started,
                                 amcf->failure_ttl, amcf->failure_ttl_max,
                                 amcf->not_found_ttl);

        if (flight->refresh) {
            w->row->counters[pf ? NGX_HTTP_ADCP_C_REFRESH_OK
                                : NGX_HTTP_ADCP_C_REFRESH_FAILED]++;
        }
    }

    until = slot ? slot->failed_until : 0;
    gen = slot ? slot->generation : e->generation;

    if (pf) {
        if (flight->generation == gen
            && flight->global == w->zone->sh->generation)
        {
            ngx_http_adcp_keep(e, pf, gen, flight->global, flight->recheck);

        } else {
            ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                          "adcp: tenant \"%V\" was invalidated during its "
                          "build: the platform serves its waiters only",
                          &e->tenant);
        }

    } else if (slot == NULL) {

        /* no room in the zone: this worker's own memory */

        if (code == NGX_HTTP_ADCP_NOT_FOUND) {
            e->not_found_until = ngx_current_msec + amcf->not_found_ttl;

        } else {
            until = ngx_current_msec + amcf->failure_ttl;
            e->failed_until = until;
        }
    }

    if (pf) {
        serve = pf;
        status = 0;

    } else if (e->stale && code != NGX_HTTP_ADCP_NOT_FOUND
               && (slot == NULL || !slot->no_stale))
    {
        serve = e->stale;
        status = NGX_HTTP_ADCP_CACHE_STALE;
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "adcp: tenant \"%V\": the rebuild failed, serving "
                      "the previous platform", &e->tenant);

    } else {
        serve = NULL;
        status = 0;
    }

    if (code == NGX_HTTP_ADCP_NOT_FOUND || (pf == NULL && serve == NULL)) {
        ngx_http_adcp_cache_unstale(e);
    }

    while (!ngx_queue_empty(&flight->waiters)) {
        q = ngx_queue_head(&flight->waiters);
        ngx_queue_remove(q);

        aux = ngx_queue_data(q, ngx_http_adcp_aux_t, waiter);
        ctx = aux->ctx;

        ctx->aux->flight = NULL;
        ctx->state = NGX_HTTP_ADCP_ST_DONE;

        if (serve) {
            ctx->platform = serve;
            serve->refs++;

            if (status) {
                ctx->cache_status = status;
                w->row->counters[NGX_HTTP_ADCP_C_STALE]++;

            } else if (!ctx->refresh) {
                w->row->counters[flight->remote ? NGX_HTTP_ADCP_C_SHARED
                                                : NGX_HTTP_ADCP_C_FACTORY]++;
            }

        } else if (code == NGX_HTTP_ADCP_NOT_FOUND) {
            ngx_http_adcp_fail(ctx, NGX_HTTP_ADCP_ERR_ACCOUNT_NOT_FOUND, 0);

        } else {
            ngx_http_adcp_fail(ctx, NGX_HTTP_ADCP_ERR_SERVICE_UNAVAILABLE,
                               until ? until : ngx_current_msec + 1000);
        }

        ngx_http_adcp_post(ctx);
    }

    ngx_free(flight);
}


/* the zone is told which workers cache a tenant and how many they hold */

static void
ngx_http_adcp_cache_event(ngx_http_adcp_entry_t *e, ngx_uint_t event)
{
    ngx_http_adcp_worker_t  *w;

    w = ngx_http_adcp_worker;

    if (event == NGX_HTTP_ADCP_EV_FREE) {
        ngx_http_adcp_zone_unuse(e->slot);
        return;
    }

    ngx_http_adcp_zone_cached(w->zone, e->slot,
                              event == NGX_HTTP_ADCP_EV_IN);

    if (event == NGX_HTTP_ADCP_EV_EVICTED) {
        w->row->counters[NGX_HTTP_ADCP_C_EVICTIONS]++;

    } else if (event == NGX_HTTP_ADCP_EV_EXPIRED) {
        w->row->counters[NGX_HTTP_ADCP_C_EXPIRATIONS]++;
    }
}


ngx_int_t
ngx_http_adcp_factory_init_worker(ngx_cycle_t *cycle,
    ngx_http_adcp_main_conf_t *amcf)
{
    ngx_http_adcp_worker_t  *w;

    w = ngx_pcalloc(cycle->pool, sizeof(ngx_http_adcp_worker_t));
    if (w == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_adcp_cache_init(&w->cache, amcf->cache_size, cycle->pool)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    w->zone = &amcf->zone;
    w->row = ngx_http_adcp_zone_row(w->zone);
    w->store = &amcf->store;
    w->epoch = ngx_crc32_short(w->zone->sh->task_secret,
                               NGX_HTTP_ADCP_SECRET_LEN);

    if (w->store->sh) {
        w->zone->invalidated = ngx_http_adcp_invalidated;
        w->zone->invalidated_data = w->store;
    }

    w->redis_down_ttl = amcf->redis.name.len ? amcf->redis.down_ttl : 0;
    w->row->size = 0;

    ngx_http_adcp_zone_worker_start(w->zone);
    w->cache.event = ngx_http_adcp_cache_event;

    ngx_http_adcp_worker = w;

    return NGX_OK;
}


static void
ngx_http_adcp_park(ngx_http_request_t *r, ngx_http_adcp_ctx_t *ctx,
    ngx_http_adcp_flight_t *flight)
{
    ngx_queue_insert_tail(&flight->waiters, &ctx->aux->waiter);

    ctx->aux->flight = flight;
    ctx->state = NGX_HTTP_ADCP_ST_WAITING;

    r->read_event_handler = ngx_http_test_reading;
    r->write_event_handler = ngx_http_adcp_wake;
}


static void
ngx_http_adcp_wake(ngx_http_request_t *r)
{
    ngx_http_adcp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_adcp_module);

    if (ctx == NULL || ctx->state == NGX_HTTP_ADCP_ST_WAITING) {
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
ngx_http_adcp_post(ngx_http_adcp_ctx_t *ctx)
{
    ngx_post_event(ctx->request->connection->write, &ngx_posted_events);
}


/*
 * The platform's reference goes in the request's log phase
 * (ngx_http_adcp_release, after the access log's handler: see
 * ngx_http_adcp_factory_init_filter), not with a pool cleanup: 24 bytes
 * fewer in the ctx, which on a hit keeps the request pool in two 4k blocks
 * (bench/RESULTS.md).  (Leaving a flight is registered when parking.)
 */

static ngx_int_t
ngx_http_adcp_cleanups(ngx_http_request_t *r, ngx_http_adcp_ctx_t *ctx)
{
    if (ctx->cleanups) {
        return NGX_OK;
    }

    ctx->cleanups = 1;
    ctx->request = r;

    return NGX_OK;
}


static void
ngx_http_adcp_leave(void *data)
{
    ngx_http_adcp_ctx_t *ctx = data;

    ngx_http_adcp_flight_t  *flight;

    if (ctx->state != NGX_HTTP_ADCP_ST_WAITING
        && ctx->state != NGX_HTTP_ADCP_ST_LEAD)
    {
        return;
    }

    flight = ctx->aux->flight;

    ngx_queue_remove(&ctx->aux->waiter);
    ctx->aux->flight = NULL;
    ctx->state = NGX_HTTP_ADCP_ST_DONE;

    if (flight->leader != ctx) {
        return;
    }

    flight->leader = NULL;

    ngx_http_adcp_handover(flight);
}


/*
 * The leader went away: its subrequest no longer counts (nor its pool's
 * copy of the descriptor); the first waiter, if any, starts the build again.
 */

static void
ngx_http_adcp_handover(ngx_http_adcp_flight_t *flight)
{
    ngx_queue_t          *q;
    ngx_http_adcp_aux_t  *aux;
    ngx_http_adcp_ctx_t  *next;

    if (flight->attempt) {
        flight->attempt->flight = NULL;
        flight->attempt = NULL;
    }

    ngx_str_null(&flight->body);

    if (ngx_queue_empty(&flight->waiters)) {
        ngx_http_adcp_flight_free(flight);
        return;
    }

    q = ngx_queue_head(&flight->waiters);
    aux = ngx_queue_data(q, ngx_http_adcp_aux_t, waiter);
    next = aux->ctx;

    ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                  "adcp: tenant \"%V\": the client that started the build "
                  "went away, a waiting request takes it over",
                  &flight->entry->tenant);

    next->state = NGX_HTTP_ADCP_ST_LEAD;
    flight->leader = next;

    ngx_http_adcp_post(next);
}


/*
 * The log phase, the main request's last (ngx_http_free_request runs it
 * before the request's pool goes, once, whichever way the request ended):
 * the reference its platform held.  The $adcp_* variables of a log phase
 * handler that runs after this one (a module loaded after this one) find
 * no platform then, never a released one.
 */

static ngx_int_t
ngx_http_adcp_release(ngx_http_request_t *r)
{
    ngx_http_adcp_ctx_t  *ctx;

    if (r != r->main) {
        return NGX_OK;                  /* a subrequest's (log_subrequest) */
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_adcp_module);

    if (ctx && ctx->cleanups && ctx->platform) {
        ngx_http_adcp_platform_release(ctx->platform);
        ctx->platform = NULL;
    }

    return NGX_OK;
}


static void
ngx_http_adcp_fail(ngx_http_adcp_ctx_t *ctx, ngx_uint_t code,
    ngx_msec_t until)
{
    ngx_msec_int_t          left;
    ngx_http_adcp_error_t  *err;

    /* NULL (out of memory) is answered 500 */

    if (ngx_http_adcp_aux(ctx->request, ctx) == NULL) {
        return;
    }

    err = ngx_pcalloc(ctx->request->pool, sizeof(ngx_http_adcp_error_t));
    ctx->aux->err = err;

    if (err == NULL) {
        return;
    }

    err->code = code;

    if (code == NGX_HTTP_ADCP_ERR_ACCOUNT_NOT_FOUND) {
        ngx_str_set(&err->message, "no account is served at this address");
        return;
    }

    ngx_str_set(&err->message, "the account's platform is unavailable, "
                "retry later");

    left = (ngx_msec_int_t) (until - ngx_current_msec);
    err->retry_after = (left > 0) ? (left + 999) / 1000 : 1;
}


ngx_int_t
ngx_http_adcp_factory_init_filter(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    /* after the access log's (a static module's, set up before this one) */

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_adcp_release;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_adcp_capture_filter;

    return NGX_OK;
}


/* the factory subrequest's body goes to the attempt's buffer, not out */

static ngx_int_t
ngx_http_adcp_capture_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    off_t                     size;
    ssize_t                   n;
    ngx_buf_t                *b;
    ngx_chain_t              *cl;
    ngx_http_adcp_attempt_t  *attempt;

    if (r == r->main || r->post_subrequest == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    if (r->post_subrequest->handler == ngx_http_adcp_validate_done) {

        /* the validator's body: nobody's */

        for (cl = in; cl; cl = cl->next) {
            cl->buf->pos = cl->buf->last;
            cl->buf->file_pos = cl->buf->file_last;
        }

        return NGX_OK;
    }

    if (r->post_subrequest->handler != ngx_http_adcp_build_done) {
        return ngx_http_next_body_filter(r, in);
    }

    attempt = r->post_subrequest->data;

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        size = ngx_buf_size(b);

        if (size == 0 || attempt->oversize || attempt->read_error) {
            goto consumed;
        }

        if (attempt->len + size > NGX_HTTP_ADCP_DESCRIPTOR_MAX) {
            attempt->oversize = 1;
            goto consumed;
        }

        if (attempt->buf == NULL) {
            attempt->buf = ngx_pnalloc(r->pool,
                                       NGX_HTTP_ADCP_DESCRIPTOR_MAX + 1);
            if (attempt->buf == NULL) {
                return NGX_ERROR;
            }
        }

        if (ngx_buf_in_memory(b)) {
            ngx_memcpy(attempt->buf + attempt->len, b->pos, (size_t) size);
            attempt->len += size;

        } else if (b->in_file) {
            n = ngx_read_file(b->file, attempt->buf + attempt->len,
                              (size_t) size, b->file_pos);

            if (n != size) {
                attempt->read_error = 1;
            } else {
                attempt->len += size;
            }
        }

    consumed:

        if (ngx_buf_in_memory(b)) {
            b->pos = b->last;
        }

        if (b->in_file) {
            b->file_pos = b->file_last;
        }
    }

    return NGX_OK;
}
