
/*
 * ngx_http_adcp_tasks_module: a reply of the outbound HTTP client
 * (tasks_http.c) read as nginx reads an upstream's: the status line and
 * the headers by ngx_http_parse_status_line() and
 * ngx_http_parse_header_line() (their state kept in a zeroed request of
 * its own, whose connection carries only the log), a chunked body decoded
 * in place by ngx_http_parse_chunked().  Interim answers (1xx but 101)
 * before the final one are read past, as a client must (RFC 9110, 15.2).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_adcp_tasks_private.h"


/* the status code, the Content-Type and the body of in[0, len) */

ngx_int_t
ngx_http_adcp_tasks_response(ngx_pool_t *pool, ngx_log_t *log, u_char *in,
    size_t len, ngx_int_t *code, ngx_str_t *ct, ngx_str_t *body)
{
    u_char              *d;
    size_t               n, hlen;
    ngx_int_t            rc;
    ngx_buf_t            b;
    ngx_uint_t           chunked;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;
    ngx_http_status_t    status;
    ngx_http_chunked_t   ctx;

    ngx_str_null(ct);
    *code = 0;

    r = ngx_pcalloc(pool, sizeof(ngx_http_request_t));
    c = ngx_pcalloc(pool, sizeof(ngx_connection_t));
    if (r == NULL || c == NULL) {
        return NGX_ERROR;
    }

    c->log = log;
    r->connection = c;

    ngx_memzero(&b, sizeof(ngx_buf_t));
    b.pos = in;
    b.last = in + len;

    if (in == NULL) {
        return NGX_ERROR;
    }

next:

    /* an interim answer (1xx but 101) is read past (RFC 9110, 15.2) */

    ngx_memzero(&status, sizeof(ngx_http_status_t));

    if (ngx_http_parse_status_line(r, &b, &status) != NGX_OK) {
        *code = 0;
        return NGX_ERROR;
    }

    *code = status.code;
    chunked = 0;
    ngx_str_null(ct);

    for ( ;; ) {
        rc = ngx_http_parse_header_line(r, &b, 1);

        if (rc == NGX_HTTP_PARSE_HEADER_DONE) {

            if (status.code >= 100 && status.code < 200
                && status.code != 101)
            {
                goto next;
            }

            break;
        }

        if (rc != NGX_OK) {
            return NGX_ERROR;
        }

        hlen = r->header_name_end - r->header_name_start;

        if (hlen == sizeof("Content-Type") - 1
            && ngx_strncasecmp(r->header_name_start,
                               (u_char *) "Content-Type", hlen) == 0)
        {
            ct->data = r->header_start;
            ct->len = r->header_end - r->header_start;
            continue;
        }

        if (hlen == sizeof("Transfer-Encoding") - 1
            && ngx_strncasecmp(r->header_name_start,
                               (u_char *) "Transfer-Encoding", hlen) == 0
            && r->header_end - r->header_start == sizeof("chunked") - 1
            && ngx_strncasecmp(r->header_start, (u_char *) "chunked",
                               sizeof("chunked") - 1) == 0)
        {
            chunked = 1;
        }
    }

    body->data = b.pos;
    body->len = b.last - b.pos;

    if (!chunked) {
        return NGX_OK;
    }

    ngx_memzero(&ctx, sizeof(ngx_http_chunked_t));
    d = b.pos;

    for ( ;; ) {
        rc = ngx_http_parse_chunked(r, &b, &ctx);

        if (rc == NGX_OK) {
            n = ngx_min((size_t) ctx.size, (size_t) (b.last - b.pos));

            d = ngx_movemem(d, b.pos, n);
            b.pos += n;
            ctx.size -= n;
            continue;
        }

        if (rc == NGX_DONE) {
            body->len = d - body->data;
            return NGX_OK;
        }

        /* cut short, or not chunks */

        return NGX_ERROR;
    }
}
