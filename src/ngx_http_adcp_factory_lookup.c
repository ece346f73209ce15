
/*
 * ngx_http_adcp_module: the factory's lookup policy.  A request's tenant
 * is looked up in the worker's cache: a live platform is served, one past
 * its refresh point is served while one worker of the host rebuilds it,
 * one the store holds later is taken from there, a negative entry answers
 * at once; anything else joins or starts a build
 * (ngx_http_adcp_factory.c).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_adcp_factory.h"
#include "ngx_http_adcp_factory_private.h"
#include "ngx_http_adcp_refresh.h"


static ngx_inline ngx_int_t ngx_http_adcp_factory_lookup(
    ngx_http_request_t *r, ngx_http_adcp_ctx_t *ctx);
static ngx_int_t ngx_http_adcp_factory_full(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx) NGX_HTTP_ADCP_COLD;
static ngx_int_t ngx_http_adcp_factory_miss(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx, ngx_http_adcp_entry_t *e,
    ngx_http_adcp_slot_t *slot) NGX_HTTP_ADCP_NOINLINE;
static ngx_inline ngx_uint_t ngx_http_adcp_factory_live(
    ngx_http_adcp_worker_t *w, ngx_http_adcp_platform_t *pf);
static ngx_int_t ngx_http_adcp_factory_remembered(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx, ngx_http_adcp_entry_t *e,
    ngx_http_adcp_slot_t *slot);
static ngx_int_t ngx_http_adcp_factory_refresh_ahead(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx, ngx_http_adcp_entry_t *e);
static ngx_int_t ngx_http_adcp_factory_refresh_start(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx, ngx_http_adcp_entry_t *e, ngx_uint_t claim);
static void ngx_http_adcp_factory_refresh_leave(void *data);
static ngx_http_adcp_slot_t *ngx_http_adcp_factory_slot(
    ngx_http_adcp_entry_t *e, ngx_str_t *tenant, ngx_log_t *log);
static char *ngx_http_adcp_factory_uri(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


/*
 * NGX_OK: the request holds a platform (ngx_http_adcp_platform(ctx));
 * NGX_DONE: the request is parked;
 * NGX_DECLINED: no platform, ctx->aux->err says why; NGX_ERROR.
 */

ngx_int_t
ngx_http_adcp_factory_resolve(ngx_http_request_t *r, ngx_http_adcp_ctx_t *ctx)
{
    switch (ctx->state) {

    case NGX_HTTP_ADCP_ST_NEW:
        return ngx_http_adcp_factory_lookup(r, ctx);

    case NGX_HTTP_ADCP_ST_DONE:
        return ngx_http_adcp_platform(ctx) ? NGX_OK : NGX_DECLINED;

    case NGX_HTTP_ADCP_ST_WAITING:
        return NGX_DONE;

    default: /* NGX_HTTP_ADCP_ST_LEAD */
        return ngx_http_adcp_factory_build_start(r, ctx);
    }
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
    ngx_uint_t                  claim;
    ngx_http_adcp_slot_t       *slot;
    ngx_http_adcp_entry_t      *e;
    ngx_http_adcp_worker_t     *w;
    ngx_http_adcp_main_conf_t  *amcf;

    w = ngx_http_adcp_worker;

    if (w == NULL || w->store->sh == NULL) {
        return NGX_OK;
    }

    ngx_http_adcp_factory_cleanups(r, ctx);

    ctx->state = NGX_HTTP_ADCP_ST_DONE;
    ctx->cache_status = NGX_HTTP_ADCP_CACHE_UPDATING;

    e = ngx_http_adcp_cache_get(&w->cache, ctx->tenant, 1);

    if (e == NULL) {
        return NGX_OK;
    }

    slot = ngx_http_adcp_factory_slot(e, ctx->tenant, r->connection->log);

    if (slot == NULL || e->flight
        || ngx_http_adcp_factory_active(slot->failed_until)
        || ngx_http_adcp_factory_active(slot->not_found_until))
    {
        return NGX_OK;
    }

    amcf = ngx_http_get_module_main_conf(r, ngx_http_adcp_module);

    claim = ngx_http_adcp_zone_claim(w->zone, slot, amcf->build_timeout, 1);

    if (claim != NGX_HTTP_ADCP_CLAIM_OWN) {
        return NGX_OK;
    }

    if (ngx_http_adcp_factory_take_shared(e, after, slot)) {
        return NGX_OK;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "adcp: tenant \"%V\": refreshing its platform for the "
                   "host", ctx->tenant);

    ctx->refresh = 1;

    return ngx_http_adcp_factory_fly(r, ctx, e, claim);
}


/*
 * The hit path: the tenant's entry (the most recently used one, as on a
 * keep-alive connection, without hashing its id), its generations, its
 * platform live; anything else is ngx_http_adcp_factory_miss()'s
 */

static ngx_inline ngx_int_t
ngx_http_adcp_factory_lookup(ngx_http_request_t *r, ngx_http_adcp_ctx_t *ctx)
{
    ngx_http_adcp_slot_t      *slot;
    ngx_http_adcp_entry_t     *e;
    ngx_http_adcp_worker_t    *w;
    ngx_http_adcp_platform_t  *pf;

    w = ngx_http_adcp_worker;

    if (w == NULL) {
        return NGX_ERROR;
    }

    ngx_http_adcp_factory_cleanups(r, ctx);

    ctx->state = NGX_HTTP_ADCP_ST_DONE;

    e = ngx_http_adcp_cache_mru(&w->cache, ctx->tenant);

    if (e == NULL) {
        e = ngx_http_adcp_cache_get(&w->cache, ctx->tenant, 1);

        if (e == NULL) {
            return ngx_http_adcp_factory_full(r, ctx);
        }
    }

    slot = ngx_http_adcp_factory_slot(e, ctx->tenant, r->connection->log);
    ctx->slot = slot;

    /* invalidated, or rechecked, host-wide since it was built */

    if ((e->platform || e->stale)
        && ((slot ? slot->generation : e->generation) != e->seen
            || w->zone->sh->generation != e->seen_global
            || (slot && slot->recheck != e->seen_recheck)))
    {
        ngx_http_adcp_factory_check(e);
    }

    pf = e->platform;

    /* two words read from the zone above, no lock */

    if (pf == NULL || !ngx_http_adcp_factory_live(w, pf)
        || (pf->refresh
            && (ngx_msec_int_t) (ngx_current_msec - pf->refresh) >= 0))
    {
        return ngx_http_adcp_factory_miss(r, ctx, e, slot);
    }

    ctx->cleanup.data = pf;
    pf->refs++;
    ctx->cache_status = NGX_HTTP_ADCP_CACHE_HIT;
    w->row->counters[NGX_HTTP_ADCP_C_HITS]++;

    return NGX_OK;
}


/* every cache entry has a build in flight */

static ngx_int_t
ngx_http_adcp_factory_full(ngx_http_request_t *r, ngx_http_adcp_ctx_t *ctx)
{
    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "adcp: tenant \"%V\": every cache entry has a build "
                  "in flight, increase adcp_cache_size", ctx->tenant);
    ngx_http_adcp_factory_fail(r, ctx, NGX_HTTP_ADCP_ERR_SERVICE_UNAVAILABLE,
                               ngx_current_msec + 1000);
    return NGX_DECLINED;
}


/*
 * Not a hit: a live platform past its refresh point, an expired one, or
 * none (a miss)
 */

static ngx_int_t
ngx_http_adcp_factory_miss(ngx_http_request_t *r, ngx_http_adcp_ctx_t *ctx,
    ngx_http_adcp_entry_t *e, ngx_http_adcp_slot_t *slot)
{
    ngx_int_t                   rc;
    ngx_msec_t                  now;
    ngx_uint_t                  claim;
    ngx_http_adcp_worker_t     *w;
    ngx_http_adcp_main_conf_t  *amcf;

    w = ngx_http_adcp_worker;

    if (e->platform) {

        if (ngx_http_adcp_factory_live(w, e->platform)) {
            return ngx_http_adcp_factory_refresh_ahead(r, ctx, e);
        }

        ngx_http_adcp_factory_keep_stale(r, e);

        /* expired, or older than adcp_redis_down_ttl while Redis is down */

        ngx_http_adcp_cache_retire(&w->cache, e);

        ctx->cache_status = NGX_HTTP_ADCP_CACHE_EXPIRED;

    } else {
        ctx->cache_status = NGX_HTTP_ADCP_CACHE_MISS;
    }

    now = ngx_current_msec;

    if (e->stale && (ngx_msec_int_t) (now - e->stale_until) >= 0) {
        ngx_http_adcp_cache_unstale(e);
    }

    rc = ngx_http_adcp_factory_remembered(r, ctx, e, slot);
    if (rc != NGX_AGAIN) {
        return rc;
    }

    if (e->flight) {
        return ngx_http_adcp_factory_fly(r, ctx, e, NGX_HTTP_ADCP_CLAIM_FREE);
    }

    /* the host's store: a descriptor another worker (or an earlier one) got */

    if (ngx_http_adcp_factory_from_store(r, ctx, e, 0) == NGX_OK) {
        return NGX_OK;
    }

    claim = NGX_HTTP_ADCP_CLAIM_FREE;

    if (slot) {
        amcf = ngx_http_get_module_main_conf(r, ngx_http_adcp_module);
        claim = ngx_http_adcp_zone_claim(w->zone, slot, amcf->build_timeout,
                                         w->store->sh != NULL);

        /*
         * the claim's last holder may have ended its build between the
         * look above and the claim (ngx_http_adcp_zone_built() writes the
         * outcome and drops the claim under one lock): a failure it
         * remembered, or the descriptor it stored, looked at again under
         * the claim, so that the host still calls the factory once
         */

        if (claim == NGX_HTTP_ADCP_CLAIM_OWN) {
            rc = ngx_http_adcp_factory_remembered(r, ctx, e, slot);

            if (rc != NGX_AGAIN) {
                ngx_http_adcp_zone_unclaim(w->zone, slot);
                return rc;
            }
        }

        if (claim == NGX_HTTP_ADCP_CLAIM_OWN
            && ngx_http_adcp_factory_from_store(r, ctx, e, 1) == NGX_OK)
        {
            return NGX_OK;
        }

        if (claim == NGX_HTTP_ADCP_CLAIM_BUSY && e->stale) {
            return ngx_http_adcp_factory_negative(r, ctx, e, now + 1000);
        }
    }

    return ngx_http_adcp_factory_fly(r, ctx, e, claim);
}


/*
 * A failure the host (or, without a zone slot, this worker) remembers for
 * the tenant: the request is answered from it, no build (NGX_DECLINED, or
 * NGX_OK when a stale platform serves it); NGX_AGAIN: none, go on
 */

static ngx_int_t
ngx_http_adcp_factory_remembered(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx, ngx_http_adcp_entry_t *e,
    ngx_http_adcp_slot_t *slot)
{
    ngx_msec_t  until;

    if (ngx_http_adcp_factory_active(slot ? slot->not_found_until
                                          : e->not_found_until))
    {
        ngx_http_adcp_worker->row->counters[NGX_HTTP_ADCP_C_NEGATIVE]++;
        ngx_http_adcp_factory_fail(r, ctx, NGX_HTTP_ADCP_ERR_ACCOUNT_NOT_FOUND,
                                   0);
        return NGX_DECLINED;
    }

    until = slot ? slot->failed_until : e->failed_until;

    if (ngx_http_adcp_factory_active(until)) {
        return ngx_http_adcp_factory_negative(r, ctx, e, until);
    }

    return NGX_AGAIN;
}


/*
 * adcp_cache_refresh: past its refresh point a platform is still served
 * (UPDATING) while one worker of the host rebuilds it in the background;
 * a worker whose copy is older than the store's takes the store's.
 */

static ngx_int_t
ngx_http_adcp_factory_refresh_ahead(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx, ngx_http_adcp_entry_t *e)
{
    ngx_int_t                   rc;
    ngx_uint_t                  claim, status;
    ngx_http_adcp_slot_t       *slot;
    ngx_http_adcp_worker_t     *w;
    ngx_http_adcp_main_conf_t  *amcf;

    w = ngx_http_adcp_worker;
    slot = e->slot;
    status = NGX_HTTP_ADCP_CACHE_UPDATING;

    if (e->flight) {
        goto serve;
    }

    if (slot == NULL
        || ngx_http_adcp_factory_active(slot->failed_until)
        || ngx_http_adcp_factory_active(slot->not_found_until))
    {
        /* a refresh failed: served as it is until it expires */

        status = NGX_HTTP_ADCP_CACHE_HIT;
        goto serve;
    }

    if (ngx_http_adcp_factory_active(slot->claim_until)) {
        goto serve;
    }

    /* refreshed by another worker: its descriptor is in the store */

    if (w->store->sh
        && ngx_http_adcp_factory_take_shared(e, e->platform->built, NULL))
    {
        status = NGX_HTTP_ADCP_CACHE_SHARED;
        w->row->counters[NGX_HTTP_ADCP_C_SHARED]++;

        goto serve;
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

    if (claim == NGX_HTTP_ADCP_CLAIM_OWN && w->store->sh
        && ngx_http_adcp_factory_take_shared(e, e->platform->built, slot))
    {
        status = NGX_HTTP_ADCP_CACHE_SHARED;
        w->row->counters[NGX_HTTP_ADCP_C_SHARED]++;

        goto serve;
    }

    if (claim != NGX_HTTP_ADCP_CLAIM_BUSY
        && ngx_http_adcp_factory_refresh_start(r, ctx, e, claim) != NGX_OK)
    {
        status = NGX_HTTP_ADCP_CACHE_HIT;
    }

serve:

    ctx->cleanup.data = e->platform;
    ngx_http_adcp_platform(ctx)->refs++;
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
ngx_http_adcp_factory_refresh_start(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx, ngx_http_adcp_entry_t *e, ngx_uint_t claim)
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
                   ctx->tenant);

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

    flight->timer.handler = ngx_http_adcp_factory_build_timeout;
    flight->timer.data = flight;
    flight->timer.log = ngx_cycle->log;

    e->flight = flight;
    ctx->aux->flight = flight;

    cln->handler = ngx_http_adcp_factory_refresh_leave;
    cln->data = ctx;

    ngx_add_timer(&flight->timer, amcf->build_timeout);

    if (ngx_http_adcp_factory_subrequest(r, &alcf->factory,
                                         ngx_http_adcp_factory_build_done,
                                         attempt, flight)
        == NULL)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "adcp: tenant \"%V\": could not start the factory "
                      "subrequest", ctx->tenant);

        ngx_http_adcp_factory_flight_end(flight, NULL, NGX_HTTP_ADCP_FAILED);
    }

    return NGX_OK;
}


/* the request that runs a refresh goes away before it ends */

static void
ngx_http_adcp_factory_refresh_leave(void *data)
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

    ngx_http_adcp_factory_handover(flight);
}


/*
 * The platform is served: not expired, and not older than
 * adcp_redis_down_ttl while Redis is down (invalidations may be missed)
 */

static ngx_inline ngx_uint_t
ngx_http_adcp_factory_live(ngx_http_adcp_worker_t *w,
    ngx_http_adcp_platform_t *pf)
{
    return (pf->expires == 0
            || (ngx_msec_int_t) (ngx_current_msec - pf->expires) < 0)
           && (w->redis_down_ttl == 0
               || w->zone->sh->redis_state == NGX_HTTP_ADCP_REDIS_SUBSCRIBED
               || ngx_current_msec - pf->built < w->redis_down_ttl);
}


/* the tenant's slot in the zone, looked for once per cache entry */

static ngx_http_adcp_slot_t *
ngx_http_adcp_factory_slot(ngx_http_adcp_entry_t *e, ngx_str_t *tenant,
    ngx_log_t *log)
{
    if (!e->slot_tried) {
        e->slot = ngx_http_adcp_zone_slot(ngx_http_adcp_worker->zone, tenant,
                                          log);
        e->slot_tried = 1;
    }

    return e->slot;
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
        w->zone->invalidated = ngx_http_adcp_factory_invalidated;
        w->zone->invalidated_data = w->store;
    }

    w->redis_down_ttl = amcf->redis.name.len ? amcf->redis.down_ttl : 0;
    w->row->size = 0;

    ngx_http_adcp_zone_worker_start(w->zone);
    w->cache.event = ngx_http_adcp_factory_cache_event;

    ngx_http_adcp_worker = w;

    return NGX_OK;
}


char *
ngx_http_adcp_factory(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_adcp_main_conf_t  *amcf;

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_adcp_module);
    amcf->platforms = 1;

    return ngx_http_adcp_factory_uri(cf, cmd, conf);
}


char *
ngx_http_adcp_validator(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    return ngx_http_adcp_factory_uri(cf, cmd, conf);
}


/* adcp_factory, adcp_validator: the URI of a location of this server */

static char *
ngx_http_adcp_factory_uri(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_str_t  *value;

    value = cf->args->elts;

    if (value[1].len == 0 || value[1].data[0] != '/') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%V \"%V\" is not a location URI",
                           &cmd->name, &value[1]);
        return NGX_CONF_ERROR;
    }

    return ngx_conf_set_str_slot(cf, cmd, conf);
}
