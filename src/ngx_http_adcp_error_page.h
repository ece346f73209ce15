
/*
 * ngx_http_adcp_module: adcp_error_pages, nginx's and the adapter's 5xx
 * pages as AdCP errors (SPEC section 3).
 */


#ifndef _NGX_HTTP_ADCP_ERROR_PAGE_H_INCLUDED_
#define _NGX_HTTP_ADCP_ERROR_PAGE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


ngx_int_t ngx_http_adcp_error_page_init_filter(ngx_conf_t *cf);


#endif /* _NGX_HTTP_ADCP_ERROR_PAGE_H_INCLUDED_ */
