
/*
 * ngx_http_adcp_module: a tenant's cache entry as the factory keeps it:
 * a platform kept (and shared through the host's store), a stale one kept
 * while a generation is checked, failures and "not found" remembered.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_adcp_factory.h"
#include "ngx_http_adcp_factory_private.h"
#include "ngx_http_adcp_descriptor.h"


/*
 * A fresh descriptor from the host's store, parsed into this worker's
 * cache and served ($adcp_cache_status SHARED); "claimed": the caller
 * holds the tenant's build claim, given back when the store has it.
 */

ngx_int_t
ngx_http_adcp_factory_from_store(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx, ngx_http_adcp_entry_t *e, ngx_uint_t claimed)
{
    ngx_http_adcp_worker_t  *w;

    w = ngx_http_adcp_worker;

    if (e->slot == NULL || w->store->sh == NULL) {
        return NGX_DECLINED;
    }

    if (!ngx_http_adcp_factory_take_shared(e, 0,
                                           claimed ? e->slot : NULL))
    {
        return NGX_DECLINED;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "adcp: tenant \"%V\" from the platform store",
                   ctx->tenant);

    ctx->cleanup.data = e->platform;
    ngx_http_adcp_platform(ctx)->refs++;
    ctx->cache_status = NGX_HTTP_ADCP_CACHE_SHARED;
    w->row->counters[NGX_HTTP_ADCP_C_SHARED]++;

    return NGX_OK;
}


/*
 * The store's copy, when it was built after "after", kept in the entry
 * (the build claim on "claimed" given up first): 1, or 0 when the store
 * has none
 */

ngx_uint_t
ngx_http_adcp_factory_take_shared(ngx_http_adcp_entry_t *e, ngx_msec_t after,
    ngx_http_adcp_slot_t *claimed)
{
    ngx_http_adcp_platform_t    *pf;
    ngx_http_adcp_store_meta_t   meta;

    pf = ngx_http_adcp_factory_shared(e, after, &meta);

    if (pf == NULL) {
        return 0;
    }

    if (claimed) {
        ngx_http_adcp_zone_unclaim(ngx_http_adcp_worker->zone, claimed);
    }

    ngx_http_adcp_factory_keep(e, pf, meta.generation, meta.global,
                               meta.recheck);
    ngx_http_adcp_platform_release(pf);

    return 1;
}


/*
 * The tenant's descriptor from the store if it was built under the
 * generations the tenant has now (and, with "after", later than that),
 * parsed: a platform with one reference, or NULL.
 */

ngx_http_adcp_platform_t *
ngx_http_adcp_factory_shared(ngx_http_adcp_entry_t *e, ngx_msec_t after,
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

void
ngx_http_adcp_factory_keep(ngx_http_adcp_entry_t *e,
    ngx_http_adcp_platform_t *pf, ngx_uint_t gen, ngx_uint_t global,
    ngx_uint_t recheck)
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

void
ngx_http_adcp_factory_store(ngx_http_adcp_flight_t *flight,
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

void
ngx_http_adcp_factory_invalidated(ngx_str_t *tenant, void *data)
{
    ngx_http_adcp_store_t *store = data;

    ngx_http_adcp_store_remove(store, tenant);
}


/*
 * Whether an entry's platform was invalidated (or rechecked) host-wide
 * since it was built: if so it goes; a recheck keeps it for serving stale
 * if the rebuild fails, an invalidation does not.
 */

void
ngx_http_adcp_factory_check(ngx_http_adcp_entry_t *e)
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

void
ngx_http_adcp_factory_keep_stale(ngx_http_request_t *r,
    ngx_http_adcp_entry_t *e)
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

ngx_int_t
ngx_http_adcp_factory_negative(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx, ngx_http_adcp_entry_t *e, ngx_msec_t until)
{
    ngx_http_adcp_row_t  *row;

    row = ngx_http_adcp_worker->row;

    /* a recheck that failed from unverified disabled it: nothing served */

    if (e->stale && e->slot && ((ngx_http_adcp_slot_t *) e->slot)->no_stale)
    {
        ngx_http_adcp_cache_unstale(e);
    }

    if (e->stale) {
        ctx->cleanup.data = e->stale;
        ngx_http_adcp_platform(ctx)->refs++;
        ctx->cache_status = NGX_HTTP_ADCP_CACHE_STALE;
        row->counters[NGX_HTTP_ADCP_C_STALE]++;
        return NGX_OK;
    }

    row->counters[NGX_HTTP_ADCP_C_NEGATIVE]++;
    ngx_http_adcp_factory_fail(r, ctx, NGX_HTTP_ADCP_ERR_SERVICE_UNAVAILABLE,
                               until);

    return NGX_DECLINED;
}


ngx_uint_t
ngx_http_adcp_factory_active(ngx_msec_t until)
{
    return until && (ngx_msec_int_t) (until - ngx_current_msec) > 0;
}


/* the zone is told which workers cache a tenant and how many they hold */

void
ngx_http_adcp_factory_cache_event(ngx_http_adcp_entry_t *e, ngx_uint_t event)
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


char *
ngx_http_adcp_failure_ttl(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_adcp_main_conf_t *amcf = conf;

    ngx_str_t   *value;
    ngx_msec_t   min, max;

    if (amcf->failure_ttl != NGX_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    value = cf->args->elts;

    min = ngx_parse_time(&value[1], 0);

    if (min == (ngx_msec_t) NGX_ERROR || min == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid adcp_failure_ttl \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    max = min;

    if (cf->args->nelts == 3) {
        max = ngx_parse_time(&value[2], 0);

        if (max == (ngx_msec_t) NGX_ERROR || max < min) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid adcp_failure_ttl maximum \"%V\": "
                               "it must be at least the minimum", &value[2]);
            return NGX_CONF_ERROR;
        }
    }

    amcf->failure_ttl = min;
    amcf->failure_ttl_max = max;

    return NGX_CONF_OK;
}


/* adcp_cache_shared <size>|off; */

char *
ngx_http_adcp_cache_shared(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_adcp_main_conf_t *amcf = conf;

    ssize_t     size;
    ngx_str_t  *value;

    if (amcf->cache_shared != NGX_CONF_UNSET_SIZE) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        amcf->cache_shared = 0;
        return NGX_CONF_OK;
    }

    size = ngx_parse_size(&value[1]);

    if (size == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid adcp_cache_shared \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (size < 32 * 1024) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "adcp_cache_shared \"%V\" is too small: at "
                           "least 32k, or off", &value[1]);
        return NGX_CONF_ERROR;
    }

    amcf->cache_shared = (size_t) size;

    return NGX_CONF_OK;
}


/* adcp_cache_refresh <percent>|off; */

char *
ngx_http_adcp_cache_refresh(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_adcp_main_conf_t *amcf = conf;

    ngx_int_t   n;
    ngx_str_t  *value;

    if (amcf->cache_refresh != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        amcf->cache_refresh = 0;
        return NGX_CONF_OK;
    }

    n = NGX_ERROR;

    if (value[1].len > 1 && value[1].data[value[1].len - 1] == '%') {
        n = ngx_atoi(value[1].data, value[1].len - 1);
    }

    if (n < 1 || n > 99) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid adcp_cache_refresh \"%V\": a share of "
                           "the lifetime from 1%% to 99%%, or off",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    amcf->cache_refresh = (ngx_uint_t) n;

    return NGX_CONF_OK;
}
