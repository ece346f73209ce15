
/*
 * ngx_http_adcp_module: the X-AdCP- namespace of a buyer's request.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_adcp_headers.h"


static ngx_uint_t ngx_http_adcp_header_ours(ngx_table_elt_t *h);
static ngx_uint_t ngx_http_adcp_header_is(u_char *name, char *lit);


/*
 * The X-AdCP- namespace is the gateway's voice to the adapter: the
 * buyer's X-AdCP-* headers are taken out of the request (before proxying,
 * before a task stores its headers), all but X-AdCP-Auth, the buyer's own
 * credential in AdCP's convention.  The list is built anew only when there
 * is one: the known headers' pointers (Host, ...) keep their elements.
 * ngx_http_adcp_headers_clean() (inline) found an X- header at element i
 * of part: whether it or a later one is ours is looked at from there.
 */

ngx_int_t
ngx_http_adcp_headers_from(ngx_http_request_t *r, ngx_list_part_t *part,
    ngx_uint_t i)
{
    ngx_uint_t        n;
    ngx_list_t        headers;
    ngx_table_elt_t  *h, *nh;

    for ( /* void */ ; part; part = part->next, i = 0) {
        h = part->elts;

        for ( /* void */ ; i < part->nelts; i++) {
            if (ngx_http_adcp_header_ours(&h[i])) {
                goto found;
            }
        }
    }

    return NGX_OK;

found:

    n = 0;

    for (part = &r->headers_in.headers.part; part; part = part->next) {
        n += part->nelts;
    }

    if (ngx_list_init(&headers, r->pool, n, sizeof(ngx_table_elt_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (part = &r->headers_in.headers.part; part; part = part->next) {
        h = part->elts;

        for (i = 0; i < part->nelts; i++) {
            if (ngx_http_adcp_header_ours(&h[i])) {
                ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                               "adcp: inbound header \"%V\" removed",
                               &h[i].key);
                continue;
            }

            nh = ngx_list_push(&headers);
            if (nh == NULL) {
                return NGX_ERROR;
            }

            *nh = h[i];
        }
    }

    /* one part (n elements at most): "last" points to the request's own */

    r->headers_in.headers = headers;
    r->headers_in.headers.last = &r->headers_in.headers.part;

    return NGX_OK;
}


/*
 * X-AdCP-*, caseless, '_' as '-' (WSGI and CGI servers read both as '_';
 * nginx keeps underscores with underscores_in_headers on), but X-AdCP-Auth
 * spelled so
 */

static ngx_uint_t
ngx_http_adcp_header_ours(ngx_table_elt_t *h)
{
    if (h->key.len < sizeof("X-AdCP-") - 1
        || (h->key.data[0] | 0x20) != 'x'
        || !ngx_http_adcp_header_is(h->key.data, "X-AdCP-"))
    {
        return 0;
    }

    /* the buyer's credential in its own spelling only (tasks store it) */

    return h->key.len != sizeof("X-AdCP-Auth") - 1
           || ngx_strncasecmp(h->key.data, (u_char *) "X-AdCP-Auth",
                              sizeof("X-AdCP-Auth") - 1) != 0;
}


/* the name starts with lit, caseless, '_' matching a '-' of lit */

static ngx_uint_t
ngx_http_adcp_header_is(u_char *name, char *lit)
{
    u_char  c;

    for ( /* void */ ; *lit; name++, lit++) {
        c = *name;

        if (*lit == '-') {
            if (c != '-' && c != '_') {
                return 0;
            }

            continue;
        }

        if (ngx_tolower(c) != ngx_tolower((u_char) *lit)) {
            return 0;
        }
    }

    return 1;
}
