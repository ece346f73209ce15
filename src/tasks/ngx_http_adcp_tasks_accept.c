
/*
 * ngx_http_adcp_tasks_module: accept.  A request whose task is in the
 * location's adcp_async, once its tenant and platform are resolved and
 * its capabilities checked, has its arguments read (tasks_body.c), then
 * one EVAL stores it atomically: the idempotency key (if any) is looked up
 * first (a replay answers the stored task id, another payload
 * IDEMPOTENCY_CONFLICT), else the task record adcp:task:<id> (a hash),
 * the key adcp:idem:<tenant>:<principal>:<key>, both expiring after
 * adcp_task_ttl, and an entry of the stream adcp:tasks.  Only then is
 * "submitted" answered.  No answer from Redis within adcp_redis_ping:
 * SERVICE_UNAVAILABLE, and nothing acknowledged.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_adcp_tasks_private.h"
#include "ngx_http_adcp_durability.h"
#include "ngx_http_adcp_jwks.h"

#include <yajl/yajl_gen.h>


static char *ngx_http_adcp_tasks_repeated(yajl_val args);
static char *ngx_http_adcp_tasks_webhook(ngx_http_adcp_task_t *t,
    yajl_val v, ngx_uint_t *code, char **field);
static ngx_int_t ngx_http_adcp_tasks_json(ngx_pool_t *pool, yajl_val v,
    ngx_str_t *out);
static ngx_int_t ngx_http_adcp_tasks_headers(ngx_http_request_t *r,
    ngx_str_t *out);
static ngx_uint_t ngx_http_adcp_tasks_header_wanted(ngx_array_t *names,
    ngx_str_t *name);
static ngx_int_t ngx_http_adcp_tasks_store(ngx_http_request_t *r,
    ngx_http_adcp_task_t *t);
static void ngx_http_adcp_tasks_on_store(ngx_http_adcp_redis_reply_t *reply,
    void *data);
static void ngx_http_adcp_tasks_acked(ngx_http_request_t *r,
    ngx_http_adcp_task_t *t, ngx_uint_t replayed);
static void ngx_http_adcp_tasks_on_wait(ngx_http_adcp_redis_reply_t *reply,
    void *data);


/*
 * KEYS: the idempotency key, the task record, the stream;
 * ARGV: ttl (s), idempotency_key ("" = none), task id, payload hash,
 * then the record's field/value pairs.
 * -> {"dup", stored task id, stored hash} or {"new", task id, XLEN}
 */

static ngx_http_adcp_redis_script_t  ngx_http_adcp_tasks_script =
    ngx_http_adcp_redis_script(
    "local ttl = tonumber(ARGV[1])\n"
    "if ARGV[2] ~= '' then\n"
    "  local v = redis.call('GET', KEYS[1])\n"
    "  if v then\n"
    "    return {'dup', string.sub(v, 34), string.sub(v, 1, 32)}\n"
    "  end\n"
    "end\n"
    "redis.call('HSET', KEYS[2], unpack(ARGV, 5))\n"
    "redis.call('EXPIRE', KEYS[2], ttl)\n"
    "if ARGV[2] ~= '' then\n"
    "  redis.call('SET', KEYS[1], ARGV[4] .. ' ' .. ARGV[3], 'EX', ttl)\n"
    "end\n"
    "redis.call('XADD', KEYS[3], '*', 'task', ARGV[3])\n"
    "return {'new', ARGV[3], redis.call('XLEN', KEYS[3])}\n");


/*
 * A task of the location's adcp_async: stored, then answered "submitted".
 * NGX_DECLINED: not an async task; NGX_DONE; NGX_ERROR.
 */

ngx_int_t
ngx_http_adcp_tasks_accept(ngx_http_request_t *r, ngx_http_adcp_ctx_t *ctx)
{
    char                            *message, *field;
    yajl_val                         v;
    ngx_int_t                        rc;
    ngx_str_t                       *name;
    ngx_uint_t                       i, code;
    ngx_http_adcp_task_t            *t;
    ngx_http_adcp_tasks_loc_conf_t  *tlcf;

    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_adcp_tasks_module);

    if (tlcf->async == NULL || !ctx->has_env || ctx->env->task.len == 0) {
        return NGX_DECLINED;
    }

    name = tlcf->async->elts;

    for (i = 0; i < tlcf->async->nelts; i++) {
        if (name[i].len == ctx->env->task.len
            && ngx_strncmp(name[i].data, ctx->env->task.data,
                           name[i].len) == 0)
        {
            break;
        }
    }

    if (i == tlcf->async->nelts) {
        return NGX_DECLINED;
    }

    t = ngx_http_adcp_tasks_create(r, ctx);
    if (t == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_adcp_tasks_parse(r, t);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    code = NGX_HTTP_ADCP_ERR_INVALID_REQUEST;
    field = NULL;

    if (rc == NGX_DECLINED) {
        message = "the request's task arguments cannot be read";
        goto refuse;
    }

    field = ngx_http_adcp_tasks_repeated(t->args);

    if (field) {
        message = "a member the gateway reads appears more than once";
        goto refuse;
    }

    v = ngx_http_adcp_json_get(t->args, "push_notification_config");

    if (v && YAJL_IS_NULL(v)) {
        v = NULL;
    }

    /* AdCP's push_notification_config, or A2A's own: one webhook */

    if (v && t->a2a_hook) {
        message = "a webhook is registered twice (push_notification_config "
                  "and the A2A configuration's)";
        field = "push_notification_config";
        goto refuse;
    }

    t->hook_form = NGX_HTTP_ADCP_HOOK_FORM_ADCP;

    if (v == NULL && t->a2a_hook) {
        v = t->a2a_hook;
        t->hook_form = (t->a2a == NGX_HTTP_ADCP_A2A_10)
                       ? NGX_HTTP_ADCP_HOOK_FORM_A2A10
                       : NGX_HTTP_ADCP_HOOK_FORM_A2A03;
    }

    if (v) {

        if (!tlcf->webhooks) {
            code = NGX_HTTP_ADCP_ERR_UNSUPPORTED_FEATURE;
            message = "push notifications are not supported for this task";
            field = "push_notification_config";
            goto refuse;
        }

        message = ngx_http_adcp_tasks_webhook(t, v, &code, &field);

        if (message) {
            goto refuse;
        }

        t->webhook = 1;
    }

    v = ngx_http_adcp_json_get(t->args, "idempotency_key");

    if (v && !YAJL_IS_NULL(v)) {

        if (!YAJL_IS_STRING(v) || v->u.string[0] == '\0'
            || ngx_strlen(v->u.string) > NGX_HTTP_ADCP_IDEM_KEY_MAX)
        {
            message = "idempotency_key is not a string of 1 to 255 bytes";
            field = "idempotency_key";
            goto refuse;
        }

        t->idem.data = (u_char *) v->u.string;
        t->idem.len = ngx_strlen(v->u.string);
    }

    ngx_http_adcp_tasks_principal(r, t);
    ngx_http_adcp_tasks_hash(t->hash, &ctx->env->task, t->args,
                             r->connection->log);

    if (ngx_http_adcp_tasks_id(r, t) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_adcp_tasks_store(r, t);

refuse:

    ngx_http_finalize_request(r,
        ngx_http_adcp_tasks_error(r, ctx, code, message, field));
    return NGX_DONE;
}


/*
 * The arguments' members the gateway reads (idempotency_key, the webhook),
 * each once in its object; the field repeated, or NULL
 */

static char *
ngx_http_adcp_tasks_repeated(yajl_val args)
{
    char      *field;
    yajl_val   hook;

    static char  *top[] = { "idempotency_key", "push_notification_config",
                            NULL };
    static char  *in_hook[] = { "url", "token", "operation_id",
                                "authentication", NULL };
    static char  *in_auth[] = { "schemes", "credentials", NULL };

    field = ngx_http_adcp_json_repeated(args, top);
    if (field) {
        return field;
    }

    hook = ngx_http_adcp_json_get(args, "push_notification_config");

    if (ngx_http_adcp_json_repeated(hook, in_hook)) {
        return "push_notification_config";
    }

    if (ngx_http_adcp_json_repeated(ngx_http_adcp_json_get(hook,
                                                     "authentication"),
                                    in_auth))
    {
        return "push_notification_config.authentication";
    }

    return NULL;
}


/*
 * push_notification_config (or A2A's configuration.pushNotificationConfig):
 * a url the policy allows (tasks_url.c); token, operation_id and
 * authentication as ngx_http_adcp_sign_pnc() checks them.  Without an
 * authentication block the webhook is signed (RFC 9421): refused if no
 * adcp_task_webhook_signing_key is configured, never sent unsigned.  The
 * delivery's idempotency_key is drawn here, and the request's "context"
 * kept to be echoed.  NULL: fine; else the refusal's message.
 */

static char *
ngx_http_adcp_tasks_webhook(ngx_http_adcp_task_t *t, yajl_val v,
    ngx_uint_t *code, char **field)
{
    char                             *message;
    yajl_val                          url, ctx;
    ngx_str_t                         s;
    ngx_http_adcp_sign_pnc_t          pnc;
    ngx_http_adcp_sign_uri_t          su;
    ngx_http_adcp_tasks_url_t         u;
    ngx_http_adcp_tasks_main_conf_t  *tmcf;

    ngx_http_adcp_tasks_url_e         why;

    *field = "push_notification_config";

    if (!YAJL_IS_OBJECT(v)) {
        return "push_notification_config is not an object";
    }

    url = ngx_http_adcp_json_get(v, "url");

    *field = "push_notification_config.url";

    if (url == NULL || !YAJL_IS_STRING(url) || url->u.string[0] == '\0') {
        return "push_notification_config.url is missing";
    }

    s.data = (u_char *) url->u.string;
    s.len = ngx_strlen(url->u.string);

    tmcf = ngx_http_get_module_main_conf(t->request,
                                         ngx_http_adcp_tasks_module);

    why = ngx_http_adcp_tasks_url(t->request->pool, &s,
                                  tmcf->webhook_policy, &u);

    switch (why) {

    case NGX_HTTP_ADCP_URL_OK:
        break;

    case NGX_HTTP_ADCP_URL_PLAIN:
        return "push_notification_config.url must be an https:// url";

    case NGX_HTTP_ADCP_URL_NOT_HTTP:
        return "push_notification_config.url is not an https:// url";

    case NGX_HTTP_ADCP_URL_PRIVATE:
        return "push_notification_config.url is not a public address";

    default:
        return "push_notification_config.url is not a valid url";
    }

    /*
     * its request target and Host are its canonical form (and what a
     * signature covers): a url without one would be accepted, then never
     * delivered
     */

    if (ngx_http_adcp_sign_uri(t->request->pool, &s, &su) != NGX_OK) {
        return "push_notification_config.url is not a valid url";
    }

    t->hook_url = s;

    message = ngx_http_adcp_sign_pnc(v, &pnc, field);

    if (message) {
        return message;
    }

    /* AdCP: without it the webhook's envelope cannot be written */

    if (pnc.operation_id.len == 0
        && ngx_strcmp(t->hook_form, NGX_HTTP_ADCP_HOOK_FORM_ADCP) == 0)
    {
        *field = "push_notification_config.operation_id";
        return "push_notification_config.operation_id is missing (AdCP "
               "requires it with a webhook)";
    }

    t->hook_token = pnc.token;
    t->operation_id = pnc.operation_id;
    t->hook_auth = pnc.credentials;

    switch (pnc.scheme) {

    case NGX_HTTP_ADCP_SIGN_AUTH_HMAC:
        t->hook_scheme = NGX_HTTP_ADCP_HOOK_HMAC;
        break;

    case NGX_HTTP_ADCP_SIGN_AUTH_BEARER:
        t->hook_scheme = NGX_HTTP_ADCP_HOOK_BEARER;
        break;

    default:
        if (ngx_http_adcp_jwks_signing_key((ngx_cycle_t *) ngx_cycle)
            == NULL)
        {
            *code = NGX_HTTP_ADCP_ERR_UNSUPPORTED_FEATURE;
            *field = "push_notification_config";
            return "webhooks without an authentication block are signed "
                   "(RFC 9421), and this gateway has no signing key";
        }

        t->hook_scheme = NGX_HTTP_ADCP_HOOK_SIGNED;
    }

    /* the delivery's key: the same on every attempt, by any worker */

    t->hook_idem[0] = 'w';
    t->hook_idem[1] = 'h';
    t->hook_idem[2] = 'k';
    t->hook_idem[3] = '_';

    if (ngx_http_adcp_sign_random(t->hook_idem + 4, 16) != NGX_OK) {
        *code = NGX_HTTP_ADCP_ERR_SERVICE_UNAVAILABLE;
        *field = NULL;
        return "no random bytes for the webhook's idempotency_key";
    }

    /* the request's context, echoed */

    ctx = ngx_http_adcp_json_get(t->args, "context");

    if (ctx && !YAJL_IS_NULL(ctx)
        && ngx_http_adcp_tasks_json(t->request->pool, ctx, &t->hook_context)
           != NGX_OK)
    {
        *code = NGX_HTTP_ADCP_ERR_SERVICE_UNAVAILABLE;
        *field = NULL;
        return "the request's context cannot be kept";
    }

    *field = NULL;

    return NULL;
}


/* v written as JSON into the pool */

static ngx_int_t
ngx_http_adcp_tasks_json(ngx_pool_t *pool, yajl_val v, ngx_str_t *out)
{
    size_t                len;
    yajl_gen              g;
    ngx_int_t             rc;
    const unsigned char  *buf;

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return NGX_ERROR;
    }

    rc = NGX_ERROR;

    if (ngx_http_adcp_json_gen(g, v) == NGX_OK
        && yajl_gen_get_buf(g, &buf, &len) == yajl_gen_status_ok)
    {
        out->data = ngx_pnalloc(pool, len);

        if (out->data) {
            ngx_memcpy(out->data, buf, len);
            out->len = len;
            rc = NGX_OK;
        }
    }

    yajl_gen_free(g);

    return rc;
}


/* the headers execution replays: [["Name","value"],...] */

static ngx_int_t
ngx_http_adcp_tasks_headers(ngx_http_request_t *r, ngx_str_t *out)
{
    size_t                           len;
    u_char                          *p;
    ngx_uint_t                       i, n;
    ngx_list_part_t                 *part;
    ngx_table_elt_t                 *h;
    ngx_http_adcp_tasks_loc_conf_t  *tlcf;

    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_adcp_tasks_module);

    len = sizeof("[]") - 1;

    for (part = &r->headers_in.headers.part; part; part = part->next) {
        h = part->elts;

        for (i = 0; i < part->nelts; i++) {
            if (ngx_http_adcp_tasks_header_wanted(tlcf->headers, &h[i].key))
            {
                len += sizeof("[,],") - 1
                       + ngx_http_adcp_json_str_len(&h[i].key)
                       + ngx_http_adcp_json_str_len(&h[i].value);
            }
        }
    }

    out->data = ngx_pnalloc(r->pool, len);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    p = out->data;
    *p++ = '[';
    n = 0;

    for (part = &r->headers_in.headers.part; part; part = part->next) {
        h = part->elts;

        for (i = 0; i < part->nelts; i++) {
            if (!ngx_http_adcp_tasks_header_wanted(tlcf->headers,
                                                   &h[i].key))
            {
                continue;
            }

            if (n++) {
                *p++ = ',';
            }

            *p++ = '[';
            p = ngx_http_adcp_json_str(p, &h[i].key);
            *p++ = ',';
            p = ngx_http_adcp_json_str(p, &h[i].value);
            *p++ = ']';
        }
    }

    *p++ = ']';
    out->len = p - out->data;

    return NGX_OK;
}


/* a name of adcp_task_headers, caseless; "X-AdCP-*" is a prefix */

static ngx_uint_t
ngx_http_adcp_tasks_header_wanted(ngx_array_t *names, ngx_str_t *name)
{
    size_t      len;
    ngx_str_t  *n;
    ngx_uint_t  i;

    if (names == NULL) {
        return 0;
    }

    /* never stored: the execution marker, a session of the buyer's */

    if ((name->len == sizeof(NGX_HTTP_ADCP_EXEC_HEADER) - 1
         && ngx_strncasecmp(name->data, (u_char *) NGX_HTTP_ADCP_EXEC_HEADER,
                            name->len) == 0)
        || (name->len == sizeof("Mcp-Session-Id") - 1
            && ngx_strncasecmp(name->data, (u_char *) "Mcp-Session-Id",
                               name->len) == 0))
    {
        return 0;
    }

    n = names->elts;

    for (i = 0; i < names->nelts; i++) {
        len = n[i].len;

        if (len && n[i].data[len - 1] == '*') {
            if (name->len >= len - 1
                && ngx_strncasecmp(name->data, n[i].data, len - 1) == 0)
            {
                return 1;
            }

            continue;
        }

        if (name->len == len
            && ngx_strncasecmp(name->data, n[i].data, len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/* the one EVAL that stores the task (or finds its idempotency key) */

static ngx_int_t
ngx_http_adcp_tasks_store(ngx_http_request_t *r, ngx_http_adcp_task_t *t)
{
    u_char                          *p;
    ngx_str_t                        f[NGX_HTTP_ADCP_TF_N], *tenant, key;
    ngx_str_t                        idem[3];
    ngx_uint_t                       i;
    ngx_http_adcp_redis_args_t       a;
    ngx_http_adcp_tasks_loc_conf_t  *tlcf;

    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_adcp_tasks_module);
    tenant = t->ctx->tenant;

    /* the record: the fields not set here (data NULL) are not written */

    ngx_memzero(f, sizeof(f));

    if (ngx_http_adcp_tasks_headers(r, &f[NGX_HTTP_ADCP_TF_HEADERS])
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    f[NGX_HTTP_ADCP_TF_TENANT] = *tenant;
    f[NGX_HTTP_ADCP_TF_PRINCIPAL].data = t->principal;
    f[NGX_HTTP_ADCP_TF_PRINCIPAL].len = r->headers_in.authorization ? 32 : 0;
    f[NGX_HTTP_ADCP_TF_TASK_TYPE] = t->ctx->env->task;
    f[NGX_HTTP_ADCP_TF_PROTOCOL].data =
                   (u_char *) ngx_http_adcp_task_protocol(&t->ctx->env->task);
    f[NGX_HTTP_ADCP_TF_PROTOCOL].len =
                   ngx_strlen(f[NGX_HTTP_ADCP_TF_PROTOCOL].data);

    if (t->a2a) {
        ngx_str_set(&f[NGX_HTTP_ADCP_TF_TRANSPORT], "a2a");

    } else if (t->ctx->env->method == NGX_HTTP_ADCP_METHOD_MCP_CALL) {
        ngx_str_set(&f[NGX_HTTP_ADCP_TF_TRANSPORT], "mcp");

    } else {
        ngx_str_set(&f[NGX_HTTP_ADCP_TF_TRANSPORT], "http");
    }

    f[NGX_HTTP_ADCP_TF_RPC_METHOD] = t->rpc;
    f[NGX_HTTP_ADCP_TF_STATUS] =
                   ngx_http_adcp_task_statuses[NGX_HTTP_ADCP_TS_SUBMITTED];

    p = ngx_pnalloc(r->pool, NGX_HTTP_ADCP_ISO8601_LEN + NGX_INT_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    f[NGX_HTTP_ADCP_TF_CREATED_AT].data = p;
    f[NGX_HTTP_ADCP_TF_CREATED_AT].len = ngx_http_adcp_time_iso8601(p) - p;
    f[NGX_HTTP_ADCP_TF_UPDATED_AT] = f[NGX_HTTP_ADCP_TF_CREATED_AT];

    f[NGX_HTTP_ADCP_TF_IDEMPOTENCY_KEY].data = t->idem.data ? t->idem.data
                                                            : (u_char *) "";
    f[NGX_HTTP_ADCP_TF_IDEMPOTENCY_KEY].len = t->idem.len;
    f[NGX_HTTP_ADCP_TF_PAYLOAD_HASH].data = t->hash;
    f[NGX_HTTP_ADCP_TF_PAYLOAD_HASH].len = 32;
    f[NGX_HTTP_ADCP_TF_HAS_WEBHOOK].data = (u_char *) (t->webhook ? "1"
                                                                  : "0");
    f[NGX_HTTP_ADCP_TF_HAS_WEBHOOK].len = 1;
    ngx_str_set(&f[NGX_HTTP_ADCP_TF_ATTEMPTS], "0");
    f[NGX_HTTP_ADCP_TF_URI] = r->unparsed_uri;

    /* the host the tenant was found by (request line, then Host) */

    f[NGX_HTTP_ADCP_TF_HOST] = r->headers_in.server;

    if (f[NGX_HTTP_ADCP_TF_HOST].data == NULL) {
        f[NGX_HTTP_ADCP_TF_HOST].data = (u_char *) "";
    }

    f[NGX_HTTP_ADCP_TF_BODY] = t->body;

    /* where execution sends it: this port of this (or any) host */

    if (ngx_connection_local_sockaddr(r->connection, NULL, 0) != NGX_OK) {
        return NGX_ERROR;
    }

    p += NGX_HTTP_ADCP_ISO8601_LEN;
    f[NGX_HTTP_ADCP_TF_PORT].data = p;
    f[NGX_HTTP_ADCP_TF_PORT].len = ngx_sprintf(p, "%ui",
                    (ngx_uint_t) ngx_inet_get_port(
                                          r->connection->local_sockaddr))
                                   - p;

    if (t->webhook) {
        f[NGX_HTTP_ADCP_TF_WEBHOOK_URL] = t->hook_url;
        f[NGX_HTTP_ADCP_TF_WEBHOOK_TOKEN] = t->hook_token;
        f[NGX_HTTP_ADCP_TF_WEBHOOK_AUTH] = t->hook_auth;
        f[NGX_HTTP_ADCP_TF_OPERATION_ID] = t->operation_id;
        f[NGX_HTTP_ADCP_TF_WEBHOOK_SCHEME].data = (u_char *) t->hook_scheme;
        f[NGX_HTTP_ADCP_TF_WEBHOOK_SCHEME].len = ngx_strlen(t->hook_scheme);
        f[NGX_HTTP_ADCP_TF_WEBHOOK_IDEM].data = t->hook_idem;
        f[NGX_HTTP_ADCP_TF_WEBHOOK_IDEM].len = NGX_HTTP_ADCP_HOOK_IDEM_LEN;
        f[NGX_HTTP_ADCP_TF_WEBHOOK_FORM].data = (u_char *) t->hook_form;
        f[NGX_HTTP_ADCP_TF_WEBHOOK_FORM].len = ngx_strlen(t->hook_form);
        f[NGX_HTTP_ADCP_TF_CONTEXT] = t->hook_context;
        f[NGX_HTTP_ADCP_TF_CONTEXT_ID] = t->context_id;

        for (i = NGX_HTTP_ADCP_TF_WEBHOOK_URL;
             i <= NGX_HTTP_ADCP_TF_CONTEXT_ID;
             i++)
        {
            if (f[i].data == NULL) {
                f[i].data = (u_char *) "";
            }
        }
    }

    if (ngx_http_adcp_redis_args_init(&a, r->pool, 8 + 2 * NGX_HTTP_ADCP_TF_N)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_adcp_redis_arg_lit(&a, "3");

    idem[0] = *tenant;
    idem[1] = f[NGX_HTTP_ADCP_TF_PRINCIPAL];
    idem[2] = t->idem;

    if (ngx_http_adcp_redis_key(r->pool, NGX_HTTP_ADCP_KEY_IDEM, &key, 3,
                                idem)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_adcp_redis_arg_str(&a, &key);

    if (ngx_http_adcp_task_key(r->pool, &t->task_id, &key) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_adcp_redis_arg_str(&a, &key);
    ngx_http_adcp_redis_arg_key(&a, NGX_HTTP_ADCP_KEY_TASKS);

    ngx_http_adcp_redis_arg_uint(&a,
                                 (ngx_uint_t) ngx_max(tlcf->ttl / 1000, 1));
    ngx_http_adcp_redis_arg_str(&a, &t->idem);
    ngx_http_adcp_redis_arg_str(&a, &t->task_id);
    ngx_http_adcp_redis_arg(&a, t->hash, 32);

    for (i = 0; i < NGX_HTTP_ADCP_TF_N; i++) {
        if (f[i].data) {
            ngx_http_adcp_redis_arg_str(&a, &ngx_http_adcp_task_fields[i]);
            ngx_http_adcp_redis_arg_str(&a, &f[i]);
        }
    }

    /* a legacy scheme is the buyer's choice: said, its secret never */

    if (t->webhook
        && ngx_strcmp(t->hook_scheme, NGX_HTTP_ADCP_HOOK_SIGNED) != 0)
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "adcp: tenant \"%V\": task \"%V\" registers a "
                      "webhook with legacy %s authentication (not RFC 9421 "
                      "signed)", tenant, &t->task_id,
                      ngx_strcmp(t->hook_scheme, NGX_HTTP_ADCP_HOOK_HMAC)
                      == 0 ? "HMAC-SHA256" : "Bearer");
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "adcp tasks: storing \"%V\" of tenant \"%V\"",
                   &t->task_id, tenant);

    return ngx_http_adcp_tasks_wait(r, t, &ngx_http_adcp_tasks_script,
                                    ngx_http_adcp_tasks_on_store, &a);
}


static void
ngx_http_adcp_tasks_on_store(ngx_http_adcp_redis_reply_t *reply, void *data)
{
    ngx_http_adcp_task_t *t = data;

    size_t                n;
    int64_t               len;
    ngx_int_t             rc;
    ngx_str_t             tag, id, hash, err;
    ngx_http_request_t   *r;
    ngx_http_adcp_row_t  *row;

    t->call = NULL;
    r = t->request;
    row = ngx_http_adcp_worker ? ngx_http_adcp_worker->row : NULL;

    if (ngx_http_adcp_redis_array(reply, &n) != NGX_OK || n < 2
        || ngx_http_adcp_redis_string(ngx_http_adcp_redis_element(reply, 0),
                                      &tag)
           != NGX_OK
        || ngx_http_adcp_redis_string(ngx_http_adcp_redis_element(reply, 1),
                                      &id)
           != NGX_OK)
    {
        if (ngx_http_adcp_redis_error(reply, &err) == NGX_OK) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "adcp: tenant \"%V\": task \"%V\" not stored: %V",
                          t->ctx->tenant, &t->task_id, &err);

        } else {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "adcp: tenant \"%V\": task \"%V\" not stored: "
                          "Redis did not answer", t->ctx->tenant,
                          &t->task_id);
        }

        ngx_http_adcp_tasks_unavailable(r, t, "the task could not be "
                                        "accepted, try again later");
        return;
    }

    if (tag.len == 3 && ngx_strncmp(tag.data, "new", 3) == 0) {

        if (row) {
            row->counters[NGX_HTTP_ADCP_C_TASKS_ACCEPTED]++;
        }

        if (ngx_http_adcp_redis_integer(ngx_http_adcp_redis_element(reply, 2),
                                        &len)
            == NGX_OK && ngx_http_adcp_worker)
        {
            ngx_http_adcp_worker->zone->sh->tasks_queue =
                                                     (ngx_atomic_uint_t) len;
            ngx_http_adcp_worker->zone->sh->tasks_queue_time = ngx_time();
        }

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "adcp tasks: \"%V\" stored", &t->task_id);

        ngx_http_adcp_tasks_acked(r, t, 0);
        return;
    }

    /* the key is known: the same payload is a replay, another a conflict */

    if (n == 3
        && ngx_http_adcp_redis_string(ngx_http_adcp_redis_element(reply, 2),
                                      &hash)
           == NGX_OK
        && hash.len == 32 && ngx_strncmp(hash.data, t->hash, 32) == 0
        && id.len > 0 && id.len <= 64)
    {
        if (row) {
            row->counters[NGX_HTTP_ADCP_C_TASKS_REPLAYED]++;
        }

        t->task_id.data = ngx_pstrdup(r->pool, &id);
        if (t->task_id.data == NULL) {
            ngx_http_adcp_tasks_finalize(r, NGX_ERROR);
            return;
        }

        t->task_id.len = id.len;

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "adcp tasks: replay of \"%V\"", &t->task_id);

        ngx_http_adcp_tasks_acked(r, t, 1);
        return;
    }

    rc = ngx_http_adcp_tasks_error(r, t->ctx,
                                   NGX_HTTP_ADCP_ERR_IDEMPOTENCY_CONFLICT,
                                   "this idempotency_key was used for "
                                   "another request", "idempotency_key");
    ngx_http_adcp_tasks_finalize(r, rc);
}


/*
 * adcp_task_durability (ngx_http_adcp_durability.c): "submitted" once WAIT
 * counts the replicas; otherwise SERVICE_UNAVAILABLE, and the buyer's
 * retry with the same idempotency_key is a replay, confirmed the same way
 */

static void
ngx_http_adcp_tasks_acked(ngx_http_request_t *r, ngx_http_adcp_task_t *t,
    ngx_uint_t replayed)
{
    ngx_http_adcp_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_adcp_module);

    if (amcf->redis.replicas == 0) {
        ngx_http_adcp_tasks_finalize(r,
                               ngx_http_adcp_tasks_submitted(r, t, replayed));
        return;
    }

    t->replayed = replayed;
    t->call = ngx_http_adcp_durability_wait(&amcf->redis,
                                            ngx_http_adcp_tasks_on_wait, t);
    if (t->call == NULL) {
        ngx_http_adcp_tasks_on_wait(NULL, t);
    }
}


static void
ngx_http_adcp_tasks_on_wait(ngx_http_adcp_redis_reply_t *reply, void *data)
{
    ngx_http_adcp_task_t *t = data;

    ngx_int_t                   rc;
    ngx_http_request_t         *r;
    ngx_http_adcp_main_conf_t  *amcf;

    t->call = NULL;
    r = t->request;
    amcf = ngx_http_get_module_main_conf(r, ngx_http_adcp_module);

    if (ngx_http_adcp_durability_waited(&amcf->redis, reply,
                                        r->connection->log)
        == NGX_OK)
    {
        rc = ngx_http_adcp_tasks_submitted(r, t, t->replayed);

    } else {
        rc = ngx_http_adcp_tasks_error(r, t->ctx,
                                       NGX_HTTP_ADCP_ERR_SERVICE_UNAVAILABLE,
                                       "the task could not be made durable, "
                                       "try again later", NULL);
    }

    ngx_http_adcp_tasks_finalize(r, rc);
}
