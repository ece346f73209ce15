
/*
 * ngx_http_adcp_module: what adcp_redis configures, and the link's states
 * as the zone shows them.  No hiredis here: the main conf holds this.
 */


#ifndef _NGX_HTTP_ADCP_REDIS_CONF_H_INCLUDED_
#define _NGX_HTTP_ADCP_REDIS_CONF_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


#define NGX_HTTP_ADCP_REDIS_OFF          0
#define NGX_HTTP_ADCP_REDIS_CONNECTING   1
#define NGX_HTTP_ADCP_REDIS_SUBSCRIBED   2
#define NGX_HTTP_ADCP_REDIS_BACKOFF      3


/* where the master's address comes from when not configured (Sentinel) */
typedef struct ngx_http_adcp_redis_source_s  ngx_http_adcp_redis_source_t;


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
    ngx_http_adcp_redis_source_t *source; /* ... called through this */
    ngx_uint_t                 replicas;  /* adcp_task_durability */
    ngx_msec_t                 replicas_timeout;
} ngx_http_adcp_redis_conf_t;


#endif /* _NGX_HTTP_ADCP_REDIS_CONF_H_INCLUDED_ */
