
/*
 * ngx_http_adcp_module: the buyer's X-AdCP-* headers taken out of its
 * request (the gateway's voice to the adapter), X-AdCP-Auth kept.
 */


#ifndef _NGX_HTTP_ADCP_HEADERS_H_INCLUDED_
#define _NGX_HTTP_ADCP_HEADERS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


ngx_int_t ngx_http_adcp_headers_from(ngx_http_request_t *r,
    ngx_list_part_t *part, ngx_uint_t i);


/*
 * The request's X-AdCP-* headers removed: every request's headers are
 * looked at here, inline, most with one compare of their name's length
 * and one of its first byte; from the first X- header of 7 bytes or more
 * on, ngx_http_adcp_headers_from() goes on (out of the caller's frame)
 */

static ngx_inline ngx_int_t
ngx_http_adcp_headers_clean(ngx_http_request_t *r)
{
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h, *last;

    part = &r->headers_in.headers.part;

    do {
        h = part->elts;

        for (last = h + part->nelts; h < last; h++) {
            if (h->key.len >= sizeof("X-AdCP-") - 1
                && (h->key.data[0] | 0x20) == 'x')
            {
                return ngx_http_adcp_headers_from(r, part,
                                                  h - (ngx_table_elt_t *)
                                                      part->elts);
            }
        }

        part = part->next;

    } while (part);

    return NGX_OK;
}


#endif /* _NGX_HTTP_ADCP_HEADERS_H_INCLUDED_ */
