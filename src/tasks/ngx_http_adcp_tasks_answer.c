
/*
 * ngx_http_adcp_tasks_module: what a buyer's request is answered, in its
 * transport's form: "submitted" at accept, the task at a poll, an AdCP
 * error; and the wait for Redis that ends the request.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_adcp_tasks_private.h"


/* {"status":"submitted","task_id":"..."[,"replayed":true]} */

ngx_int_t
ngx_http_adcp_tasks_submitted(ngx_http_request_t *r, ngx_http_adcp_task_t *t,
    ngx_uint_t replayed)
{
    ngx_str_t  obj;

    obj.len = sizeof("{\"status\":\"submitted\",\"task_id\":,"
                     "\"replayed\":true}") - 1
              + ngx_http_adcp_json_str_len(&t->task_id);

    obj.data = ngx_pnalloc(r->pool, obj.len);
    if (obj.data == NULL) {
        return NGX_ERROR;
    }

    obj.len = ngx_sprintf(obj.data, "{\"status\":\"submitted\",\"task_id\":")
              - obj.data;
    obj.len = ngx_http_adcp_json_str(obj.data + obj.len, &t->task_id)
              - obj.data;

    if (replayed) {
        obj.len = ngx_sprintf(obj.data + obj.len, ",\"replayed\":true")
                  - obj.data;
    }

    obj.data[obj.len++] = '}';

    return ngx_http_adcp_tasks_send(r, t, &obj, NGX_HTTP_ACCEPTED);
}


/*
 * A success in the request's transport form:
 *   MCP tools/call with an id: a JSON-RPC result, structuredContent and
 *     one text item holding the same object
 *   A2A with an id: a JSON-RPC result, a Task in state completed whose
 *     artifact has one data part, the object (A2A 0.3: "kind" fields and
 *     lowercase states; 1.0: {"task":...}, TASK_STATE_COMPLETED); for
 *     the streaming methods, that response as one SSE event
 *   anything else: "status" with the object
 */

ngx_int_t
ngx_http_adcp_tasks_send(ngx_http_request_t *r, ngx_http_adcp_task_t *t,
    ngx_str_t *obj, ngx_uint_t status)
{
    size_t                     len;
    u_char                    *p, *now;
    ngx_int_t                  rc;
    ngx_buf_t                 *b;
    ngx_str_t                 *id, ctxid;
    ngx_chain_t                out;
    ngx_http_adcp_envelope_t  *env;

    env = t->ctx->env;
    id = &env->id;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    ctxid = t->context_id.len ? t->context_id : t->task_id;

    len = sizeof("data: {\"jsonrpc\":\"2.0\",\"id\":,\"result\":}\n\n") - 1
          + id->len + obj->len;

    if (env->method == NGX_HTTP_ADCP_METHOD_MCP_CALL) {
        len += sizeof("{\"content\":[{\"type\":\"text\",\"text\":\"\"}],"
                      "\"structuredContent\":}") - 1
               + ngx_http_adcp_json_escape_len(obj->data, obj->len);

    } else {
        len += sizeof("{\"task\":{\"kind\":\"task\",\"id\":,\"contextId\":,"
                      "\"status\":{\"state\":\"TASK_STATE_COMPLETED\","
                      "\"timestamp\":\"\"},\"artifacts\":[{\"artifactId\":"
                      "\"adcp_result\",\"parts\":[{\"kind\":\"data\","
                      "\"data\":}]}]}}") - 1
               + ngx_http_adcp_json_str_len(&t->task_id)
               + ngx_http_adcp_json_str_len(&ctxid)
               + NGX_HTTP_ADCP_ISO8601_LEN;
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_ERROR;
    }

    p = b->pos;

    if (id->len == 0
        || (env->method != NGX_HTTP_ADCP_METHOD_MCP_CALL
            && env->method != NGX_HTTP_ADCP_METHOD_A2A))
    {
        p = ngx_cpymem(p, obj->data, obj->len);
        t->stream = 0;
        goto send;
    }

    status = NGX_HTTP_OK;

    if (t->stream) {
        p = ngx_http_adcp_json_lit(p, "data: ");
    }

    p = ngx_http_adcp_json_lit(p, "{\"jsonrpc\":\"2.0\",\"id\":");
    p = ngx_cpymem(p, id->data, id->len);
    p = ngx_http_adcp_json_lit(p, ",\"result\":");

    if (env->method == NGX_HTTP_ADCP_METHOD_MCP_CALL) {
        p = ngx_http_adcp_json_lit(p, "{\"content\":[{\"type\":\"text\","
                                   "\"text\":\"");
        p = ngx_http_adcp_json_escape(p, obj->data, obj->len);
        p = ngx_http_adcp_json_lit(p, "\"}],\"structuredContent\":");
        p = ngx_cpymem(p, obj->data, obj->len);
        p = ngx_http_adcp_json_lit(p, "}}");

    } else {
        if (t->a2a == NGX_HTTP_ADCP_A2A_10) {
            p = ngx_http_adcp_json_lit(p, "{\"task\":{\"id\":");

        } else {
            p = ngx_http_adcp_json_lit(p, "{\"kind\":\"task\",\"id\":");
        }

        p = ngx_http_adcp_json_str(p, &t->task_id);
        p = ngx_http_adcp_json_lit(p, ",\"contextId\":");
        p = ngx_http_adcp_json_str(p, &ctxid);

        p = ngx_http_adcp_json_lit(p, ",\"status\":{\"state\":");

        if (t->a2a == NGX_HTTP_ADCP_A2A_10) {
            p = ngx_http_adcp_json_lit(p, "\"TASK_STATE_COMPLETED\"");

        } else {
            p = ngx_http_adcp_json_lit(p, "\"completed\"");
        }

        p = ngx_http_adcp_json_lit(p, ",\"timestamp\":\"");
        now = p;
        p = ngx_http_adcp_time_iso8601(now);
        p = ngx_http_adcp_json_lit(p, "\"},\"artifacts\":[{\"artifactId\":"
                                   "\"adcp_result\",\"parts\":[{");

        if (t->a2a != NGX_HTTP_ADCP_A2A_10) {
            p = ngx_http_adcp_json_lit(p, "\"kind\":\"data\",");
        }

        p = ngx_http_adcp_json_lit(p, "\"data\":");
        p = ngx_cpymem(p, obj->data, obj->len);
        p = ngx_http_adcp_json_lit(p, "}]}]}");

        if (t->a2a == NGX_HTTP_ADCP_A2A_10) {
            *p++ = '}';
        }

        *p++ = '}';
    }

    if (t->stream) {
        p = ngx_http_adcp_json_lit(p, "\n\n");
    }

send:

    b->last = p;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = status;
    r->headers_out.content_length_n = b->last - b->pos;

    if (t->stream) {
        ngx_str_set(&r->headers_out.content_type, "text/event-stream");

    } else {
        ngx_str_set(&r->headers_out.content_type, "application/json");
    }

    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


ngx_int_t
ngx_http_adcp_tasks_error(ngx_http_request_t *r, ngx_http_adcp_ctx_t *ctx,
    ngx_uint_t code, char *message, char *field)
{
    ngx_http_adcp_error_t       err;
    ngx_http_adcp_main_conf_t  *amcf;

    ngx_memzero(&err, sizeof(ngx_http_adcp_error_t));

    err.code = code;
    err.message.data = (u_char *) message;
    err.message.len = ngx_strlen(message);

    if (field) {
        err.field.data = (u_char *) field;
        err.field.len = ngx_strlen(field);
    }

    if (code == NGX_HTTP_ADCP_ERR_SERVICE_UNAVAILABLE) {
        amcf = ngx_http_get_module_main_conf(r, ngx_http_adcp_module);
        err.retry_after = (time_t) ((amcf->redis.ping + 999) / 1000);
    }

    return ngx_http_adcp_error_send(r, ctx->has_env ? ctx->env : NULL,
                                    &err);
}


/* a command (or a script) whose reply finalizes the request */

ngx_int_t
ngx_http_adcp_tasks_wait(ngx_http_request_t *r, ngx_http_adcp_task_t *t,
    ngx_http_adcp_redis_script_t *script,
    ngx_http_adcp_redis_reply_pt handler, ngx_http_adcp_redis_args_t *args)
{
    ngx_http_adcp_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_adcp_module);

    if (script) {
        t->call = ngx_http_adcp_redis_eval(&amcf->redis, script, handler, t,
                                           args);

    } else {
        t->call = ngx_http_adcp_redis_send(&amcf->redis, NULL, handler, t,
                                           args);
    }

    if (t->call == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "adcp: tenant \"%V\": task \"%V\": Redis is "
                      "unreachable", t->ctx->tenant, &t->task_id);

        ngx_http_finalize_request(r,
            ngx_http_adcp_tasks_error(r, t->ctx,
                                      NGX_HTTP_ADCP_ERR_SERVICE_UNAVAILABLE,
                                      "tasks are unavailable, try again "
                                      "later", NULL));
        return NGX_DONE;
    }

    /* the client may go; the pool cleanup then cancels the call */

    r->read_event_handler = ngx_http_test_reading;
    r->write_event_handler = ngx_http_request_empty_handler;

    return NGX_DONE;
}


/* Redis failed a request waiting for it: SERVICE_UNAVAILABLE, the end */

void
ngx_http_adcp_tasks_unavailable(ngx_http_request_t *r,
    ngx_http_adcp_task_t *t, char *message)
{
    ngx_http_adcp_tasks_finalize(r,
        ngx_http_adcp_tasks_error(r, t->ctx,
                                  NGX_HTTP_ADCP_ERR_SERVICE_UNAVAILABLE,
                                  message, NULL));
}


void
ngx_http_adcp_tasks_finalize(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_connection_t  *c;

    c = r->connection;

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}
