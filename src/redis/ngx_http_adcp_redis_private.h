
/*
 * ngx_http_adcp_module: what src/redis/'s files share.  The one place
 * hiredis is included.
 */


#ifndef _NGX_HTTP_ADCP_REDIS_PRIVATE_H_INCLUDED_
#define _NGX_HTTP_ADCP_REDIS_PRIVATE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "ngx_http_adcp_redis.h"


/* a hiredis context on nginx's event loop */

typedef struct {
    redisAsyncContext               *ac;        /* the current one */
    ngx_http_adcp_redis_conf_t      *conf;
    ngx_log_t                       *log;
    ngx_uint_t                       addr;      /* the address to use */
    ngx_uint_t                       failed;    /* addresses failed in a
                                                   row */
    ngx_uint_t                       gen;       /* Sentinel: the master's
                                                   generation it uses */
} ngx_http_adcp_redis_io_t;


/* one hiredis context's socket; its own, so that a context being freed
   never touches the one that replaced it */

typedef struct {
    ngx_http_adcp_redis_io_t        *io;
    redisAsyncContext               *ac;
    ngx_connection_t                *c;
    unsigned                         next:1;    /* its connect failed and
                                                   another address is
                                                   tried: its commands go
                                                   there */
} ngx_http_adcp_redis_sock_t;


typedef struct {
    ngx_http_adcp_redis_io_t         io;
    ngx_event_t                      timer;
    ngx_uint_t                       state;
    ngx_msec_t                       backoff;
    ngx_http_adcp_redis_handlers_t   h;
    unsigned                         probe:1;     /* a renewal unanswered */
    unsigned                         closing:1;   /* by the connect
                                                     deadline */
    unsigned                         exiting:1;
} ngx_http_adcp_redis_link_t;


struct ngx_http_adcp_redis_conn_s {
    ngx_http_adcp_redis_io_t         io;
    ngx_event_t                      timer;       /* the reply deadline */
    ngx_msec_t                       deadline;    /* 0: adcp_redis_ping */
    ngx_uint_t                       pending;
    ngx_queue_t                      queue;       /* Sentinel: moved */
    unsigned                         exiting:1;
};

typedef ngx_http_adcp_redis_conn_t  ngx_http_adcp_redis_cmd_t;


/*
 * A command sent: malloc()ed, freed once answered.  A script's call
 * (ngx_http_adcp_redis_eval()) holds a copy of its arguments, so that
 * retry can send it again as EVAL on the same call.
 */

struct ngx_http_adcp_redis_call_s {
    ngx_http_adcp_redis_reply_pt     handler;     /* NULL: cancelled */
    void                            *data;
    char                            *cmd;         /* formatted, kept for
                                                     the next address */
    int                              len;
    ngx_int_t                      (*retry)(ngx_http_adcp_redis_call_t *call,
                                        redisReply *reply);
                                                  /* NGX_OK: sent again */
    ngx_http_adcp_redis_conn_t      *conn;
    ngx_http_adcp_redis_script_t    *script;
    int                              argc;
    const char                     **argv;
    size_t                          *argvlen;
    unsigned                         persist:1;   /* SUBSCRIBE: every
                                                     message, until the
                                                     connection goes */
    unsigned                         confirmed:1;
};


/*
 * The master's source (Sentinel), set by the parse of "sentinel=": the
 * connections call it through rcf->source (it calls them back directly)
 */

struct ngx_http_adcp_redis_source_s {
    void                           (*start)(ngx_cycle_t *cycle,
                                        ngx_http_adcp_redis_conf_t *rcf);
    void                           (*stop)(ngx_http_adcp_redis_conf_t *rcf);
    ngx_int_t                      (*sync)(ngx_http_adcp_redis_conf_t *rcf,
                                        ngx_uint_t *gen);
    void                           (*lost)(ngx_http_adcp_redis_conf_t *rcf,
                                        const char *why);
};


ngx_int_t ngx_http_adcp_redis_param(ngx_conf_t *cf,
    ngx_http_adcp_redis_conf_t *rcf, ngx_str_t *value);
ngx_int_t ngx_http_adcp_redis_open(ngx_http_adcp_redis_io_t *io,
    void *owner, redisConnectCallback *on_connect,
    redisDisconnectCallback *on_disconnect);
void ngx_http_adcp_redis_close(ngx_http_adcp_redis_io_t *io);
ngx_uint_t ngx_http_adcp_redis_next(ngx_http_adcp_redis_io_t *io,
    const char *err);
ngx_str_t *ngx_http_adcp_redis_addr(ngx_http_adcp_redis_io_t *io);

ngx_http_adcp_redis_call_t *ngx_http_adcp_redis_conn_command(
    ngx_http_adcp_redis_conn_t *conn, ngx_http_adcp_redis_reply_pt handler,
    void *data, int argc, const char **argv, const size_t *argvlen);
ngx_http_adcp_redis_call_t *ngx_http_adcp_redis_conn_subscribe(
    ngx_http_adcp_redis_conn_t *conn, ngx_http_adcp_redis_reply_pt handler,
    void *data, int argc, const char **argv, const size_t *argvlen);
void ngx_http_adcp_redis_moved(ngx_http_adcp_redis_conf_t *rcf);

ngx_http_adcp_redis_conn_t *ngx_http_adcp_redis_cmd_conn(
    ngx_http_adcp_redis_conf_t *rcf);
ngx_int_t ngx_http_adcp_redis_conn_send(ngx_http_adcp_redis_conn_t *conn,
    ngx_http_adcp_redis_call_t *call, int argc, const char **argv,
    const size_t *argvlen);


#endif /* _NGX_HTTP_ADCP_REDIS_PRIVATE_H_INCLUDED_ */
