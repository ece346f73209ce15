
/*
 * ngx_http_adcp_module: the buyer's X-AdCP-* headers taken out of its
 * request (the gateway's voice to the adapter), X-AdCP-Auth kept.
 */


#ifndef _NGX_HTTP_ADCP_HEADERS_H_INCLUDED_
#define _NGX_HTTP_ADCP_HEADERS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


ngx_int_t ngx_http_adcp_headers_clean(ngx_http_request_t *r);


#endif /* _NGX_HTTP_ADCP_HEADERS_H_INCLUDED_ */
