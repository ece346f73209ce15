
/*
 * ngx_http_adcp_tasks_module: an execution's call of the adapter.  The
 * stored request goes to this nginx (tasks_loopback.c, over
 * tasks_http.c), the reply is interpreted (tasks_reply.c), and the
 * outcome, completed or failed (e->status, e->value), goes to e->ran
 * (tasks_exec.c stores it).  A transient failure (no answer, a 5xx whose
 * body is no JSON) is retried with backoff, NGX_HTTP_ADCP_EXEC_TRIES calls
 * at most within adcp_task_timeout; the adapter's own answer (a JSON-RPC error,
 * MCP's isError) fails the task at once.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_http.h>

#include "ngx_http_adcp_tasks_private.h"


static void ngx_http_adcp_exec_call(ngx_http_adcp_exec_t *e);
static void ngx_http_adcp_exec_again(ngx_event_t *ev);
static ngx_uint_t ngx_http_adcp_exec_transient(ngx_http_adcp_exec_t *e,
    ngx_int_t rc, ngx_str_t *body);
static void ngx_http_adcp_exec_on_reply(ngx_http_adcp_exec_t *e,
    ngx_int_t rc);
static void ngx_http_adcp_exec_complete(ngx_http_adcp_exec_t *e,
    yajl_val v);
static void ngx_http_adcp_exec_fail(ngx_http_adcp_exec_t *e, char *code,
    ngx_str_t *message);


/* the stored request, to this nginx */

void
ngx_http_adcp_exec_run(ngx_http_adcp_exec_t *e, ngx_http_adcp_exec_done_pt ran)
{
    e->ran = ran;

    e->phase = NGX_HTTP_ADCP_PH_RUN;
    e->log->action = "running the task";
    e->deadline = ngx_current_msec + e->cs->tmcf->timeout;

    ngx_log_error(NGX_LOG_INFO, e->log, 0, "adcp: started");

    ngx_http_adcp_exec_call(e);
}


/* one call of the adapter, within what is left of adcp_task_timeout */

static void
ngx_http_adcp_exec_call(ngx_http_adcp_exec_t *e)
{
    socklen_t                 len;
    ngx_str_t                 msg;
    ngx_msec_int_t            left;
    struct sockaddr_storage   ss;

    e->tries++;
    left = (ngx_msec_int_t) (e->deadline - ngx_current_msec);

    if (ngx_http_adcp_exec_target(e, &ss, &len) != NGX_OK) {

        if (ngx_exiting || ngx_quit || ngx_terminate) {

            /* the listeners went with a reload: another worker's */

            ngx_http_adcp_exec_abandon(e);
            return;
        }

        ngx_str_set(&msg, "the gateway has no listener for this task");
        ngx_http_adcp_exec_fail(e, "SERVICE_UNAVAILABLE", &msg);
        return;
    }

    if (ngx_http_adcp_exec_request(e) != NGX_OK) {
        ngx_str_set(&msg, "the stored request cannot be sent");
        ngx_http_adcp_exec_fail(e, "INVALID_REQUEST", &msg);
        return;
    }

    if (ngx_http_adcp_exec_http(e, (struct sockaddr *) &ss, len,
                                (ngx_msec_t) ngx_max(left, 1),
                                ngx_http_adcp_exec_on_reply)
        != NGX_OK)
    {
        ngx_http_adcp_exec_on_reply(e, NGX_ERROR);
    }
}


static void
ngx_http_adcp_exec_again(ngx_event_t *ev)
{
    ngx_http_adcp_exec_call(ev->data);
}


/*
 * A transient failure, retried while calls and time are left: no answer
 * (refused, reset: nginx's own 502 is an answer, see below), or a 5xx
 * whose body is no JSON object (the adapter's gateway, not the adapter);
 * a JSON-RPC error, MCP's isError or any JSON body is the adapter's
 * answer
 */

static ngx_uint_t
ngx_http_adcp_exec_transient(ngx_http_adcp_exec_t *e, ngx_int_t rc,
    ngx_str_t *body)
{
    yajl_val             v;
    ngx_msec_t           delay;
    ngx_msec_int_t       left;
    ngx_http_adcp_row_t  *row;

    if (rc == NGX_OK) {
        if (e->code < 500) {
            return 0;
        }

        v = ngx_http_adcp_json_parse(e->pool, body->data, body->len,
                                     NGX_HTTP_ADCP_TASKS_MAX_DEPTH);

        if (v && YAJL_IS_OBJECT(v)) {
            return 0;
        }
    }

    if (e->tries >= NGX_HTTP_ADCP_EXEC_TRIES) {
        return 0;
    }

    delay = ngx_http_adcp_tasks_backoff_ms(e->tries);
    left = (ngx_msec_int_t) (e->deadline - ngx_current_msec);

    /* a call needs time too: retried only with a second left after */

    if (left < (ngx_msec_int_t) delay + 1000) {
        return 0;
    }

    ngx_log_error(NGX_LOG_WARN, e->log, 0,
                  "adcp: the adapter's call %ui failed (%s%i), retried in "
                  "%M ms", e->tries, rc == NGX_OK ? "HTTP " : "no answer, ",
                  rc == NGX_OK ? e->code : rc, delay);

    row = ngx_http_adcp_exec_row();

    if (row) {
        row->counters[NGX_HTTP_ADCP_C_TASKS_RETRIED]++;
    }

    e->timer.handler = ngx_http_adcp_exec_again;
    ngx_add_timer(&e->timer, delay);

    return 1;
}


/* the adapter's answer, through this nginx */

static void
ngx_http_adcp_exec_on_reply(ngx_http_adcp_exec_t *e, ngx_int_t rc)
{
    u_char                          buf[64];
    ngx_str_t                       ct, body, msg, *transport;
    ngx_http_adcp_tasks_outcome_t   out;
    ngx_http_adcp_task_transport_e  tt;

    /*
     * a worker shutting down cut its own loopback request: that says
     * nothing of the adapter, the task goes to another worker
     */

    if (ngx_terminate || (rc == NGX_ERROR && (ngx_exiting || ngx_quit))) {
        ngx_http_adcp_exec_abandon(e);
        return;
    }

    /*
     * this nginx closed the loopback connection without a byte of an
     * answer (nginx answers an adapter's failure with a status): its
     * serving worker went away, a shutdown whose signal reached it before
     * this worker's, or a crash.  Nor does that say anything of the
     * adapter: left for reclaiming, where the attempts are counted
     */

    if (rc == NGX_OK && e->in_len == 0) {
        ngx_log_error(NGX_LOG_NOTICE, e->log, 0,
                      "adcp: the gateway closed the loopback connection "
                      "without an answer, the task is left for "
                      "reclaiming");
        ngx_http_adcp_exec_free(e);
        return;
    }

    if (rc == NGX_ERROR && ngx_http_adcp_exec_transient(e, rc, NULL)) {
        return;
    }

    if (rc != NGX_OK) {
        if (rc == NGX_DECLINED) {
            ngx_str_set(&msg, "the adapter's answer is too large");

        } else {
            ngx_str_set(&msg, "the adapter did not answer");
        }

        ngx_http_adcp_exec_fail(e, "SERVICE_UNAVAILABLE", &msg);
        return;
    }

    if (ngx_http_adcp_tasks_response(e->pool, e->log, e->in, e->in_len,
                                     &e->code, &ct, &body)
        != NGX_OK)
    {
        ngx_str_set(&msg, "the adapter's answer is not HTTP");
        ngx_http_adcp_exec_fail(e, "SERVICE_UNAVAILABLE", &msg);
        return;
    }

    if (e->code < 200 || e->code > 299) {

        if (ngx_http_adcp_exec_transient(e, NGX_OK, &body)) {
            return;
        }

        msg.data = buf;
        msg.len = ngx_sprintf(buf, "the adapter answered HTTP %i", e->code)
                  - buf;

        ngx_log_error(NGX_LOG_ERR, e->log, 0,
                      "adcp: the adapter answered HTTP %i", e->code);

        ngx_http_adcp_exec_fail(e, "SERVICE_UNAVAILABLE", &msg);
        return;
    }

    transport = &e->f[NGX_HTTP_ADCP_TF_TRANSPORT];

    if (transport->len == 4
        && ngx_strncmp(transport->data, "http", 4) == 0)
    {
        tt = NGX_HTTP_ADCP_TT_HTTP;

    } else if (transport->len == 3
               && ngx_strncmp(transport->data, "mcp", 3) == 0)
    {
        tt = NGX_HTTP_ADCP_TT_MCP;

    } else {
        tt = NGX_HTTP_ADCP_TT_A2A;
    }

    if (ngx_http_adcp_tasks_reply(e->pool, tt, &ct, &body, &out) != NGX_OK) {
        ngx_http_adcp_exec_free(e);
        return;
    }

    if (out.failed) {
        ngx_http_adcp_exec_fail(e, out.code, &out.message);
        return;
    }

    ngx_http_adcp_exec_complete(e, out.result);
}


/* completed, with v (an object) as the result */

static void
ngx_http_adcp_exec_complete(ngx_http_adcp_exec_t *e, yajl_val v)
{
    size_t                len;
    yajl_gen              g;
    ngx_str_t             msg;
    const unsigned char  *buf;

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        ngx_http_adcp_exec_free(e);
        return;
    }

    if (ngx_http_adcp_json_gen(g, v) != NGX_OK
        || yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok)
    {
        yajl_gen_free(g);
        ngx_str_set(&msg, "the adapter's result cannot be stored");
        ngx_http_adcp_exec_fail(e, "SERVICE_UNAVAILABLE", &msg);
        return;
    }

    e->value.data = ngx_pnalloc(e->pool, len);
    if (e->value.data == NULL) {
        yajl_gen_free(g);
        ngx_http_adcp_exec_free(e);
        return;
    }

    ngx_memcpy(e->value.data, buf, len);
    e->value.len = len;

    yajl_gen_free(g);

    e->status = NGX_HTTP_ADCP_TS_COMPLETED;

    e->ran(e, NGX_OK);
}


/* failed, with {"code":..., "message":...} */

static void
ngx_http_adcp_exec_fail(ngx_http_adcp_exec_t *e, char *code,
    ngx_str_t *message)
{
    u_char     *p;
    ngx_str_t   c;

    c.data = (u_char *) code;
    c.len = ngx_strlen(code);

    e->value.data = ngx_pnalloc(e->pool,
                                sizeof("{\"code\":,\"message\":}") - 1
                                + ngx_http_adcp_json_str_len(&c)
                                + ngx_http_adcp_json_str_len(message));
    if (e->value.data == NULL) {
        ngx_http_adcp_exec_free(e);
        return;
    }

    p = ngx_http_adcp_json_lit(e->value.data, "{\"code\":");
    p = ngx_http_adcp_json_str(p, &c);
    p = ngx_http_adcp_json_lit(p, ",\"message\":");
    p = ngx_http_adcp_json_str(p, message);
    *p++ = '}';

    e->value.len = p - e->value.data;

    ngx_log_error(NGX_LOG_WARN, e->log, 0,
                  "adcp: failed: %s", code);

    e->status = NGX_HTTP_ADCP_TS_FAILED;

    e->ran(e, NGX_OK);
}
