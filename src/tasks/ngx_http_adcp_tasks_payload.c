
/*
 * ngx_http_adcp_tasks_module: the webhook's request, written into e->out
 * for tasks_webhook.c to deliver, once per attempt.
 *
 * The body is the same on every attempt, by any worker: AdCP's
 * mcp-webhook-payload (idempotency_key drawn at accept, timestamp the
 * task's completed_at, operation_id, token and context echoed, result or
 * {"errors":[...]}), or for a webhook registered through A2A an A2A Task
 * (0.3) or StreamResponse {"task":...} (1.0) with the same members in its
 * metadata.  What authenticates it is fresh on every attempt: an RFC 9421
 * signature with the first adcp_task_webhook_signing_key (no
 * authentication block), or the legacy HMAC-SHA256 headers, or Bearer.
 * The request target and Host are the url's canonical form (path and
 * query, no fragment; a port that is not the scheme's default kept).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_http_adcp_tasks_private.h"
#include "ngx_http_adcp_tasks_sign.h"
#include "ngx_http_adcp_jwks.h"


typedef struct {
    ngx_str_t                   idem;
    ngx_str_t                   op;
    ngx_str_t                  *status;
    ngx_str_t                   context_id;
    ngx_uint_t                  form;      /* 0 AdCP, A2A 0.3, A2A 1.0 */
} ngx_http_adcp_hook_body_t;


static ngx_int_t ngx_http_adcp_exec_hook_body(ngx_http_adcp_exec_t *e,
    ngx_http_adcp_hook_body_t *hb, ngx_str_t *body);
static size_t ngx_http_adcp_exec_hook_members_len(ngx_http_adcp_exec_t *e,
    ngx_http_adcp_hook_body_t *hb);
static u_char *ngx_http_adcp_exec_hook_members(u_char *b,
    ngx_http_adcp_exec_t *e, ngx_http_adcp_hook_body_t *hb);
static u_char *ngx_http_adcp_exec_hook_result(u_char *b,
    ngx_http_adcp_exec_t *e);
static ngx_int_t ngx_http_adcp_exec_hook_auth(ngx_http_adcp_exec_t *e,
    ngx_str_t *body, ngx_http_adcp_sign_uri_t *su, ngx_str_t *headers);
static ngx_uint_t ngx_http_adcp_exec_hook_is(ngx_str_t *s, char *lit);


/*
 * NGX_OK: e->out written; NGX_DECLINED: it cannot be (logged: the webhook
 * is not delivered); NGX_ERROR: no memory
 */

ngx_int_t
ngx_http_adcp_exec_hook_request(ngx_http_adcp_exec_t *e,
    ngx_http_adcp_tasks_url_t *u)
{
    u_char                     *p;
    size_t                      len;
    ngx_int_t                   rc;
    ngx_str_t                   body, headers, *tok, *form;
    ngx_http_adcp_hook_body_t   hb;
    ngx_http_adcp_sign_uri_t    su;

    hb.status = &ngx_http_adcp_task_statuses[e->status];
    hb.op = e->f[NGX_HTTP_ADCP_TF_OPERATION_ID];
    hb.idem = e->f[NGX_HTTP_ADCP_TF_WEBHOOK_IDEM];
    hb.context_id = e->f[NGX_HTTP_ADCP_TF_CONTEXT_ID];
    tok = &e->f[NGX_HTTP_ADCP_TF_WEBHOOK_TOKEN];
    form = &e->f[NGX_HTTP_ADCP_TF_WEBHOOK_FORM];

    if (hb.op.len == 0) {
        hb.op = e->task_id;
    }

    if (hb.context_id.len == 0) {
        hb.context_id = e->task_id;
    }

    hb.form = ngx_http_adcp_exec_hook_is(form, NGX_HTTP_ADCP_HOOK_FORM_A2A03)
              ? NGX_HTTP_ADCP_A2A_03
              : ngx_http_adcp_exec_hook_is(form,
                                           NGX_HTTP_ADCP_HOOK_FORM_A2A10)
                ? NGX_HTTP_ADCP_A2A_10 : NGX_HTTP_ADCP_A2A_NONE;

    if (hb.idem.len == 0) {

        /* a task accepted before the key was drawn at accept */

        hb.idem.data = ngx_pnalloc(e->pool,
                                   e->task_id.len + hb.status->len + 1);
        if (hb.idem.data == NULL) {
            return NGX_ERROR;
        }

        hb.idem.len = ngx_sprintf(hb.idem.data, "%V.%V", &e->task_id,
                                  hb.status)
                      - hb.idem.data;
    }

    if (ngx_http_adcp_exec_hook_body(e, &hb, &body) != NGX_OK) {
        return NGX_ERROR;
    }

    rc = ngx_http_adcp_exec_hook_auth(e, &body, &su, &headers);
    if (rc != NGX_OK) {
        return rc;
    }

    len = sizeof("POST  HTTP/1.0" CRLF "Host: " CRLF
                 "Content-Type: application/json" CRLF
                 "Content-Length: " CRLF "Connection: close" CRLF
                 "Idempotency-Key: " CRLF
                 "X-A2A-Notification-Token: " CRLF CRLF) - 1
          + su.request_target.len + su.authority.len + NGX_SIZE_T_LEN
          + hb.idem.len + tok->len + headers.len + body.len;

    e->out = ngx_create_temp_buf(e->pool, len);
    if (e->out == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(e->out->last, "POST %V HTTP/1.0" CRLF "Host: %V" CRLF
                    "Content-Type: application/json" CRLF
                    "Content-Length: %uz" CRLF "Connection: close" CRLF
                    "Idempotency-Key: %V" CRLF,
                    &su.request_target, &su.authority, body.len, &hb.idem);

    /* A2A's own check of a push notification: its token, as a header */

    if (hb.form != NGX_HTTP_ADCP_A2A_NONE && tok->len
        && ngx_http_adcp_tasks_clean(tok->data, tok->len))
    {
        p = ngx_sprintf(p, "X-A2A-Notification-Token: %V" CRLF, tok);
    }

    p = ngx_cpymem(p, headers.data, headers.len);
    p = ngx_http_adcp_json_lit(p, CRLF);
    p = ngx_cpymem(p, body.data, body.len);

    e->out->last = p;

    return NGX_OK;
}


/* the body, in the form the buyer registered for */

static ngx_int_t
ngx_http_adcp_exec_hook_body(ngx_http_adcp_exec_t *e,
    ngx_http_adcp_hook_body_t *hb, ngx_str_t *body)
{
    u_char     *b;
    size_t      len;
    ngx_str_t  *state;

    static ngx_str_t  states[] = {
        ngx_string("\"completed\""),
        ngx_string("\"failed\""),
        ngx_string("\"TASK_STATE_COMPLETED\""),
        ngx_string("\"TASK_STATE_FAILED\"")
    };

    len = ngx_http_adcp_exec_hook_members_len(e, hb)
          + sizeof(",\"result\":{\"errors\":[]}}") - 1 + e->value.len
          + sizeof("{\"task\":{\"kind\":\"task\",\"id\":,\"contextId\":,"
                   "\"status\":{\"state\":\"TASK_STATE_COMPLETED\","
                   "\"timestamp\":},\"artifacts\":[{\"artifactId\":"
                   "\"adcp_result\",\"parts\":[{\"kind\":\"data\","
                   "\"data\":}]}],\"metadata\":}}") - 1
          + ngx_http_adcp_json_str_len(&e->task_id)
          + ngx_http_adcp_json_str_len(&hb->context_id)
          + ngx_http_adcp_json_str_len(&e->now);

    body->data = ngx_pnalloc(e->pool, len);
    if (body->data == NULL) {
        return NGX_ERROR;
    }

    b = body->data;

    if (hb->form == NGX_HTTP_ADCP_A2A_NONE) {

        /* AdCP's mcp-webhook-payload */

        b = ngx_http_adcp_exec_hook_members(b, e, hb);

        if (e->value.len && e->value.data[0] == '{') {
            b = ngx_http_adcp_json_lit(b, ",\"result\":");
            b = ngx_http_adcp_exec_hook_result(b, e);
        }

        *b++ = '}';
        body->len = b - body->data;

        return NGX_OK;
    }

    /* an A2A Task: the result in its artifact, AdCP's members in metadata */

    state = &states[(e->status == NGX_HTTP_ADCP_TS_FAILED)
                    + 2 * (hb->form == NGX_HTTP_ADCP_A2A_10)];

    if (hb->form == NGX_HTTP_ADCP_A2A_10) {
        b = ngx_http_adcp_json_lit(b, "{\"task\":{\"id\":");

    } else {
        b = ngx_http_adcp_json_lit(b, "{\"kind\":\"task\",\"id\":");
    }

    b = ngx_http_adcp_json_str(b, &e->task_id);
    b = ngx_http_adcp_json_lit(b, ",\"contextId\":");
    b = ngx_http_adcp_json_str(b, &hb->context_id);
    b = ngx_http_adcp_json_lit(b, ",\"status\":{\"state\":");
    b = ngx_cpymem(b, state->data, state->len);
    b = ngx_http_adcp_json_lit(b, ",\"timestamp\":");
    b = ngx_http_adcp_json_str(b, &e->now);
    b = ngx_http_adcp_json_lit(b, "},\"artifacts\":[{\"artifactId\":"
                               "\"adcp_result\",\"parts\":[{");

    if (hb->form == NGX_HTTP_ADCP_A2A_03) {
        b = ngx_http_adcp_json_lit(b, "\"kind\":\"data\",");
    }

    b = ngx_http_adcp_json_lit(b, "\"data\":");

    if (e->value.len && e->value.data[0] == '{') {
        b = ngx_http_adcp_exec_hook_result(b, e);

    } else {
        b = ngx_http_adcp_json_lit(b, "{}");
    }

    b = ngx_http_adcp_json_lit(b, "}]}],\"metadata\":");
    b = ngx_http_adcp_exec_hook_members(b, e, hb);
    *b++ = '}';

    if (hb->form == NGX_HTTP_ADCP_A2A_10) {
        *b++ = '}';
    }

    *b++ = '}';
    body->len = b - body->data;

    return NGX_OK;
}


static size_t
ngx_http_adcp_exec_hook_members_len(ngx_http_adcp_exec_t *e,
    ngx_http_adcp_hook_body_t *hb)
{
    return sizeof("{\"idempotency_key\":,\"operation_id\":,\"task_id\":,"
                  "\"task_type\":,\"protocol\":,\"status\":,\"timestamp\":,"
                  "\"token\":,\"context\":") - 1
           + ngx_http_adcp_json_str_len(&hb->idem)
           + ngx_http_adcp_json_str_len(&hb->op)
           + ngx_http_adcp_json_str_len(&e->task_id)
           + ngx_http_adcp_json_str_len(&e->f[NGX_HTTP_ADCP_TF_TASK_TYPE])
           + ngx_http_adcp_json_str_len(&e->f[NGX_HTTP_ADCP_TF_PROTOCOL])
           + ngx_http_adcp_json_str_len(hb->status)
           + ngx_http_adcp_json_str_len(&e->now)
           + ngx_http_adcp_json_str_len(&e->f[NGX_HTTP_ADCP_TF_WEBHOOK_TOKEN])
           + e->f[NGX_HTTP_ADCP_TF_CONTEXT].len;
}


/* "{" and the payload's members, "result" aside; no closing brace */

static u_char *
ngx_http_adcp_exec_hook_members(u_char *b, ngx_http_adcp_exec_t *e,
    ngx_http_adcp_hook_body_t *hb)
{
    ngx_str_t  *tok, *ctx;

    tok = &e->f[NGX_HTTP_ADCP_TF_WEBHOOK_TOKEN];
    ctx = &e->f[NGX_HTTP_ADCP_TF_CONTEXT];

    b = ngx_http_adcp_json_lit(b, "{\"idempotency_key\":");
    b = ngx_http_adcp_json_str(b, &hb->idem);
    b = ngx_http_adcp_json_lit(b, ",\"operation_id\":");
    b = ngx_http_adcp_json_str(b, &hb->op);
    b = ngx_http_adcp_json_lit(b, ",\"task_id\":");
    b = ngx_http_adcp_json_str(b, &e->task_id);
    b = ngx_http_adcp_json_lit(b, ",\"task_type\":");
    b = ngx_http_adcp_json_str(b, &e->f[NGX_HTTP_ADCP_TF_TASK_TYPE]);
    b = ngx_http_adcp_json_lit(b, ",\"protocol\":");
    b = ngx_http_adcp_json_str(b, &e->f[NGX_HTTP_ADCP_TF_PROTOCOL]);
    b = ngx_http_adcp_json_lit(b, ",\"status\":");
    b = ngx_http_adcp_json_str(b, hb->status);
    b = ngx_http_adcp_json_lit(b, ",\"timestamp\":");
    b = ngx_http_adcp_json_str(b, &e->now);

    if (tok->len) {
        b = ngx_http_adcp_json_lit(b, ",\"token\":");
        b = ngx_http_adcp_json_str(b, tok);
    }

    /* stored at accept as JSON the module wrote */

    if (ctx->len) {
        b = ngx_http_adcp_json_lit(b, ",\"context\":");
        b = ngx_cpymem(b, ctx->data, ctx->len);
    }

    return b;
}


/* the task's response, or {"errors":[<its error>]} */

static u_char *
ngx_http_adcp_exec_hook_result(u_char *b, ngx_http_adcp_exec_t *e)
{
    if (e->status == NGX_HTTP_ADCP_TS_FAILED) {
        b = ngx_http_adcp_json_lit(b, "{\"errors\":[");
        b = ngx_cpymem(b, e->value.data, e->value.len);
        return ngx_http_adcp_json_lit(b, "]}");
    }

    return ngx_cpymem(b, e->value.data, e->value.len);
}


/*
 * The headers that authenticate this attempt (each ending in CRLF), and
 * the url's canonical form.  The scheme stored at accept; a task accepted
 * before it was stored: Bearer if it has credentials, else signed.
 */

static ngx_int_t
ngx_http_adcp_exec_hook_auth(ngx_http_adcp_exec_t *e, ngx_str_t *body,
    ngx_http_adcp_sign_uri_t *su, ngx_str_t *headers)
{
    u_char                    *p;
    ngx_int_t                  rc;
    ngx_str_t                 *url, *auth, *scheme, ts, sig;
    ngx_http_adcp_sign_key_t  *key;
    ngx_http_adcp_sign_req_t   req;
    ngx_http_adcp_sign_out_t   so;

    url = &e->f[NGX_HTTP_ADCP_TF_WEBHOOK_URL];
    auth = &e->f[NGX_HTTP_ADCP_TF_WEBHOOK_AUTH];
    scheme = &e->f[NGX_HTTP_ADCP_TF_WEBHOOK_SCHEME];

    if (ngx_http_adcp_exec_hook_is(scheme, NGX_HTTP_ADCP_HOOK_SIGNED)
        || (scheme->len == 0 && auth->len == 0))
    {
        key = ngx_http_adcp_jwks_signing_key((ngx_cycle_t *) ngx_cycle);

        if (key == NULL) {
            ngx_log_error(NGX_LOG_ERR, e->log, 0,
                          "adcp: the webhook is to be signed and no "
                          "\"adcp_task_webhook_signing_key\" is configured "
                          "now, not delivered");
            return NGX_DECLINED;
        }

        ngx_str_set(&req.method, "POST");
        ngx_str_set(&req.content_type, "application/json");
        req.url = *url;
        req.body = *body;
        req.created = ngx_time();
        ngx_str_null(&req.nonce);

        rc = ngx_http_adcp_sign_webhook(e->pool, key, &req, &so);

        if (rc == NGX_DECLINED) {
            ngx_log_error(NGX_LOG_ERR, e->log, 0,
                          "adcp: the webhook url cannot be signed (not a "
                          "canonical url), not delivered");
        }

        if (rc != NGX_OK) {
            return rc;
        }

        *su = so.uri;

        headers->len = sizeof("Content-Digest: " CRLF "Signature-Input: "
                              CRLF "Signature: " CRLF) - 1
                       + so.content_digest.len + so.signature_input.len
                       + so.signature.len;

        headers->data = ngx_pnalloc(e->pool, headers->len);
        if (headers->data == NULL) {
            return NGX_ERROR;
        }

        ngx_sprintf(headers->data, "Content-Digest: %V" CRLF
                    "Signature-Input: %V" CRLF "Signature: %V" CRLF,
                    &so.content_digest, &so.signature_input, &so.signature);

        return NGX_OK;
    }

    rc = ngx_http_adcp_sign_uri(e->pool, url, su);

    if (rc == NGX_DECLINED) {
        ngx_log_error(NGX_LOG_ERR, e->log, 0,
                      "adcp: the webhook url is invalid, not delivered");
    }

    if (rc != NGX_OK) {
        return rc;
    }

    /* an HMAC secret is a key, any bytes: never a header */

    if (ngx_http_adcp_exec_hook_is(scheme, NGX_HTTP_ADCP_HOOK_HMAC)) {

        if (ngx_http_adcp_sign_hmac(e->pool, auth, ngx_time(), body, &ts,
                                    &sig)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        headers->len = sizeof("X-ADCP-Timestamp: " CRLF "X-ADCP-Signature: "
                              CRLF) - 1 + ts.len + sig.len;

        headers->data = ngx_pnalloc(e->pool, headers->len);
        if (headers->data == NULL) {
            return NGX_ERROR;
        }

        ngx_sprintf(headers->data, "X-ADCP-Timestamp: %V" CRLF
                    "X-ADCP-Signature: %V" CRLF, &ts, &sig);

        return NGX_OK;
    }

    /* Bearer (none: a task whose credentials are gone) */

    if (auth->len == 0) {
        ngx_str_null(headers);
        return NGX_OK;
    }

    if (!ngx_http_adcp_tasks_clean(auth->data, auth->len)) {
        ngx_log_error(NGX_LOG_ERR, e->log, 0,
                      "adcp: the webhook credentials are not a header "
                      "value, not delivered");
        return NGX_DECLINED;
    }

    headers->len = sizeof("Authorization: Bearer " CRLF) - 1 + auth->len;

    p = ngx_pnalloc(e->pool, headers->len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    headers->data = p;
    ngx_sprintf(p, "Authorization: Bearer %V" CRLF, auth);

    return NGX_OK;
}


static ngx_uint_t
ngx_http_adcp_exec_hook_is(ngx_str_t *s, char *lit)
{
    size_t  len;

    len = ngx_strlen(lit);

    return s->len == len && ngx_strncmp(s->data, lit, len) == 0;
}
