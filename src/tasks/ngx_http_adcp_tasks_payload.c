
/*
 * ngx_http_adcp_tasks_module: the webhook's request.  The terminal status
 * as AdCP's mcp-webhook-payload, with its headers (credentials, the
 * Idempotency-Key the same for every retry of this status), written into
 * e->out for tasks_webhook.c to deliver.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_http_adcp_tasks_private.h"


ngx_int_t
ngx_http_adcp_exec_hook_request(ngx_http_adcp_exec_t *e,
    ngx_http_adcp_tasks_url_t *u)
{
    u_char     *p, *body, *b;
    size_t      len, blen;
    ngx_str_t  *tok, *auth, *op, idem, *status;

    status = &ngx_http_adcp_task_statuses[e->status];
    tok = &e->f[NGX_HTTP_ADCP_TF_WEBHOOK_TOKEN];
    auth = &e->f[NGX_HTTP_ADCP_TF_WEBHOOK_AUTH];
    op = &e->f[NGX_HTTP_ADCP_TF_OPERATION_ID];

    /* the delivery's key: the same for every retry of this status */

    idem.data = ngx_pnalloc(e->pool, e->task_id.len + status->len + 1);
    if (idem.data == NULL) {
        return NGX_ERROR;
    }

    idem.len = ngx_sprintf(idem.data, "%V.%V", &e->task_id, status)
               - idem.data;

    len = sizeof("{\"idempotency_key\":,\"operation_id\":,\"task_id\":,"
                 "\"task_type\":,\"protocol\":,\"status\":,\"timestamp\":,"
                 "\"token\":,\"result\":{\"errors\":[]}}") - 1
          + ngx_http_adcp_json_str_len(&idem)
          + ngx_http_adcp_json_str_len(op->len ? op : &e->task_id)
          + ngx_http_adcp_json_str_len(&e->task_id)
          + ngx_http_adcp_json_str_len(&e->f[NGX_HTTP_ADCP_TF_TASK_TYPE])
          + ngx_http_adcp_json_str_len(&e->f[NGX_HTTP_ADCP_TF_PROTOCOL])
          + ngx_http_adcp_json_str_len(status)
          + ngx_http_adcp_json_str_len(&e->now)
          + ngx_http_adcp_json_str_len(tok)
          + e->value.len + 4;

    len += sizeof("POST  HTTP/1.0" CRLF "Host: " CRLF
                  "Content-Type: application/json" CRLF
                  "Content-Length: " CRLF "Connection: close" CRLF
                  "Authorization: Bearer " CRLF "Idempotency-Key: " CRLF
                  CRLF) - 1
           + u->path.len + u->authority.len
           + NGX_SIZE_T_LEN + auth->len + idem.len;

    e->out = ngx_create_temp_buf(e->pool, len);
    if (e->out == NULL) {
        return NGX_ERROR;
    }

    body = ngx_pnalloc(e->pool, len);
    if (body == NULL) {
        return NGX_ERROR;
    }

    b = ngx_http_adcp_json_lit(body, "{\"idempotency_key\":");
    b = ngx_http_adcp_json_str(b, &idem);
    b = ngx_http_adcp_json_lit(b, ",\"operation_id\":");
    b = ngx_http_adcp_json_str(b, op->len ? op : &e->task_id);
    b = ngx_http_adcp_json_lit(b, ",\"task_id\":");
    b = ngx_http_adcp_json_str(b, &e->task_id);
    b = ngx_http_adcp_json_lit(b, ",\"task_type\":");
    b = ngx_http_adcp_json_str(b, &e->f[NGX_HTTP_ADCP_TF_TASK_TYPE]);
    b = ngx_http_adcp_json_lit(b, ",\"protocol\":");
    b = ngx_http_adcp_json_str(b, &e->f[NGX_HTTP_ADCP_TF_PROTOCOL]);
    b = ngx_http_adcp_json_lit(b, ",\"status\":");
    b = ngx_http_adcp_json_str(b, status);
    b = ngx_http_adcp_json_lit(b, ",\"timestamp\":");
    b = ngx_http_adcp_json_str(b, &e->now);

    if (tok->len) {
        b = ngx_http_adcp_json_lit(b, ",\"token\":");
        b = ngx_http_adcp_json_str(b, tok);
    }

    if (e->value.len && e->value.data[0] == '{') {
        if (e->status == NGX_HTTP_ADCP_TS_FAILED) {
            b = ngx_http_adcp_json_lit(b, ",\"result\":{\"errors\":[");
            b = ngx_cpymem(b, e->value.data, e->value.len);
            b = ngx_http_adcp_json_lit(b, "]}");

        } else {
            b = ngx_http_adcp_json_lit(b, ",\"result\":");
            b = ngx_cpymem(b, e->value.data, e->value.len);
        }
    }

    *b++ = '}';
    blen = b - body;

    p = ngx_sprintf(e->out->last, "POST %V HTTP/1.0" CRLF "Host: %V" CRLF
                    "Content-Type: application/json" CRLF
                    "Content-Length: %uz" CRLF "Connection: close" CRLF
                    "Idempotency-Key: %V" CRLF,
                    &u->path, &u->authority, blen, &idem);

    if (auth->len) {
        p = ngx_sprintf(p, "Authorization: Bearer %V" CRLF, auth);
    }

    p = ngx_http_adcp_json_lit(p, CRLF);

    if ((size_t) (e->out->end - p) < blen) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(p, body, blen);
    ngx_pfree(e->pool, body);

    e->out->last = p;

    return NGX_OK;
}
