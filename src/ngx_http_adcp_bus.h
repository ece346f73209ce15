
/*
 * ngx_http_adcp_module: invalidation messages from Redis (SPEC section 6),
 * applied to the shared zone.
 */


#ifndef _NGX_HTTP_ADCP_BUS_H_INCLUDED_
#define _NGX_HTTP_ADCP_BUS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_adcp.h"


ngx_int_t ngx_http_adcp_bus_init_worker(ngx_cycle_t *cycle,
    ngx_http_adcp_main_conf_t *amcf);
void ngx_http_adcp_bus_exit_worker(void);
ngx_int_t ngx_http_adcp_bus_parse(ngx_str_t *message, ngx_str_t *tenant,
    ngx_uint_t *recheck);


#endif /* _NGX_HTTP_ADCP_BUS_H_INCLUDED_ */
