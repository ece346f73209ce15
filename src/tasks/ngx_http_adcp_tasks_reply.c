
/*
 * ngx_http_adcp_tasks_module: the adapter's reply interpreted (through the
 * loopback request; a webhook receiver's one day: Internet input).  A
 * body of type text/event-stream is reduced to its last JSON-RPC response
 * event; then
 *   MCP: an "error" or result.isError fails; else structuredContent, or
 *     the text item's JSON object, or the whole result is the result.
 *   A2A: an "error", or a task in state failed/rejected, fails; else the
 *     first data part of its artifacts (or of the message) is the result,
 *     or the whole result.
 *   Plain HTTP: the body is the result.
 * Trees are the pool's; the outcome points into them.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_adcp_tasks_private.h"


static void ngx_http_adcp_tasks_sse(ngx_str_t *body, ngx_str_t *json,
    ngx_log_t *log);
static u_char *ngx_http_adcp_tasks_sse_data(u_char *d, u_char *ev,
    u_char *p, size_t n);
static ngx_uint_t ngx_http_adcp_tasks_sse_response(u_char *p, size_t len,
    ngx_log_t *log);
static void ngx_http_adcp_tasks_interpret(ngx_pool_t *pool,
    ngx_http_adcp_task_transport_e transport, yajl_val root,
    ngx_http_adcp_tasks_outcome_t *out);
static void ngx_http_adcp_tasks_mcp_error(yajl_val res,
    ngx_http_adcp_tasks_outcome_t *out);
static char *ngx_http_adcp_tasks_code(yajl_val v);
static void ngx_http_adcp_tasks_failed(ngx_http_adcp_tasks_outcome_t *out,
    char *message);


/* ct and body of a 2xx answer; the body may be rewritten in place */

ngx_int_t
ngx_http_adcp_tasks_reply(ngx_pool_t *pool,
    ngx_http_adcp_task_transport_e transport, ngx_str_t *ct,
    ngx_str_t *body, ngx_http_adcp_tasks_outcome_t *out)
{
    yajl_val   root;
    ngx_str_t  json;

    ngx_memzero(out, sizeof(ngx_http_adcp_tasks_outcome_t));

    json = *body;

    if (ct->len >= sizeof("text/event-stream") - 1
        && ngx_strncasecmp(ct->data, (u_char *) "text/event-stream",
                           sizeof("text/event-stream") - 1) == 0)
    {
        ngx_http_adcp_tasks_sse(body, &json, pool->log);
    }

    root = ngx_http_adcp_json_parse(pool, json.data, json.len,
                                    NGX_HTTP_ADCP_TASKS_MAX_DEPTH);

    if (root == NULL || !YAJL_IS_OBJECT(root)) {
        ngx_http_adcp_tasks_failed(out, "the adapter's answer is not a JSON "
                                        "object");
        return NGX_OK;
    }

    ngx_http_adcp_tasks_interpret(pool, transport, root, out);

    return NGX_OK;
}


/*
 * The last event whose data is a JSON-RPC response (an object with an
 * "id" and a "result" or an "error"; notifications are skipped): its data
 * lines joined, compacted in place in the body (what is written never
 * passes what is read).  Nothing found: json is left as it is.
 */

static void
ngx_http_adcp_tasks_sse(ngx_str_t *body, ngx_str_t *json, ngx_log_t *log)
{
    u_char  *p, *last, *eol, *line_end, *d, *ev;
    size_t   n;

    p = body->data;
    last = body->data + body->len;
    d = body->data;
    ev = d;

    for ( ;; ) {
        eol = (p < last) ? ngx_strlchr(p, last, LF) : NULL;
        line_end = eol ? eol : last;

        n = line_end - p;

        if (n && p[n - 1] == CR) {
            n--;
        }

        if (n == 0 || eol == NULL) {

            if (n >= 5 && ngx_strncmp(p, "data:", 5) == 0) {
                /* the body ends without a blank line */
                d = ngx_http_adcp_tasks_sse_data(d, ev, p, n);
            }

            /* an event ends */

            if (d > ev && ngx_http_adcp_tasks_sse_response(ev, d - ev, log)) {
                json->data = ev;
                json->len = d - ev;
                ev = d;

            } else {
                d = ev;
            }

        } else if (n >= 5 && ngx_strncmp(p, "data:", 5) == 0) {
            d = ngx_http_adcp_tasks_sse_data(d, ev, p, n);
        }

        if (eol == NULL) {
            break;
        }

        p = eol + 1;
    }
}


/* a data: line's value appended to the event's data */

static u_char *
ngx_http_adcp_tasks_sse_data(u_char *d, u_char *ev, u_char *p, size_t n)
{
    if (d > ev) {
        *d++ = LF;
    }

    p += 5;
    n -= 5;

    if (n && *p == ' ') {
        p++;
        n--;
    }

    ngx_memmove(d, p, n);

    return d + n;
}


static ngx_uint_t
ngx_http_adcp_tasks_sse_response(u_char *p, size_t len, ngx_log_t *log)
{
    yajl_val     root;
    ngx_uint_t   ok;
    ngx_pool_t  *pool;

    /* an event's tree goes as soon as it is judged */

    pool = ngx_create_pool(1024, log);
    if (pool == NULL) {
        return 0;
    }

    root = ngx_http_adcp_json_parse(pool, p, len,
                                    NGX_HTTP_ADCP_TASKS_MAX_DEPTH);

    ok = root && YAJL_IS_OBJECT(root)
         && ngx_http_adcp_json_get(root, "id")
         && (ngx_http_adcp_json_get(root, "result")
             || ngx_http_adcp_json_get(root, "error"));

    ngx_destroy_pool(pool);

    return ok;
}


/*
 * MCP: an "error" or result.isError fails; else structuredContent, or
 * the text item's JSON object, or {"text": ...} is the result.
 * A2A: an "error", or a task in state failed/rejected, fails; else the
 * first data part of its artifacts (or of the message) is the result, or
 * the whole result.  Plain HTTP: the body is the result.
 */

static void
ngx_http_adcp_tasks_interpret(ngx_pool_t *pool,
    ngx_http_adcp_task_transport_e transport, yajl_val root,
    ngx_http_adcp_tasks_outcome_t *out)
{
    yajl_val    err, res, v, task, st, arts, parts, part, data, txt;
    ngx_uint_t  i, j;

    if (transport == NGX_HTTP_ADCP_TT_HTTP) {
        out->result = root;
        return;
    }

    err = ngx_http_adcp_json_get(root, "error");

    if (err && YAJL_IS_OBJECT(err)) {
        v = ngx_http_adcp_json_get(err, "message");

        if (v && YAJL_IS_STRING(v)) {
            out->message.data = (u_char *) v->u.string;
            out->message.len = ngx_strlen(v->u.string);

        } else {
            ngx_str_set(&out->message,
                        "the adapter answered a JSON-RPC error");
        }

        v = ngx_http_adcp_json_get(ngx_http_adcp_json_get(
                  ngx_http_adcp_json_get(err, "data"), "adcp_error"), "code");

        out->failed = 1;
        out->code = ngx_http_adcp_tasks_code(v);
        return;
    }

    res = ngx_http_adcp_json_get(root, "result");

    if (res == NULL || !YAJL_IS_OBJECT(res)) {
        ngx_http_adcp_tasks_failed(out, "the adapter's answer has no "
                                        "result");
        return;
    }

    if (transport == NGX_HTTP_ADCP_TT_MCP) {
        v = ngx_http_adcp_json_get(res, "isError");

        if (v && YAJL_IS_TRUE(v)) {
            ngx_http_adcp_tasks_mcp_error(res, out);
            return;
        }

        v = ngx_http_adcp_json_get(res, "structuredContent");

        if (v && YAJL_IS_OBJECT(v)) {
            out->result = v;
            return;
        }

        v = ngx_http_adcp_json_get(res, "content");

        if (v && YAJL_IS_ARRAY(v) && v->u.array.len) {
            txt = ngx_http_adcp_json_get(v->u.array.values[0], "text");

            if (txt && YAJL_IS_STRING(txt)) {
                data = ngx_http_adcp_json_parse(pool,
                                                (u_char *) txt->u.string,
                                                ngx_strlen(txt->u.string),
                                                NGX_HTTP_ADCP_TASKS_MAX_DEPTH);

                if (data && YAJL_IS_OBJECT(data)) {
                    out->result = data;
                    return;
                }
            }
        }

        out->result = res;
        return;
    }

    /* A2A: a Task (1.0: {"task": ...}), or a Message */

    task = ngx_http_adcp_json_get(res, "task");

    if (task == NULL || !YAJL_IS_OBJECT(task)) {
        task = ngx_http_adcp_json_get(res, "message");

        if (task == NULL || !YAJL_IS_OBJECT(task)) {
            task = res;
        }
    }

    st = ngx_http_adcp_json_get(ngx_http_adcp_json_get(task, "status"),
                                "state");

    if (st && YAJL_IS_STRING(st)
        && (ngx_strcasestrn((u_char *) st->u.string, "failed", 5)
            || ngx_strcasestrn((u_char *) st->u.string, "rejected", 7)))
    {
        ngx_http_adcp_tasks_failed(out, "the adapter's task failed");
        return;
    }

    arts = ngx_http_adcp_json_get(task, "artifacts");

    for (i = 0; arts && YAJL_IS_ARRAY(arts) && i < arts->u.array.len; i++) {
        parts = ngx_http_adcp_json_get(arts->u.array.values[i], "parts");

        for (j = 0; parts && YAJL_IS_ARRAY(parts) && j < parts->u.array.len;
             j++)
        {
            part = parts->u.array.values[j];
            data = ngx_http_adcp_json_get(part, "data");

            if (data && YAJL_IS_OBJECT(data)) {
                out->result = data;
                return;
            }
        }
    }

    parts = ngx_http_adcp_json_get(task, "parts");

    for (j = 0; parts && YAJL_IS_ARRAY(parts) && j < parts->u.array.len; j++)
    {
        data = ngx_http_adcp_json_get(parts->u.array.values[j], "data");

        if (data && YAJL_IS_OBJECT(data)) {
            out->result = data;
            return;
        }
    }

    out->result = res;
}


/* an MCP result with isError: the AdCP error it carries, if any */

static void
ngx_http_adcp_tasks_mcp_error(yajl_val res,
    ngx_http_adcp_tasks_outcome_t *out)
{
    yajl_val  sc, ae, v, c, txt;

    out->failed = 1;
    out->code = "SERVICE_UNAVAILABLE";
    ngx_str_set(&out->message, "the adapter reported an error");

    sc = ngx_http_adcp_json_get(res, "structuredContent");
    ae = ngx_http_adcp_json_get(sc, "adcp_error");

    if (ae == NULL) {
        v = ngx_http_adcp_json_get(sc, "errors");

        if (v && YAJL_IS_ARRAY(v) && v->u.array.len) {
            ae = v->u.array.values[0];
        }
    }

    out->code = ngx_http_adcp_tasks_code(ngx_http_adcp_json_get(ae, "code"));

    v = ngx_http_adcp_json_get(ae, "message");

    if (v && YAJL_IS_STRING(v)) {
        out->message.data = (u_char *) v->u.string;
        out->message.len = ngx_strlen(v->u.string);

    } else {
        c = ngx_http_adcp_json_get(res, "content");

        if (c && YAJL_IS_ARRAY(c) && c->u.array.len) {
            txt = ngx_http_adcp_json_get(c->u.array.values[0], "text");

            if (txt && YAJL_IS_STRING(txt)) {
                out->message.data = (u_char *) txt->u.string;
                out->message.len = ngx_min(ngx_strlen(txt->u.string), 1024);
            }
        }
    }
}


/*
 * The adapter's error code as the task's (core/error.json: a string of 1 to
 * 64 characters), else SERVICE_UNAVAILABLE
 */

static char *
ngx_http_adcp_tasks_code(yajl_val v)
{
    size_t  len;

    if (v == NULL || !YAJL_IS_STRING(v)) {
        return "SERVICE_UNAVAILABLE";
    }

    len = ngx_strlen(v->u.string);

    return (len && len <= 64) ? v->u.string : "SERVICE_UNAVAILABLE";
}


static void
ngx_http_adcp_tasks_failed(ngx_http_adcp_tasks_outcome_t *out,
    char *message)
{
    out->failed = 1;
    out->code = "SERVICE_UNAVAILABLE";
    out->message.data = (u_char *) message;
    out->message.len = ngx_strlen(message);
}
