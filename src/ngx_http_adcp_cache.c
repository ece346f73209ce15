
/*
 * ngx_http_adcp_module: the per-worker platform cache.
 *
 * Everything here is pure bookkeeping on preallocated entries (no I/O, no
 * allocation on a lookup): it is unit-tested outside nginx.  Time is
 * ngx_current_msec, as the event loop last set it.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_adcp_cache.h"


static ngx_http_adcp_entry_t *ngx_http_adcp_cache_evict(
    ngx_http_adcp_cache_t *cache);
static void ngx_http_adcp_cache_free(ngx_http_adcp_cache_t *cache,
    ngx_http_adcp_entry_t *e);
static void ngx_http_adcp_cache_out(ngx_http_adcp_cache_t *cache,
    ngx_http_adcp_entry_t *e, ngx_uint_t event);


ngx_int_t
ngx_http_adcp_cache_init(ngx_http_adcp_cache_t *cache, ngx_uint_t capacity,
    ngx_pool_t *pool)
{
    ngx_uint_t  i, n;

    ngx_memzero(cache, sizeof(ngx_http_adcp_cache_t));

    cache->entries = ngx_pcalloc(pool,
                                 capacity * sizeof(ngx_http_adcp_entry_t));
    if (cache->entries == NULL) {
        return NGX_ERROR;
    }

    for (n = 1; n < capacity * 2; n <<= 1) { /* void */ }

    cache->buckets = ngx_palloc(pool, n * sizeof(ngx_queue_t));
    if (cache->buckets == NULL) {
        return NGX_ERROR;
    }

    cache->nbuckets = n;
    cache->capacity = capacity;

    for (i = 0; i < n; i++) {
        ngx_queue_init(&cache->buckets[i]);
    }

    ngx_queue_init(&cache->lru);
    ngx_queue_init(&cache->free);

    for (i = 0; i < capacity; i++) {
        ngx_queue_insert_tail(&cache->free, &cache->entries[i].queue);
    }

    return NGX_OK;
}


/* drops every platform: the worker is exiting */

void
ngx_http_adcp_cache_destroy(ngx_http_adcp_cache_t *cache)
{
    ngx_uint_t  i;

    for (i = 0; i < cache->capacity; i++) {
        ngx_http_adcp_cache_out(cache, &cache->entries[i],
                                NGX_HTTP_ADCP_EV_DROPPED);
        ngx_http_adcp_cache_unstale(&cache->entries[i]);

        if (cache->event && cache->entries[i].slot) {
            cache->event(&cache->entries[i], NGX_HTTP_ADCP_EV_FREE);
        }
    }
}


/*
 * The tenant's entry, moved to the head of the LRU; with "create", a new
 * one when there is none, evicting the least recently used entry that has
 * no build in flight.  NULL: not found, or every entry is pinned.
 */

ngx_http_adcp_entry_t *
ngx_http_adcp_cache_get(ngx_http_adcp_cache_t *cache, ngx_str_t *tenant,
    ngx_uint_t create)
{
    ngx_uint_t              hash;
    ngx_queue_t            *bucket, *q;
    ngx_http_adcp_entry_t  *e;

    hash = ngx_hash_key(tenant->data, tenant->len);
    bucket = &cache->buckets[hash & (cache->nbuckets - 1)];

    for (q = ngx_queue_head(bucket);
         q != ngx_queue_sentinel(bucket);
         q = ngx_queue_next(q))
    {
        e = ngx_queue_data(q, ngx_http_adcp_entry_t, chain);

        if (e->hash == hash
            && ngx_http_adcp_str_is(&e->tenant, tenant->data, tenant->len))
        {
            ngx_queue_remove(&e->queue);
            ngx_queue_insert_head(&cache->lru, &e->queue);
            return e;
        }
    }

    if (!create || tenant->len > NGX_HTTP_ADCP_TENANT_ID_MAX) {
        return NULL;
    }

    if (ngx_queue_empty(&cache->free)) {
        e = ngx_http_adcp_cache_evict(cache);
        if (e == NULL) {
            return NULL;
        }

    } else {
        q = ngx_queue_head(&cache->free);
        ngx_queue_remove(q);
        e = ngx_queue_data(q, ngx_http_adcp_entry_t, queue);
    }

    ngx_memzero(e, sizeof(ngx_http_adcp_entry_t));

    e->hash = hash;
    e->tenant.data = e->id;
    e->tenant.len = tenant->len;
    ngx_memcpy(e->id, tenant->data, tenant->len);

    ngx_queue_insert_head(bucket, &e->chain);
    ngx_queue_insert_head(&cache->lru, &e->queue);
    cache->size++;

    return e;
}


/* the cache's reference; expiry at min(ttl, the platform's own ttl) */

void
ngx_http_adcp_cache_set(ngx_http_adcp_cache_t *cache,
    ngx_http_adcp_entry_t *e, ngx_http_adcp_platform_t *platform,
    ngx_msec_t ttl)
{
    if (e->platform) {
        ngx_http_adcp_platform_release(e->platform);

    } else if (cache->event) {
        cache->event(e, NGX_HTTP_ADCP_EV_IN);
    }

    if (platform->ttl && (ttl == 0 || platform->ttl < ttl)) {
        ttl = platform->ttl;
    }

    platform->refs++;
    platform->expires = ttl ? platform->built + ttl : 0;

    e->platform = platform;
}


/* 1 and the platform dropped when it has expired */

ngx_uint_t
ngx_http_adcp_cache_expire(ngx_http_adcp_cache_t *cache,
    ngx_http_adcp_entry_t *e)
{
    if (e->platform == NULL || e->platform->expires == 0
        || (ngx_msec_int_t) (ngx_current_msec - e->platform->expires) < 0)
    {
        return 0;
    }

    ngx_http_adcp_cache_retire(cache, e);

    return 1;
}


/* the platform goes as expired, whatever made it so */

void
ngx_http_adcp_cache_retire(ngx_http_adcp_cache_t *cache,
    ngx_http_adcp_entry_t *e)
{
    cache->expirations++;
    ngx_http_adcp_cache_out(cache, e, NGX_HTTP_ADCP_EV_EXPIRED);
}


void
ngx_http_adcp_cache_drop(ngx_http_adcp_cache_t *cache,
    ngx_http_adcp_entry_t *e)
{
    ngx_http_adcp_cache_out(cache, e, NGX_HTTP_ADCP_EV_DROPPED);
}


/*
 * Drops the tenant's platform (NULL: every tenant's) and moves the
 * generation on, so that a build in flight is not cached.
 */

void
ngx_http_adcp_cache_invalidate(ngx_http_adcp_cache_t *cache,
    ngx_str_t *tenant)
{
    ngx_uint_t              i;
    ngx_http_adcp_entry_t  *e;

    cache->invalidations++;

    if (tenant == NULL) {
        cache->generation++;

        for (i = 0; i < cache->capacity; i++) {
            e = &cache->entries[i];
            ngx_http_adcp_cache_drop(cache, e);
            e->failed_until = 0;
            e->not_found_until = 0;
        }

        return;
    }

    e = ngx_http_adcp_cache_get(cache, tenant, 0);

    if (e) {
        e->generation++;
        e->failed_until = 0;
        e->not_found_until = 0;
        ngx_http_adcp_cache_drop(cache, e);
    }
}


/* the platform kept for serving stale goes */

void
ngx_http_adcp_cache_unstale(ngx_http_adcp_entry_t *e)
{
    if (e->stale) {
        ngx_http_adcp_platform_release(e->stale);
        e->stale = NULL;
    }
}


/*
 * The last reference frees the platform (its pool's log is the cycle's):
 * the debug line is how the tests see that no reference was lost
 * (t/41-redirect.t)
 */

void
ngx_http_adcp_platform_release(ngx_http_adcp_platform_t *platform)
{
    if (--platform->refs == 0) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, platform->pool->log, 0,
                       "adcp: tenant \"%V\": platform freed",
                       &platform->tenant);

        ngx_destroy_pool(platform->pool);
    }
}


static ngx_http_adcp_entry_t *
ngx_http_adcp_cache_evict(ngx_http_adcp_cache_t *cache)
{
    ngx_queue_t            *q;
    ngx_http_adcp_entry_t  *e;

    for (q = ngx_queue_last(&cache->lru);
         q != ngx_queue_sentinel(&cache->lru);
         q = ngx_queue_prev(q))
    {
        e = ngx_queue_data(q, ngx_http_adcp_entry_t, queue);

        if (e->flight) {
            continue;
        }

        if (e->platform) {
            cache->evictions++;
            ngx_http_adcp_cache_out(cache, e, NGX_HTTP_ADCP_EV_EVICTED);
        }

        ngx_http_adcp_cache_free(cache, e);

        return e;
    }

    return NULL;
}


static void
ngx_http_adcp_cache_free(ngx_http_adcp_cache_t *cache,
    ngx_http_adcp_entry_t *e)
{
    ngx_http_adcp_cache_drop(cache, e);
    ngx_http_adcp_cache_unstale(e);

    if (cache->event && e->slot) {
        cache->event(e, NGX_HTTP_ADCP_EV_FREE);
    }

    ngx_queue_remove(&e->chain);
    ngx_queue_remove(&e->queue);
    cache->size--;
}


static void
ngx_http_adcp_cache_out(ngx_http_adcp_cache_t *cache,
    ngx_http_adcp_entry_t *e, ngx_uint_t event)
{
    if (e->platform == NULL) {
        return;
    }

    if (cache->event) {
        cache->event(e, event);
    }

    ngx_http_adcp_platform_release(e->platform);
    e->platform = NULL;
}
