
/*
 * ngx_http_adcp_module: the per-worker platform cache (SPEC section 2).
 *
 * A fixed number of entries, preallocated when the worker starts, each
 * either free or in the LRU queue and in one hash chain, keyed by tenant.
 * An entry holds the tenant's cached platform (if any), its build in
 * flight (if any), its failure memory and its generation.  Platforms are
 * reference counted: the cache holds one reference, each request that
 * resolved the platform holds one, and the last release destroys the
 * platform's pool.
 */


#ifndef _NGX_HTTP_ADCP_CACHE_H_INCLUDED_
#define _NGX_HTTP_ADCP_CACHE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_adcp_tenant.h"
#include "ngx_http_adcp_str.h"


typedef struct {
    ngx_pool_t                *pool;      /* owns this and all it points to */
    ngx_uint_t                 refs;
    ngx_str_t                  tenant;
    ngx_str_t                  upstream;
    ngx_str_t                  authorization;
    ngx_array_t               *capabilities;  /* ngx_str_t; NULL: any task */
    ngx_array_t               *routes;        /* ngx_keyval_t: task, upstream */
    ngx_array_t               *vars;          /* ngx_keyval_t */
    void                      *peers;         /* adcp_balancer's, once */
    ngx_msec_t                 ttl;           /* descriptor "ttl", 0: none */
    ngx_msec_t                 built;         /* ngx_current_msec */
    ngx_msec_t                 expires;       /* 0: never */
    ngx_msec_t                 refresh;       /* rebuilt in the background
                                                 from then on; 0: never */
} ngx_http_adcp_platform_t;


typedef struct {
    ngx_queue_t                queue;     /* cache->lru or cache->free */
    ngx_queue_t                chain;     /* cache->buckets[] */
    ngx_uint_t                 hash;
    ngx_str_t                  tenant;    /* points to id[] */
    ngx_http_adcp_platform_t  *platform;
    void                      *flight;    /* a build in flight pins it */
    void                      *slot;      /* host-wide state, or NULL */
    ngx_msec_t                 failed_until;     /* when no slot */
    ngx_msec_t                 not_found_until;  /* when no slot */
    ngx_uint_t                 generation;       /* when no slot */
    ngx_uint_t                 seen;      /* generations the platform */
    ngx_uint_t                 seen_global;   /* was built under */
    ngx_uint_t                 seen_recheck;
    ngx_http_adcp_platform_t  *stale;     /* served if the rebuild fails */
    ngx_msec_t                 stale_until;
    ngx_msec_t                 refresh_sent;  /* a refresh asked for */
    unsigned                   slot_tried:1;
    u_char                     id[NGX_HTTP_ADCP_TENANT_ID_MAX];
} ngx_http_adcp_entry_t;


/* a platform leaves the cache, or enters it */
#define NGX_HTTP_ADCP_EV_IN          0
#define NGX_HTTP_ADCP_EV_EVICTED     1
#define NGX_HTTP_ADCP_EV_EXPIRED     2
#define NGX_HTTP_ADCP_EV_DROPPED     3
#define NGX_HTTP_ADCP_EV_FREE        4     /* the entry itself goes */

typedef void (*ngx_http_adcp_cache_event_pt)(ngx_http_adcp_entry_t *e,
    ngx_uint_t event);


typedef struct {
    ngx_http_adcp_entry_t     *entries;   /* preallocated, "capacity" */
    ngx_queue_t               *buckets;
    ngx_uint_t                 nbuckets;  /* a power of 2 */
    ngx_queue_t                lru;       /* most recently used first */
    ngx_queue_t                free;
    ngx_uint_t                 capacity;
    ngx_uint_t                 size;      /* entries in use */
    ngx_uint_t                 generation;    /* "invalidate *" count */

    ngx_uint_t                 evictions;
    ngx_uint_t                 expirations;
    ngx_uint_t                 invalidations;

    ngx_http_adcp_cache_event_pt  event;  /* told of platforms in and out */
} ngx_http_adcp_cache_t;


ngx_int_t ngx_http_adcp_cache_init(ngx_http_adcp_cache_t *cache,
    ngx_uint_t capacity, ngx_pool_t *pool);
void ngx_http_adcp_cache_destroy(ngx_http_adcp_cache_t *cache);

ngx_http_adcp_entry_t *ngx_http_adcp_cache_get(ngx_http_adcp_cache_t *cache,
    ngx_str_t *tenant, ngx_uint_t create);
void ngx_http_adcp_cache_set(ngx_http_adcp_cache_t *cache,
    ngx_http_adcp_entry_t *e, ngx_http_adcp_platform_t *platform,
    ngx_msec_t ttl);
ngx_uint_t ngx_http_adcp_cache_expire(ngx_http_adcp_cache_t *cache,
    ngx_http_adcp_entry_t *e);
void ngx_http_adcp_cache_retire(ngx_http_adcp_cache_t *cache,
    ngx_http_adcp_entry_t *e);
void ngx_http_adcp_cache_drop(ngx_http_adcp_cache_t *cache,
    ngx_http_adcp_entry_t *e);
void ngx_http_adcp_cache_invalidate(ngx_http_adcp_cache_t *cache,
    ngx_str_t *tenant);

void ngx_http_adcp_cache_unstale(ngx_http_adcp_entry_t *e);
void ngx_http_adcp_platform_release(ngx_http_adcp_platform_t *platform);


/*
 * The tenant's entry if it is the most recently used one (the head of the
 * LRU, so nothing to move), else NULL: a keep-alive connection, or a host
 * with one busy tenant, finds it without hashing the id
 * (ngx_http_adcp_cache_get() looks for any)
 */

static ngx_inline ngx_http_adcp_entry_t *
ngx_http_adcp_cache_mru(ngx_http_adcp_cache_t *cache, ngx_str_t *tenant)
{
    ngx_queue_t            *q;
    ngx_http_adcp_entry_t  *e;

    q = ngx_queue_head(&cache->lru);

    if (q == ngx_queue_sentinel(&cache->lru)) {
        return NULL;
    }

    e = ngx_queue_data(q, ngx_http_adcp_entry_t, queue);

    return ngx_http_adcp_str_is(&e->tenant, tenant->data, tenant->len)
           ? e : NULL;
}


#endif /* _NGX_HTTP_ADCP_CACHE_H_INCLUDED_ */
