
/*
 * ngx_http_adcp_module: the host's platform store.
 *
 * A node per tenant (an rbtree keyed by the crc32 of its id, as limit_req
 * keys its states) holds the descriptor's bytes as the factory returned
 * them, with what they were built under; nodes are in an LRU, and when the
 * zone has no room for a new one the least recently used are evicted
 * (counted; the slab's "no memory" line is off, eviction is normal
 * operation here).  Readers copy a descriptor out under the lock and parse
 * it outside it.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_adcp_store.h"
#include "ngx_http_adcp_rbtree.h"


#define NGX_HTTP_ADCP_STORE_MIN   (32 * 1024)


typedef struct {
    ngx_rbtree_node_t          node;        /* key: crc32 of the id */
    ngx_queue_t                queue;       /* sh->lru */
    ngx_http_adcp_store_meta_t meta;
    size_t                     size;        /* of this allocation */
    size_t                     len;         /* of the descriptor */
    u_char                     tlen;
    u_char                     data[1];     /* the id, then the descriptor */
} ngx_http_adcp_store_node_t;


static ngx_int_t ngx_http_adcp_store_init(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_http_adcp_store_node_t *ngx_http_adcp_store_lookup(
    ngx_http_adcp_store_t *store, ngx_str_t *tenant, uint32_t hash);
static void ngx_http_adcp_store_free(ngx_http_adcp_store_t *store,
    ngx_http_adcp_store_node_t *sn);
static void ngx_http_adcp_store_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);


static ngx_str_t  ngx_http_adcp_store_name = ngx_string("adcp_store");

static ngx_http_adcp_rbtree_key_t  ngx_http_adcp_store_key = {
    offsetof(ngx_http_adcp_store_node_t, tlen),
    offsetof(ngx_http_adcp_store_node_t, data)
};


/* adcp_cache_shared <size>: 0 is "off" */

ngx_int_t
ngx_http_adcp_store_add(ngx_conf_t *cf, ngx_http_adcp_store_t *store,
    size_t size)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_shm_zone_t   *oshm;

    if (size == 0) {
        return NGX_OK;
    }

    if (size < NGX_HTTP_ADCP_STORE_MIN) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "adcp_cache_shared must be at least %uzk",
                           (size_t) NGX_HTTP_ADCP_STORE_MIN / 1024);
        return NGX_ERROR;
    }

    /* a store of another size is a fresh one: said, not silent */

    part = &cf->cycle->old_cycle->shared_memory.part;
    oshm = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            oshm = part->elts;
            i = 0;
        }

        if (oshm[i].tag == &ngx_http_adcp_store_name
            && oshm[i].shm.size != size)
        {
            ngx_log_error(NGX_LOG_NOTICE, cf->log, 0,
                          "adcp_cache_shared changes from %uz to %uz: "
                          "the platform store starts empty",
                          oshm[i].shm.size, size);
        }
    }

    store->shm_zone = ngx_shared_memory_add(cf, &ngx_http_adcp_store_name,
                                            size, &ngx_http_adcp_store_name);
    if (store->shm_zone == NULL) {
        return NGX_ERROR;
    }

    store->shm_zone->init = ngx_http_adcp_store_init;
    store->shm_zone->data = store;

    return NGX_OK;
}


static ngx_int_t
ngx_http_adcp_store_init(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_adcp_store_t  *ostore = data;

    ngx_http_adcp_store_t  *store;

    store = shm_zone->data;
    store->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (ostore) {
        store->sh = ostore->sh;
        return NGX_OK;
    }

    if (shm_zone->shm.exists) {
        store->sh = store->shpool->data;
        return NGX_OK;
    }

    store->sh = ngx_slab_calloc(store->shpool,
                                sizeof(ngx_http_adcp_store_sh_t));
    if (store->sh == NULL) {
        return NGX_ERROR;
    }

    store->shpool->data = store->sh;

    ngx_rbtree_init(&store->sh->rbtree, &store->sh->sentinel,
                    ngx_http_adcp_store_rbtree_insert_value);
    ngx_queue_init(&store->sh->lru);

    store->shpool->log_nomem = 0;
    store->shpool->log_ctx = (u_char *) " in adcp platform store";

    return NGX_OK;
}


/*
 * Stores a descriptor unless the generations it was built under have
 * moved on (NGX_DECLINED); evicts the least recently used descriptors to
 * make room; NGX_BUSY: it does not fit even so (logged, the caller serves
 * it without storing it).
 */

ngx_int_t
ngx_http_adcp_store_put(ngx_http_adcp_store_t *store, ngx_str_t *tenant,
    u_char *data, size_t len, ngx_http_adcp_store_meta_t *meta,
    ngx_atomic_t *generation, ngx_atomic_t *global, ngx_log_t *log)
{
    size_t                       size;
    uint32_t                     hash;
    ngx_queue_t                 *q;
    ngx_http_adcp_store_node_t  *sn;

    if (store->sh == NULL || tenant->len > 255) {
        return NGX_DECLINED;
    }

    hash = ngx_crc32_short(tenant->data, tenant->len);
    size = offsetof(ngx_http_adcp_store_node_t, data) + tenant->len + len;

    ngx_shmtx_lock(&store->shpool->mutex);

    if (*generation != meta->generation || *global != meta->global) {
        ngx_shmtx_unlock(&store->shpool->mutex);
        return NGX_DECLINED;
    }

    sn = ngx_http_adcp_store_lookup(store, tenant, hash);

    if (sn) {
        ngx_http_adcp_store_free(store, sn);
    }

    if (size > (size_t) (store->shpool->end - store->shpool->start) / 2) {
        sn = NULL;

    } else {
        for ( ;; ) {
            sn = ngx_slab_alloc_locked(store->shpool, size);

            if (sn || ngx_queue_empty(&store->sh->lru)) {
                break;
            }

            q = ngx_queue_last(&store->sh->lru);
            ngx_http_adcp_store_free(store,
                ngx_queue_data(q, ngx_http_adcp_store_node_t, queue));
            store->sh->evictions++;
        }
    }

    if (sn == NULL) {
        store->sh->too_big++;
        ngx_shmtx_unlock(&store->shpool->mutex);

        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "adcp: tenant \"%V\": its %uz-byte descriptor does not "
                      "fit in the platform store, served without storing "
                      "it; increase adcp_cache_shared", tenant, len);
        return NGX_BUSY;
    }

    sn->node.key = hash;
    sn->meta = *meta;
    sn->size = size;
    sn->len = len;
    sn->tlen = (u_char) tenant->len;
    ngx_memcpy(ngx_cpymem(sn->data, tenant->data, tenant->len), data, len);

    ngx_rbtree_insert(&store->sh->rbtree, &sn->node);
    ngx_queue_insert_head(&store->sh->lru, &sn->queue);

    store->sh->descriptors++;
    store->sh->used += size;

    ngx_shmtx_unlock(&store->shpool->mutex);

    return NGX_OK;
}


/*
 * A copy (ngx_alloc(), NUL-terminated; the caller frees it) of the
 * tenant's descriptor if it was built under the generations "want" names,
 * has not expired, and, with "after", was built later than that.
 * NGX_DECLINED: none such.
 */

ngx_int_t
ngx_http_adcp_store_get(ngx_http_adcp_store_t *store, ngx_str_t *tenant,
    ngx_http_adcp_store_meta_t *want, ngx_msec_t after, ngx_str_t *out,
    ngx_http_adcp_store_meta_t *meta, ngx_log_t *log)
{
    u_char                      *p;
    ngx_http_adcp_store_node_t  *sn;

    if (store->sh == NULL) {
        return NGX_DECLINED;
    }

    ngx_shmtx_lock(&store->shpool->mutex);

    sn = ngx_http_adcp_store_lookup(store, tenant,
                                    ngx_crc32_short(tenant->data,
                                                    tenant->len));
    if (sn == NULL) {
        goto none;
    }

    if (sn->meta.expires
        && (ngx_msec_int_t) (ngx_current_msec - sn->meta.expires) >= 0)
    {
        ngx_http_adcp_store_free(store, sn);
        goto none;
    }

    if (sn->meta.epoch != want->epoch
        || sn->meta.generation != want->generation
        || sn->meta.global != want->global
        || sn->meta.recheck != want->recheck
        || (after && (ngx_msec_int_t) (sn->meta.built - after) <= 0))
    {
        goto none;
    }

    p = ngx_alloc(sn->len + 1, log);
    if (p == NULL) {
        ngx_shmtx_unlock(&store->shpool->mutex);
        return NGX_ERROR;
    }

    ngx_memcpy(p, sn->data + sn->tlen, sn->len);
    p[sn->len] = '\0';

    out->data = p;
    out->len = sn->len;
    *meta = sn->meta;

    ngx_queue_remove(&sn->queue);
    ngx_queue_insert_head(&store->sh->lru, &sn->queue);

    ngx_shmtx_unlock(&store->shpool->mutex);

    return NGX_OK;

none:

    ngx_shmtx_unlock(&store->shpool->mutex);

    return NGX_DECLINED;
}


/* the tenant's descriptor goes; NULL: every descriptor */

void
ngx_http_adcp_store_remove(ngx_http_adcp_store_t *store, ngx_str_t *tenant)
{
    ngx_queue_t                 *q;
    ngx_http_adcp_store_node_t  *sn;

    if (store->sh == NULL) {
        return;
    }

    ngx_shmtx_lock(&store->shpool->mutex);

    if (tenant) {
        sn = ngx_http_adcp_store_lookup(store, tenant,
                                        ngx_crc32_short(tenant->data,
                                                        tenant->len));
        if (sn) {
            ngx_http_adcp_store_free(store, sn);
        }

    } else {
        while (!ngx_queue_empty(&store->sh->lru)) {
            q = ngx_queue_head(&store->sh->lru);
            ngx_http_adcp_store_free(store,
                ngx_queue_data(q, ngx_http_adcp_store_node_t, queue));
        }
    }

    ngx_shmtx_unlock(&store->shpool->mutex);
}


/* with the mutex held */

static ngx_http_adcp_store_node_t *
ngx_http_adcp_store_lookup(ngx_http_adcp_store_t *store, ngx_str_t *tenant,
    uint32_t hash)
{
    return (ngx_http_adcp_store_node_t *) ngx_http_adcp_rbtree_lookup(
                &store->sh->rbtree, tenant, hash, &ngx_http_adcp_store_key);
}


/* with the mutex held */

static void
ngx_http_adcp_store_free(ngx_http_adcp_store_t *store,
    ngx_http_adcp_store_node_t *sn)
{
    ngx_queue_remove(&sn->queue);
    ngx_rbtree_delete(&store->sh->rbtree, &sn->node);

    store->sh->descriptors--;
    store->sh->used -= sn->size;

    ngx_slab_free_locked(store->shpool, sn);
}


static void
ngx_http_adcp_store_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_http_adcp_rbtree_insert_value(temp, node, sentinel,
                                      &ngx_http_adcp_store_key);
}
