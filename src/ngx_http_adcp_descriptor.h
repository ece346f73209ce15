
/*
 * ngx_http_adcp_module: the platform descriptor, the factory's 2xx JSON
 * body (SPEC section 2), parsed into a platform that owns its own pool.
 */


#ifndef _NGX_HTTP_ADCP_DESCRIPTOR_H_INCLUDED_
#define _NGX_HTTP_ADCP_DESCRIPTOR_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_adcp_cache.h"


#define NGX_HTTP_ADCP_DESCRIPTOR_MAX    65536
#define NGX_HTTP_ADCP_DESCRIPTOR_DEPTH  32


ngx_http_adcp_platform_t *ngx_http_adcp_descriptor_parse(ngx_str_t *tenant,
    u_char *data, size_t len, ngx_log_t *log, const char **why);
ngx_str_t *ngx_http_adcp_platform_upstream(ngx_http_adcp_platform_t *pf,
    ngx_str_t *task);
ngx_uint_t ngx_http_adcp_platform_allows(ngx_http_adcp_platform_t *pf,
    ngx_str_t *task);
ngx_str_t *ngx_http_adcp_platform_var(ngx_http_adcp_platform_t *pf,
    u_char *name, size_t len);


#endif /* _NGX_HTTP_ADCP_DESCRIPTOR_H_INCLUDED_ */
