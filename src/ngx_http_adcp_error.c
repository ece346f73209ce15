
/*
 * ngx_http_adcp_module: AdCP error objects in their transport forms.
 *
 *   MCP tools/call with an id:   HTTP 200, a JSON-RPC result with isError,
 *                                one text item holding the serialized
 *                                {"adcp_error":...} and structuredContent
 *   other JSON-RPC with an id:   HTTP 200, a JSON-RPC error whose data is
 *                                {"adcp_error":...}
 *   a body that is not JSON or is  HTTP 400, the JSON-RPC form, -32700,
 *   nested too deeply:           "id":null (as MCP SDK servers answer)
 *   a JSON-RPC batch:            HTTP 400, the JSON-RPC form, -32600,
 *                                "id":null
 *   anything else:               the code's HTTP status, {"adcp_error":...}
 *
 * Every form is application/json and carries X-AdCP-Error.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_adcp_error.h"
#include "ngx_http_adcp_json.h"


#define NGX_HTTP_ADCP_FORM_PLAIN    0
#define NGX_HTTP_ADCP_FORM_JSONRPC  1
#define NGX_HTTP_ADCP_FORM_MCP      2

#define NGX_HTTP_ADCP_JSONRPC_PARSE_ERROR  -32700
#define NGX_HTTP_ADCP_JSONRPC_INVALID      -32600
#define NGX_HTTP_ADCP_JSONRPC_SERVER_ERROR -32000


typedef struct {
    ngx_str_t    name;
    ngx_str_t    recovery;      /* enums/error-code.json enumMetadata */
    ngx_uint_t   status;
    ngx_int_t    jsonrpc;
} ngx_http_adcp_error_code_t;


static ngx_uint_t ngx_http_adcp_error_form(ngx_http_adcp_envelope_t *env);
static ngx_uint_t ngx_http_adcp_error_unread(ngx_http_adcp_envelope_t *env);
static ngx_int_t ngx_http_adcp_error_header(ngx_http_request_t *r,
    ngx_str_t *name, ngx_str_t *value);


static ngx_http_adcp_error_code_t  ngx_http_adcp_error_codes[] = {

    { ngx_string("ACCOUNT_NOT_FOUND"), ngx_string("terminal"),
      NGX_HTTP_NOT_FOUND, NGX_HTTP_ADCP_JSONRPC_SERVER_ERROR },

    { ngx_string("UNSUPPORTED_FEATURE"), ngx_string("correctable"),
      NGX_HTTP_BAD_REQUEST, NGX_HTTP_ADCP_JSONRPC_SERVER_ERROR },

    { ngx_string("INVALID_REQUEST"), ngx_string("correctable"),
      NGX_HTTP_BAD_REQUEST, NGX_HTTP_ADCP_JSONRPC_SERVER_ERROR },

    { ngx_string("SERVICE_UNAVAILABLE"), ngx_string("transient"),
      NGX_HTTP_SERVICE_UNAVAILABLE, -32027 },

    { ngx_string("RATE_LIMITED"), ngx_string("transient"),
      429, -32029 },

    { ngx_string("IDEMPOTENCY_CONFLICT"), ngx_string("correctable"),
      NGX_HTTP_CONFLICT, NGX_HTTP_ADCP_JSONRPC_SERVER_ERROR },

    { ngx_string("REFERENCE_NOT_FOUND"), ngx_string("correctable"),
      NGX_HTTP_NOT_FOUND, NGX_HTTP_ADCP_JSONRPC_SERVER_ERROR }
};


/*
 * SERVICE_UNAVAILABLE for a platform that cannot be had now: retried
 * after "until" (a second at least); NULL: out of memory
 */

ngx_http_adcp_error_t *
ngx_http_adcp_error_unavailable(ngx_pool_t *pool, ngx_msec_t until)
{
    ngx_msec_int_t          left;
    ngx_http_adcp_error_t  *err;

    err = ngx_pcalloc(pool, sizeof(ngx_http_adcp_error_t));
    if (err == NULL) {
        return NULL;
    }

    err->code = NGX_HTTP_ADCP_ERR_SERVICE_UNAVAILABLE;
    ngx_str_set(&err->message, "the account's platform is unavailable, "
                "retry later");

    left = (ngx_msec_int_t) (until - ngx_current_msec);
    err->retry_after = (left > 0) ? (left + 999) / 1000 : 1;

    return err;
}


static ngx_str_t  ngx_http_adcp_error_header_name = ngx_string("X-AdCP-Error");
static ngx_str_t  ngx_http_adcp_retry_after_name = ngx_string("Retry-After");
static ngx_str_t  ngx_http_adcp_null_id = ngx_string("null");


ngx_int_t
ngx_http_adcp_error_send(ngx_http_request_t *r, ngx_http_adcp_envelope_t *env,
    ngx_http_adcp_error_t *err)
{
    ngx_int_t                    rc;
    ngx_str_t                    body;
    ngx_buf_t                   *b;
    ngx_uint_t                   status;
    ngx_chain_t                  out;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "adcp error: %V \"%V\"",
                   &ngx_http_adcp_error_codes[err->code].name,
                   &err->message);

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_adcp_error_body(r->pool, env, err, &body, &status)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_adcp_error_headers(r, err, status, body.len) != NGX_OK) {
        return NGX_ERROR;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = body.data;
    b->last = body.data + body.len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* the status, Content-Type, Content-Length, X-AdCP-Error, Retry-After */

ngx_int_t
ngx_http_adcp_error_headers(ngx_http_request_t *r, ngx_http_adcp_error_t *err,
    ngx_uint_t status, size_t len)
{
    ngx_str_t                    value;
    ngx_http_adcp_error_code_t  *code;

    code = &ngx_http_adcp_error_codes[err->code];

    r->headers_out.status = status;
    r->headers_out.content_length_n = len;

    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    if (ngx_http_adcp_error_header(r, &ngx_http_adcp_error_header_name,
                                   &code->name)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (err->retry_after == 0) {
        return NGX_OK;
    }

    value.data = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
    if (value.data == NULL) {
        return NGX_ERROR;
    }

    value.len = ngx_sprintf(value.data, "%T",
                            ngx_max(1, ngx_min(err->retry_after,
                                               NGX_HTTP_ADCP_RETRY_AFTER_MAX)))
                - value.data;

    return ngx_http_adcp_error_header(r, &ngx_http_adcp_retry_after_name,
                                      &value);
}


ngx_int_t
ngx_http_adcp_error_body(ngx_pool_t *pool, ngx_http_adcp_envelope_t *env,
    ngx_http_adcp_error_t *err, ngx_str_t *body, ngx_uint_t *status)
{
    size_t                       len, wlen;
    u_char                      *p, *w;
    time_t                       retry;
    ngx_int_t                    jsonrpc;
    ngx_str_t                   *id;
    ngx_uint_t                   form;
    ngx_http_adcp_error_code_t  *code;

    code = &ngx_http_adcp_error_codes[err->code];
    form = ngx_http_adcp_error_form(env);

    retry = err->retry_after;

    if (retry) {
        retry = ngx_max(1, ngx_min(retry, NGX_HTTP_ADCP_RETRY_AFTER_MAX));
    }

    /* W = {"adcp_error":{...}} */

    wlen = sizeof("{\"adcp_error\":{\"code\":\"\",\"message\":,"
                  "\"recovery\":\"\"}}") - 1
           + code->name.len
           + ngx_http_adcp_json_str_len(&err->message)
           + code->recovery.len;

    if (err->field.len) {
        wlen += sizeof(",\"field\":") - 1
                + ngx_http_adcp_json_str_len(&err->field);
    }

    if (retry) {
        wlen += sizeof(",\"retry_after\":") - 1 + NGX_TIME_T_LEN;
    }

    w = ngx_pnalloc(pool, wlen);
    if (w == NULL) {
        return NGX_ERROR;
    }

    p = ngx_http_adcp_json_lit(w, "{\"adcp_error\":{\"code\":\"");
    p = ngx_cpymem(p, code->name.data, code->name.len);
    p = ngx_http_adcp_json_lit(p, "\",\"message\":");
    p = ngx_http_adcp_json_str(p, &err->message);
    p = ngx_http_adcp_json_lit(p, ",\"recovery\":\"");
    p = ngx_cpymem(p, code->recovery.data, code->recovery.len);
    *p++ = '"';

    if (err->field.len) {
        p = ngx_http_adcp_json_lit(p, ",\"field\":");
        p = ngx_http_adcp_json_str(p, &err->field);
    }

    if (retry) {
        p = ngx_sprintf(p, ",\"retry_after\":%T", retry);
    }

    p = ngx_http_adcp_json_lit(p, "}}");
    wlen = p - w;

    if (form == NGX_HTTP_ADCP_FORM_PLAIN) {
        body->data = w;
        body->len = wlen;
        *status = err->status ? err->status : code->status;
        return NGX_OK;
    }

    *status = NGX_HTTP_OK;

    if (ngx_http_adcp_error_unread(env)) {
        *status = err->status ? err->status : code->status;
        id = &ngx_http_adcp_null_id;
        jsonrpc = (env->error == NGX_HTTP_ADCP_ENV_BATCH)
                  ? NGX_HTTP_ADCP_JSONRPC_INVALID
                  : NGX_HTTP_ADCP_JSONRPC_PARSE_ERROR;

    } else {
        id = &env->id;
        jsonrpc = code->jsonrpc;
    }

    len = sizeof("{\"jsonrpc\":\"2.0\",\"id\":,") - 1 + id->len;

    if (form == NGX_HTTP_ADCP_FORM_MCP) {
        len += sizeof("\"result\":{\"isError\":true,\"content\":[{\"type\":"
                      "\"text\",\"text\":\"\"}],\"structuredContent\":}}") - 1
               + ngx_http_adcp_json_escape_len(w, wlen) + wlen;

    } else {
        len += sizeof("\"error\":{\"code\":,\"message\":\": \","
                      "\"data\":}}") - 1
               + NGX_INT_T_LEN + code->name.len
               + ngx_http_adcp_json_escape_len(err->message.data,
                                               err->message.len)
               + wlen;
    }

    body->data = ngx_pnalloc(pool, len);
    if (body->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_http_adcp_json_lit(body->data, "{\"jsonrpc\":\"2.0\",\"id\":");
    p = ngx_cpymem(p, id->data, id->len);

    if (form == NGX_HTTP_ADCP_FORM_MCP) {
        p = ngx_http_adcp_json_lit(p, ",\"result\":{\"isError\":true,"
                                   "\"content\":[{\"type\":\"text\","
                                   "\"text\":\"");
        p = ngx_http_adcp_json_escape(p, w, wlen);
        p = ngx_http_adcp_json_lit(p, "\"}],\"structuredContent\":");
        p = ngx_cpymem(p, w, wlen);
        p = ngx_http_adcp_json_lit(p, "}}");

    } else {
        p = ngx_sprintf(p, ",\"error\":{\"code\":%i,\"message\":\"%V: ",
                        jsonrpc, &code->name);
        p = ngx_http_adcp_json_escape(p, err->message.data, err->message.len);
        p = ngx_http_adcp_json_lit(p, "\",\"data\":");
        p = ngx_cpymem(p, w, wlen);
        p = ngx_http_adcp_json_lit(p, "}}");
    }

    body->len = p - body->data;

    return NGX_OK;
}


static ngx_uint_t
ngx_http_adcp_error_form(ngx_http_adcp_envelope_t *env)
{
    if (env == NULL) {
        return NGX_HTTP_ADCP_FORM_PLAIN;
    }

    if (ngx_http_adcp_error_unread(env)) {
        return NGX_HTTP_ADCP_FORM_JSONRPC;
    }

    if (env->method == NGX_HTTP_ADCP_METHOD_NONE || env->id.len == 0) {
        return NGX_HTTP_ADCP_FORM_PLAIN;
    }

    if (env->method == NGX_HTTP_ADCP_METHOD_MCP_CALL) {
        return NGX_HTTP_ADCP_FORM_MCP;
    }

    return NGX_HTTP_ADCP_FORM_JSONRPC;
}


/* a body with no request to answer: not JSON, too deep, a batch */

static ngx_uint_t
ngx_http_adcp_error_unread(ngx_http_adcp_envelope_t *env)
{
    return env->error == NGX_HTTP_ADCP_ENV_SYNTAX
           || env->error == NGX_HTTP_ADCP_ENV_DEPTH
           || env->error == NGX_HTTP_ADCP_ENV_BATCH;
}


static ngx_int_t
ngx_http_adcp_error_header(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key = *name;
    h->value = *value;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    return NGX_OK;
}
