
/*
 * Unit tests of the per-worker cache: LRU order, eviction skipping entries
 * with a build in flight, TTL (the cache's, the descriptor's, none),
 * reference counts, invalidation and generations, and memory that stays
 * flat as tenants churn through a small cache.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_adcp_cache.h"
#include "ngx_stubs.h"
#include "tap.h"


static ngx_http_adcp_platform_t *
platform(const char *tenant, ngx_msec_t ttl)
{
    ngx_pool_t                *pool;
    ngx_http_adcp_platform_t  *pf;

    pool = ngx_create_pool(1024, NULL);
    pf = ngx_pcalloc(pool, sizeof(ngx_http_adcp_platform_t));
    pf->pool = pool;
    pf->refs = 1;
    pf->ttl = ttl;
    pf->built = ngx_current_msec;
    pf->tenant.data = (u_char *) tenant;
    pf->tenant.len = strlen(tenant);

    return pf;
}


static ngx_str_t
str(const char *s)
{
    ngx_str_t  r;

    r.data = (u_char *) s;
    r.len = strlen(s);

    return r;
}


/* an entry with a platform, the creator's reference dropped */

static ngx_http_adcp_entry_t *
put(ngx_http_adcp_cache_t *cache, const char *tenant, ngx_msec_t cache_ttl,
    ngx_msec_t pf_ttl)
{
    ngx_str_t                  t;
    ngx_http_adcp_entry_t     *e;
    ngx_http_adcp_platform_t  *pf;

    t = str(tenant);
    e = ngx_http_adcp_cache_get(cache, &t, 1);

    if (e == NULL) {
        return NULL;
    }

    pf = platform(tenant, pf_ttl);
    ngx_http_adcp_cache_set(cache, e, pf, cache_ttl);
    ngx_http_adcp_platform_release(pf);

    return e;
}


static int
has(ngx_http_adcp_cache_t *cache, const char *tenant)
{
    ngx_str_t               t;
    ngx_http_adcp_entry_t  *e;

    t = str(tenant);
    e = ngx_http_adcp_cache_get(cache, &t, 0);

    return e != NULL && e->platform != NULL;
}


static void
test_lru(void)
{
    ngx_uint_t                 destroyed;
    ngx_pool_t                *pool;
    ngx_str_t                  t;
    ngx_http_adcp_entry_t     *a, *e;
    ngx_http_adcp_cache_t      cache;

    pool = test_pool_create();
    ngx_http_adcp_cache_init(&cache, 3, pool);

    a = put(&cache, "a", 0, 0);
    put(&cache, "b", 0, 0);
    put(&cache, "c", 0, 0);

    tap_ok(cache.size == 3, "three tenants cached");

    tap_ok(has(&cache, "a"), "a used again (now most recent)");

    destroyed = test_pools_destroyed;
    put(&cache, "d", 0, 0);

    tap_ok(!has(&cache, "b"), "d evicts b, the least recently used");
    tap_ok(has(&cache, "a") && has(&cache, "c") && has(&cache, "d"),
           "a, c and d stay");
    tap_ok(cache.evictions == 1, "one eviction counted");
    tap_ok(test_pools_destroyed == destroyed + 1,
           "the evicted platform's pool is destroyed");

    /* entries with a build in flight are never evicted */

    a = ngx_http_adcp_cache_get(&cache, &(ngx_str_t) ngx_string("a"), 0);
    a->flight = (void *) 1;
    e = ngx_http_adcp_cache_get(&cache, &(ngx_str_t) ngx_string("c"), 0);
    e->flight = (void *) 1;

    put(&cache, "e", 0, 0);
    tap_ok(has(&cache, "a") && has(&cache, "c") && !has(&cache, "d"),
           "eviction skips entries with a build in flight");

    e = ngx_http_adcp_cache_get(&cache, &(ngx_str_t) ngx_string("e"), 0);
    e->flight = (void *) 1;

    t = str("f");
    tap_ok(ngx_http_adcp_cache_get(&cache, &t, 1) == NULL,
           "every entry in flight: no room, NULL");

    ngx_http_adcp_cache_destroy(&cache);
    test_pool_destroy(pool);
}


/*
 * ngx_http_adcp_cache_mru(): the head of the LRU only, the same entry
 * ngx_http_adcp_cache_get() finds, never one evicted or of another tenant
 */

static void
test_mru(void)
{
    ngx_str_t                  t;
    ngx_pool_t                *pool;
    ngx_http_adcp_entry_t     *a, *b;
    ngx_http_adcp_cache_t      cache;

    pool = test_pool_create();
    ngx_http_adcp_cache_init(&cache, 2, pool);

    t = str("tenant-a");
    tap_ok(ngx_http_adcp_cache_mru(&cache, &t) == NULL,
           "mru: an empty cache has none");

    a = put(&cache, "tenant-a", 0, 0);
    tap_ok(ngx_http_adcp_cache_mru(&cache, &t) == a,
           "mru: the entry just used");

    b = put(&cache, "tenant-b", 0, 0);
    tap_ok(ngx_http_adcp_cache_mru(&cache, &t) == NULL,
           "mru: another tenant used since, not found there");
    tap_ok(ngx_http_adcp_cache_get(&cache, &t, 0) == a
           && ngx_http_adcp_cache_mru(&cache, &t) == a,
           "mru: found by get, the head again");

    t = str("tenant-");
    tap_ok(ngx_http_adcp_cache_mru(&cache, &t) == NULL,
           "mru: a prefix of the head's id is not it");
    t = str("tenant-c");
    tap_ok(ngx_http_adcp_cache_mru(&cache, &t) == NULL,
           "mru: an id of the same length is not it");

    put(&cache, "tenant-c", 0, 0);
    t = str("tenant-b");
    tap_ok(ngx_http_adcp_cache_get(&cache, &t, 0) == NULL
           && ngx_http_adcp_cache_mru(&cache, &t) == NULL,
           "mru: an evicted tenant is not found");
    t = str("tenant-c");
    tap_ok(ngx_http_adcp_cache_mru(&cache, &t) == b
           && b->tenant.len == 8
           && ngx_memcmp(b->tenant.data, "tenant-c", 8) == 0,
           "mru: b's entry, reused, is tenant-c's now");

    ngx_http_adcp_cache_destroy(&cache);
    test_pool_destroy(pool);
}


static void
test_ttl(void)
{
    ngx_pool_t                *pool;
    ngx_http_adcp_entry_t     *e;
    ngx_http_adcp_cache_t      cache;

    pool = test_pool_create();
    ngx_http_adcp_cache_init(&cache, 8, pool);

    ngx_current_msec = 1000;

    e = put(&cache, "t", 500, 0);
    ngx_current_msec = 1499;
    tap_ok(!ngx_http_adcp_cache_expire(&cache, e), "not expired before ttl");
    ngx_current_msec = 1500;
    tap_ok(ngx_http_adcp_cache_expire(&cache, e) && e->platform == NULL,
           "expired at the cache ttl, platform dropped");
    tap_ok(cache.expirations == 1, "one expiration counted");

    ngx_current_msec = 2000;
    e = put(&cache, "d", 10000, 200);
    ngx_current_msec = 2199;
    tap_ok(!ngx_http_adcp_cache_expire(&cache, e), "descriptor ttl: alive");
    ngx_current_msec = 2200;
    tap_ok(ngx_http_adcp_cache_expire(&cache, e),
           "the descriptor's ttl caps the cache ttl");

    e = put(&cache, "n", 0, 0);
    ngx_current_msec = 2000 + 86400000;
    tap_ok(!ngx_http_adcp_cache_expire(&cache, e),
           "cache ttl 0, no descriptor ttl: never expires");

    e = put(&cache, "p", 0, 300);
    ngx_current_msec += 300;
    tap_ok(ngx_http_adcp_cache_expire(&cache, e),
           "cache ttl 0: the descriptor's ttl still applies");

    e = put(&cache, "l", 100, 5000);
    ngx_current_msec += 100;
    tap_ok(ngx_http_adcp_cache_expire(&cache, e),
           "a descriptor ttl longer than the cache ttl does not extend it");

    /* around the wrap of the millisecond clock */

    ngx_current_msec = (ngx_msec_t) -100;
    e = put(&cache, "w", 500, 0);
    ngx_current_msec = 300;
    tap_ok(!ngx_http_adcp_cache_expire(&cache, e), "clock wrap: alive");
    ngx_current_msec = 400;
    tap_ok(ngx_http_adcp_cache_expire(&cache, e), "clock wrap: expired");

    ngx_http_adcp_cache_destroy(&cache);
    test_pool_destroy(pool);
}


static void
test_refs(void)
{
    ngx_uint_t                 destroyed;
    ngx_pool_t                *pool;
    ngx_str_t                  t;
    ngx_http_adcp_entry_t     *e;
    ngx_http_adcp_cache_t      cache;
    ngx_http_adcp_platform_t  *held;

    pool = test_pool_create();
    ngx_http_adcp_cache_init(&cache, 1, pool);

    e = put(&cache, "r", 0, 0);
    held = e->platform;
    held->refs++;                          /* a request holds it */

    destroyed = test_pools_destroyed;
    put(&cache, "s", 0, 0);                /* evicts r */

    tap_ok(test_pools_destroyed == destroyed,
           "evicted while a request holds it: not freed");
    tap_ok(held->refs == 1 && held->tenant.len == 1
           && held->tenant.data[0] == 'r',
           "the request still reads it");

    ngx_http_adcp_platform_release(held);
    tap_ok(test_pools_destroyed == destroyed + 1,
           "the last release frees it");

    /* invalidation */

    e = ngx_http_adcp_cache_get(&cache, &(ngx_str_t) ngx_string("s"), 0);
    e->failed_until = 5;
    held = e->platform;
    held->refs++;

    t = str("s");
    ngx_http_adcp_cache_invalidate(&cache, &t);

    tap_ok(e->platform == NULL && e->generation == 1 && e->failed_until == 0,
           "invalidate: platform dropped, generation moved, failure "
           "forgotten");
    tap_ok(held->refs == 1, "invalidate: a request's reference survives");
    ngx_http_adcp_platform_release(held);

    put(&cache, "s", 0, 0);
    ngx_http_adcp_cache_invalidate(&cache, NULL);
    tap_ok(cache.generation == 1 && !has(&cache, "s"),
           "invalidate *: every platform dropped, global generation moved");
    tap_ok(cache.invalidations == 2, "two invalidations counted");

    t = str("unknown");
    ngx_http_adcp_cache_invalidate(&cache, &t);
    tap_ok(ngx_http_adcp_cache_get(&cache, &t, 0) == NULL,
           "invalidating an unknown tenant creates nothing");

    ngx_http_adcp_cache_destroy(&cache);
    test_pool_destroy(pool);
}


static void
test_churn(void)
{
    char                    name[32];
    ngx_uint_t              i, live, live2;
    ngx_pool_t             *pool;
    ngx_http_adcp_cache_t   cache;

    pool = test_pool_create();
    ngx_http_adcp_cache_init(&cache, 64, pool);

    for (i = 0; i < 2000; i++) {
        snprintf(name, sizeof(name), "tenant-%lu", i);
        put(&cache, name, 0, 0);
    }

    live = test_pool_live();

    for (i = 2000; i < 20000; i++) {
        snprintf(name, sizeof(name), "tenant-%lu", i);
        put(&cache, name, 0, 0);
    }

    live2 = test_pool_live();

    tap_ok(cache.size == 64, "20,000 tenants through 64 entries: 64 cached");
    tap_ok(live2 == live,
           "live allocations after 2,000 and 20,000 tenants: %lu and %lu",
           live, live2);
    tap_ok(cache.evictions == 20000 - 64, "every other one evicted");

    ngx_http_adcp_cache_destroy(&cache);
    test_pool_destroy(pool);
}


int
main(void)
{
    test_lru();
    test_mru();
    test_ttl();
    test_refs();
    test_churn();

    return tap_done();
}
