
/*
 * ngx_http_adcp_module: the Redis master as Redis Sentinel names it
 * (SPEC section 6).
 *
 * The worker that holds the link asks every sentinel, in rounds, which
 * address the master has (SENTINEL get-master-addr-by-name), checks a
 * new one with ROLE, and publishes it in a small shared zone with a
 * generation.  Every worker watches the generation: a new master closes
 * its connections (ngx_http_adcp_redis_moved()), the next ones go there.
 * A connection that lost the master, or a READONLY reply, asks for a
 * round that checks the master in use again.
 */


#ifndef _NGX_HTTP_ADCP_SENTINEL_H_INCLUDED_
#define _NGX_HTTP_ADCP_SENTINEL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_adcp_redis.h"


#define NGX_HTTP_ADCP_SENTINELS_MAX  16


typedef struct {
    ngx_str_t                  master;      /* "host:port", "" none */
    ngx_uint_t                 failovers;
    ngx_uint_t                 n;
    ngx_str_t                 *names;       /* each "host:port" */
    ngx_uint_t                 up[NGX_HTTP_ADCP_SENTINELS_MAX];
} ngx_http_adcp_sentinel_info_t;


char *ngx_http_adcp_sentinel_parse(ngx_conf_t *cf,
    ngx_http_adcp_redis_conf_t *rcf);
void ngx_http_adcp_sentinel_start(ngx_cycle_t *cycle,
    ngx_http_adcp_redis_conf_t *rcf);
void ngx_http_adcp_sentinel_stop(ngx_http_adcp_redis_conf_t *rcf);
ngx_int_t ngx_http_adcp_sentinel_sync(ngx_http_adcp_redis_conf_t *rcf,
    ngx_uint_t *gen);
void ngx_http_adcp_sentinel_lost(ngx_http_adcp_redis_conf_t *rcf,
    const char *why);
ngx_int_t ngx_http_adcp_sentinel_info(ngx_http_adcp_redis_conf_t *rcf,
    ngx_http_adcp_sentinel_info_t *info, u_char *buf, size_t size);


#endif /* _NGX_HTTP_ADCP_SENTINEL_H_INCLUDED_ */
