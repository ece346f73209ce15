
/*
 * ngx_http_adcp_module: invalidation messages through Redis (SPEC section
 * 6): published by the admin endpoint, applied to the shared zone.
 */


#ifndef _NGX_HTTP_ADCP_BUS_H_INCLUDED_
#define _NGX_HTTP_ADCP_BUS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_adcp.h"


typedef struct ngx_http_adcp_bus_publish_s  ngx_http_adcp_bus_publish_t;

/* entry: the log entry's id ("": not taken), subscribers -1 then */
typedef void (*ngx_http_adcp_bus_published_pt)(void *data, ngx_str_t *entry,
    int64_t subscribers);


ngx_int_t ngx_http_adcp_bus_init_worker(ngx_cycle_t *cycle,
    ngx_http_adcp_main_conf_t *amcf);
void ngx_http_adcp_bus_exit_worker(void);
ngx_int_t ngx_http_adcp_bus_parse(ngx_str_t *message, ngx_str_t *tenant,
    ngx_uint_t *recheck);
ngx_http_adcp_bus_publish_t *ngx_http_adcp_bus_publish(ngx_pool_t *pool,
    ngx_http_adcp_main_conf_t *amcf, ngx_str_t *tenant, ngx_uint_t recheck,
    ngx_http_adcp_bus_published_pt done, void *data);
void ngx_http_adcp_bus_publish_cancel(ngx_http_adcp_bus_publish_t *pub);


#endif /* _NGX_HTTP_ADCP_BUS_H_INCLUDED_ */
