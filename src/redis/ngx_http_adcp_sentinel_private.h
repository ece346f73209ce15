
/*
 * ngx_http_adcp_module: what Sentinel's two files share (nothing else
 * includes it): the configuration, this worker's rounds, the host's view.
 */


#ifndef _NGX_HTTP_ADCP_SENTINEL_PRIVATE_H_INCLUDED_
#define _NGX_HTTP_ADCP_SENTINEL_PRIVATE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_http_adcp_redis_private.h"
#include "ngx_http_adcp_sentinel.h"


#define NGX_HTTP_ADCP_SENTINEL_ROUND     1000
#define NGX_HTTP_ADCP_SENTINEL_WATCH     100
#define NGX_HTTP_ADCP_SENTINEL_ASK       1000
#define NGX_HTTP_ADCP_SENTINEL_RETRY     1000
#define NGX_HTTP_ADCP_SENTINEL_RETRY_MAX 10000

#define NGX_HTTP_ADCP_SENTINEL_IDLE      0
#define NGX_HTTP_ADCP_SENTINEL_ASKING    1
#define NGX_HTTP_ADCP_SENTINEL_DECIDE    2
#define NGX_HTTP_ADCP_SENTINEL_CHECKING  3
#define NGX_HTTP_ADCP_SENTINEL_CHECKED   4

#define NGX_HTTP_ADCP_SENTINEL_HOST_LEN  (NGX_SOCKADDR_STRLEN + 1)


/* the host's view, in shared memory */

typedef struct {
    ngx_atomic_t                 gen;        /* master changes; 0: none */
    ngx_atomic_t                 failovers;
    ngx_atomic_t                 check;      /* a connection asks: check
                                                the master again */
    ngx_atomic_t                 up[NGX_HTTP_ADCP_SENTINELS_MAX];
    ngx_int_t                    port;
    u_char                       host[NGX_HTTP_ADCP_SENTINEL_HOST_LEN];
    u_char                       last[NGX_HTTP_ADCP_SENTINEL_HOST_LEN + 8];
                                             /* the last master ever:
                                                failovers */
} ngx_http_adcp_sentinel_sh_t;


typedef struct {
    ngx_http_adcp_redis_conf_t   rcf;        /* its address(es) */
    void                        *owner;      /* the _sentinel_t */
    ngx_http_adcp_redis_conn_t  *conn;
    ngx_http_adcp_redis_call_t  *call;
    ngx_msec_t                   retry_at;   /* down: asked again then */
    ngx_msec_t                   backoff;
    ngx_int_t                    port;       /* its answer; 0: none */
    u_char                       host[NGX_HTTP_ADCP_SENTINEL_HOST_LEN];
    unsigned                     bad:1;      /* its answer was logged */
    unsigned                     down:1;     /* ... its silence */
} ngx_http_adcp_sentinel_node_t;


typedef struct {
    ngx_array_t                  nodes;      /* _node_t */
    ngx_str_t                   *names;      /* each "host:port" */
    ngx_str_t                    master;     /* the name sentinels know */
    ngx_shm_zone_t              *shm_zone;
    ngx_http_adcp_redis_conf_t  *data;       /* the data nodes' conf */

    /* this worker's copy of the master in use */
    ngx_http_adcp_redis_addr_t   addr;
    ngx_uint_t                   gen;
    ngx_event_t                  watch;

    /* the rounds (the link's worker) */
    ngx_event_t                  round;
    ngx_uint_t                   state;
    ngx_uint_t                   waiting;    /* answers to come */
    ngx_uint_t                   candidate;  /* the node being checked */
    ngx_uint_t                   check;      /* this round checks again */
    ngx_uint_t                   role;       /* 1 master, 0 not, -1 no
                                                answer */
    ngx_http_adcp_redis_conf_t   probe;      /* ROLE on a candidate */
    ngx_http_adcp_redis_addr_t   probe_addr;
    u_char                       current[NGX_HTTP_ADCP_SENTINEL_HOST_LEN];
    ngx_http_adcp_redis_conn_t  *probe_conn;
    ngx_http_adcp_redis_call_t  *probe_call;
    ngx_log_t                   *log;

    /* +switch-master */
    ngx_http_adcp_redis_conn_t  *sub_conn;
    ngx_http_adcp_redis_call_t  *sub_call;   /* NULL: none */
    ngx_uint_t                   sub_node;

    unsigned                     running:1;
    unsigned                     stopping:1;
    unsigned                     again:1;    /* a round right after this */
} ngx_http_adcp_sentinel_t;


ngx_http_adcp_sentinel_sh_t *ngx_http_adcp_sentinel_sh(
    ngx_http_adcp_sentinel_t *s);
void ngx_http_adcp_sentinel_step(ngx_event_t *ev);
void ngx_http_adcp_sentinel_ask(ngx_http_adcp_sentinel_t *s);
void ngx_http_adcp_sentinel_set_addr(ngx_http_adcp_redis_addr_t *a,
    u_char *host, ngx_int_t port);


#endif /* _NGX_HTTP_ADCP_SENTINEL_PRIVATE_H_INCLUDED_ */
