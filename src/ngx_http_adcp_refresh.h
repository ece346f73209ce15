
/*
 * ngx_http_adcp_module: refresh ahead of expiry in a request of its own
 * (SPEC section 2, "The host's platform store"): a loopback HTTP/1.0
 * request to the address the buyer's request came in on, marked with the
 * host's secret, which the receiving worker answers by rebuilding the
 * tenant's platform for the host.
 */


#ifndef _NGX_HTTP_ADCP_REFRESH_H_INCLUDED_
#define _NGX_HTTP_ADCP_REFRESH_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


#define NGX_HTTP_ADCP_REFRESH_HEADER  "Adcp-Refresh"


ngx_int_t ngx_http_adcp_refresh_send(ngx_http_request_t *r,
    ngx_str_t *tenant, ngx_msec_t built, u_char *secret, ngx_msec_t timeout);
ngx_int_t ngx_http_adcp_refresh_marked(ngx_http_request_t *r,
    u_char *secret, ngx_str_t *tenant, ngx_msec_t *built);
void ngx_http_adcp_refresh_exit(void);


/*
 * The request may be this host's refresh request: its last header has
 * the marker's length (a buyer's request is told in a compare or two,
 * inline; ngx_http_adcp_refresh_marked() reads the marker)
 */

static ngx_inline ngx_uint_t
ngx_http_adcp_refresh_maybe(ngx_http_request_t *r)
{
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = r->headers_in.headers.last;
    h = part->elts;

    return part->nelts
           && h[part->nelts - 1].key.len
              == sizeof(NGX_HTTP_ADCP_REFRESH_HEADER) - 1;
}


#endif /* _NGX_HTTP_ADCP_REFRESH_H_INCLUDED_ */
