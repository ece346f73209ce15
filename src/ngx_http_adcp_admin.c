
/*
 * ngx_http_adcp_module: the admin endpoint (SPEC section 5).
 *
 *   POST ?invalidate=<tenant>   every worker of the host drops the tenant's
 *   POST ?invalidate=*          (every tenant's) platform on its next
 *                               request for it: the shared zone's
 *                               generation moves before the reply
 *   POST ?recheck=<tenant>      every worker rebuilds it on its next
 *                               request, serving the old one if that fails
 *
 * With adcp_redis, the message then goes to every other host
 * (ngx_http_adcp_bus_publish(): appended to <channel>:log and published
 * in one MULTI), answered after EXEC (or after adcp_redis_ping without an
 * answer).  The reply's "scope" says
 * how far it went: "hosts" (Redis took it) or "host" (this one only).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_adcp.h"
#include "ngx_http_adcp_admin.h"
#include "ngx_http_adcp_bus.h"


typedef struct {
    ngx_http_request_t          *request;
    ngx_http_adcp_bus_publish_t *pub;        /* until answered */
    ngx_str_t                    action;
    ngx_str_t                    tenant;
    ngx_str_t                    entry;      /* the log entry, "": none */
    int64_t                      subscribers;
    unsigned                     redis:1;    /* adcp_redis is set */
} ngx_http_adcp_admin_ctx_t;


static void ngx_http_adcp_admin_published(void *data, ngx_str_t *entry,
    int64_t subscribers);
static void ngx_http_adcp_admin_cleanup(void *data);
static ngx_int_t ngx_http_adcp_admin_reply(ngx_http_request_t *r,
    ngx_http_adcp_admin_ctx_t *ctx);


ngx_int_t
ngx_http_adcp_admin_handler(ngx_http_request_t *r)
{
    ngx_str_t                   arg;
    ngx_int_t                   rc;
    ngx_uint_t                  recheck;
    ngx_pool_cleanup_t         *cln;
    ngx_http_adcp_admin_ctx_t  *ctx;
    ngx_http_adcp_main_conf_t  *amcf;

    if (r->method != NGX_HTTP_POST) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_adcp_admin_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->request = r;
    recheck = 0;

    if (ngx_http_arg(r, (u_char *) "invalidate", 10, &arg) == NGX_OK) {
        ngx_str_set(&ctx->action, "invalidated");

    } else if (ngx_http_arg(r, (u_char *) "recheck", 7, &arg) == NGX_OK) {
        ngx_str_set(&ctx->action, "rechecked");
        recheck = 1;

    } else {
        return NGX_HTTP_BAD_REQUEST;
    }

    if (!ngx_http_adcp_tenant_id_valid(arg.data, arg.len)
        && !(arg.len == 1 && arg.data[0] == '*' && !recheck))
    {
        return NGX_HTTP_BAD_REQUEST;
    }

    ctx->tenant = arg;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_adcp_module);

    if (!amcf->platforms) {
        return NGX_HTTP_NOT_FOUND;
    }

    ngx_http_adcp_zone_invalidate(&amcf->zone,
                                  arg.data[0] == '*' ? NULL : &arg, recheck);

    /* and at once in this worker, for a tenant the zone had no room for */

    if (ngx_http_adcp_worker && !recheck) {
        ngx_http_adcp_cache_invalidate(&ngx_http_adcp_worker->cache,
                                       arg.data[0] == '*' ? NULL : &arg);
    }

    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                  "adcp: %V \"%V\"", &ctx->action, &arg);

    if (amcf->redis.name.len) {
        ctx->redis = 1;

        cln = ngx_pool_cleanup_add(r->pool, 0);
        if (cln == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        cln->handler = ngx_http_adcp_admin_cleanup;
        cln->data = ctx;

        ctx->pub = ngx_http_adcp_bus_publish(r->pool, amcf, &arg, recheck,
                                             ngx_http_adcp_admin_published,
                                             ctx);
        if (ctx->pub) {
            r->main->count++;
            return NGX_DONE;
        }
    }

    return ngx_http_adcp_admin_reply(r, ctx);
}


/* EXEC answered (or not): the request ends */

static void
ngx_http_adcp_admin_published(void *data, ngx_str_t *entry,
    int64_t subscribers)
{
    ngx_http_adcp_admin_ctx_t *ctx = data;

    ctx->pub = NULL;
    ctx->entry = *entry;
    ctx->subscribers = subscribers;

    ngx_http_finalize_request(ctx->request,
                              ngx_http_adcp_admin_reply(ctx->request, ctx));
}


static void
ngx_http_adcp_admin_cleanup(void *data)
{
    ngx_http_adcp_admin_ctx_t *ctx = data;

    if (ctx->pub) {
        ngx_http_adcp_bus_publish_cancel(ctx->pub);
        ctx->pub = NULL;
    }
}


static ngx_int_t
ngx_http_adcp_admin_reply(ngx_http_request_t *r,
    ngx_http_adcp_admin_ctx_t *ctx)
{
    size_t        len;
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_str_t     id;
    ngx_chain_t   out;

    id = ctx->entry;

    len = sizeof("{\"\":\"\",\"scope\":\"hosts\",\"log_entry\":\"\","
                 "\"subscribers\":,\"redis\":\"unreachable\"}")
          + ctx->action.len + ctx->tenant.len + id.len + NGX_INT64_LEN;

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_sprintf(b->last, "{\"%V\":\"%V\"", &ctx->action,
                          &ctx->tenant);

    if (id.len) {
        b->last = ngx_sprintf(b->last, ",\"scope\":\"hosts\",\"log_entry\":"
                              "\"%V\",\"subscribers\":%L}", &id,
                              ctx->subscribers);

    } else if (!ctx->redis) {
        b->last = ngx_sprintf(b->last, ",\"scope\":\"host\"}");

    } else {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "adcp: \"%V\" %V on this host only: Redis did not "
                      "take it", &ctx->tenant, &ctx->action);

        b->last = ngx_sprintf(b->last, ",\"scope\":\"host\","
                              "\"redis\":\"unreachable\"}");
    }

    b->last_buf = (r == r->main);
    b->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}
