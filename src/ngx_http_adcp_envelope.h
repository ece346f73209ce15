
/*
 * ngx_http_adcp_module: the request envelope.
 *
 * A streaming (yajl callback) parse of a JSON-RPC body that takes the
 * request's id, the kind of its method and the AdCP task name, reads the
 * body to its end (a member the module reads, found twice in its object,
 * is refused: one reading for the gateway and the adapter) and never
 * copies the body.
 */


#ifndef _NGX_HTTP_ADCP_ENVELOPE_H_INCLUDED_
#define _NGX_HTTP_ADCP_ENVELOPE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/* what the method names */
#define NGX_HTTP_ADCP_METHOD_NONE      0   /* not JSON-RPC: no string method */
#define NGX_HTTP_ADCP_METHOD_OTHER     1   /* initialize, tools/list, ... */
#define NGX_HTTP_ADCP_METHOD_MCP_CALL  2   /* tools/call */
#define NGX_HTTP_ADCP_METHOD_A2A       3   /* message/send, SendMessage, ... */

/* why a body was refused */
#define NGX_HTTP_ADCP_ENV_OK           0
#define NGX_HTTP_ADCP_ENV_SYNTAX       1   /* not JSON */
#define NGX_HTTP_ADCP_ENV_AMBIGUOUS    2   /* two data parts naming a skill */
#define NGX_HTTP_ADCP_ENV_DEPTH        3   /* nested deeper than we follow */
#define NGX_HTTP_ADCP_ENV_TASK         4   /* a control character in the
                                              task name ($adcp_task may go
                                              into a header) */
#define NGX_HTTP_ADCP_ENV_DUPLICATE    5   /* a member the module reads
                                              twice in its object */
#define NGX_HTTP_ADCP_ENV_BATCH        6   /* a JSON-RPC batch (an array) */

#define NGX_HTTP_ADCP_ENV_MAX_DEPTH    512
#define NGX_HTTP_ADCP_ENV_MAX_ID       4096


typedef struct {
    ngx_str_t   id;        /* the id as JSON text, "" when absent;
                              request pool, or the body's buffer (the
                              fast path: the body is kept) */
    ngx_str_t   task;      /* AdCP task name, "" when none; request pool
                              or the body's buffer */
    char       *dup;       /* the member found twice ("params.name"),
                              static; NULL when none */
    ngx_uint_t  method;    /* NGX_HTTP_ADCP_METHOD_* */
    ngx_uint_t  error;     /* NGX_HTTP_ADCP_ENV_* */
} ngx_http_adcp_envelope_t;


typedef struct ngx_http_adcp_envelope_parser_s
    ngx_http_adcp_envelope_parser_t;


ngx_http_adcp_envelope_parser_t *ngx_http_adcp_envelope_create(
    ngx_pool_t *pool, ngx_http_adcp_envelope_t *env);
ngx_int_t ngx_http_adcp_envelope_feed(ngx_http_adcp_envelope_parser_t *p,
    u_char *data, size_t len);
void ngx_http_adcp_envelope_finish(ngx_http_adcp_envelope_parser_t *p);

ngx_int_t ngx_http_adcp_envelope_fast(ngx_pool_t *pool, u_char *p,
    u_char *last, ngx_http_adcp_envelope_t *env);
ngx_int_t ngx_http_adcp_envelope_parse_chain(ngx_pool_t *pool,
    ngx_chain_t *in, ngx_http_adcp_envelope_t *env, ngx_log_t *log);


#endif /* _NGX_HTTP_ADCP_ENVELOPE_H_INCLUDED_ */
