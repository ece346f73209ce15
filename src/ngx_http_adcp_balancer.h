
/*
 * ngx_http_adcp_balancer_module: adcp_balancer, an upstream{} whose peer
 * for each request is its platform's upstream (SPEC section 2,
 * "Forwarding without a per-request URL parse").
 */


#ifndef _NGX_HTTP_ADCP_BALANCER_H_INCLUDED_
#define _NGX_HTTP_ADCP_BALANCER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_adcp.h"


extern ngx_module_t  ngx_http_adcp_balancer_module;

ngx_int_t ngx_http_adcp_balancer_prepare(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx);


#endif /* _NGX_HTTP_ADCP_BALANCER_H_INCLUDED_ */
