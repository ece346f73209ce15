
/*
 * ngx_http_adcp_module: the host's platform store (SPEC section 2, "The
 * host's platform store"): the validated descriptors the factory returned,
 * in a shared zone of their own (adcp_cache_shared) with an LRU, so that a
 * worker's cache miss, a reload or a respawned worker costs no factory
 * call for what the store holds.
 *
 * The store knows nothing of tenants' slots: a writer hands it pointers to
 * the generation words its build must still match, and the store compares
 * them under its own lock, so that a build invalidated in flight never
 * writes it (an invalidation moves the words first, then removes).
 */


#ifndef _NGX_HTTP_ADCP_STORE_H_INCLUDED_
#define _NGX_HTTP_ADCP_STORE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/* what a descriptor was built under, and its deadlines */

typedef struct {
    uint32_t                   epoch;        /* the tenant zone's: whose
                                                generations these are */
    ngx_uint_t                 generation;   /* the tenant's */
    ngx_uint_t                 global;       /* "invalidate *" count */
    ngx_uint_t                 recheck;
    ngx_msec_t                 built;        /* ngx_current_msec */
    ngx_msec_t                 expires;      /* 0: never */
} ngx_http_adcp_store_meta_t;


typedef struct {
    ngx_rbtree_t               rbtree;
    ngx_rbtree_node_t          sentinel;
    ngx_queue_t                lru;          /* most recently used first */
    ngx_atomic_t               descriptors;
    ngx_atomic_t               used;         /* bytes allocated */
    ngx_atomic_t               evictions;
    ngx_atomic_t               too_big;      /* served, not stored */
} ngx_http_adcp_store_sh_t;


typedef struct {
    ngx_http_adcp_store_sh_t  *sh;
    ngx_slab_pool_t           *shpool;
    ngx_shm_zone_t            *shm_zone;
} ngx_http_adcp_store_t;


ngx_int_t ngx_http_adcp_store_add(ngx_conf_t *cf,
    ngx_http_adcp_store_t *store, size_t size);
ngx_int_t ngx_http_adcp_store_put(ngx_http_adcp_store_t *store,
    ngx_str_t *tenant, u_char *data, size_t len,
    ngx_http_adcp_store_meta_t *meta, ngx_atomic_t *generation,
    ngx_atomic_t *global, ngx_log_t *log);
ngx_int_t ngx_http_adcp_store_get(ngx_http_adcp_store_t *store,
    ngx_str_t *tenant, ngx_http_adcp_store_meta_t *want, ngx_msec_t after,
    ngx_str_t *out, ngx_http_adcp_store_meta_t *meta, ngx_log_t *log);
void ngx_http_adcp_store_remove(ngx_http_adcp_store_t *store,
    ngx_str_t *tenant);


#endif /* _NGX_HTTP_ADCP_STORE_H_INCLUDED_ */
