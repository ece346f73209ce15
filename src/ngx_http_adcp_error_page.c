
/*
 * ngx_http_adcp_module: adcp_error_pages (SPEC section 3, the last row).
 *
 * In a location with "adcp on" and "adcp_error_pages on", a 5xx response
 * of the main request whose body is not JSON becomes an AdCP
 * SERVICE_UNAVAILABLE in the request's transport form: nginx's own page
 * when the adapter cannot be reached (502) or does not answer in time
 * (504), and an adapter's HTML 5xx.  The header filter replaces the
 * status and headers; the body filter sends the error's body once and
 * consumes, unsent, whatever the original response still passes (the
 * upstream is read to its end as usual, so its connection stays
 * reusable).  A 5xx with a JSON body (the adapter's own AdCP error)
 * passes untouched, and so does a response whose header was already sent.
 * An error_page of the location for the status still wins: nginx
 * redirects before any page reaches this filter.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_adcp.h"
#include "ngx_http_adcp_request.h"
#include "ngx_http_adcp_json.h"
#include "ngx_http_adcp_request.h"
#include "ngx_http_adcp_error_page.h"


static ngx_int_t ngx_http_adcp_error_page_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_adcp_error_page_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static void ngx_http_adcp_error_page_clean_header(ngx_http_request_t *r);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


ngx_int_t
ngx_http_adcp_error_page_init_filter(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_adcp_error_page_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_adcp_error_page_body_filter;

    return NGX_OK;
}


static ngx_int_t
ngx_http_adcp_error_page_header_filter(ngx_http_request_t *r)
{
    char                      *message;
    ngx_buf_t                 *b;
    ngx_str_t                  body;
    ngx_uint_t                 status, code;
    ngx_http_adcp_ctx_t       *ctx;
    ngx_http_adcp_error_t      err;
    ngx_http_adcp_loc_conf_t  *alcf;

    code = r->headers_out.status;

    if (r != r->main
        || code < NGX_HTTP_INTERNAL_SERVER_ERROR || code > 599)
    {
        return ngx_http_next_header_filter(r);
    }

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_adcp_module);

    if (!alcf->enable || !alcf->error_pages
        || ngx_http_adcp_json_type(&r->headers_out.content_type))
    {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_adcp_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(&err, sizeof(ngx_http_adcp_error_t));

    err.code = NGX_HTTP_ADCP_ERR_SERVICE_UNAVAILABLE;

    switch (code) {

    case NGX_HTTP_SERVICE_UNAVAILABLE:
        err.status = NGX_HTTP_SERVICE_UNAVAILABLE;
        message = "the account's ad server is unavailable";
        break;

    case NGX_HTTP_GATEWAY_TIME_OUT:
        err.status = NGX_HTTP_GATEWAY_TIME_OUT;
        message = "the account's ad server did not answer in time";
        break;

    default:
        err.status = NGX_HTTP_BAD_GATEWAY;
        message = r->upstream ? "the account's ad server could not be "
                                "reached or failed"
                              : "the request could not be served";
    }

    err.message.data = (u_char *) message;
    err.message.len = ngx_strlen(message);

    if (ngx_http_adcp_error_body(r->pool, ctx->has_env ? ctx->env : NULL,
                                 &err, &body, &status)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "adcp error page: %ui -> SERVICE_UNAVAILABLE %ui",
                   code, status);

    ngx_http_adcp_error_page_clean_header(r);

    if (ngx_http_adcp_error_headers(r, &err, status, body.len) != NGX_OK) {
        return NGX_ERROR;
    }

    r->allow_ranges = 0;

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = body.data;
    b->last = body.data + body.len;
    b->memory = 1;
    b->last_buf = 1;
    b->last_in_chain = 1;

    if (ngx_http_adcp_aux(r, ctx) == NULL) {
        return NGX_ERROR;
    }

    ctx->aux->error_page = b;
    ctx->error_page_on = 1;

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_http_adcp_error_page_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_buf_t            *b;
    ngx_chain_t          *cl, out;
    ngx_http_adcp_ctx_t  *ctx;

    if (r != r->main) {
        return ngx_http_next_body_filter(r, in);
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_adcp_module);

    if (ctx == NULL || !ctx->error_page_on) {
        return ngx_http_next_body_filter(r, in);
    }

    /* the original body is consumed, unsent */

    for (cl = in; cl; cl = cl->next) {
        cl->buf->pos = cl->buf->last;
        cl->buf->file_pos = cl->buf->file_last;
    }

    if (ctx->error_page_sent) {
        /* what is still to be written of the error is flushed */
        return ngx_http_next_body_filter(r, NULL);
    }

    ctx->error_page_sent = 1;

    b = ctx->aux->error_page;

    if (r->header_only) {
        b->pos = b->last;
        b->memory = 0;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_next_body_filter(r, &out);
}


/* as nginx's own before a special response: no header of the original */

static void
ngx_http_adcp_error_page_clean_header(ngx_http_request_t *r)
{
    ngx_memzero(&r->headers_out.status,
                sizeof(ngx_http_headers_out_t)
                    - offsetof(ngx_http_headers_out_t, status));

    r->headers_out.headers.part.nelts = 0;
    r->headers_out.headers.part.next = NULL;
    r->headers_out.headers.last = &r->headers_out.headers.part;

    r->headers_out.trailers.part.nelts = 0;
    r->headers_out.trailers.part.next = NULL;
    r->headers_out.trailers.last = &r->headers_out.trailers.part;

    r->headers_out.content_length_n = -1;
    r->headers_out.last_modified_time = -1;
}
