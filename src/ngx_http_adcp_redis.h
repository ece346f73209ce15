
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
    ngx_str_t                  name;      /* as configured, for logs */
    ngx_str_t                  host;      /* numeric, NUL-terminated */
    ngx_int_t                  port;
    ngx_str_t                  path;      /* unix socket, NUL-terminated */
    ngx_str_t                  user;
    ngx_str_t                  password;
    ngx_int_t                  db;        /* -1: none */
    ngx_str_t                  channel;
    ngx_str_t                  log;       /* <channel>:log */
    ngx_msec_t                 ping;
    ngx_msec_t                 down_ttl;
} ngx_http_adcp_redis_conf_t;


typedef struct {
    void                     (*message)(ngx_str_t *message, void *data);
    void                     (*state)(ngx_uint_t state, void *data);
    void                     (*renew)(void *data);    /* a renewal sent */
    void                     (*renewed)(void *data);  /* ... confirmed */
    void                      *data;
} ngx_http_adcp_redis_handlers_t;


/* a reply, read through the functions below (NULL: no reply) */
typedef struct redisReply  ngx_http_adcp_redis_reply_t;

/* reply is NULL when the command failed: no connection, or no answer */
typedef void (*ngx_http_adcp_redis_reply_pt)(
    ngx_http_adcp_redis_reply_t *reply, void *data);


/*
 * A command's arguments: room for max, counted as they are added; one
 * too many marks the list overflowed and the command is never sent.
 */

typedef struct {
    const char                **argv;
    size_t                     *len;
    ngx_uint_t                  n;
    ngx_uint_t                  max;
    ngx_pool_t                 *pool;     /* numbers are printed here */
    unsigned                    overflow:1;
} ngx_http_adcp_redis_args_t;

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
void ngx_http_adcp_redis_cancel(ngx_http_adcp_redis_call_t *call);

ngx_int_t ngx_http_adcp_redis_args_init(ngx_http_adcp_redis_args_t *a,
    ngx_pool_t *pool, ngx_uint_t max);
void ngx_http_adcp_redis_args_set(ngx_http_adcp_redis_args_t *a,
    const char **argv, size_t *len, ngx_uint_t max);
void ngx_http_adcp_redis_arg(ngx_http_adcp_redis_args_t *a,
    const void *data, size_t len);
void ngx_http_adcp_redis_arg_uint(ngx_http_adcp_redis_args_t *a,
    ngx_uint_t n);
ngx_http_adcp_redis_call_t *ngx_http_adcp_redis_send(
    ngx_http_adcp_redis_conf_t *rcf, ngx_http_adcp_redis_conn_t *conn,
    ngx_http_adcp_redis_reply_pt handler, void *data,
    ngx_http_adcp_redis_args_t *a);

#define ngx_http_adcp_redis_args_local(a, av, lv)                             \
    ngx_http_adcp_redis_args_set(a, av, lv, sizeof(av) / sizeof(av[0]))
#define ngx_http_adcp_redis_arg_lit(a, s)                                     \
    ngx_http_adcp_redis_arg(a, s, sizeof(s) - 1)
#define ngx_http_adcp_redis_arg_str(a, s)                                     \
    ngx_http_adcp_redis_arg(a, (s)->data, (s)->len)

ngx_int_t ngx_http_adcp_redis_string(ngx_http_adcp_redis_reply_t *reply,
    ngx_str_t *s);
ngx_int_t ngx_http_adcp_redis_integer(ngx_http_adcp_redis_reply_t *reply,
    int64_t *n);
ngx_int_t ngx_http_adcp_redis_error(ngx_http_adcp_redis_reply_t *reply,
    ngx_str_t *s);
ngx_int_t ngx_http_adcp_redis_array(ngx_http_adcp_redis_reply_t *reply,
    size_t *n);
ngx_http_adcp_redis_reply_t *ngx_http_adcp_redis_element(
    ngx_http_adcp_redis_reply_t *reply, size_t i);
void ngx_http_adcp_redis_reset(void);


#endif /* _NGX_HTTP_ADCP_REDIS_H_INCLUDED_ */
