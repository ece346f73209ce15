
/*
 * ngx_http_adcp_module: Redis on nginx's event loop, the public side of
 * src/redis/ (hiredis is included only behind it, in
 * ngx_http_adcp_redis_private.h).  Two kinds of connection:
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
 * Commands are built with an argument list (bounds checked, no counted
 * lengths), scripts are called by SHA (EVALSHA, EVAL when Redis does not
 * know it), replies are read with readers returning C values, and the
 * keys the module uses are named in one table.  Knows nothing of tenants
 * or tasks.
 */


#ifndef _NGX_HTTP_ADCP_REDIS_H_INCLUDED_
#define _NGX_HTTP_ADCP_REDIS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_adcp_redis_conf.h"


/* the keys of Redis the module uses (ngx_http_adcp_redis_key()) */

typedef enum {
    NGX_HTTP_ADCP_KEY_TASKS = 0,   /* adcp:tasks, the stream of task ids */
    NGX_HTTP_ADCP_KEY_GROUP,       /* adcp, its consumer group */
    NGX_HTTP_ADCP_KEY_TASK,        /* adcp:task:<id>, a task's record */
    NGX_HTTP_ADCP_KEY_IDEM,        /* adcp:idem:<tenant>:<principal>:<key> */
    NGX_HTTP_ADCP_KEY_HOOKS,       /* adcp:hooks, the webhooks due: a sorted
                                      set of task ids, score = due (ms) */
    NGX_HTTP_ADCP_KEY_N
} ngx_http_adcp_redis_key_e;


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


/*
 * A Lua script, a commented C string where it is used; its SHA1 is
 * computed on first use.  Called with EVALSHA; Redis answering NOSCRIPT
 * (or a user without EVALSHA) has it sent again with EVAL, which caches
 * it for the next EVALSHA.
 */

typedef struct {
    ngx_str_t                   source;
    u_char                      sha1[40];
    unsigned                    hashed:1;
    unsigned                    no_evalsha:1;  /* refused to the user */
} ngx_http_adcp_redis_script_t;

#define ngx_http_adcp_redis_script(s)  { ngx_string(s), { 0 }, 0, 0 }


typedef struct ngx_http_adcp_redis_call_s  ngx_http_adcp_redis_call_t;
typedef struct ngx_http_adcp_redis_conn_s  ngx_http_adcp_redis_conn_t;


char *ngx_http_adcp_redis_parse(ngx_conf_t *cf,
    ngx_http_adcp_redis_conf_t *rcf);
ngx_int_t ngx_http_adcp_redis_start(ngx_cycle_t *cycle,
    ngx_http_adcp_redis_conf_t *rcf, ngx_http_adcp_redis_handlers_t *h);
void ngx_http_adcp_redis_stop(void);

ngx_http_adcp_redis_conn_t *ngx_http_adcp_redis_conn_create(
    ngx_http_adcp_redis_conf_t *rcf, ngx_msec_t deadline,
    ngx_uint_t cancelable, ngx_log_t *log);
void ngx_http_adcp_redis_conn_destroy(ngx_http_adcp_redis_conn_t *conn);
void ngx_http_adcp_redis_cancel(ngx_http_adcp_redis_call_t *call);
void ngx_http_adcp_redis_reset(void);

/* commands: on conn, or (NULL) on the worker's command connection */

ngx_int_t ngx_http_adcp_redis_args_init(ngx_http_adcp_redis_args_t *a,
    ngx_pool_t *pool, ngx_uint_t max);
void ngx_http_adcp_redis_args_set(ngx_http_adcp_redis_args_t *a,
    const char **argv, size_t *len, ngx_uint_t max);
void ngx_http_adcp_redis_arg(ngx_http_adcp_redis_args_t *a,
    const void *data, size_t len);
void ngx_http_adcp_redis_arg_uint(ngx_http_adcp_redis_args_t *a,
    ngx_uint_t n);
void ngx_http_adcp_redis_arg_key(ngx_http_adcp_redis_args_t *a,
    ngx_http_adcp_redis_key_e key);
ngx_int_t ngx_http_adcp_redis_key(ngx_pool_t *pool,
    ngx_http_adcp_redis_key_e key, ngx_str_t *out, ngx_uint_t n,
    ngx_str_t *parts);
ngx_http_adcp_redis_call_t *ngx_http_adcp_redis_send(
    ngx_http_adcp_redis_conf_t *rcf, ngx_http_adcp_redis_conn_t *conn,
    ngx_http_adcp_redis_reply_pt handler, void *data,
    ngx_http_adcp_redis_args_t *a);
ngx_http_adcp_redis_call_t *ngx_http_adcp_redis_eval(
    ngx_http_adcp_redis_conf_t *rcf, ngx_http_adcp_redis_script_t *script,
    ngx_http_adcp_redis_reply_pt handler, void *data,
    ngx_http_adcp_redis_args_t *a);

#define ngx_http_adcp_redis_args_local(a, av, lv)                             \
    ngx_http_adcp_redis_args_set(a, av, lv, sizeof(av) / sizeof(av[0]))
#define ngx_http_adcp_redis_arg_lit(a, s)                                     \
    ngx_http_adcp_redis_arg(a, s, sizeof(s) - 1)
#define ngx_http_adcp_redis_arg_str(a, s)                                     \
    ngx_http_adcp_redis_arg(a, (s)->data, (s)->len)

/* replies: NGX_OK and the value, or NGX_DECLINED (another type, or none) */

ngx_int_t ngx_http_adcp_redis_string(ngx_http_adcp_redis_reply_t *reply,
    ngx_str_t *s);
ngx_int_t ngx_http_adcp_redis_integer(ngx_http_adcp_redis_reply_t *reply,
    int64_t *n);
ngx_int_t ngx_http_adcp_redis_error(ngx_http_adcp_redis_reply_t *reply,
    ngx_str_t *s);
ngx_int_t ngx_http_adcp_redis_failed(ngx_http_adcp_redis_reply_t *reply,
    ngx_str_t *s);
ngx_int_t ngx_http_adcp_redis_array(ngx_http_adcp_redis_reply_t *reply,
    size_t *n);
ngx_http_adcp_redis_reply_t *ngx_http_adcp_redis_element(
    ngx_http_adcp_redis_reply_t *reply, size_t i);
ngx_http_adcp_redis_reply_t *ngx_http_adcp_redis_field(
    ngx_http_adcp_redis_reply_t *map, char *name);


#endif /* _NGX_HTTP_ADCP_REDIS_H_INCLUDED_ */
