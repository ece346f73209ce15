
/*
 * ngx_http_adcp_error_pages_module: adcp_error_pages, nginx's and the
 * adapter's 5xx pages as AdCP errors (SPEC section 3).
 */


#ifndef _NGX_HTTP_ADCP_ERROR_PAGE_H_INCLUDED_
#define _NGX_HTTP_ADCP_ERROR_PAGE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


extern ngx_module_t  ngx_http_adcp_error_pages_module;


#endif /* _NGX_HTTP_ADCP_ERROR_PAGE_H_INCLUDED_ */
