
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
 * With adcp_redis, the message then goes to every other host: appended
 * to <channel>:log and published in one MULTI, answered after EXEC (or
 * after adcp_redis_ping without an answer).  The reply's "scope" says
 * how far it went: "hosts" (Redis took it) or "host" (this one only).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_adcp.h"
#include "ngx_http_adcp_admin.h"


#define NGX_HTTP_ADCP_LOG_MAXLEN  "10000"     /* entries kept, about */


typedef struct {
    ngx_http_request_t          *request;
    ngx_http_adcp_redis_call_t  *call;       /* EXEC, until answered */
    ngx_str_t                    action;
    ngx_str_t                    tenant;
    ngx_str_t                    message;    /* as published */
    unsigned                     redis:1;    /* adcp_redis is set */
} ngx_http_adcp_admin_ctx_t;


static ngx_int_t ngx_http_adcp_admin_publish(ngx_http_request_t *r,
    ngx_http_adcp_admin_ctx_t *ctx, ngx_uint_t recheck);
static void ngx_http_adcp_admin_on_exec(redisReply *reply, void *data);
static void ngx_http_adcp_admin_cleanup(void *data);
static ngx_int_t ngx_http_adcp_admin_reply(ngx_http_request_t *r,
    ngx_http_adcp_admin_ctx_t *ctx, redisReply *reply);


ngx_int_t
ngx_http_adcp_admin_handler(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    ngx_str_t                   arg;
    ngx_uint_t                  recheck;
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
        rc = ngx_http_adcp_admin_publish(r, ctx, recheck);

        if (rc == NGX_DONE) {
            r->main->count++;
            return NGX_DONE;
        }
    }

    return ngx_http_adcp_admin_reply(r, ctx, NULL);
}


/* MULTI, XADD <log> MAXLEN ~ N * m <message>, PUBLISH, EXEC */

static ngx_int_t
ngx_http_adcp_admin_publish(ngx_http_request_t *r,
    ngx_http_adcp_admin_ctx_t *ctx, ngx_uint_t recheck)
{
    size_t                      len[8];
    ngx_str_t                   msg;
    const char                 *argv[8];
    ngx_pool_cleanup_t         *cln;
    ngx_http_adcp_main_conf_t  *amcf;
    ngx_http_adcp_redis_conf_t *rcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_adcp_module);
    rcf = &amcf->redis;

    msg.len = (recheck ? sizeof("recheck ") - 1 : 0) + ctx->tenant.len;
    msg.data = ngx_pnalloc(r->pool, msg.len);
    if (msg.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(ngx_cpymem(msg.data, "recheck ",
                          recheck ? sizeof("recheck ") - 1 : 0),
               ctx->tenant.data, ctx->tenant.len);

    ctx->message = msg;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_adcp_admin_cleanup;
    cln->data = ctx;

    argv[0] = "MULTI";
    len[0] = 5;

    if (ngx_http_adcp_redis_command(rcf, NULL, NULL, 1, argv, len) == NULL) {
        return NGX_ERROR;
    }

    argv[0] = "XADD";
    argv[1] = (char *) rcf->log.data;
    argv[2] = "MAXLEN";
    argv[3] = "~";
    argv[4] = NGX_HTTP_ADCP_LOG_MAXLEN;
    argv[5] = "*";
    argv[6] = "m";
    argv[7] = (char *) msg.data;

    len[0] = 4;
    len[1] = rcf->log.len;
    len[2] = 6;
    len[3] = 1;
    len[4] = sizeof(NGX_HTTP_ADCP_LOG_MAXLEN) - 1;
    len[5] = 1;
    len[6] = 1;
    len[7] = msg.len;

    if (ngx_http_adcp_redis_command(rcf, NULL, NULL, 8, argv, len) == NULL) {
        goto failed;
    }

    argv[0] = "PUBLISH";
    argv[1] = (char *) rcf->channel.data;
    argv[2] = (char *) msg.data;

    len[0] = 7;
    len[1] = rcf->channel.len;
    len[2] = msg.len;

    if (ngx_http_adcp_redis_command(rcf, NULL, NULL, 3, argv, len) == NULL) {
        goto failed;
    }

    /* this host's link will hear it back: applied already */

    ngx_http_adcp_zone_echo_add(&amcf->zone, &msg, 2 * rcf->ping);

    argv[0] = "EXEC";
    len[0] = 4;

    ctx->call = ngx_http_adcp_redis_command(rcf, ngx_http_adcp_admin_on_exec,
                                            ctx, 1, argv, len);

    if (ctx->call) {
        return NGX_DONE;
    }

    (void) ngx_http_adcp_zone_echo_take(&amcf->zone, &msg);

failed:

    /* never leave the connection inside a MULTI */

    ngx_http_adcp_redis_reset();

    return NGX_ERROR;
}


/* EXEC's reply: [<log entry id>, <subscribers>], or NULL: no answer */

static void
ngx_http_adcp_admin_on_exec(redisReply *reply, void *data)
{
    ngx_http_adcp_admin_ctx_t *ctx = data;

    ngx_http_request_t  *r;

    ctx->call = NULL;
    r = ctx->request;

    if (reply && reply->type == REDIS_REPLY_ARRAY) {
        (void) ngx_atomic_fetch_add(
                   &ngx_http_adcp_worker->zone->sh->redis_published, 1);

    } else {

        /* not published: an identical message from another host is not
           this one's echo */

        (void) ngx_http_adcp_zone_echo_take(ngx_http_adcp_worker->zone,
                                            &ctx->message);
    }

    ngx_http_finalize_request(r, ngx_http_adcp_admin_reply(r, ctx, reply));
}


static void
ngx_http_adcp_admin_cleanup(void *data)
{
    ngx_http_adcp_admin_ctx_t *ctx = data;

    if (ctx->call) {
        ngx_http_adcp_redis_cancel(ctx->call);
        ctx->call = NULL;
    }
}


static ngx_int_t
ngx_http_adcp_admin_reply(ngx_http_request_t *r,
    ngx_http_adcp_admin_ctx_t *ctx, redisReply *reply)
{
    size_t        len;
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_str_t     id;
    ngx_chain_t   out;
    long long     subscribers;

    ngx_str_null(&id);
    subscribers = -1;

    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2
        && reply->element[0]->type == REDIS_REPLY_STRING
        && reply->element[0]->len < NGX_HTTP_ADCP_LOG_ID_LEN
        && reply->element[1]->type == REDIS_REPLY_INTEGER)
    {
        id.data = (u_char *) reply->element[0]->str;
        id.len = reply->element[0]->len;
        subscribers = reply->element[1]->integer;

    }

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
                              subscribers);

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
