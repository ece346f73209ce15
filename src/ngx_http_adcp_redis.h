
/*
 * ngx_http_adcp_module: Redis on nginx's event loop (hiredis' async API,
 * with an adapter of our own).  Two kinds of connection:
 *
 *   the link      one per host (worker 0): subscribed to the channel,
 *                 kept alive, reconnected with backoff
 *   commands      one per worker, opened on first use: each command gets
 *                 its reply, or NULL once the connection failed or went
 *                 past its deadline (adcp_redis_ping)
 *   others        command connections of the same kind, created by a
 *                 feature for itself (the task consumer's blocking
 *                 XREADGROUP), with their own deadline
 *
 * Knows nothing of tenants.
 */


#ifndef _NGX_HTTP_ADCP_REDIS_H_INCLUDED_
#define _NGX_HTTP_ADCP_REDIS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include <hiredis/hiredis.h>


#define NGX_HTTP_ADCP_REDIS_OFF          0
#define NGX_HTTP_ADCP_REDIS_CONNECTING   1
#define NGX_HTTP_ADCP_REDIS_SUBSCRIBED   2
#define NGX_HTTP_ADCP_REDIS_BACKOFF      3


typedef struct {
    ngx_str_t                  host;      /* numeric, NUL-terminated */
    ngx_str_t                  text;      /* with the port, for logs */
} ngx_http_adcp_redis_addr_t;


typedef struct {
    ngx_str_t                  name;      /* as configured, for logs */
    ngx_http_adcp_redis_addr_t *addrs;    /* what the name resolved to */
    ngx_uint_t                 naddrs;
    ngx_int_t                  port;
    ngx_str_t                  path;      /* unix socket, NUL-terminated */
    ngx_str_t                  user;
    ngx_str_t                  password;
    ngx_int_t                  db;        /* -1: none */
    ngx_str_t                  channel;
    ngx_str_t                  log;       /* <channel>:log */
    ngx_msec_t                 ping;
    ngx_msec_t                 down_ttl;
    void                      *sentinel;  /* Sentinel: the master's source
                                             (ngx_http_adcp_sentinel.c) */
    ngx_uint_t                 replicas;  /* adcp_task_durability */
    ngx_msec_t                 replicas_timeout;
} ngx_http_adcp_redis_conf_t;


typedef struct {
    void                     (*message)(ngx_str_t *message, void *data);
    void                     (*state)(ngx_uint_t state, void *data);
    void                     (*renew)(void *data);    /* a renewal sent */
    void                     (*renewed)(void *data);  /* ... confirmed */
    void                      *data;
} ngx_http_adcp_redis_handlers_t;


/* reply is NULL when the command failed: no connection, or no answer */
typedef void (*ngx_http_adcp_redis_reply_pt)(redisReply *reply, void *data);

typedef struct ngx_http_adcp_redis_call_s  ngx_http_adcp_redis_call_t;
typedef struct ngx_http_adcp_redis_conn_s  ngx_http_adcp_redis_conn_t;


char *ngx_http_adcp_redis_parse(ngx_conf_t *cf,
    ngx_http_adcp_redis_conf_t *rcf);
ngx_int_t ngx_http_adcp_redis_start(ngx_cycle_t *cycle,
    ngx_http_adcp_redis_conf_t *rcf, ngx_http_adcp_redis_handlers_t *h);
void ngx_http_adcp_redis_stop(void);

ngx_http_adcp_redis_call_t *ngx_http_adcp_redis_command(
    ngx_http_adcp_redis_conf_t *rcf, ngx_http_adcp_redis_reply_pt handler,
    void *data, int argc, const char **argv, const size_t *argvlen);
ngx_http_adcp_redis_conn_t *ngx_http_adcp_redis_conn_create(
    ngx_http_adcp_redis_conf_t *rcf, ngx_msec_t deadline,
    ngx_uint_t cancelable, ngx_log_t *log);
void ngx_http_adcp_redis_conn_destroy(ngx_http_adcp_redis_conn_t *conn);
ngx_http_adcp_redis_call_t *ngx_http_adcp_redis_conn_command(
    ngx_http_adcp_redis_conn_t *conn, ngx_http_adcp_redis_reply_pt handler,
    void *data, int argc, const char **argv, const size_t *argvlen);
ngx_http_adcp_redis_call_t *ngx_http_adcp_redis_conn_subscribe(
    ngx_http_adcp_redis_conn_t *conn, ngx_http_adcp_redis_reply_pt handler,
    void *data, int argc, const char **argv, const size_t *argvlen);
void ngx_http_adcp_redis_cancel(ngx_http_adcp_redis_call_t *call);
void ngx_http_adcp_redis_reset(void);
void ngx_http_adcp_redis_moved(ngx_http_adcp_redis_conf_t *rcf);


#endif /* _NGX_HTTP_ADCP_REDIS_H_INCLUDED_ */
