
/*
 * ngx_http_adcp_module: the shared zone.
 *
 * A slot per declared tenant is made when the zone is set up (and, after a
 * reload that reuses the zone, for tenants declared since).  Tenants named
 * by a regex capture get a slot on first use, from what the zone has left;
 * when it is full, the least recently used such slot no worker caches is
 * recycled, and when there is none the tenant goes on with this worker's
 * own memory only (logged at most once a minute).
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <sys/random.h>

#include "ngx_http_adcp_zone.h"
#include "ngx_http_adcp_rbtree.h"


#define NGX_HTTP_ADCP_ZONE_MIN   (256 * 1024)
#define NGX_HTTP_ADCP_SLOT_COST  512


typedef void (*ngx_http_adcp_zone_each_pt)(ngx_http_adcp_slot_t *slot);


static size_t ngx_http_adcp_zone_need(ngx_uint_t tenants);
static size_t ngx_http_adcp_zone_old_size(ngx_conf_t *cf);
static ngx_int_t ngx_http_adcp_zone_init(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_http_adcp_slot_t *ngx_http_adcp_zone_lookup(
    ngx_http_adcp_shctx_t *sh, ngx_str_t *tenant, uint32_t hash);
static ngx_http_adcp_slot_t *ngx_http_adcp_zone_create(
    ngx_http_adcp_zone_t *zone, ngx_str_t *tenant, uint32_t hash,
    ngx_uint_t dynamic);
static ngx_http_adcp_slot_t *ngx_http_adcp_zone_recycle(
    ngx_http_adcp_shctx_t *sh);
static ngx_atomic_uint_t ngx_http_adcp_zone_log_due(ngx_atomic_t *count,
    ngx_atomic_t *logged_count, time_t *logged);
static void ngx_http_adcp_zone_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static void ngx_http_adcp_zone_secret(u_char *secret, ngx_log_t *log);
static ngx_uint_t ngx_http_adcp_zone_worker(void);
static void ngx_http_adcp_zone_bit(ngx_atomic_t *word, ngx_uint_t on);
static void ngx_http_adcp_zone_each(ngx_http_adcp_zone_t *zone,
    ngx_http_adcp_zone_each_pt handler);
static void ngx_http_adcp_zone_worker_clear(ngx_http_adcp_slot_t *slot);
static void ngx_http_adcp_zone_forget(ngx_http_adcp_slot_t *slot);


/* build latency histogram bounds, ms */

ngx_uint_t  ngx_http_adcp_buckets[NGX_HTTP_ADCP_BUCKETS] = {
    5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000
};


static ngx_str_t  ngx_http_adcp_zone_name = ngx_string("adcp");

static ngx_http_adcp_rbtree_key_t  ngx_http_adcp_zone_key = {
    offsetof(ngx_http_adcp_slot_t, len),
    offsetof(ngx_http_adcp_slot_t, id)
};


/*
 * Sized from the tenant count unless adcp_zone_size says otherwise.  nginx
 * reuses a zone across a reload only at the same size, so: the running
 * zone's size while it has room for the tenants declared now, else room
 * for half again as many (a reload adding up to 50 % keeps it); a size
 * change, which starts a fresh zone (health, failure memory and
 * generations start over), is logged.
 */

ngx_int_t
ngx_http_adcp_zone_add(ngx_conf_t *cf, ngx_http_adcp_zone_t *zone,
    ngx_array_t *ids, size_t size)
{
    size_t  old;

    old = ngx_http_adcp_zone_old_size(cf);

    if (size == 0) {
        size = ngx_http_adcp_zone_need(ids->nelts);

        if (old >= size) {
            size = old;

        } else {
            size = ngx_http_adcp_zone_need(ids->nelts + ids->nelts / 2);
        }
    }

    if (old && old != size) {
        ngx_log_error(NGX_LOG_NOTICE, cf->log, 0,
                      "adcp zone size changes from %uz to %uz for %ui "
                      "tenants: a fresh zone, health and failure memory "
                      "start over", old, size, ids->nelts);
    }

    if (size < NGX_HTTP_ADCP_ZONE_MIN) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "adcp_zone_size must be at least %uzk",
                           (size_t) NGX_HTTP_ADCP_ZONE_MIN / 1024);
        return NGX_ERROR;
    }

    zone->ids = ids;

    zone->shm_zone = ngx_shared_memory_add(cf, &ngx_http_adcp_zone_name, size,
                                           &ngx_http_adcp_zone_name);
    if (zone->shm_zone == NULL) {
        return NGX_ERROR;
    }

    zone->shm_zone->init = ngx_http_adcp_zone_init;
    zone->shm_zone->data = zone;

    return NGX_OK;
}


/* a slot per tenant and 1024 more for regex-named ones, in megabytes */

static size_t
ngx_http_adcp_zone_need(ngx_uint_t tenants)
{
    size_t  size;

    size = sizeof(ngx_http_adcp_shctx_t) + 8 * ngx_pagesize
           + (tenants + 1024) * NGX_HTTP_ADCP_SLOT_COST;

    return ngx_align(size, 1024 * 1024);
}


/* the size of the zone the running configuration has, 0: none */

static size_t
ngx_http_adcp_zone_old_size(ngx_conf_t *cf)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_shm_zone_t   *oshm;

    part = &cf->cycle->old_cycle->shared_memory.part;
    oshm = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return 0;
            }

            part = part->next;
            oshm = part->elts;
            i = 0;
        }

        if (oshm[i].tag == &ngx_http_adcp_zone_name) {
            return oshm[i].shm.size;
        }
    }
}


static ngx_int_t
ngx_http_adcp_zone_init(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_adcp_zone_t  *ozone = data;

    uint32_t               hash;
    ngx_str_t             *id;
    ngx_uint_t             i;
    ngx_http_adcp_zone_t  *zone;

    zone = shm_zone->data;
    zone->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    zone->shpool->log_nomem = 0;

    if (ozone) {
        zone->sh = ozone->sh;

    } else if (shm_zone->shm.exists) {
        zone->sh = zone->shpool->data;

    } else {
        zone->sh = ngx_slab_calloc(zone->shpool,
                                   sizeof(ngx_http_adcp_shctx_t));
        if (zone->sh == NULL) {
            ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                          "adcp zone of %uz bytes cannot hold its %uz "
                          "bytes of counters", shm_zone->shm.size,
                          sizeof(ngx_http_adcp_shctx_t));
            return NGX_ERROR;
        }

        zone->shpool->data = zone->sh;

        ngx_rbtree_init(&zone->sh->rbtree, &zone->sh->sentinel,
                        ngx_http_adcp_zone_rbtree_insert_value);
        ngx_queue_init(&zone->sh->dynamic);

        zone->shpool->log_ctx = (u_char *) " in adcp zone";

        ngx_http_adcp_zone_secret(zone->sh->task_secret, shm_zone->shm.log);
    }

    /* a slot for every declared tenant, kept across reloads */

    id = zone->ids->elts;

    ngx_shmtx_lock(&zone->shpool->mutex);

    for (i = 0; i < zone->ids->nelts; i++) {
        hash = ngx_crc32_short(id[i].data, id[i].len);

        if (ngx_http_adcp_zone_lookup(zone->sh, &id[i], hash)) {
            continue;
        }

        if (ngx_http_adcp_zone_create(zone, &id[i], hash, 0) == NULL) {
            ngx_shmtx_unlock(&zone->shpool->mutex);
            ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                          "adcp zone is too small for %ui tenants: "
                          "increase adcp_zone_size", zone->ids->nelts);
            return NGX_ERROR;
        }
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return NGX_OK;
}


/*
 * The tenant's slot; NULL when the zone has no room for it: the request
 * goes on with this worker's memory only (its health, failure memory and
 * invalidations are not shared with the other workers)
 */

ngx_http_adcp_slot_t *
ngx_http_adcp_zone_slot(ngx_http_adcp_zone_t *zone, ngx_str_t *tenant,
    ngx_log_t *log)
{
    uint32_t                hash;
    ngx_uint_t              created;
    ngx_atomic_uint_t       n, recycled, full;
    ngx_http_adcp_slot_t   *slot;
    ngx_http_adcp_shctx_t  *sh;

    sh = zone->sh;
    hash = ngx_crc32_short(tenant->data, tenant->len);
    created = 0;
    recycled = 0;
    full = 0;

    ngx_shmtx_lock(&zone->shpool->mutex);

    slot = ngx_http_adcp_zone_lookup(sh, tenant, hash);

    if (slot == NULL) {
        n = sh->recycled;
        slot = ngx_http_adcp_zone_create(zone, tenant, hash, 1);

        if (sh->recycled != n) {
            recycled = ngx_http_adcp_zone_log_due(&sh->recycled,
                                                  &sh->recycled_logged_n,
                                                  &sh->recycled_logged);
        }

        if (slot == NULL) {
            sh->full++;
            full = ngx_http_adcp_zone_log_due(&sh->full, &sh->full_logged_n,
                                              &sh->full_logged);

        } else {
            created = 1;
        }
    }

    if (slot) {
        ngx_http_adcp_zone_bit(&slot->users, 1);

        if (slot->dynamic) {
            ngx_queue_remove(&slot->queue);
            ngx_queue_insert_head(&sh->dynamic, &slot->queue);
        }
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    /*
     * a new slot starts its generations over: a descriptor the store kept
     * from the tenant's previous slot (recycled, or invalidated while the
     * tenant had none) is not this one's
     */

    if (created && zone->invalidated) {
        zone->invalidated(tenant, zone->invalidated_data);
    }

    if (recycled) {
        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "adcp zone is full: %uA slots of regex tenants no "
                      "worker caches were recycled for new ones since the "
                      "last message (zone.recycled %uA)", recycled,
                      sh->recycled);
    }

    if (full) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "adcp zone is full and every regex tenant's slot is "
                      "cached or in use: tenant \"%V\" is served with this "
                      "worker's own health and failure memory only "
                      "(%uA such requests since the last message, "
                      "zone.full %uA); increase adcp_zone_size",
                      tenant, full, sh->full);
    }

    return slot;
}


/*
 * With the mutex held: what a counter moved since the last message, when
 * a message is due (at most one a minute for the host), 0 otherwise
 */

static ngx_atomic_uint_t
ngx_http_adcp_zone_log_due(ngx_atomic_t *count, ngx_atomic_t *logged_count,
    time_t *logged)
{
    ngx_atomic_uint_t  n;

    if (*logged && ngx_time() - *logged < 60) {
        return 0;
    }

    n = *count - *logged_count;

    *logged = ngx_time();
    *logged_count = *count;

    return n;
}


/*
 * The host's task secret, made once with the zone (the kernel's random
 * bytes; should they fail, nginx's random mixed with the time and pid,
 * with a warning)
 */

static void
ngx_http_adcp_zone_secret(u_char *secret, ngx_log_t *log)
{
    u_char      rnd[NGX_HTTP_ADCP_SECRET_LEN / 2];
    ngx_uint_t  i;

    /* never waits: a kernel whose pool is not ready yet fails at once */

    if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK)
        != (ssize_t) sizeof(rnd))
    {
        ngx_log_error(NGX_LOG_WARN, log, ngx_errno,
                      "adcp: getrandom() failed, the task secret is "
                      "weaker");

        for (i = 0; i < sizeof(rnd); i++) {
            rnd[i] = (u_char) (ngx_random() ^ (ngx_time() >> (i % 8))
                               ^ (ngx_pid << (i % 4)));
        }
    }

    ngx_hex_dump(secret, rnd, sizeof(rnd));
}


static ngx_http_adcp_slot_t *
ngx_http_adcp_zone_lookup(ngx_http_adcp_shctx_t *sh, ngx_str_t *tenant,
    uint32_t hash)
{
    return (ngx_http_adcp_slot_t *) ngx_http_adcp_rbtree_lookup(&sh->rbtree,
                                        tenant, hash, &ngx_http_adcp_zone_key);
}


/* with the mutex held */

static ngx_http_adcp_slot_t *
ngx_http_adcp_zone_create(ngx_http_adcp_zone_t *zone, ngx_str_t *tenant,
    uint32_t hash, ngx_uint_t dynamic)
{
    ngx_http_adcp_slot_t  *slot;

    slot = ngx_slab_calloc_locked(zone->shpool, sizeof(ngx_http_adcp_slot_t));

    if (slot == NULL && dynamic) {
        slot = ngx_http_adcp_zone_recycle(zone->sh);
    }

    if (slot == NULL) {
        return NULL;
    }

    slot->node.key = hash;
    slot->len = (u_char) tenant->len;
    ngx_memcpy(slot->id, tenant->data, tenant->len);

    ngx_rbtree_insert(&zone->sh->rbtree, &slot->node);

    if (dynamic) {
        slot->dynamic = 1;
        ngx_queue_insert_head(&zone->sh->dynamic, &slot->queue);
        zone->sh->ndynamic++;
    }

    return slot;
}


/*
 * With the mutex held: the least recently used dynamic slot that no
 * worker caches or points to from its cache, emptied; NULL when every
 * one is in use
 */

static ngx_http_adcp_slot_t *
ngx_http_adcp_zone_recycle(ngx_http_adcp_shctx_t *sh)
{
    ngx_queue_t           *q;
    ngx_http_adcp_slot_t  *slot;

    for (q = ngx_queue_last(&sh->dynamic);
         q != ngx_queue_sentinel(&sh->dynamic);
         q = ngx_queue_prev(q))
    {
        slot = ngx_queue_data(q, ngx_http_adcp_slot_t, queue);

        if (slot->cached == 0 && slot->users == 0) {
            ngx_queue_remove(&slot->queue);
            ngx_rbtree_delete(&sh->rbtree, &slot->node);
            sh->ndynamic--;
            sh->recycled++;

            ngx_memzero(slot, sizeof(ngx_http_adcp_slot_t));

            return slot;
        }
    }

    return NULL;
}


ngx_http_adcp_row_t *
ngx_http_adcp_zone_row(ngx_http_adcp_zone_t *zone)
{
    return &zone->sh->rows[ngx_http_adcp_zone_worker()];
}


/*
 * Whether this worker may call the factory for a tenant.  With "always"
 * (the host keeps a platform store) and whenever the tenant is not healthy
 * (never built on this host, or failing), one worker of the host claims
 * the build and the others wait for its outcome; without a store, a
 * healthy tenant is built freely by every worker.  A claim has an age
 * (adcp_build_timeout): a worker that died holding it holds it no longer.
 * NGX_HTTP_ADCP_CLAIM_BUSY: another worker holds the claim.
 */

ngx_uint_t
ngx_http_adcp_zone_claim(ngx_http_adcp_zone_t *zone,
    ngx_http_adcp_slot_t *slot, ngx_msec_t timeout, ngx_uint_t always)
{
    ngx_uint_t  rc;

    if (!always && slot->health == NGX_HTTP_ADCP_HEALTH_HEALTHY
        && slot->failures == 0 && slot->not_found_until == 0)
    {
        return NGX_HTTP_ADCP_CLAIM_FREE;
    }

    ngx_shmtx_lock(&zone->shpool->mutex);

    if (!ngx_http_adcp_zone_claimed(slot)) {
        slot->claim_until = ngx_current_msec + timeout;
        slot->claim_pid = ngx_pid;
        rc = NGX_HTTP_ADCP_CLAIM_OWN;

    } else {
        rc = NGX_HTTP_ADCP_CLAIM_BUSY;
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return rc;
}


/*
 * Whether a worker holds the tenant's build claim: one that has not aged
 * past adcp_build_timeout, held by a worker that is alive (one killed
 * holding it is seen at once, not only when the claim ages)
 */

ngx_uint_t
ngx_http_adcp_zone_claimed(ngx_http_adcp_slot_t *slot)
{
    ngx_pid_t  pid;

    if (slot->claim_until == 0
        || (ngx_msec_int_t) (ngx_current_msec - slot->claim_until) >= 0)
    {
        return 0;
    }

    pid = slot->claim_pid;

    if (pid > 0 && pid != ngx_pid && kill(pid, 0) == -1
        && ngx_errno == NGX_ESRCH)
    {
        return 0;
    }

    return 1;
}


/* a claimed build that will not end (its requests all went away) */

void
ngx_http_adcp_zone_unclaim(ngx_http_adcp_zone_t *zone,
    ngx_http_adcp_slot_t *slot)
{
    ngx_shmtx_lock(&zone->shpool->mutex);
    slot->claim_until = 0;
    ngx_shmtx_unlock(&zone->shpool->mutex);
}


void
ngx_http_adcp_zone_built(ngx_http_adcp_zone_t *zone,
    ngx_http_adcp_slot_t *slot, ngx_uint_t result, ngx_uint_t stale,
    ngx_uint_t recheck, ngx_msec_t started, ngx_msec_t ttl_min,
    ngx_msec_t ttl_max, ngx_msec_t not_found_ttl)
{
    ngx_uint_t            i, n, rechecked, health;
    ngx_msec_t            ms, ttl;
    ngx_http_adcp_row_t  *row;

    row = ngx_http_adcp_zone_row(zone);

    ms = ngx_current_msec - started;

    for (i = 0; i < NGX_HTTP_ADCP_BUCKETS; i++) {
        if (ms <= ngx_http_adcp_buckets[i]) {
            break;
        }
    }

    row->latency[i]++;
    row->latency_sum += ms;

    switch (result) {

    case NGX_HTTP_ADCP_BUILD_OK:
        row->counters[NGX_HTTP_ADCP_C_BUILDS_OK]++;
        break;

    case NGX_HTTP_ADCP_BUILD_NOT_FOUND:
        row->counters[NGX_HTTP_ADCP_C_BUILDS_NOT_FOUND]++;
        break;

    default:
        row->counters[NGX_HTTP_ADCP_C_BUILDS_FAILED]++;
    }

    if (slot == NULL) {
        return;
    }

    ngx_shmtx_lock(&zone->shpool->mutex);

    slot->claim_until = 0;

    /* the first build to end after a recheck, in any worker, answers it */

    rechecked = (recheck != slot->recheck_done);
    slot->recheck_done = recheck;
    health = slot->health;

    switch (result) {

    case NGX_HTTP_ADCP_BUILD_OK:
        slot->failures = 0;
        slot->failed_until = 0;
        slot->not_found_until = 0;
        slot->builds++;
        slot->built = ngx_time();
        slot->health = NGX_HTTP_ADCP_HEALTH_HEALTHY;
        slot->no_stale = 0;
        break;

    case NGX_HTTP_ADCP_BUILD_NOT_FOUND:
        slot->not_found_until = ngx_current_msec + not_found_ttl;
        slot->health = NGX_HTTP_ADCP_HEALTH_DISABLED;
        break;

    default:

        /* ttl_min, doubling per consecutive failure, up to ttl_max */

        n = ngx_min(slot->failures, 20);
        ttl = ttl_min << n;

        if (ttl > ttl_max || (ttl >> n) != ttl_min) {
            ttl = ttl_max;
        }

        slot->failures++;
        slot->failed_until = ngx_current_msec + ttl;

        /*
         * SPEC section 4: a failed recheck is unverified from healthy (the
         * workers' cached platforms keep serving), disabled from anything
         * else, and then nothing is served; a failed rebuild is unverified
         * where this worker has an old platform to serve, disabled
         * otherwise (another worker may still serve its own old one)
         */

        if (rechecked) {
            if (health == NGX_HTTP_ADCP_HEALTH_HEALTHY) {
                slot->health = NGX_HTTP_ADCP_HEALTH_UNVERIFIED;

            } else {
                slot->health = NGX_HTTP_ADCP_HEALTH_DISABLED;
                slot->no_stale = 1;
            }

        } else if (stale) {
            slot->health = NGX_HTTP_ADCP_HEALTH_UNVERIFIED;

        } else {
            slot->health = NGX_HTTP_ADCP_HEALTH_DISABLED;
        }
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);
}


/* this worker caches the tenant's platform (on) or no longer (off) */

void
ngx_http_adcp_zone_cached(ngx_http_adcp_zone_t *zone,
    ngx_http_adcp_slot_t *slot, ngx_uint_t on)
{
    ngx_http_adcp_row_t  *row;

    row = ngx_http_adcp_zone_row(zone);

    if (on) {
        row->size++;

    } else if (row->size) {
        row->size--;
    }

    if (slot == NULL) {
        return;
    }

    ngx_http_adcp_zone_bit(&slot->cached, on);
}


/* this worker's cache no longer has an entry pointing to the slot */

void
ngx_http_adcp_zone_unuse(ngx_http_adcp_slot_t *slot)
{
    ngx_http_adcp_zone_bit(&slot->users, 0);
}


/*
 * A worker starting (after a reload or a crash) clears the bits an earlier
 * worker with its number left in every slot.
 */

void
ngx_http_adcp_zone_worker_start(ngx_http_adcp_zone_t *zone)
{
    ngx_shmtx_lock(&zone->shpool->mutex);
    ngx_http_adcp_zone_each(zone, ngx_http_adcp_zone_worker_clear);
    ngx_shmtx_unlock(&zone->shpool->mutex);
}


static void
ngx_http_adcp_zone_worker_clear(ngx_http_adcp_slot_t *slot)
{
    ngx_http_adcp_zone_bit(&slot->cached, 0);
    ngx_http_adcp_zone_bit(&slot->users, 0);
}


/* with the mutex held: handler called on every slot */

static void
ngx_http_adcp_zone_each(ngx_http_adcp_zone_t *zone,
    ngx_http_adcp_zone_each_pt handler)
{
    ngx_rbtree_node_t  *node, *root, *sentinel;

    root = zone->sh->rbtree.root;
    sentinel = zone->sh->rbtree.sentinel;

    if (root == sentinel) {
        return;
    }

    for (node = ngx_rbtree_min(root, sentinel);
         node;
         node = ngx_rbtree_next(&zone->sh->rbtree, node))
    {
        handler((ngx_http_adcp_slot_t *) node);
    }
}


static void
ngx_http_adcp_zone_bit(ngx_atomic_t *word, ngx_uint_t on)
{
    ngx_atomic_uint_t  bit, old;

    bit = (ngx_atomic_uint_t) 1 << ngx_http_adcp_zone_worker();

    do {
        old = *word;

        if (((old & bit) != 0) == (on != 0)) {
            return;
        }

    } while (!ngx_atomic_cmp_set(word, old, on ? (old | bit) : (old & ~bit)));
}


/*
 * Moves a tenant's generation (NULL: the global one) on: every worker
 * drops the platform on its next request for it.  A recheck moves the
 * tenant's recheck count instead: every worker rebuilds it on its next
 * request, serving the old platform if that fails.  Both forget the
 * failure memory.
 */

void
ngx_http_adcp_zone_invalidate(ngx_http_adcp_zone_t *zone, ngx_str_t *tenant,
    ngx_uint_t recheck)
{
    ngx_http_adcp_slot_t  *slot;

    ngx_http_adcp_zone_row(zone)->counters[NGX_HTTP_ADCP_C_INVALIDATIONS]++;

    ngx_shmtx_lock(&zone->shpool->mutex);

    if (tenant == NULL) {
        zone->sh->generation++;
        ngx_http_adcp_zone_each(zone, ngx_http_adcp_zone_forget);

        ngx_shmtx_unlock(&zone->shpool->mutex);

        if (zone->invalidated) {
            zone->invalidated(NULL, zone->invalidated_data);
        }

        return;
    }

    slot = ngx_http_adcp_zone_lookup(zone->sh, tenant,
                                     ngx_crc32_short(tenant->data,
                                                     tenant->len));

    if (slot) {
        if (recheck) {
            slot->recheck++;

        } else {
            slot->generation++;
            slot->no_stale = 0;
        }

        ngx_http_adcp_zone_forget(slot);

        if (recheck && slot->health == NGX_HTTP_ADCP_HEALTH_DISABLED) {
            slot->health = NGX_HTTP_ADCP_HEALTH_PENDING;
        }
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    /* after the generation moved: a build in flight can no longer store */

    if (slot && !recheck && zone->invalidated) {
        zone->invalidated(tenant, zone->invalidated_data);
    }
}


/* an invalidation forgets the failure memory and any build claim */

static void
ngx_http_adcp_zone_forget(ngx_http_adcp_slot_t *slot)
{
    slot->failures = 0;
    slot->failed_until = 0;
    slot->not_found_until = 0;
    slot->claim_until = 0;
}


/*
 * The admin endpoint applies what it publishes at once; the host's own
 * link then receives it back from Redis, and drops it here (once).
 */

void
ngx_http_adcp_zone_echo_add(ngx_http_adcp_zone_t *zone, ngx_str_t *message,
    ngx_msec_t ttl)
{
    ngx_uint_t             i;
    ngx_http_adcp_echo_t  *echo, *oldest;

    echo = zone->sh->echo;
    oldest = &echo[0];

    ngx_shmtx_lock(&zone->shpool->mutex);

    for (i = 0; i < NGX_HTTP_ADCP_ECHOES; i++) {
        if ((ngx_msec_int_t) (echo[i].until - oldest->until) < 0) {
            oldest = &echo[i];
        }
    }

    oldest->crc = ngx_crc32_short(message->data, message->len);
    oldest->until = ngx_current_msec + ttl;

    ngx_shmtx_unlock(&zone->shpool->mutex);
}


ngx_uint_t
ngx_http_adcp_zone_echo_take(ngx_http_adcp_zone_t *zone, ngx_str_t *message)
{
    uint32_t               crc;
    ngx_uint_t             i, found;
    ngx_http_adcp_echo_t  *echo;

    echo = zone->sh->echo;
    crc = ngx_crc32_short(message->data, message->len);
    found = 0;

    ngx_shmtx_lock(&zone->shpool->mutex);

    for (i = 0; i < NGX_HTTP_ADCP_ECHOES; i++) {
        if (echo[i].until && echo[i].crc == crc
            && (ngx_msec_int_t) (echo[i].until - ngx_current_msec) > 0)
        {
            echo[i].until = 0;
            found = 1;
            break;
        }
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return found;
}


static void
ngx_http_adcp_zone_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_http_adcp_rbtree_insert_value(temp, node, sentinel,
                                      &ngx_http_adcp_zone_key);
}


static ngx_uint_t
ngx_http_adcp_zone_worker(void)
{
    return ngx_min(ngx_worker, NGX_HTTP_ADCP_MAX_WORKERS - 1);
}
