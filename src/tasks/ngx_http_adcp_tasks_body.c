
/*
 * ngx_http_adcp_tasks_module: the task in a buyer's request body (already
 * read by the main module), parsed for its arguments:
 *
 *   MCP tools/call          params.arguments
 *   A2A 0.3 message/send    params.message.parts[] data part naming the
 *                           skill: data.parameters
 *   A2A 1.0 SendMessage     the same part without "kind": data.input
 *
 * and, for A2A, the webhook A2A registers: params.configuration.
 * pushNotificationConfig (taskPushNotificationConfig in 1.0's naming).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_adcp_tasks_private.h"


static void ngx_http_adcp_tasks_cleanup(void *data);
static ngx_int_t ngx_http_adcp_tasks_read(ngx_http_request_t *r,
    ngx_http_adcp_task_t *t);
static ngx_int_t ngx_http_adcp_tasks_a2a(ngx_http_adcp_task_t *t,
    yajl_val params);


/* the request's task; a Redis call it waits on is cancelled with the pool */

ngx_http_adcp_task_t *
ngx_http_adcp_tasks_create(ngx_http_request_t *r, ngx_http_adcp_ctx_t *ctx)
{
    ngx_pool_cleanup_t    *cln;
    ngx_http_adcp_task_t  *t;

    t = ngx_pcalloc(r->pool, sizeof(ngx_http_adcp_task_t));
    if (t == NULL) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_adcp_tasks_cleanup;
    cln->data = t;

    t->request = r;
    t->ctx = ctx;

    return t;
}


static void
ngx_http_adcp_tasks_cleanup(void *data)
{
    ngx_http_adcp_task_t *t = data;

    if (t->call) {
        ngx_http_adcp_redis_cancel(t->call);
        t->call = NULL;
    }
}


/*
 * t->args: the task's arguments object (NULL when it has none).
 * NGX_DECLINED: the body cannot be read as such a request.
 */

ngx_int_t
ngx_http_adcp_tasks_parse(ngx_http_request_t *r, ngx_http_adcp_task_t *t)
{
    yajl_val   v, params;
    ngx_int_t  rc;

    rc = ngx_http_adcp_tasks_read(r, t);
    if (rc != NGX_OK) {
        return rc;
    }

    t->root = ngx_http_adcp_json_parse(r->pool, t->body.data, t->body.len,
                                       NGX_HTTP_ADCP_TASKS_MAX_DEPTH);

    if (t->root == NULL || !YAJL_IS_OBJECT(t->root)) {
        return NGX_DECLINED;
    }

    v = ngx_http_adcp_json_get(t->root, "method");

    if (v == NULL || !YAJL_IS_STRING(v)) {
        return NGX_DECLINED;
    }

    t->rpc.data = (u_char *) v->u.string;
    t->rpc.len = ngx_strlen(v->u.string);

    params = ngx_http_adcp_json_get(t->root, "params");

    if (params == NULL || !YAJL_IS_OBJECT(params)) {
        return NGX_DECLINED;
    }

    if (t->ctx->env->method == NGX_HTTP_ADCP_METHOD_MCP_CALL) {
        t->args = ngx_http_adcp_json_get(params, "arguments");

    } else if (ngx_http_adcp_tasks_a2a(t, params) != NGX_OK) {
        return NGX_DECLINED;
    }

    if (t->args && !YAJL_IS_OBJECT(t->args)) {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* the request body, in memory or in its temp file, into one buffer */

static ngx_int_t
ngx_http_adcp_tasks_read(ngx_http_request_t *r, ngx_http_adcp_task_t *t)
{
    off_t                      size;
    u_char                    *p;
    ssize_t                    n;
    ngx_buf_t                 *b;
    ngx_chain_t               *cl;
    ngx_http_core_loc_conf_t  *clcf;

    if (r->request_body == NULL) {
        return NGX_DECLINED;
    }

    size = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (ngx_buf_in_memory(b)) {
            size += b->last - b->pos;

        } else if (b->in_file) {
            size += b->file_last - b->file_pos;
        }
    }

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (size == 0
        || (clcf->client_max_body_size && size > clcf->client_max_body_size))
    {
        return NGX_DECLINED;
    }

    t->body.data = ngx_pnalloc(r->pool, (size_t) size + 1);
    if (t->body.data == NULL) {
        return NGX_ERROR;
    }

    p = t->body.data;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (ngx_buf_in_memory(b)) {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
            continue;
        }

        if (!b->in_file) {
            continue;
        }

        n = ngx_read_file(b->file, p, (size_t) (b->file_last - b->file_pos),
                          b->file_pos);

        if (n != (ssize_t) (b->file_last - b->file_pos)) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "adcp: tenant \"%V\": the request body file "
                          "\"%V\" cannot be read", t->ctx->tenant,
                          &b->file->name);
            return NGX_ERROR;
        }

        p += n;
    }

    *p = '\0';
    t->body.len = p - t->body.data;

    return NGX_OK;
}


/* the part whose data names the skill (whatever its kind), as the
   envelope found it */

static ngx_int_t
ngx_http_adcp_tasks_a2a(ngx_http_adcp_task_t *t, yajl_val params)
{
    size_t     i;
    yajl_val   message, parts, part, data, skill, v, conf;

    if (ngx_strncmp(t->rpc.data, "message/", 8) == 0) {
        t->a2a = NGX_HTTP_ADCP_A2A_03;
        t->stream = (ngx_strcmp(t->rpc.data, "message/stream") == 0);

    } else {
        t->a2a = NGX_HTTP_ADCP_A2A_10;
        t->stream = (ngx_strcmp(t->rpc.data, "SendStreamingMessage") == 0);
    }

    conf = ngx_http_adcp_json_get(params, "configuration");

    t->a2a_hook = ngx_http_adcp_json_get(conf, "pushNotificationConfig");

    if (t->a2a_hook == NULL || YAJL_IS_NULL(t->a2a_hook)) {
        t->a2a_hook = ngx_http_adcp_json_get(conf,
                                             "taskPushNotificationConfig");
    }

    if (t->a2a_hook && YAJL_IS_NULL(t->a2a_hook)) {
        t->a2a_hook = NULL;
    }

    message = ngx_http_adcp_json_get(params, "message");
    parts = ngx_http_adcp_json_get(message, "parts");

    if (parts == NULL || !YAJL_IS_ARRAY(parts)) {
        return NGX_DECLINED;
    }

    v = ngx_http_adcp_json_get(message, "contextId");

    if (v && YAJL_IS_STRING(v)) {
        t->context_id.data = (u_char *) v->u.string;
        t->context_id.len = ngx_strlen(v->u.string);
    }

    for (i = 0; i < parts->u.array.len; i++) {
        part = parts->u.array.values[i];

        data = ngx_http_adcp_json_get(part, "data");
        skill = ngx_http_adcp_json_get(data, "skill");

        if (skill == NULL || !YAJL_IS_STRING(skill)) {
            continue;
        }

        t->args = ngx_http_adcp_json_get(data, "parameters");

        if (t->args == NULL) {
            t->args = ngx_http_adcp_json_get(data, "input");
        }

        return NGX_OK;
    }

    return NGX_DECLINED;
}
