
/*
 * ngx_http_adcp_module: GET /adcp/status, JSON or ?format=prometheus.
 *
 * Everything comes from the shared zone, so every worker answers the same:
 * the counters are the sum of the workers' rows, the tenants are the
 * zone's slots.  One walk writes either format; it runs twice under the
 * zone's lock, first to size the buffer, then to fill it.  In Prometheus
 * text each family is one group (HELP, TYPE, then all its samples): the
 * tenants are walked once per per-tenant family.  ?tenants=0 leaves the
 * tenants out (both formats), for a host with many.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_adcp.h"
#include "ngx_http_adcp_status.h"
#include "ngx_http_adcp_sentinel.h"


#define NGX_HTTP_ADCP_STATUS_LINE  512


typedef struct {
    u_char                     *pos;      /* NULL while sizing */
    u_char                     *last;
    size_t                      len;
    ngx_uint_t                  prom;
    ngx_uint_t                  tenants;
    ngx_http_adcp_sentinel_info_t  *sentinel;   /* NULL: no Sentinel */
} ngx_http_adcp_out_t;


typedef struct {
    ngx_atomic_uint_t           counters[NGX_HTTP_ADCP_NCOUNTERS];
    ngx_atomic_uint_t           latency[NGX_HTTP_ADCP_BUCKETS + 1];
    ngx_atomic_uint_t           latency_sum;
    ngx_atomic_uint_t           builds;
} ngx_http_adcp_sum_t;


typedef struct {
    ngx_uint_t                  index;
    char                       *json;
    char                       *prom;
    char                       *help;
} ngx_http_adcp_counter_t;


/* the per-tenant Prometheus families, in the order written */

#define NGX_HTTP_ADCP_T_HEALTH   0
#define NGX_HTTP_ADCP_T_WORKERS  1
#define NGX_HTTP_ADCP_T_BUILDS   2
#define NGX_HTTP_ADCP_T_AGE      3
#define NGX_HTTP_ADCP_T_FAMILIES 4


static void ngx_http_adcp_status_walk(ngx_http_adcp_out_t *o,
    ngx_http_adcp_zone_t *zone, ngx_uint_t workers, ngx_uint_t capacity,
    ngx_uint_t redis, ngx_uint_t tasks);
static void ngx_http_adcp_status_tasks(ngx_http_adcp_out_t *o,
    ngx_http_adcp_sum_t *sum, ngx_http_adcp_shctx_t *sh);
static void ngx_http_adcp_status_redis(ngx_http_adcp_out_t *o,
    ngx_http_adcp_shctx_t *sh);
static void ngx_http_adcp_status_sentinel(ngx_http_adcp_out_t *o);
static void ngx_http_adcp_status_cache(ngx_http_adcp_out_t *o,
    ngx_http_adcp_sum_t *sum, ngx_http_adcp_zone_t *zone,
    ngx_uint_t workers, ngx_uint_t capacity);
static void ngx_http_adcp_status_zone(ngx_http_adcp_out_t *o,
    ngx_http_adcp_shctx_t *sh);
static void ngx_http_adcp_status_tenants(ngx_http_adcp_out_t *o,
    ngx_http_adcp_zone_t *zone);
static void ngx_http_adcp_status_store(ngx_http_adcp_out_t *o,
    ngx_http_adcp_sum_t *sum);
static void ngx_http_adcp_status_tenant(ngx_http_adcp_out_t *o,
    ngx_http_adcp_slot_t *slot, ngx_uint_t family, ngx_uint_t first);
static void ngx_http_adcp_out(ngx_http_adcp_out_t *o, const char *fmt, ...);
static ngx_uint_t ngx_http_adcp_popcount(ngx_atomic_uint_t v);


static ngx_http_adcp_counter_t  ngx_http_adcp_counters[] = {
    { NGX_HTTP_ADCP_C_HITS, "hits", "adcp_cache_hits_total",
      "Requests served by a cached platform." },
    { NGX_HTTP_ADCP_C_MISSES, "misses", "adcp_cache_misses_total",
      "Requests that started a platform build." },
    { NGX_HTTP_ADCP_C_WAITS, "waits", "adcp_cache_waits_total",
      "Requests that joined a build in flight." },
    { NGX_HTTP_ADCP_C_STALE, "stale", "adcp_cache_stale_total",
      "Requests served by an expired platform after a failed rebuild." },
    { NGX_HTTP_ADCP_C_NEGATIVE, "negative", "adcp_cache_negative_total",
      "Requests answered from failure or not-found memory." },
    { NGX_HTTP_ADCP_C_UPDATING, "updating", "adcp_cache_updating_total",
      "Requests served by a platform being refreshed." },
    { NGX_HTTP_ADCP_C_EVICTIONS, "evictions", "adcp_cache_evictions_total",
      "Platforms evicted to make room." },
    { NGX_HTTP_ADCP_C_EXPIRATIONS, "expirations",
      "adcp_cache_expirations_total", "Platforms expired." },
    { NGX_HTTP_ADCP_C_INVALIDATIONS, "invalidations",
      "adcp_invalidations_total", "Invalidations applied." },
    { 0, NULL, NULL, NULL }
};


static char  *ngx_http_adcp_health_names[] = {
    "pending", "healthy", "unverified", "disabled"
};


static char  *ngx_http_adcp_tenant_families[][3] = {
    { "adcp_tenant_health", "gauge", "Tenant health: 1 for its state." },
    { "adcp_tenant_cached_workers", "gauge",
      "Workers caching the tenant's platform." },
    { "adcp_tenant_builds_total", "counter",
      "Good builds of the tenant's platform." },
    { "adcp_tenant_age_seconds", "gauge",
      "Seconds since the tenant's last good build." }
};


ngx_int_t
ngx_http_adcp_status_handler(ngx_http_request_t *r)
{
    size_t                      size;
    ngx_int_t                   rc;
    ngx_str_t                   format, tenants;
    ngx_buf_t                  *b;
    ngx_uint_t                  i, workers;
    ngx_chain_t                 out;
    ngx_core_conf_t            *ccf;
    ngx_http_adcp_out_t         o;
    ngx_http_adcp_zone_t       *zone;
    ngx_http_adcp_main_conf_t  *amcf;
    u_char                      master[NGX_SOCKADDR_STRLEN + 16];
    ngx_http_adcp_sentinel_info_t  sentinel;

    if (r->method != NGX_HTTP_GET && r->method != NGX_HTTP_HEAD) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    amcf = ngx_http_get_module_main_conf(r, ngx_http_adcp_module);

    if (!amcf->platforms) {
        return NGX_HTTP_NOT_FOUND;
    }

    zone = &amcf->zone;

    ccf = (ngx_core_conf_t *) ngx_get_conf(ngx_cycle->conf_ctx,
                                           ngx_core_module);
    workers = ngx_process == NGX_PROCESS_SINGLE ? 1 : ccf->worker_processes;
    workers = ngx_min(workers, NGX_HTTP_ADCP_MAX_WORKERS);

    ngx_memzero(&o, sizeof(ngx_http_adcp_out_t));

    o.prom = (ngx_http_arg(r, (u_char *) "format", 6, &format) == NGX_OK
              && format.len == 10
              && ngx_strncmp(format.data, "prometheus", 10) == 0);

    o.tenants = !(ngx_http_arg(r, (u_char *) "tenants", 7, &tenants)
                  == NGX_OK
                  && tenants.len == 1 && tenants.data[0] == '0');

    /* read once: both walks print the same */

    if (ngx_http_adcp_sentinel_info(&amcf->redis, &sentinel, master,
                                    sizeof(master))
        == NGX_OK)
    {
        o.sentinel = &sentinel;
    }

    ngx_shmtx_lock(&zone->shpool->mutex);

    ngx_http_adcp_status_walk(&o, zone, workers, amcf->cache_size,
                              amcf->redis.name.len != 0, amcf->tasks);

    /*
     * The workers' counters move without the lock: a number may have
     * grown a digit since it was counted.  The fill counts again; if it
     * did not fit, it is written once more into the size it counted
     * (with room to grow), so no line is ever dropped.
     */

    b = NULL;

    for (i = 0; /* void */; i++) {
        if (b) {
            ngx_pfree(r->pool, b->start);
        }

        size = o.len + o.len / 16 + 64;

        b = (i < 4) ? ngx_create_temp_buf(r->pool, size) : NULL;
        if (b == NULL) {
            ngx_shmtx_unlock(&zone->shpool->mutex);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        o.pos = b->pos;
        o.last = b->end;
        o.len = 0;

        ngx_http_adcp_status_walk(&o, zone, workers, amcf->cache_size,
                                  amcf->redis.name.len != 0, amcf->tasks);

        if (o.len <= size) {
            break;
        }

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "adcp: status grew while written (%uz > %uz), again",
                      o.len, size);
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    b->last = o.pos;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;

    if (o.prom) {
        ngx_str_set(&r->headers_out.content_type,
                    "text/plain; version=0.0.4; charset=utf-8");

    } else {
        ngx_str_set(&r->headers_out.content_type, "application/json");
    }

    r->headers_out.content_type_len = r->headers_out.content_type.len;

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


static void
ngx_http_adcp_status_walk(ngx_http_adcp_out_t *o, ngx_http_adcp_zone_t *zone,
    ngx_uint_t workers, ngx_uint_t capacity, ngx_uint_t redis,
    ngx_uint_t tasks)
{
    ngx_uint_t             i, k;
    ngx_http_adcp_row_t   *row;
    ngx_http_adcp_sum_t    sum;

    ngx_memzero(&sum, sizeof(ngx_http_adcp_sum_t));

    for (i = 0; i < NGX_HTTP_ADCP_MAX_WORKERS; i++) {
        row = &zone->sh->rows[i];

        for (k = 0; k < NGX_HTTP_ADCP_NCOUNTERS; k++) {
            sum.counters[k] += row->counters[k];
        }

        for (k = 0; k <= NGX_HTTP_ADCP_BUCKETS; k++) {
            sum.latency[k] += row->latency[k];
            sum.builds += row->latency[k];
        }

        sum.latency_sum += row->latency_sum;
    }

    ngx_http_adcp_status_cache(o, &sum, zone, workers, capacity);
    ngx_http_adcp_status_zone(o, zone->sh);

    if (redis) {
        ngx_http_adcp_status_redis(o, zone->sh);
    }

    if (tasks) {
        ngx_http_adcp_status_tasks(o, &sum, zone->sh);
    }

    if (o->tenants) {
        ngx_http_adcp_status_tenants(o, zone);
    }

    if (!o->prom) {
        ngx_http_adcp_out(o, "}\n");
    }
}


/* JSON: one walk; Prometheus: a walk per family, each family one group */

static void
ngx_http_adcp_status_tenants(ngx_http_adcp_out_t *o,
    ngx_http_adcp_zone_t *zone)
{
    char               **f;
    ngx_uint_t           i, n, first;
    ngx_rbtree_node_t   *node, *root, *sentinel;

    root = zone->sh->rbtree.root;
    sentinel = zone->sh->rbtree.sentinel;

    if (!o->prom) {
        ngx_http_adcp_out(o, ",\"tenants\":{");
    }

    n = o->prom ? NGX_HTTP_ADCP_T_FAMILIES : 1;

    for (i = 0; i < n; i++) {

        if (o->prom) {
            f = ngx_http_adcp_tenant_families[i];
            ngx_http_adcp_out(o, "# HELP %s %s\n# TYPE %s %s\n",
                              f[0], f[2], f[0], f[1]);
        }

        if (root == sentinel) {
            continue;
        }

        first = 1;

        for (node = ngx_rbtree_min(root, sentinel);
             node;
             node = ngx_rbtree_next(&zone->sh->rbtree, node))
        {
            ngx_http_adcp_status_tenant(o, (ngx_http_adcp_slot_t *) node, i,
                                        first);
            first = 0;
        }
    }

    if (!o->prom) {
        ngx_http_adcp_out(o, "}");
    }
}


static void
ngx_http_adcp_status_cache(ngx_http_adcp_out_t *o, ngx_http_adcp_sum_t *sum,
    ngx_http_adcp_zone_t *zone, ngx_uint_t workers, ngx_uint_t capacity)
{
    ngx_uint_t                i, acc;
    ngx_http_adcp_counter_t  *c;

    if (!o->prom) {
        ngx_http_adcp_out(o, "{\"cache\":{");

        for (c = ngx_http_adcp_counters; c->json; c++) {
            ngx_http_adcp_out(o, "\"%s\":%uA,", c->json,
                              sum->counters[c->index]);
        }

        ngx_http_adcp_out(o, "\"builds\":{\"ok\":%uA,\"failed\":%uA,"
                          "\"not_found\":%uA},",
                          sum->counters[NGX_HTTP_ADCP_C_BUILDS_OK],
                          sum->counters[NGX_HTTP_ADCP_C_BUILDS_FAILED],
                          sum->counters[NGX_HTTP_ADCP_C_BUILDS_NOT_FOUND]);

        ngx_http_adcp_out(o, "\"build_latency_ms\":{\"buckets\":{");

        for (i = 0, acc = 0; i < NGX_HTTP_ADCP_BUCKETS; i++) {
            acc += sum->latency[i];
            ngx_http_adcp_out(o, "\"%ui\":%ui,", ngx_http_adcp_buckets[i],
                              acc);
        }

        ngx_http_adcp_out(o, "\"+Inf\":%uA},\"sum\":%uA,\"count\":%uA},",
                          sum->builds, sum->latency_sum, sum->builds);

        ngx_http_adcp_out(o, "\"size\":[");

        for (i = 0; i < workers; i++) {
            ngx_http_adcp_out(o, i ? ",%uA" : "%uA", zone->sh->rows[i].size);
        }

        ngx_http_adcp_out(o, "],\"capacity\":%ui", capacity);
        ngx_http_adcp_status_store(o, sum);
        ngx_http_adcp_out(o, "}");

        return;
    }

    for (c = ngx_http_adcp_counters; c->json; c++) {
        ngx_http_adcp_out(o, "# HELP %s %s\n# TYPE %s counter\n%s %uA\n",
                          c->prom, c->help, c->prom, c->prom,
                          sum->counters[c->index]);
    }

    ngx_http_adcp_out(o, "# HELP adcp_builds_total Platform builds by "
                      "result.\n# TYPE adcp_builds_total counter\n"
                      "adcp_builds_total{result=\"ok\"} %uA\n"
                      "adcp_builds_total{result=\"failed\"} %uA\n"
                      "adcp_builds_total{result=\"not_found\"} %uA\n",
                      sum->counters[NGX_HTTP_ADCP_C_BUILDS_OK],
                      sum->counters[NGX_HTTP_ADCP_C_BUILDS_FAILED],
                      sum->counters[NGX_HTTP_ADCP_C_BUILDS_NOT_FOUND]);

    ngx_http_adcp_out(o, "# HELP adcp_build_duration_seconds Platform "
                      "build latency.\n"
                      "# TYPE adcp_build_duration_seconds histogram\n");

    for (i = 0, acc = 0; i < NGX_HTTP_ADCP_BUCKETS; i++) {
        acc += sum->latency[i];
        ngx_http_adcp_out(o, "adcp_build_duration_seconds_bucket"
                          "{le=\"%ui.%03ui\"} %ui\n",
                          ngx_http_adcp_buckets[i] / 1000,
                          ngx_http_adcp_buckets[i] % 1000, acc);
    }

    ngx_http_adcp_out(o, "adcp_build_duration_seconds_bucket{le=\"+Inf\"} "
                      "%uA\nadcp_build_duration_seconds_sum %uA.%03uA\n"
                      "adcp_build_duration_seconds_count %uA\n",
                      sum->builds, sum->latency_sum / 1000,
                      sum->latency_sum % 1000, sum->builds);

    ngx_http_adcp_out(o, "# HELP adcp_cache_size Platforms cached, per "
                      "worker.\n# TYPE adcp_cache_size gauge\n");

    for (i = 0; i < workers; i++) {
        ngx_http_adcp_out(o, "adcp_cache_size{worker=\"%ui\"} %uA\n", i,
                          zone->sh->rows[i].size);
    }

    ngx_http_adcp_out(o, "# HELP adcp_cache_capacity Platforms a worker "
                      "caches at most.\n# TYPE adcp_cache_capacity gauge\n"
                      "adcp_cache_capacity %ui\n", capacity);

    ngx_http_adcp_status_store(o, sum);
}


/*
 * New regex tenants that found the zone full: a slot recycled (normal),
 * or none to recycle (served with a worker's own memory)
 */

static void
ngx_http_adcp_status_zone(ngx_http_adcp_out_t *o, ngx_http_adcp_shctx_t *sh)
{
    if (!o->prom) {
        ngx_http_adcp_out(o, ",\"zone\":{\"recycled\":%uA,\"full\":%uA}",
                          sh->recycled, sh->full);
        return;
    }

    ngx_http_adcp_out(o, "# HELP adcp_zone_recycled_total Slots of regex "
                      "tenants recycled for new ones.\n"
                      "# TYPE adcp_zone_recycled_total counter\n"
                      "adcp_zone_recycled_total %uA\n"
                      "# HELP adcp_zone_full_total New regex tenants the "
                      "full zone had no slot for.\n"
                      "# TYPE adcp_zone_full_total counter\n"
                      "adcp_zone_full_total %uA\n", sh->recycled, sh->full);
}


/*
 * The host's platform store (its own zone: read without the tenant zone's
 * lock, word by word), refreshes, and requests served by level: this
 * worker's cache, the store, a factory build.
 */

static void
ngx_http_adcp_status_store(ngx_http_adcp_out_t *o, ngx_http_adcp_sum_t *sum)
{
    size_t                      bytes;
    ngx_atomic_uint_t           used, descriptors, evictions, too_big;
    ngx_atomic_uint_t           worker, store, factory, ok, failed;
    ngx_http_adcp_store_sh_t   *sh;
    ngx_http_adcp_main_conf_t  *amcf;

    amcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_adcp_module);
    sh = amcf->store.sh;

    bytes = sh ? amcf->store.shm_zone->shm.size : 0;
    used = sh ? sh->used : 0;
    descriptors = sh ? sh->descriptors : 0;
    evictions = sh ? sh->evictions : 0;
    too_big = sh ? sh->too_big : 0;

    worker = sum->counters[NGX_HTTP_ADCP_C_HITS]
             + sum->counters[NGX_HTTP_ADCP_C_UPDATING];
    store = sum->counters[NGX_HTTP_ADCP_C_SHARED];
    factory = sum->counters[NGX_HTTP_ADCP_C_FACTORY];
    ok = sum->counters[NGX_HTTP_ADCP_C_REFRESH_OK];
    failed = sum->counters[NGX_HTTP_ADCP_C_REFRESH_FAILED];

    if (!o->prom) {
        ngx_http_adcp_out(o, ",\"shared\":{\"bytes\":%uz,\"used\":%uA,"
                          "\"descriptors\":%uA,\"hits\":%uA,"
                          "\"evictions\":%uA,\"too_big\":%uA,"
                          "\"refreshes\":{\"ok\":%uA,\"failed\":%uA}},"
                          "\"levels\":{\"worker\":%uA,\"store\":%uA,"
                          "\"factory\":%uA}",
                          bytes, used, descriptors, store, evictions,
                          too_big, ok, failed, worker, store, factory);
        return;
    }

    ngx_http_adcp_out(o, "# HELP adcp_cache_shared_bytes Size of the "
                      "host's platform store.\n"
                      "# TYPE adcp_cache_shared_bytes gauge\n"
                      "adcp_cache_shared_bytes %uz\n", bytes);

    ngx_http_adcp_out(o, "# HELP adcp_cache_shared_used_bytes Bytes the "
                      "stored descriptors take.\n"
                      "# TYPE adcp_cache_shared_used_bytes gauge\n"
                      "adcp_cache_shared_used_bytes %uA\n", used);

    ngx_http_adcp_out(o, "# HELP adcp_cache_shared_descriptors Descriptors in "
                      "the host's platform store.\n"
                      "# TYPE adcp_cache_shared_descriptors gauge\n"
                      "adcp_cache_shared_descriptors %uA\n", descriptors);

    ngx_http_adcp_out(o, "# HELP adcp_cache_shared_evictions_total "
                      "Descriptors evicted from the store to make room.\n"
                      "# TYPE adcp_cache_shared_evictions_total counter\n"
                      "adcp_cache_shared_evictions_total %uA\n"
                      "# HELP adcp_cache_shared_too_big_total Descriptors "
                      "served but too big to store.\n"
                      "# TYPE adcp_cache_shared_too_big_total counter\n"
                      "adcp_cache_shared_too_big_total %uA\n",
                      evictions, too_big);

    ngx_http_adcp_out(o, "# HELP adcp_cache_refreshes_total Background "
                      "rebuilds ahead of expiry by result.\n"
                      "# TYPE adcp_cache_refreshes_total counter\n"
                      "adcp_cache_refreshes_total{result=\"ok\"} %uA\n"
                      "adcp_cache_refreshes_total{result=\"failed\"} %uA\n",
                      ok, failed);

    ngx_http_adcp_out(o, "# HELP adcp_cache_level_hits_total Requests "
                      "served by a platform from this level.\n"
                      "# TYPE adcp_cache_level_hits_total counter\n"
                      "adcp_cache_level_hits_total{level=\"worker\"} %uA\n"
                      "adcp_cache_level_hits_total{level=\"store\"} %uA\n"
                      "adcp_cache_level_hits_total{level=\"factory\"} "
                      "%uA\n", worker, store, factory);
}


static void
ngx_http_adcp_status_tenant(ngx_http_adcp_out_t *o,
    ngx_http_adcp_slot_t *slot, ngx_uint_t family, ngx_uint_t first)
{
    char        *health;
    ngx_str_t    id;
    ngx_uint_t   workers;

    id.data = slot->id;
    id.len = slot->len;

    health = ngx_http_adcp_health_names[slot->health & 3];
    workers = ngx_http_adcp_popcount(slot->cached);

    if (!o->prom) {
        ngx_http_adcp_out(o, "%s\"%V\":{\"health\":\"%s\","
                          "\"cached_workers\":%ui,", first ? "" : ",",
                          &id, health, workers);

        if (slot->built) {
            ngx_http_adcp_out(o, "\"age\":%T,", ngx_time() - slot->built);

        } else {
            ngx_http_adcp_out(o, "\"age\":null,");
        }

        ngx_http_adcp_out(o, "\"builds\":%ui}", slot->builds);

        return;
    }

    /* ids are [A-Za-z0-9._-]: nothing to escape in a label value */

    switch (family) {

    case NGX_HTTP_ADCP_T_HEALTH:
        ngx_http_adcp_out(o, "adcp_tenant_health{tenant=\"%V\","
                          "state=\"%s\"} 1\n", &id, health);
        break;

    case NGX_HTTP_ADCP_T_WORKERS:
        ngx_http_adcp_out(o, "adcp_tenant_cached_workers{tenant=\"%V\"} "
                          "%ui\n", &id, workers);
        break;

    case NGX_HTTP_ADCP_T_BUILDS:
        ngx_http_adcp_out(o, "adcp_tenant_builds_total{tenant=\"%V\"} "
                          "%ui\n", &id, slot->builds);
        break;

    default: /* NGX_HTTP_ADCP_T_AGE */

        if (slot->built) {
            ngx_http_adcp_out(o, "adcp_tenant_age_seconds{tenant=\"%V\"} "
                              "%T\n", &id, ngx_time() - slot->built);
        }
    }
}


static void
ngx_http_adcp_status_redis(ngx_http_adcp_out_t *o, ngx_http_adcp_shctx_t *sh)
{
    char        *state;
    ngx_uint_t   up, i;

    static char  *states[] = { "off", "connecting", "subscribed", "backoff" };

    struct {
        char          *name;
        char          *help;
        ngx_atomic_t  *value;
    } counters[] = {
        { "messages", "Invalidation messages applied.",
          &sh->redis_messages },
        { "ignored", "Malformed messages ignored.", &sh->redis_ignored },
        { "reconnects", "Reconnections.", &sh->redis_reconnects },
        { "replayed", "Log entries applied after a reconnect.",
          &sh->redis_replayed },
        { "resyncs", "Log gaps that expired every platform.",
          &sh->redis_resyncs },
        { "published", "Messages the admin endpoint published.",
          &sh->redis_published }
    };

    state = states[sh->redis_state & 3];
    up = (sh->redis_state == NGX_HTTP_ADCP_REDIS_SUBSCRIBED);

    if (!o->prom) {
        ngx_http_adcp_out(o, ",\"redis\":{\"state\":\"%s\",\"connected\":%ui,"
                          "\"messages\":%uA,\"ignored\":%uA,"
                          "\"reconnects\":%uA,\"replayed\":%uA,"
                          "\"resyncs\":%uA,\"published\":%uA,", state, up,
                          sh->redis_messages, sh->redis_ignored,
                          sh->redis_reconnects, sh->redis_replayed,
                          sh->redis_resyncs, sh->redis_published);

        /* a stream id: digits and a dash, written under the zone's lock */

        if (sh->redis_log_id[0]) {
            ngx_http_adcp_out(o, "\"log_entry\":\"%s\",", sh->redis_log_id);

        } else {
            ngx_http_adcp_out(o, "\"log_entry\":null,");
        }

        if (sh->redis_last) {
            ngx_http_adcp_out(o, "\"last_message_age\":%T",
                              ngx_time() - sh->redis_last);

        } else {
            ngx_http_adcp_out(o, "\"last_message_age\":null");
        }

        ngx_http_adcp_status_sentinel(o);
        ngx_http_adcp_out(o, "}");

        return;
    }

    ngx_http_adcp_out(o, "# HELP adcp_redis_connected 1 while subscribed.\n"
                      "# TYPE adcp_redis_connected gauge\n"
                      "adcp_redis_connected %ui\n", up);

    for (i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
        ngx_http_adcp_out(o, "# HELP adcp_redis_%s_total %s\n"
                          "# TYPE adcp_redis_%s_total counter\n"
                          "adcp_redis_%s_total %uA\n",
                          counters[i].name, counters[i].help,
                          counters[i].name, counters[i].name,
                          *counters[i].value);
    }

    ngx_http_adcp_status_sentinel(o);
}


/*
 * Sentinel: "master":"host:port"|null, "sentinels":[{"address","up"}],
 * "failovers"; in Prometheus adcp_redis_master{address}, adcp_redis_
 * sentinel_up{address}, adcp_redis_failovers_total
 */

static void
ngx_http_adcp_status_sentinel(ngx_http_adcp_out_t *o)
{
    ngx_uint_t                      i;
    ngx_http_adcp_sentinel_info_t  *si;

    si = o->sentinel;

    if (si == NULL) {
        return;
    }

    if (!o->prom) {
        if (si->master.len) {
            ngx_http_adcp_out(o, ",\"master\":\"%V\"", &si->master);

        } else {
            ngx_http_adcp_out(o, ",\"master\":null");
        }

        ngx_http_adcp_out(o, ",\"failovers\":%ui,\"sentinels\":[",
                          si->failovers);

        for (i = 0; i < si->n; i++) {
            ngx_http_adcp_out(o, "%s{\"address\":\"%V\",\"up\":%s}",
                              i ? "," : "", &si->names[i],
                              si->up[i] ? "true" : "false");
        }

        ngx_http_adcp_out(o, "]");

        return;
    }

    ngx_http_adcp_out(o, "# HELP adcp_redis_master The master in use (1).\n"
                      "# TYPE adcp_redis_master gauge\n");

    if (si->master.len) {
        ngx_http_adcp_out(o, "adcp_redis_master{address=\"%V\"} 1\n",
                          &si->master);
    }

    ngx_http_adcp_out(o, "# HELP adcp_redis_failovers_total Failovers "
                      "followed.\n"
                      "# TYPE adcp_redis_failovers_total counter\n"
                      "adcp_redis_failovers_total %ui\n"
                      "# HELP adcp_redis_sentinel_up 1 while the sentinel "
                      "names a master.\n"
                      "# TYPE adcp_redis_sentinel_up gauge\n",
                      si->failovers);

    for (i = 0; i < si->n; i++) {
        ngx_http_adcp_out(o, "adcp_redis_sentinel_up{address=\"%V\"} %ui\n",
                          &si->names[i], si->up[i] ? 1 : 0);
    }
}


/*
 * Tasks (SPEC section 7): counters summed over the workers; "queue" is
 * the stream's length as this host's last accept saw it (status never
 * waits on Redis), null before any.
 */

static void
ngx_http_adcp_status_tasks(ngx_http_adcp_out_t *o, ngx_http_adcp_sum_t *sum,
    ngx_http_adcp_shctx_t *sh)
{
    ngx_uint_t  i;

    static struct {
        ngx_uint_t     index;
        char          *name;
        char          *help;
        char          *type;
    } counters[] = {
        { NGX_HTTP_ADCP_C_TASKS_ACCEPTED, "accepted",
          "Tasks stored and answered submitted.", "counter" },
        { NGX_HTTP_ADCP_C_TASKS_REPLAYED, "replayed",
          "Accepts answered from an idempotency key.", "counter" },
        { NGX_HTTP_ADCP_C_TASKS_RUNNING, "running",
          "Tasks being executed.", "gauge" },
        { NGX_HTTP_ADCP_C_TASKS_COMPLETED, "completed",
          "Tasks completed.", "counter" },
        { NGX_HTTP_ADCP_C_TASKS_FAILED, "failed",
          "Tasks failed.", "counter" },
        { NGX_HTTP_ADCP_C_TASKS_RECLAIMED, "reclaimed",
          "Tasks claimed from a worker or host that died.", "counter" },
        { NGX_HTTP_ADCP_C_TASKS_RETRIED, "retried",
          "Adapter calls retried after a transient failure.", "counter" },
        { NGX_HTTP_ADCP_C_HOOKS_DELIVERED, "webhooks_delivered",
          "Webhooks delivered (2xx).", "counter" },
        { NGX_HTTP_ADCP_C_HOOKS_RETRIED, "webhooks_retried",
          "Webhook attempts failed and rescheduled (5xx, 429, network).",
          "counter" },
        { NGX_HTTP_ADCP_C_HOOKS_FAILED, "webhooks_failed",
          "Webhooks refused by the receiver (3xx, 4xx), not retried.",
          "counter" },
        { NGX_HTTP_ADCP_C_HOOKS_GAVE_UP, "webhooks_gave_up",
          "Webhooks given up at the retry horizon.", "counter" }
    };

    if (!o->prom) {
        ngx_http_adcp_out(o, ",\"tasks\":{");

        for (i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
            ngx_http_adcp_out(o, "%s\"%s\":%uA", i ? "," : "",
                              counters[i].name,
                              sum->counters[counters[i].index]);
        }

        if (sh->tasks_queue_time) {
            ngx_http_adcp_out(o, ",\"queue\":%uA}", sh->tasks_queue);

        } else {
            ngx_http_adcp_out(o, ",\"queue\":null}");
        }

        return;
    }

    for (i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
        ngx_http_adcp_out(o, "# HELP adcp_tasks_%s%s %s\n"
                          "# TYPE adcp_tasks_%s%s %s\n"
                          "adcp_tasks_%s%s %uA\n",
                          counters[i].name,
                          counters[i].type[0] == 'c' ? "_total" : "",
                          counters[i].help,
                          counters[i].name,
                          counters[i].type[0] == 'c' ? "_total" : "",
                          counters[i].type,
                          counters[i].name,
                          counters[i].type[0] == 'c' ? "_total" : "",
                          sum->counters[counters[i].index]);
    }

    if (sh->tasks_queue_time) {
        ngx_http_adcp_out(o, "# HELP adcp_tasks_queue Entries of the task "
                          "stream at this host's last accept.\n"
                          "# TYPE adcp_tasks_queue gauge\n"
                          "adcp_tasks_queue %uA\n", sh->tasks_queue);
    }
}


/* appends, or while sizing only counts */

static void
ngx_http_adcp_out(ngx_http_adcp_out_t *o, const char *fmt, ...)
{
    u_char    buf[NGX_HTTP_ADCP_STATUS_LINE], *p;
    size_t    n;
    va_list   args;

    va_start(args, fmt);
    p = ngx_vslprintf(buf, buf + sizeof(buf), fmt, args);
    va_end(args);

    n = p - buf;
    o->len += n;

    if (o->pos && (size_t) (o->last - o->pos) >= n) {
        o->pos = ngx_cpymem(o->pos, buf, n);
    }
}


static ngx_uint_t
ngx_http_adcp_popcount(ngx_atomic_uint_t v)
{
    ngx_uint_t  n;

    for (n = 0; v; v &= v - 1) {
        n++;
    }

    return n;
}
