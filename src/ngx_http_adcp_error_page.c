
/*
 * ngx_http_adcp_error_pages_module: adcp_error_pages (SPEC section 3, the
 * last row), a filter module of its own in the adcp .so, listed before
 * the main module (config: ngx_module_order) so that its filters run
 * after the main module's factory capture, as nginx chains filters.
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
 * passes untouched, and so does a response whose header was already sent,
 * and a task execution's (this host's loopback: tasks_call.c judges it).
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


typedef struct {
    ngx_flag_t                  enable;        /* adcp_error_pages */
} ngx_http_adcp_error_pages_loc_conf_t;


/* a response being replaced: the error's body (the request's pool) */

typedef struct {
    ngx_chain_t                 out;           /* the error's body */
    unsigned                    sent:1;
} ngx_http_adcp_error_pages_ctx_t;


static void *ngx_http_adcp_error_pages_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_adcp_error_pages_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static ngx_int_t ngx_http_adcp_error_page_init_filter(ngx_conf_t *cf);
static ngx_int_t ngx_http_adcp_error_page_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_adcp_error_page_replace(ngx_http_request_t *r)
    NGX_HTTP_ADCP_COLD;
static ngx_int_t ngx_http_adcp_error_page_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static void ngx_http_adcp_error_page_clean_header(ngx_http_request_t *r);


static ngx_command_t  ngx_http_adcp_error_pages_commands[] = {

    { ngx_string("adcp_error_pages"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_adcp_error_pages_loc_conf_t, enable),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_adcp_error_pages_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_adcp_error_page_init_filter,  /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_adcp_error_pages_create_loc_conf, /* create location conf */
    ngx_http_adcp_error_pages_merge_loc_conf   /* merge location conf */
};


ngx_module_t  ngx_http_adcp_error_pages_module = {
    NGX_MODULE_V1,
    &ngx_http_adcp_error_pages_module_ctx, /* module context */
    ngx_http_adcp_error_pages_commands,    /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


static void *
ngx_http_adcp_error_pages_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_adcp_error_pages_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool,
                       sizeof(ngx_http_adcp_error_pages_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->enable = NGX_CONF_UNSET;

    return conf;
}


static char *
ngx_http_adcp_error_pages_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_http_adcp_error_pages_loc_conf_t *prev = parent;
    ngx_http_adcp_error_pages_loc_conf_t *conf = child;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);

    return NGX_CONF_OK;
}


/*
 * The filters see every response of every location, chained whatever the
 * configuration: the master keeps the chain of the last configuration it
 * parsed, a reload that failed included, and a worker it starts later
 * (after a crash) runs its configuration with that chain (t/43)
 */

static ngx_int_t
ngx_http_adcp_error_page_init_filter(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_adcp_error_page_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_adcp_error_page_body_filter;

    return NGX_OK;
}


/*
 * Every response passes here: a 5xx of a main request goes on to
 * ngx_http_adcp_error_page_replace(), out of this frame, anything else
 * straight on
 */

static ngx_int_t
ngx_http_adcp_error_page_header_filter(ngx_http_request_t *r)
{
    if (r->headers_out.status - NGX_HTTP_INTERNAL_SERVER_ERROR
        > 599 - NGX_HTTP_INTERNAL_SERVER_ERROR
        || r != r->main)
    {
        return ngx_http_next_header_filter(r);
    }

    return ngx_http_adcp_error_page_replace(r);
}


/* a 5xx of a main request: replaced when the location asks for it */

static ngx_int_t
ngx_http_adcp_error_page_replace(ngx_http_request_t *r)
{
    char                      *message;
    ngx_buf_t                 *b;
    ngx_str_t                  body;
    ngx_uint_t                 status, code;
    ngx_http_adcp_ctx_t       *ctx;
    ngx_http_adcp_error_t      err;
    ngx_http_adcp_loc_conf_t  *alcf;

    ngx_http_adcp_error_pages_ctx_t       *ectx;
    ngx_http_adcp_error_pages_loc_conf_t  *elcf;

    code = r->headers_out.status;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_adcp_module);
    elcf = ngx_http_get_module_loc_conf(r, ngx_http_adcp_error_pages_module);

    if (!alcf->enable || !elcf->enable
        || ngx_http_adcp_json_type(&r->headers_out.content_type))
    {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_adcp_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    /*
     * this host executing a task: its execution judges the page (nginx's
     * own 502 is a transient failure, retried; tasks_call.c)
     */

    if (ctx->exec) {
        return ngx_http_next_header_filter(r);
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
    ectx = ngx_pcalloc(r->pool, sizeof(ngx_http_adcp_error_pages_ctx_t));

    if (b == NULL || ectx == NULL) {
        return NGX_ERROR;
    }

    b->pos = body.data;
    b->last = body.data + body.len;
    b->memory = 1;
    b->last_buf = 1;
    b->last_in_chain = 1;

    ectx->out.buf = b;
    ectx->out.next = NULL;
    ngx_http_set_ctx(r, ectx, ngx_http_adcp_error_pages_module);

    return ngx_http_next_header_filter(r);
}


/*
 * Every body buffer passes here: only a main request's replaced response
 * has the module's ctx (a subrequest has a ctx array of its own), and the
 * chain to send lives in it, not in this frame
 */

static ngx_int_t
ngx_http_adcp_error_page_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_buf_t                        *b;
    ngx_chain_t                      *cl;
    ngx_http_adcp_error_pages_ctx_t  *ectx;

    ectx = ngx_http_get_module_ctx(r, ngx_http_adcp_error_pages_module);

    if (ectx == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    /* the original body is consumed, unsent */

    for (cl = in; cl; cl = cl->next) {
        cl->buf->pos = cl->buf->last;
        cl->buf->file_pos = cl->buf->file_last;
    }

    if (ectx->sent) {
        /* what is still to be written of the error is flushed */
        return ngx_http_next_body_filter(r, NULL);
    }

    ectx->sent = 1;

    if (r->header_only) {
        b = ectx->out.buf;
        b->pos = b->last;
        b->memory = 0;
    }

    return ngx_http_next_body_filter(r, &ectx->out);
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
