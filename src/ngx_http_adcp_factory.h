
/*
 * ngx_http_adcp_module: resolving a request's platform through the cache
 * and, on a miss, one factory subrequest per tenant and worker
 * (singleflight).
 */


#ifndef _NGX_HTTP_ADCP_FACTORY_H_INCLUDED_
#define _NGX_HTTP_ADCP_FACTORY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_adcp.h"


ngx_int_t ngx_http_adcp_factory_resolve(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx);
ngx_int_t ngx_http_adcp_factory_refresh(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx, ngx_msec_t after);
ngx_int_t ngx_http_adcp_factory_init_filter(ngx_conf_t *cf);
ngx_http_adcp_ctx_t *ngx_http_adcp_factory_validator_ctx(
    ngx_http_request_t *r);
ngx_int_t ngx_http_adcp_factory_init_worker(ngx_cycle_t *cycle,
    ngx_http_adcp_main_conf_t *amcf);

char *ngx_http_adcp_factory(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_adcp_validator(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_adcp_failure_ttl(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_adcp_cache_shared(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_adcp_cache_refresh(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


#endif /* _NGX_HTTP_ADCP_FACTORY_H_INCLUDED_ */
