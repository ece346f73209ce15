
/*
 * ngx_http_adcp_module: a subscribed Redis connection on nginx's event
 * loop (hiredis' async API, with an adapter of our own).  Knows nothing
 * of tenants: it hands each message to a callback.
 */


#ifndef _NGX_HTTP_ADCP_REDIS_H_INCLUDED_
#define _NGX_HTTP_ADCP_REDIS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


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
    ngx_msec_t                 ping;
    ngx_msec_t                 down_ttl;
} ngx_http_adcp_redis_conf_t;


typedef void (*ngx_http_adcp_redis_message_pt)(ngx_str_t *message,
    void *data);
typedef void (*ngx_http_adcp_redis_state_pt)(ngx_uint_t state, void *data);


char *ngx_http_adcp_redis_parse(ngx_conf_t *cf,
    ngx_http_adcp_redis_conf_t *rcf);
ngx_int_t ngx_http_adcp_redis_start(ngx_cycle_t *cycle,
    ngx_http_adcp_redis_conf_t *rcf, ngx_http_adcp_redis_message_pt message,
    ngx_http_adcp_redis_state_pt state, void *data);
void ngx_http_adcp_redis_stop(void);


#endif /* _NGX_HTTP_ADCP_REDIS_H_INCLUDED_ */
