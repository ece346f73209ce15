
/*
 * ngx_http_adcp_tasks_module: polling.  tools/call get_task_status (or
 * tasks/get) of an id this module issued is answered from the record
 * (HGETALL), in the shape of AdCP's core/tasks-get-response.json; another
 * tenant's or principal's task, or none, is REFERENCE_NOT_FOUND alike.
 * Other ids go on to the adapter.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_adcp_tasks_private.h"


static void ngx_http_adcp_tasks_on_poll(ngx_http_adcp_redis_reply_t *reply,
    void *data);
static ngx_int_t ngx_http_adcp_tasks_status(ngx_http_request_t *r,
    ngx_http_adcp_task_t *t, ngx_http_adcp_redis_reply_t *reply);
static ngx_uint_t ngx_http_adcp_tasks_object(ngx_pool_t *pool,
    ngx_str_t *v);


/* what a poll answers, in this order */

static ngx_http_adcp_task_field_e  ngx_http_adcp_tasks_polled[] = {
    NGX_HTTP_ADCP_TF_TASK_TYPE,
    NGX_HTTP_ADCP_TF_PROTOCOL,
    NGX_HTTP_ADCP_TF_STATUS,
    NGX_HTTP_ADCP_TF_CREATED_AT,
    NGX_HTTP_ADCP_TF_UPDATED_AT,
    NGX_HTTP_ADCP_TF_COMPLETED_AT,
    NGX_HTTP_ADCP_TF_RESULT,          /* stored JSON objects */
    NGX_HTTP_ADCP_TF_ERROR
};


/*
 * get_task_status / tasks/get of an id this module issued: answered from
 * Redis.  NGX_DECLINED: not ours, the request goes on; NGX_DONE: answered
 * or waiting for Redis; NGX_ERROR.
 */

ngx_int_t
ngx_http_adcp_tasks_poll(ngx_http_request_t *r, ngx_http_adcp_ctx_t *ctx)
{
    yajl_val                     v;
    ngx_int_t                    rc;
    ngx_str_t                    key;
    ngx_uint_t                   i;
    ngx_http_adcp_task_t        *t;
    ngx_http_adcp_redis_args_t   a;

    if (!ctx->has_env
        || ctx->env->method == NGX_HTTP_ADCP_METHOD_OTHER
        || ctx->env->method == NGX_HTTP_ADCP_METHOD_NONE)
    {
        return NGX_DECLINED;
    }

    if (!(ctx->env->task.len == sizeof("get_task_status") - 1
          && ngx_strncmp(ctx->env->task.data, "get_task_status",
                         ctx->env->task.len) == 0)
        && !(ctx->env->task.len == sizeof("tasks/get") - 1
             && ngx_strncmp(ctx->env->task.data, "tasks/get",
                            ctx->env->task.len) == 0))
    {
        return NGX_DECLINED;
    }

    t = ngx_http_adcp_tasks_create(r, ctx);
    if (t == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_adcp_tasks_parse(r, t);

    if (rc != NGX_OK) {
        /* a body the envelope parsed but we cannot: not ours to judge */
        return rc == NGX_DECLINED ? NGX_DECLINED : NGX_ERROR;
    }

    v = ngx_http_adcp_json_get(t->args, "task_id");

    if (v == NULL || !YAJL_IS_STRING(v)
        || ngx_strncmp(v->u.string, NGX_HTTP_ADCP_TASK_PREFIX,
                       sizeof(NGX_HTTP_ADCP_TASK_PREFIX) - 1) != 0)
    {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "adcp tasks: a poll for the adapter");
        return NGX_DECLINED;
    }

    ctx->cache_status = NGX_HTTP_ADCP_CACHE_BYPASS;

    t->task_id.data = (u_char *) v->u.string;
    t->task_id.len = ngx_strlen(v->u.string);

    ngx_http_adcp_tasks_principal(r, t);

    /* an id we could not have issued: no such task, without asking */

    if (t->task_id.len != NGX_HTTP_ADCP_TASK_ID_LEN) {
        goto not_found;
    }

    for (i = sizeof(NGX_HTTP_ADCP_TASK_PREFIX) - 1; i < t->task_id.len; i++)
    {
        if (!((t->task_id.data[i] >= '0' && t->task_id.data[i] <= '9')
              || (t->task_id.data[i] >= 'a' && t->task_id.data[i] <= 'f')))
        {
            goto not_found;
        }
    }

    if (ngx_http_adcp_task_key(r->pool, &t->task_id, &key) != NGX_OK
        || ngx_http_adcp_redis_args_init(&a, r->pool, 2) != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_adcp_redis_arg_lit(&a, "HGETALL");
    ngx_http_adcp_redis_arg_str(&a, &key);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "adcp tasks: poll \"%V\"", &t->task_id);

    return ngx_http_adcp_tasks_wait(r, t, NULL, ngx_http_adcp_tasks_on_poll,
                                    &a);

not_found:

    ngx_http_finalize_request(r,
        ngx_http_adcp_tasks_error(r, ctx,
                                  NGX_HTTP_ADCP_ERR_REFERENCE_NOT_FOUND,
                                  "no such task", "task_id"));
    return NGX_DONE;
}


static void
ngx_http_adcp_tasks_on_poll(ngx_http_adcp_redis_reply_t *reply, void *data)
{
    ngx_http_adcp_task_t *t = data;

    size_t               n;
    ngx_http_request_t  *r;

    t->call = NULL;
    r = t->request;

    if (ngx_http_adcp_redis_array(reply, &n) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "adcp: tenant \"%V\": task \"%V\" not read: %s",
                      t->ctx->tenant, &t->task_id,
                      reply ? "an unexpected reply" : "Redis did not answer");

        ngx_http_adcp_tasks_unavailable(r, t, "the task's status is "
                                        "unavailable, try again later");
        return;
    }

    ngx_http_adcp_tasks_finalize(r, ngx_http_adcp_tasks_status(r, t, reply));
}


/* the record, in core/tasks-get-response.json's shape, or not found */

static ngx_int_t
ngx_http_adcp_tasks_status(ngx_http_request_t *r, ngx_http_adcp_task_t *t,
    ngx_http_adcp_redis_reply_t *reply)
{
    size_t       len, i, n;
    u_char      *p;
    ngx_int_t    k;
    ngx_str_t    obj, name, val, *f, *fn;
    ngx_uint_t   j, owned;
    ngx_str_t    fields[NGX_HTTP_ADCP_TF_N];

    ngx_memzero(fields, sizeof(fields));
    owned = 0;

    (void) ngx_http_adcp_redis_array(reply, &n);

    for (i = 0; i + 1 < n; i += 2) {

        if (ngx_http_adcp_redis_string(ngx_http_adcp_redis_element(reply, i),
                                       &name)
            != NGX_OK
            || ngx_http_adcp_redis_string(
                   ngx_http_adcp_redis_element(reply, i + 1), &val)
               != NGX_OK)
        {
            continue;
        }

        k = ngx_http_adcp_task_field(&name);

        if (k != NGX_ERROR) {
            fields[k] = val;
        }
    }

    f = fields;

    if (f[NGX_HTTP_ADCP_TF_TENANT].data
        && f[NGX_HTTP_ADCP_TF_TENANT].len == t->ctx->tenant->len
        && ngx_strncmp(f[NGX_HTTP_ADCP_TF_TENANT].data, t->ctx->tenant->data,
                       t->ctx->tenant->len) == 0)
    {
        owned |= 1;
    }

    if (f[NGX_HTTP_ADCP_TF_PRINCIPAL].data
        && f[NGX_HTTP_ADCP_TF_PRINCIPAL].len
           == (size_t) (r->headers_in.authorization ? 32 : 0)
        && ngx_strncmp(f[NGX_HTTP_ADCP_TF_PRINCIPAL].data, t->principal,
                       f[NGX_HTTP_ADCP_TF_PRINCIPAL].len) == 0)
    {
        owned |= 2;
    }

    if (owned != 3 || f[NGX_HTTP_ADCP_TF_TASK_TYPE].data == NULL
        || f[NGX_HTTP_ADCP_TF_STATUS].data == NULL
        || f[NGX_HTTP_ADCP_TF_CREATED_AT].data == NULL)
    {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "adcp tasks: \"%V\" is not this caller's",
                       &t->task_id);

        return ngx_http_adcp_tasks_error(r, t->ctx,
                                         NGX_HTTP_ADCP_ERR_REFERENCE_NOT_FOUND,
                                         "no such task", "task_id");
    }

    len = sizeof("{\"task_id\":,\"has_webhook\":false}") - 1
          + sizeof(",\"protocol\":\"sponsored-intelligence\"") - 1
          + ngx_http_adcp_json_str_len(&t->task_id);

    for (j = 0; j < sizeof(ngx_http_adcp_tasks_polled)
                    / sizeof(ngx_http_adcp_tasks_polled[0]); j++)
    {
        k = ngx_http_adcp_tasks_polled[j];

        if (f[k].data) {
            len += sizeof(",\"\":") - 1 + ngx_http_adcp_task_fields[k].len
                   + ngx_http_adcp_json_str_len(&f[k]);
        }
    }

    obj.data = ngx_pnalloc(r->pool, len);
    if (obj.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(obj.data, "{\"task_id\":");
    p = ngx_http_adcp_json_str(p, &t->task_id);

    for (j = 0; j < sizeof(ngx_http_adcp_tasks_polled)
                    / sizeof(ngx_http_adcp_tasks_polled[0]); j++)
    {
        k = ngx_http_adcp_tasks_polled[j];
        fn = &ngx_http_adcp_task_fields[k];

        if (f[k].data == NULL
            || (k == NGX_HTTP_ADCP_TF_PROTOCOL && f[k].len == 0))
        {
            continue;
        }

        if (k == NGX_HTTP_ADCP_TF_RESULT || k == NGX_HTTP_ADCP_TF_ERROR) {

            if (ngx_http_adcp_tasks_object(r->pool, &f[k])) {
                p = ngx_sprintf(p, ",\"%V\":", fn);
                p = ngx_cpymem(p, f[k].data, f[k].len);
            }

            continue;
        }

        p = ngx_sprintf(p, ",\"%V\":", fn);
        p = ngx_http_adcp_json_str(p, &f[k]);
    }

    if (f[NGX_HTTP_ADCP_TF_PROTOCOL].len == 0) {
        p = ngx_sprintf(p, ",\"protocol\":\"%s\"",
                        ngx_http_adcp_task_protocol(&t->ctx->env->task));
    }

    p = ngx_sprintf(p, ",\"has_webhook\":%s}",
                    ngx_http_adcp_task_flag(&f[NGX_HTTP_ADCP_TF_HAS_WEBHOOK])
                    ? "true" : "false");

    obj.len = p - obj.data;

    return ngx_http_adcp_tasks_send(r, t, &obj, NGX_HTTP_OK);
}


/* a stored value that is a JSON object (and nothing after a NUL) */

static ngx_uint_t
ngx_http_adcp_tasks_object(ngx_pool_t *pool, ngx_str_t *v)
{
    yajl_val  root;

    if (v->len == 0 || v->data[0] != '{'
        || ngx_strlchr(v->data, v->data + v->len, '\0'))
    {
        return 0;
    }

    root = ngx_http_adcp_json_parse(pool, v->data, v->len,
                                    NGX_HTTP_ADCP_TASKS_MAX_DEPTH);

    return root && YAJL_IS_OBJECT(root);
}
