
/*
 * ngx_http_adcp_module: host-wide tenant state in a shared memory zone
 * (SPEC sections 2, 4 and 5): per-tenant slots (health, failure memory,
 * generation, builds, in which workers the platform is cached), the
 * global generation, and a row of counters per worker.
 *
 * Readers on the hit path read words without the lock (a generation, a
 * deadline); writers take the slab pool's mutex.  Each worker writes only
 * its own row of counters; status sums the rows.
 */


#ifndef _NGX_HTTP_ADCP_ZONE_H_INCLUDED_
#define _NGX_HTTP_ADCP_ZONE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_adcp_tenant.h"


#define NGX_HTTP_ADCP_HEALTH_PENDING     0
#define NGX_HTTP_ADCP_HEALTH_HEALTHY     1
#define NGX_HTTP_ADCP_HEALTH_UNVERIFIED  2
#define NGX_HTTP_ADCP_HEALTH_DISABLED    3

#define NGX_HTTP_ADCP_MAX_WORKERS        64
#define NGX_HTTP_ADCP_BUCKETS            10

/* the counters of a worker's row */
#define NGX_HTTP_ADCP_C_HITS             0
#define NGX_HTTP_ADCP_C_MISSES           1
#define NGX_HTTP_ADCP_C_WAITS            2
#define NGX_HTTP_ADCP_C_STALE            3
#define NGX_HTTP_ADCP_C_NEGATIVE         4
#define NGX_HTTP_ADCP_C_BUILDS_OK        5
#define NGX_HTTP_ADCP_C_BUILDS_FAILED    6
#define NGX_HTTP_ADCP_C_BUILDS_NOT_FOUND 7
#define NGX_HTTP_ADCP_C_EVICTIONS        8
#define NGX_HTTP_ADCP_C_EXPIRATIONS      9
#define NGX_HTTP_ADCP_C_INVALIDATIONS    10
#define NGX_HTTP_ADCP_C_TASKS_ACCEPTED   11
#define NGX_HTTP_ADCP_C_TASKS_REPLAYED   12
#define NGX_HTTP_ADCP_C_TASKS_RUNNING    13   /* a gauge: execution */
#define NGX_HTTP_ADCP_C_TASKS_COMPLETED  14
#define NGX_HTTP_ADCP_C_TASKS_FAILED     15
#define NGX_HTTP_ADCP_C_TASKS_RECLAIMED  16
#define NGX_HTTP_ADCP_C_SHARED           17   /* served from the store */
#define NGX_HTTP_ADCP_C_FACTORY          18   /* served by a build here */
#define NGX_HTTP_ADCP_C_UPDATING         19
#define NGX_HTTP_ADCP_C_REFRESH_OK       20
#define NGX_HTTP_ADCP_C_REFRESH_FAILED   21
#define NGX_HTTP_ADCP_C_HOOKS_DELIVERED  22   /* webhook deliveries: 2xx */
#define NGX_HTTP_ADCP_C_HOOKS_RETRIED    23   /*   rescheduled */
#define NGX_HTTP_ADCP_C_HOOKS_FAILED     24   /*   3xx, 4xx: not retried */
#define NGX_HTTP_ADCP_C_HOOKS_GAVE_UP    25   /*   past the horizon */
#define NGX_HTTP_ADCP_C_TASKS_RETRIED    26   /* transient adapter failures
                                                 retried */
#define NGX_HTTP_ADCP_NCOUNTERS          27

/* ngx_http_adcp_zone_claim() */
#define NGX_HTTP_ADCP_CLAIM_FREE         0   /* healthy, no platform store:
                                                every worker builds */
#define NGX_HTTP_ADCP_CLAIM_OWN          1   /* this worker builds for all */
#define NGX_HTTP_ADCP_CLAIM_BUSY         2   /* another worker builds */

/* how a build ended, for the zone */
#define NGX_HTTP_ADCP_BUILD_OK           0
#define NGX_HTTP_ADCP_BUILD_NOT_FOUND    1
#define NGX_HTTP_ADCP_BUILD_FAILED       2


typedef struct {
    ngx_rbtree_node_t          node;        /* key: crc32 of the id */
    ngx_queue_t                queue;       /* dynamic slots, LRU */
    ngx_atomic_t               generation;
    ngx_atomic_t               recheck;
    ngx_atomic_t               health;
    ngx_atomic_t               no_stale;    /* a recheck failed from
                                               unverified or disabled */
    ngx_atomic_t               cached;      /* a bit per worker */
    ngx_atomic_t               users;       /* a bit per worker whose cache
                                               has an entry pointing here */
    ngx_msec_t                 failed_until;
    ngx_msec_t                 not_found_until;
    ngx_msec_t                 claim_until; /* a worker retries it */
    ngx_pid_t                  claim_pid;   /* the worker that holds it */
    ngx_uint_t                 failures;    /* consecutive */
    ngx_uint_t                 recheck_done;   /* the recheck count the
                                                  last build answered */
    ngx_uint_t                 builds;
    time_t                     built;       /* last good build, ngx_time() */
    unsigned                   dynamic:1;
    u_char                     len;
    u_char                     id[NGX_HTTP_ADCP_TENANT_ID_MAX];
} ngx_http_adcp_slot_t;


typedef struct {
    ngx_atomic_t               counters[NGX_HTTP_ADCP_NCOUNTERS];
    ngx_atomic_t               latency[NGX_HTTP_ADCP_BUCKETS + 1];
    ngx_atomic_t               latency_sum;     /* ms */
    ngx_atomic_t               size;            /* platforms cached */
} ngx_http_adcp_row_t;


/* a message this host published, applied here already: not again */
typedef struct {
    uint32_t                   crc;
    ngx_msec_t                 until;
} ngx_http_adcp_echo_t;

#define NGX_HTTP_ADCP_ECHOES         16
#define NGX_HTTP_ADCP_LOG_ID_LEN     48      /* "<ms>-<seq>" and a NUL */
#define NGX_HTTP_ADCP_SECRET_LEN     32      /* hex of 16 random bytes */


typedef struct {
    ngx_rbtree_t               rbtree;
    ngx_rbtree_node_t          sentinel;
    ngx_queue_t                dynamic;
    ngx_uint_t                 ndynamic;
    ngx_atomic_t               generation;

    /* new regex tenants that found the zone full: a slot recycled, or
       none (served with a worker's own memory); the last message's time
       and count */
    ngx_atomic_t               recycled;
    ngx_atomic_t               full;
    ngx_atomic_t               recycled_logged_n;
    ngx_atomic_t               full_logged_n;
    time_t                     recycled_logged;
    time_t                     full_logged;

    ngx_http_adcp_row_t        rows[NGX_HTTP_ADCP_MAX_WORKERS];

    /* the Redis link, written by the worker that holds it */
    ngx_atomic_t               redis_state;
    ngx_atomic_t               redis_messages;
    ngx_atomic_t               redis_ignored;
    ngx_atomic_t               redis_reconnects;
    time_t                     redis_last;      /* last message, ngx_time */
    ngx_atomic_t               redis_replayed;  /* log entries, reconnects */
    ngx_atomic_t               redis_resyncs;   /* log lost: all expired */
    ngx_atomic_t               redis_published; /* by the admin endpoint */
    u_char                     redis_log_id[NGX_HTTP_ADCP_LOG_ID_LEN];
                                                /* last applied, "" none */
    ngx_http_adcp_echo_t       echo[NGX_HTTP_ADCP_ECHOES];

    /* the task stream's length after this host's last accept */
    ngx_atomic_t               tasks_queue;
    time_t                     tasks_queue_time;   /* 0: none yet */

    /* marks this host's own task executions (never leaves the host) */
    u_char                     task_secret[NGX_HTTP_ADCP_SECRET_LEN];
} ngx_http_adcp_shctx_t;


typedef void (*ngx_http_adcp_zone_invalidated_pt)(ngx_str_t *tenant,
    void *data);

typedef struct {
    ngx_http_adcp_shctx_t     *sh;
    ngx_slab_pool_t           *shpool;
    ngx_array_t               *ids;         /* declared tenants */
    ngx_shm_zone_t            *shm_zone;

    /* told after an invalidation moved a generation (the platform store) */
    ngx_http_adcp_zone_invalidated_pt  invalidated;
    void                      *invalidated_data;
} ngx_http_adcp_zone_t;


extern ngx_uint_t  ngx_http_adcp_buckets[NGX_HTTP_ADCP_BUCKETS];


ngx_int_t ngx_http_adcp_zone_add(ngx_conf_t *cf, ngx_http_adcp_zone_t *zone,
    ngx_array_t *ids, size_t size);
ngx_http_adcp_slot_t *ngx_http_adcp_zone_slot(ngx_http_adcp_zone_t *zone,
    ngx_str_t *tenant, ngx_log_t *log);
ngx_http_adcp_row_t *ngx_http_adcp_zone_row(ngx_http_adcp_zone_t *zone);
ngx_uint_t ngx_http_adcp_zone_claim(ngx_http_adcp_zone_t *zone,
    ngx_http_adcp_slot_t *slot, ngx_msec_t timeout, ngx_uint_t always);
ngx_uint_t ngx_http_adcp_zone_claimed(ngx_http_adcp_slot_t *slot);
void ngx_http_adcp_zone_unclaim(ngx_http_adcp_zone_t *zone,
    ngx_http_adcp_slot_t *slot);
void ngx_http_adcp_zone_built(ngx_http_adcp_zone_t *zone,
    ngx_http_adcp_slot_t *slot, ngx_uint_t result, ngx_uint_t stale,
    ngx_uint_t recheck, ngx_msec_t started, ngx_msec_t ttl_min,
    ngx_msec_t ttl_max,
    ngx_msec_t not_found_ttl);
void ngx_http_adcp_zone_cached(ngx_http_adcp_zone_t *zone,
    ngx_http_adcp_slot_t *slot, ngx_uint_t on);
void ngx_http_adcp_zone_unuse(ngx_http_adcp_slot_t *slot);
void ngx_http_adcp_zone_worker_start(ngx_http_adcp_zone_t *zone);
void ngx_http_adcp_zone_invalidate(ngx_http_adcp_zone_t *zone,
    ngx_str_t *tenant, ngx_uint_t recheck);
void ngx_http_adcp_zone_echo_add(ngx_http_adcp_zone_t *zone,
    ngx_str_t *message, ngx_msec_t ttl);
ngx_uint_t ngx_http_adcp_zone_echo_take(ngx_http_adcp_zone_t *zone,
    ngx_str_t *message);


#endif /* _NGX_HTTP_ADCP_ZONE_H_INCLUDED_ */
