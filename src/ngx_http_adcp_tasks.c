
/*
 * ngx_http_adcp_module: long-running tasks (SPEC section 7), part A.
 *
 * Accept: a request whose task is in the location's adcp_async, once its
 * tenant and platform are resolved and its capabilities checked, has its
 * body (already read) parsed with yajl_tree for the task's arguments:
 *
 *   MCP tools/call          params.arguments
 *   A2A 0.3 message/send    params.message.parts[] data part naming the
 *                           skill: data.parameters
 *   A2A 1.0 SendMessage     the same part without "kind": data.input
 *
 * Then one EVAL stores it atomically: the idempotency key (if any) is
 * looked up first (a replay answers the stored task id, another payload
 * IDEMPOTENCY_CONFLICT), else the task record adcp:task:<id> (a hash),
 * the key adcp:idem:<tenant>:<principal>:<key>, both expiring after
 * adcp_task_ttl, and an entry of the stream adcp:tasks.  Only then is
 * "submitted" answered.  No answer from Redis within adcp_redis_ping:
 * SERVICE_UNAVAILABLE, and nothing acknowledged.
 *
 * Polling: tools/call get_task_status (or tasks/get) of an id this module
 * issued is answered from the record (HGETALL), in the shape of AdCP's
 * core/tasks-get-response.json; another tenant's or principal's task, or
 * none, is REFERENCE_NOT_FOUND alike.  Other ids go on to the adapter.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <ngx_md5.h>

#include <yajl/yajl_tree.h>

#include "ngx_http_adcp.h"
#include "ngx_http_adcp_tasks.h"
#include "ngx_http_adcp_durability.h"
#include "ngx_http_adcp_exec.h"
#include "ngx_http_adcp_json.h"


#define NGX_HTTP_ADCP_TASKS_MAX_DEPTH  512

/* which A2A a request speaks */
#define NGX_HTTP_ADCP_A2A_NONE         0
#define NGX_HTTP_ADCP_A2A_03           1
#define NGX_HTTP_ADCP_A2A_10           2

#define NGX_HTTP_ADCP_ISO8601_LEN      sizeof("1970-01-01T00:00:00Z")


typedef struct {
    ngx_http_request_t          *request;
    ngx_http_adcp_ctx_t         *ctx;
    ngx_http_adcp_redis_call_t  *call;      /* until answered */
    yajl_val                     root;      /* the parsed body */
    yajl_val                     args;      /* the task's arguments */
    ngx_str_t                    body;
    ngx_str_t                    rpc;       /* the JSON-RPC method */
    ngx_str_t                    context_id;   /* A2A, "" = the task id */
    ngx_str_t                    task_id;
    ngx_str_t                    idem;      /* idempotency_key, "" none */
    ngx_str_t                    hook_url;  /* push_notification_config */
    ngx_str_t                    hook_token;
    ngx_str_t                    hook_auth; /* Bearer credentials */
    ngx_str_t                    operation_id;
    u_char                       principal[32];
    u_char                       hash[32];
    ngx_uint_t                   a2a;       /* NGX_HTTP_ADCP_A2A_* */
    unsigned                     stream:1;  /* answer in SSE */
    unsigned                     webhook:1;
    unsigned                     replayed:1;  /* adcp_task_durability */
} ngx_http_adcp_task_t;


typedef struct {
    const char                  *key;
    yajl_val                     value;
} ngx_http_adcp_task_kv_t;


typedef struct {
    char                        *prefix;
    char                        *protocol;
} ngx_http_adcp_task_protocol_t;


static ngx_http_adcp_task_t *ngx_http_adcp_tasks_create(
    ngx_http_request_t *r, ngx_http_adcp_ctx_t *ctx);
static void ngx_http_adcp_tasks_cleanup(void *data);
static ngx_int_t ngx_http_adcp_tasks_read(ngx_http_request_t *r,
    ngx_http_adcp_task_t *t);
static ngx_int_t ngx_http_adcp_tasks_parse(ngx_http_request_t *r,
    ngx_http_adcp_task_t *t);
static ngx_int_t ngx_http_adcp_tasks_a2a(ngx_http_adcp_task_t *t,
    yajl_val params);
static char *ngx_http_adcp_tasks_repeated(yajl_val args);
static char *ngx_http_adcp_tasks_webhook(ngx_http_adcp_task_t *t,
    yajl_val v, ngx_uint_t *code, char **field);
static void ngx_http_adcp_tasks_principal(ngx_http_request_t *r,
    ngx_http_adcp_task_t *t);
static void ngx_http_adcp_tasks_hash(ngx_http_adcp_task_t *t,
    ngx_str_t *task, ngx_log_t *log);
static void ngx_http_adcp_tasks_hash_val(ngx_md5_t *md5, yajl_val v,
    ngx_log_t *log);
static int ngx_libc_cdecl ngx_http_adcp_tasks_kv_cmp(const void *one,
    const void *two);
static ngx_int_t ngx_http_adcp_tasks_id(ngx_http_request_t *r,
    ngx_http_adcp_task_t *t);
static ngx_int_t ngx_http_adcp_tasks_headers(ngx_http_request_t *r,
    ngx_str_t *out);
static ngx_uint_t ngx_http_adcp_tasks_header_wanted(ngx_array_t *names,
    ngx_str_t *name);
static char *ngx_http_adcp_tasks_protocol(ngx_str_t *task);
static ngx_int_t ngx_http_adcp_tasks_store(ngx_http_request_t *r,
    ngx_http_adcp_task_t *t);
static void ngx_http_adcp_tasks_on_store(redisReply *reply, void *data);
static void ngx_http_adcp_tasks_acked(ngx_http_request_t *r,
    ngx_http_adcp_task_t *t, ngx_uint_t replayed);
static void ngx_http_adcp_tasks_on_wait(redisReply *reply, void *data);
static ngx_int_t ngx_http_adcp_tasks_submitted(ngx_http_request_t *r,
    ngx_http_adcp_task_t *t, ngx_uint_t replayed);
static void ngx_http_adcp_tasks_on_poll(redisReply *reply, void *data);
static ngx_int_t ngx_http_adcp_tasks_status(ngx_http_request_t *r,
    ngx_http_adcp_task_t *t, redisReply *reply);
static ngx_uint_t ngx_http_adcp_tasks_object(redisReply *v);
static ngx_int_t ngx_http_adcp_tasks_send(ngx_http_request_t *r,
    ngx_http_adcp_task_t *t, ngx_str_t *obj, ngx_uint_t status);
static ngx_int_t ngx_http_adcp_tasks_error(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx, ngx_uint_t code, char *message, char *field);
static ngx_int_t ngx_http_adcp_tasks_wait(ngx_http_request_t *r,
    ngx_http_adcp_task_t *t, ngx_http_adcp_redis_reply_pt handler,
    int argc, const char **argv, const size_t *argvlen);
static void ngx_http_adcp_tasks_finalize(ngx_http_request_t *r,
    ngx_int_t rc);


/*
 * KEYS: the idempotency key, the task record, the stream;
 * ARGV: ttl (s), idempotency_key ("" = none), task id, payload hash,
 * then the record's field/value pairs.
 * -> {"dup", stored task id, stored hash} or {"new", task id, XLEN}
 */

static char  ngx_http_adcp_tasks_script[] =
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
    "return {'new', ARGV[3], redis.call('XLEN', KEYS[3])}\n";


/* AdCP's protocol of a task type (enums/adcp-protocol.json) */

static ngx_http_adcp_task_protocol_t  ngx_http_adcp_task_protocols[] = {
    { "build_creative", "creative" },
    { "preview_creative", "creative" },
    { "get_creative_delivery", "creative" },
    { "list_creative_formats", "creative" },
    { "activate_signal", "signals" },
    { "get_signals", "signals" },
    { "create_property_list", "governance" },
    { "update_property_list", "governance" },
    { "get_property_list", "governance" },
    { "list_property_lists", "governance" },
    { "delete_property_list", "governance" },
    { "get_brand_identity", "brand" },
    { "search_brands", "brand" },
    { "get_rights", "brand" },
    { "acquire_rights", "brand" },
    { "update_rights", "brand" },
    { NULL, NULL }
};


static ngx_str_t  ngx_http_adcp_tasks_key = ngx_string("adcp:tasks");


/*
 * get_task_status / tasks/get of an id this module issued: answered from
 * Redis.  NGX_DECLINED: not ours, the request goes on; NGX_DONE: answered
 * or waiting for Redis; NGX_ERROR.
 */

ngx_int_t
ngx_http_adcp_tasks_poll(ngx_http_request_t *r, ngx_http_adcp_ctx_t *ctx)
{
    size_t                      len[2];
    yajl_val                    v;
    ngx_int_t                   rc;
    ngx_uint_t                  i;
    const char                 *argv[2];
    ngx_http_adcp_task_t       *t;
    ngx_http_adcp_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_adcp_module);

    if (!amcf->tasks || !ctx->has_env
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

    argv[0] = "HGETALL";
    len[0] = sizeof("HGETALL") - 1;

    len[1] = sizeof("adcp:task:") - 1 + t->task_id.len;
    argv[1] = ngx_pnalloc(r->pool, len[1]);
    if (argv[1] == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(ngx_cpymem((u_char *) argv[1], "adcp:task:",
                          sizeof("adcp:task:") - 1),
               t->task_id.data, t->task_id.len);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "adcp tasks: poll \"%V\"", &t->task_id);

    return ngx_http_adcp_tasks_wait(r, t, ngx_http_adcp_tasks_on_poll, 2,
                                    argv, len);

not_found:

    ngx_http_finalize_request(r,
        ngx_http_adcp_tasks_error(r, ctx,
                                  NGX_HTTP_ADCP_ERR_REFERENCE_NOT_FOUND,
                                  "no such task", "task_id"));
    return NGX_DONE;
}


/*
 * A task of the location's adcp_async: stored, then answered "submitted".
 * NGX_DECLINED: not an async task; NGX_DONE; NGX_ERROR.
 */

ngx_int_t
ngx_http_adcp_tasks_accept(ngx_http_request_t *r, ngx_http_adcp_ctx_t *ctx)
{
    char                      *message, *field;
    yajl_val                   v;
    ngx_int_t                  rc;
    ngx_str_t                 *name;
    ngx_uint_t                 i, code;
    ngx_http_adcp_task_t      *t;
    ngx_http_adcp_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_adcp_module);

    if (alcf->async == NULL || !ctx->has_env || ctx->env->task.len == 0) {
        return NGX_DECLINED;
    }

    name = alcf->async->elts;

    for (i = 0; i < alcf->async->nelts; i++) {
        if (name[i].len == ctx->env->task.len
            && ngx_strncmp(name[i].data, ctx->env->task.data,
                           name[i].len) == 0)
        {
            break;
        }
    }

    if (i == alcf->async->nelts) {
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

    if (v && !YAJL_IS_NULL(v)) {

        if (!alcf->task_webhooks) {
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
    ngx_http_adcp_tasks_hash(t, &ctx->env->task, r->connection->log);

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
 * push_notification_config: an http:// url (https is not delivered yet),
 * an optional token and operation_id, and Bearer credentials if an
 * authentication block is present (HMAC-SHA256 is not supported).
 * NULL: fine; else the refusal's message.
 */

static char *
ngx_http_adcp_tasks_webhook(ngx_http_adcp_task_t *t, yajl_val v,
    ngx_uint_t *code, char **field)
{
    u_char                     *p;
    size_t                      i;
    yajl_val                    url, tok, op, auth, schemes, cred;
    ngx_url_t                   u;
    ngx_uint_t                  bearer;
    ngx_http_adcp_main_conf_t  *amcf;

    *field = "push_notification_config";

    if (!YAJL_IS_OBJECT(v)) {
        return "push_notification_config is not an object";
    }

    url = ngx_http_adcp_json_get(v, "url");

    *field = "push_notification_config.url";

    if (url == NULL || !YAJL_IS_STRING(url) || url->u.string[0] == '\0') {
        return "push_notification_config.url is missing";
    }

    if (ngx_strncasecmp((u_char *) url->u.string, (u_char *) "https://", 8)
        == 0)
    {
        *code = NGX_HTTP_ADCP_ERR_UNSUPPORTED_FEATURE;
        return "https webhook urls are not supported by this gateway yet";
    }

    if (ngx_strncasecmp((u_char *) url->u.string, (u_char *) "http://", 7)
        != 0 || ngx_strlen(url->u.string) > 2048)
    {
        return "push_notification_config.url is not an http:// url";
    }

    /* it goes into a request line; and never to the gateway's network */

    for (p = (u_char *) url->u.string; *p; p++) {
        if (*p <= ' ' || *p == 0x7f) {
            return "push_notification_config.url is not a valid url";
        }
    }

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url.data = (u_char *) url->u.string + 7;
    u.url.len = p - u.url.data;
    u.default_port = 80;
    u.uri_part = 1;
    u.no_resolve = 1;

    if (ngx_parse_url(t->request->pool, &u) != NGX_OK || u.host.len == 0) {
        return "push_notification_config.url is not a valid url";
    }

    amcf = ngx_http_get_module_main_conf(t->request, ngx_http_adcp_module);

    if (u.naddrs && !amcf->task_webhook_private
        && !ngx_http_adcp_exec_public(u.addrs[0].sockaddr))
    {
        return "push_notification_config.url is not a public address";
    }

    t->hook_url.data = (u_char *) url->u.string;
    t->hook_url.len = ngx_strlen(url->u.string);

    tok = ngx_http_adcp_json_get(v, "token");

    if (tok && YAJL_IS_STRING(tok)) {
        t->hook_token.data = (u_char *) tok->u.string;
        t->hook_token.len = ngx_strlen(tok->u.string);
    }

    op = ngx_http_adcp_json_get(v, "operation_id");

    if (op && YAJL_IS_STRING(op)) {
        t->operation_id.data = (u_char *) op->u.string;
        t->operation_id.len = ngx_strlen(op->u.string);
    }

    auth = ngx_http_adcp_json_get(v, "authentication");

    if (auth == NULL || YAJL_IS_NULL(auth)) {
        return NULL;
    }

    *field = "push_notification_config.authentication";

    schemes = ngx_http_adcp_json_get(auth, "schemes");
    cred = ngx_http_adcp_json_get(auth, "credentials");
    bearer = 0;

    for (i = 0; schemes && YAJL_IS_ARRAY(schemes)
                && i < schemes->u.array.len; i++)
    {
        if (YAJL_IS_STRING(schemes->u.array.values[i])
            && ngx_strcmp(schemes->u.array.values[i]->u.string, "Bearer")
               == 0)
        {
            bearer = 1;
        }
    }

    if (!bearer) {
        *code = NGX_HTTP_ADCP_ERR_UNSUPPORTED_FEATURE;
        return "only Bearer webhook authentication is supported";
    }

    if (cred == NULL || !YAJL_IS_STRING(cred) || cred->u.string[0] == '\0'
        || ngx_strlen(cred->u.string) > 4096)
    {
        return "push_notification_config.authentication.credentials is "
               "missing";
    }

    /* it goes into the webhook's Authorization header */

    for (p = (u_char *) cred->u.string; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            *field = "push_notification_config.authentication.credentials";
            return "push_notification_config.authentication.credentials "
                   "holds a control character";
        }
    }

    t->hook_auth.data = (u_char *) cred->u.string;
    t->hook_auth.len = ngx_strlen(cred->u.string);

    return NULL;
}


static ngx_http_adcp_task_t *
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

    if (t->root) {
        yajl_tree_free(t->root);
        t->root = NULL;
    }
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
                          "\"%V\" cannot be read", &t->ctx->tenant,
                          &b->file->name);
            return NGX_ERROR;
        }

        p += n;
    }

    *p = '\0';
    t->body.len = p - t->body.data;

    return NGX_OK;
}


/*
 * t->args: the task's arguments object (NULL when it has none).
 * NGX_DECLINED: the body cannot be read as such a request.
 */

static ngx_int_t
ngx_http_adcp_tasks_parse(ngx_http_request_t *r, ngx_http_adcp_task_t *t)
{
    yajl_val   v, params;
    ngx_int_t  rc;

    rc = ngx_http_adcp_tasks_read(r, t);
    if (rc != NGX_OK) {
        return rc;
    }

    if (!ngx_http_adcp_json_depth_ok(t->body.data,
                                     t->body.data + t->body.len,
                                     NGX_HTTP_ADCP_TASKS_MAX_DEPTH))
    {
        return NGX_DECLINED;
    }

    t->root = yajl_tree_parse((char *) t->body.data, NULL, 0);

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


/* the data part naming the skill, as the envelope found it */

static ngx_int_t
ngx_http_adcp_tasks_a2a(ngx_http_adcp_task_t *t, yajl_val params)
{
    size_t     i;
    yajl_val   message, parts, part, data, skill, v;

    if (ngx_strncmp(t->rpc.data, "message/", 8) == 0) {
        t->a2a = NGX_HTTP_ADCP_A2A_03;
        t->stream = (ngx_strcmp(t->rpc.data, "message/stream") == 0);

    } else {
        t->a2a = NGX_HTTP_ADCP_A2A_10;
        t->stream = (ngx_strcmp(t->rpc.data, "SendStreamingMessage") == 0);
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


/* lowercase hex MD5 of the Authorization header, "" without one */

static void
ngx_http_adcp_tasks_principal(ngx_http_request_t *r, ngx_http_adcp_task_t *t)
{
    u_char      md[16];
    ngx_md5_t   md5;

    if (r->headers_in.authorization == NULL) {
        return;
    }

    ngx_md5_init(&md5);
    ngx_md5_update(&md5, r->headers_in.authorization->value.data,
                   r->headers_in.authorization->value.len);
    ngx_md5_final(md, &md5);

    ngx_hex_dump(t->principal, md, 16);
}


/*
 * The payload's hash: MD5 of the task name and its arguments in a
 * canonical form (keys sorted, numbers by value), so that a retry
 * with another JSON-RPC id or another key order is the same payload.
 */

static void
ngx_http_adcp_tasks_hash(ngx_http_adcp_task_t *t, ngx_str_t *task,
    ngx_log_t *log)
{
    u_char      md[16];
    ngx_md5_t   md5;

    ngx_md5_init(&md5);
    ngx_md5_update(&md5, task->data, task->len);
    ngx_md5_update(&md5, "\0", 1);

    if (t->args) {
        ngx_http_adcp_tasks_hash_val(&md5, t->args, log);
    }

    ngx_md5_final(md, &md5);

    ngx_hex_dump(t->hash, md, 16);
}


static void
ngx_http_adcp_tasks_hash_val(ngx_md5_t *md5, yajl_val v, ngx_log_t *log)
{
    double                    d;
    size_t                    i, n, len;
    u_char                    lenbuf[NGX_SIZE_T_LEN + 2], *p;
    const char               *s;
    ngx_http_adcp_task_kv_t  *kv;

    switch (v->type) {

    case yajl_t_string:
        s = v->u.string;
        len = ngx_strlen(s);
        p = ngx_sprintf(lenbuf, "s%uz:", len);
        ngx_md5_update(md5, lenbuf, p - lenbuf);
        ngx_md5_update(md5, s, len);
        return;

    case yajl_t_number:

        /* by value: 1500.5, 1500.50 and 1.5005e3 are one number */

        if ((v->u.number.flags & YAJL_NUMBER_INT_VALID)
            && (v->u.number.i > (1LL << 53) || v->u.number.i < -(1LL << 53)))
        {
            ngx_md5_update(md5, "i", 1);
            ngx_md5_update(md5, &v->u.number.i, sizeof(v->u.number.i));
            return;
        }

        if (v->u.number.flags & YAJL_NUMBER_DOUBLE_VALID) {
            d = (v->u.number.d == 0) ? 0 : v->u.number.d;
            ngx_md5_update(md5, "d", 1);
            ngx_md5_update(md5, &d, sizeof(double));
            return;
        }

        s = v->u.number.r;
        len = ngx_strlen(s);
        p = ngx_sprintf(lenbuf, "n%uz:", len);
        ngx_md5_update(md5, lenbuf, p - lenbuf);
        ngx_md5_update(md5, s, len);
        return;

    case yajl_t_true:
        ngx_md5_update(md5, "t", 1);
        return;

    case yajl_t_false:
        ngx_md5_update(md5, "f", 1);
        return;

    case yajl_t_array:
        ngx_md5_update(md5, "[", 1);

        for (i = 0; i < v->u.array.len; i++) {
            ngx_http_adcp_tasks_hash_val(md5, v->u.array.values[i], log);
        }

        ngx_md5_update(md5, "]", 1);
        return;

    case yajl_t_object:

        /* keys in byte order */

        n = v->u.object.len;
        ngx_md5_update(md5, "{", 1);

        if (n) {
            kv = ngx_alloc(n * sizeof(ngx_http_adcp_task_kv_t), log);
            if (kv == NULL) {
                ngx_md5_update(md5, "!", 1);
                return;
            }

            for (i = 0; i < n; i++) {
                kv[i].key = v->u.object.keys[i];
                kv[i].value = v->u.object.values[i];
            }

            ngx_qsort(kv, n, sizeof(ngx_http_adcp_task_kv_t),
                      ngx_http_adcp_tasks_kv_cmp);

            for (i = 0; i < n; i++) {
                len = ngx_strlen(kv[i].key);
                p = ngx_sprintf(lenbuf, "k%uz:", len);
                ngx_md5_update(md5, lenbuf, p - lenbuf);
                ngx_md5_update(md5, kv[i].key, len);

                ngx_http_adcp_tasks_hash_val(md5, kv[i].value, log);
            }

            ngx_free(kv);
        }

        ngx_md5_update(md5, "}", 1);
        return;

    default:
        ngx_md5_update(md5, "z", 1);
        return;
    }
}


static int ngx_libc_cdecl
ngx_http_adcp_tasks_kv_cmp(const void *one, const void *two)
{
    const ngx_http_adcp_task_kv_t  *a = one;
    const ngx_http_adcp_task_kv_t  *b = two;

    return ngx_strcmp(a->key, b->key);
}


/* adcp_task_ + 24 hex: MD5 of randomness, the pid, the time, a counter */

static ngx_int_t
ngx_http_adcp_tasks_id(ngx_http_request_t *r, ngx_http_adcp_task_t *t)
{
    u_char            md[16], *p;
    long              rnd[4];
    ngx_md5_t         md5;
    ngx_time_t       *tp;

    static ngx_uint_t  seq;

    rnd[0] = ngx_random();
    rnd[1] = ngx_random();
    rnd[2] = ngx_random();
    rnd[3] = (long) seq++;

    tp = ngx_timeofday();

    ngx_md5_init(&md5);
    ngx_md5_update(&md5, rnd, sizeof(rnd));
    ngx_md5_update(&md5, &ngx_pid, sizeof(ngx_pid));
    ngx_md5_update(&md5, &tp->sec, sizeof(tp->sec));
    ngx_md5_update(&md5, &tp->msec, sizeof(tp->msec));
    ngx_md5_update(&md5, &r, sizeof(r));
    ngx_md5_update(&md5, t->hash, sizeof(t->hash));
    ngx_md5_final(md, &md5);

    t->task_id.len = NGX_HTTP_ADCP_TASK_ID_LEN;
    t->task_id.data = ngx_pnalloc(r->pool, t->task_id.len);
    if (t->task_id.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(t->task_id.data, NGX_HTTP_ADCP_TASK_PREFIX,
                   sizeof(NGX_HTTP_ADCP_TASK_PREFIX) - 1);
    ngx_hex_dump(p, md, 12);

    return NGX_OK;
}


/* the headers execution replays: [["Name","value"],...] */

static ngx_int_t
ngx_http_adcp_tasks_headers(ngx_http_request_t *r, ngx_str_t *out)
{
    size_t                     len;
    u_char                    *p;
    ngx_uint_t                 i, n;
    ngx_list_part_t           *part;
    ngx_table_elt_t           *h;
    ngx_http_adcp_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_adcp_module);

    len = sizeof("[]") - 1;

    for (part = &r->headers_in.headers.part; part; part = part->next) {
        h = part->elts;

        for (i = 0; i < part->nelts; i++) {
            if (ngx_http_adcp_tasks_header_wanted(alcf->task_headers,
                                                  &h[i].key))
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
            if (!ngx_http_adcp_tasks_header_wanted(alcf->task_headers,
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

    if ((name->len == sizeof("Adcp-Task-Exec") - 1
         && ngx_strncasecmp(name->data, (u_char *) "Adcp-Task-Exec",
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


static char *
ngx_http_adcp_tasks_protocol(ngx_str_t *task)
{
    ngx_http_adcp_task_protocol_t  *p;

    for (p = ngx_http_adcp_task_protocols; p->prefix; p++) {
        if (ngx_strlen(p->prefix) == task->len
            && ngx_strncmp(p->prefix, task->data, task->len) == 0)
        {
            return p->protocol;
        }
    }

    return "media-buy";
}


/* the next argument: argv[n], len[n], n++ */

#define ngx_http_adcp_tasks_arg(s, l)                                        \
    argv[n] = (const char *) (s); len[n++] = (l)

#define ngx_http_adcp_tasks_lit(s)                                           \
    argv[n] = s; len[n++] = sizeof(s) - 1


/* the one EVAL that stores the task (or finds its idempotency key) */

static ngx_int_t
ngx_http_adcp_tasks_store(ngx_http_request_t *r, ngx_http_adcp_task_t *t)
{
    size_t                      len[64];
    u_char                     *p, *keys, *now, *ttl, *port;
    ngx_str_t                   headers, host, transport, *tenant;
    ngx_uint_t                  n;
    const char                 *argv[64], *protocol;
    ngx_http_adcp_loc_conf_t   *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_adcp_module);
    tenant = &t->ctx->tenant;

    if (ngx_http_adcp_tasks_headers(r, &headers) != NGX_OK) {
        return NGX_ERROR;
    }

    keys = ngx_pnalloc(r->pool, sizeof("adcp:idem:::") - 1 + tenant->len
                                + 32 + t->idem.len
                                + sizeof("adcp:task:") - 1 + t->task_id.len
                                + NGX_HTTP_ADCP_ISO8601_LEN + NGX_TIME_T_LEN
                                + NGX_INT_T_LEN);
    if (keys == NULL) {
        return NGX_ERROR;
    }

    n = 0;

    ngx_http_adcp_tasks_lit("EVAL");
    ngx_http_adcp_tasks_arg(ngx_http_adcp_tasks_script,
                            sizeof(ngx_http_adcp_tasks_script) - 1);
    ngx_http_adcp_tasks_lit("3");

    p = ngx_sprintf(keys, "adcp:idem:%V:%*s:%V", tenant,
                    (size_t) (r->headers_in.authorization ? 32 : 0),
                    t->principal, &t->idem);
    ngx_http_adcp_tasks_arg(keys, p - keys);

    keys = p;
    p = ngx_sprintf(keys, "adcp:task:%V", &t->task_id);
    ngx_http_adcp_tasks_arg(keys, p - keys);

    ngx_http_adcp_tasks_arg(ngx_http_adcp_tasks_key.data,
                            ngx_http_adcp_tasks_key.len);

    ttl = p;
    p = ngx_sprintf(ttl, "%M", ngx_max(alcf->task_ttl / 1000, 1));
    ngx_http_adcp_tasks_arg(ttl, p - ttl);

    ngx_http_adcp_tasks_arg(t->idem.data, t->idem.len);
    ngx_http_adcp_tasks_arg(t->task_id.data, t->task_id.len);
    ngx_http_adcp_tasks_arg(t->hash, 32);

    now = p;
    p = ngx_http_adcp_tasks_now(now);

    if (t->a2a) {
        ngx_str_set(&transport, "a2a");

    } else if (t->ctx->env->method == NGX_HTTP_ADCP_METHOD_MCP_CALL) {
        ngx_str_set(&transport, "mcp");

    } else {
        ngx_str_set(&transport, "http");
    }

    /* the host the tenant was found by (request line, then Host) */

    host = r->headers_in.server;

    protocol = ngx_http_adcp_tasks_protocol(&t->ctx->env->task);

    ngx_http_adcp_tasks_lit("tenant");
    ngx_http_adcp_tasks_arg(tenant->data, tenant->len);
    ngx_http_adcp_tasks_lit("principal");
    ngx_http_adcp_tasks_arg(t->principal,
                            r->headers_in.authorization ? 32 : 0);
    ngx_http_adcp_tasks_lit("task_type");
    ngx_http_adcp_tasks_arg(t->ctx->env->task.data, t->ctx->env->task.len);
    ngx_http_adcp_tasks_lit("protocol");
    ngx_http_adcp_tasks_arg(protocol, ngx_strlen(protocol));
    ngx_http_adcp_tasks_lit("transport");
    ngx_http_adcp_tasks_arg(transport.data, transport.len);
    ngx_http_adcp_tasks_lit("rpc_method");
    ngx_http_adcp_tasks_arg(t->rpc.data, t->rpc.len);
    ngx_http_adcp_tasks_lit("status");
    ngx_http_adcp_tasks_lit("submitted");
    ngx_http_adcp_tasks_lit("created_at");
    ngx_http_adcp_tasks_arg(now, p - now);
    ngx_http_adcp_tasks_lit("updated_at");
    ngx_http_adcp_tasks_arg(now, p - now);
    ngx_http_adcp_tasks_lit("idempotency_key");
    ngx_http_adcp_tasks_arg(t->idem.data, t->idem.len);
    ngx_http_adcp_tasks_lit("payload_hash");
    ngx_http_adcp_tasks_arg(t->hash, 32);
    ngx_http_adcp_tasks_lit("has_webhook");
    ngx_http_adcp_tasks_arg(t->webhook ? "1" : "0", 1);
    ngx_http_adcp_tasks_lit("attempts");
    ngx_http_adcp_tasks_lit("0");
    ngx_http_adcp_tasks_lit("uri");
    ngx_http_adcp_tasks_arg(r->unparsed_uri.data, r->unparsed_uri.len);
    ngx_http_adcp_tasks_lit("host");
    ngx_http_adcp_tasks_arg(host.data, host.len);
    ngx_http_adcp_tasks_lit("headers");
    ngx_http_adcp_tasks_arg(headers.data, headers.len);
    ngx_http_adcp_tasks_lit("body");
    ngx_http_adcp_tasks_arg(t->body.data, t->body.len);

    /* where execution sends it: this port of this (or any) host */

    if (ngx_connection_local_sockaddr(r->connection, NULL, 0) != NGX_OK) {
        return NGX_ERROR;
    }

    port = p;
    p = ngx_sprintf(port, "%ui",
                    (ngx_uint_t) ngx_inet_get_port(
                                          r->connection->local_sockaddr));
    ngx_http_adcp_tasks_lit("port");
    ngx_http_adcp_tasks_arg(port, p - port);

    if (t->webhook) {
        ngx_http_adcp_tasks_lit("webhook_url");
        ngx_http_adcp_tasks_arg(t->hook_url.data, t->hook_url.len);
        ngx_http_adcp_tasks_lit("webhook_token");
        ngx_http_adcp_tasks_arg(t->hook_token.data, t->hook_token.len);
        ngx_http_adcp_tasks_lit("webhook_auth");
        ngx_http_adcp_tasks_arg(t->hook_auth.data, t->hook_auth.len);
        ngx_http_adcp_tasks_lit("operation_id");
        ngx_http_adcp_tasks_arg(t->operation_id.data, t->operation_id.len);
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "adcp tasks: storing \"%V\" of tenant \"%V\"",
                   &t->task_id, tenant);

    return ngx_http_adcp_tasks_wait(r, t, ngx_http_adcp_tasks_on_store,
                                    (int) n, argv, len);
}


static void
ngx_http_adcp_tasks_on_store(redisReply *reply, void *data)
{
    ngx_http_adcp_task_t *t = data;

    ngx_int_t             rc;
    redisReply          **e;
    ngx_http_request_t   *r;
    ngx_http_adcp_row_t  *row;

    t->call = NULL;
    r = t->request;
    row = ngx_http_adcp_worker ? ngx_http_adcp_worker->row : NULL;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements < 2
        || reply->element[0]->type != REDIS_REPLY_STRING
        || reply->element[1]->type != REDIS_REPLY_STRING)
    {
        if (reply && reply->type == REDIS_REPLY_ERROR) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "adcp: tenant \"%V\": task \"%V\" not stored: "
                          "%*s", &t->ctx->tenant, &t->task_id,
                          (size_t) reply->len, reply->str);

        } else {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "adcp: tenant \"%V\": task \"%V\" not stored: "
                          "Redis did not answer", &t->ctx->tenant,
                          &t->task_id);
        }

        rc = ngx_http_adcp_tasks_error(r, t->ctx,
                                       NGX_HTTP_ADCP_ERR_SERVICE_UNAVAILABLE,
                                       "the task could not be accepted, "
                                       "try again later", NULL);
        ngx_http_adcp_tasks_finalize(r, rc);
        return;
    }

    e = reply->element;

    if (e[0]->len == 3 && ngx_strncmp(e[0]->str, "new", 3) == 0) {

        if (row) {
            row->counters[NGX_HTTP_ADCP_C_TASKS_ACCEPTED]++;
        }

        if (reply->elements > 2 && e[2]->type == REDIS_REPLY_INTEGER
            && ngx_http_adcp_worker)
        {
            ngx_http_adcp_worker->zone->sh->tasks_queue =
                                            (ngx_atomic_uint_t) e[2]->integer;
            ngx_http_adcp_worker->zone->sh->tasks_queue_time = ngx_time();
        }

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "adcp tasks: \"%V\" stored", &t->task_id);

        ngx_http_adcp_tasks_acked(r, t, 0);
        return;
    }

    /* the key is known: the same payload is a replay, another a conflict */

    if (reply->elements == 3 && e[2]->type == REDIS_REPLY_STRING
        && e[2]->len == 32 && ngx_strncmp(e[2]->str, t->hash, 32) == 0
        && e[1]->len > 0 && e[1]->len <= 64)
    {
        if (row) {
            row->counters[NGX_HTTP_ADCP_C_TASKS_REPLAYED]++;
        }

        t->task_id.data = ngx_pnalloc(r->pool, e[1]->len);
        if (t->task_id.data == NULL) {
            ngx_http_adcp_tasks_finalize(r, NGX_ERROR);
            return;
        }

        t->task_id.len = e[1]->len;
        ngx_memcpy(t->task_id.data, e[1]->str, e[1]->len);

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
ngx_http_adcp_tasks_on_wait(redisReply *reply, void *data)
{
    ngx_http_adcp_task_t *t = data;

    ngx_int_t                   rc;
    ngx_http_request_t         *r;
    ngx_http_adcp_main_conf_t  *amcf;

    t->call = NULL;
    r = t->request;
    amcf = ngx_http_get_module_main_conf(r, ngx_http_adcp_module);

    if (ngx_http_adcp_durability_waited(&amcf->redis, reply, r->connection->log)
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


/* {"status":"submitted","task_id":"..."[,"replayed":true]} */

static ngx_int_t
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


static void
ngx_http_adcp_tasks_on_poll(redisReply *reply, void *data)
{
    ngx_http_adcp_task_t *t = data;

    ngx_int_t            rc;
    ngx_http_request_t  *r;

    t->call = NULL;
    r = t->request;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "adcp: tenant \"%V\": task \"%V\" not read: %s",
                      &t->ctx->tenant, &t->task_id,
                      reply ? "an unexpected reply" : "Redis did not answer");

        rc = ngx_http_adcp_tasks_error(r, t->ctx,
                                       NGX_HTTP_ADCP_ERR_SERVICE_UNAVAILABLE,
                                       "the task's status is unavailable, "
                                       "try again later", NULL);
        ngx_http_adcp_tasks_finalize(r, rc);
        return;
    }

    ngx_http_adcp_tasks_finalize(r, ngx_http_adcp_tasks_status(r, t, reply));
}


/* the record, in core/tasks-get-response.json's shape, or not found */

static ngx_int_t
ngx_http_adcp_tasks_status(ngx_http_request_t *r, ngx_http_adcp_task_t *t,
    redisReply *reply)
{
    size_t        len;
    u_char       *p;
    ngx_str_t     obj, v;
    ngx_uint_t    i, k, owned;
    redisReply   *f, *val, *fields[9];

    static char  *names[] = { "task_type", "protocol", "status",
                              "created_at", "updated_at", "completed_at",
                              "result", "error", "has_webhook" };

    ngx_memzero(fields, sizeof(fields));
    owned = 0;

    for (i = 0; i + 1 < reply->elements; i += 2) {
        f = reply->element[i];
        val = reply->element[i + 1];

        if (f->type != REDIS_REPLY_STRING || val->type != REDIS_REPLY_STRING)
        {
            continue;
        }

        if (f->len == 6 && ngx_strncmp(f->str, "tenant", 6) == 0) {
            owned |= (val->len == t->ctx->tenant.len
                      && ngx_strncmp(val->str, t->ctx->tenant.data,
                                     val->len) == 0) ? 1 : 0;
            continue;
        }

        if (f->len == 9 && ngx_strncmp(f->str, "principal", 9) == 0) {
            owned |= (val->len
                      == (size_t) (r->headers_in.authorization ? 32 : 0)
                      && ngx_strncmp(val->str, t->principal, val->len) == 0)
                     ? 2 : 0;
            continue;
        }

        for (k = 0; k < 9; k++) {
            if (f->len == ngx_strlen(names[k])
                && ngx_strncmp(f->str, names[k], f->len) == 0)
            {
                fields[k] = val;
                break;
            }
        }
    }

    if (owned != 3 || fields[0] == NULL || fields[2] == NULL
        || fields[3] == NULL)
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

    for (k = 0; k < 8; k++) {
        if (fields[k]) {
            v.data = (u_char *) fields[k]->str;
            v.len = fields[k]->len;
            len += sizeof(",\"\":") - 1 + ngx_strlen(names[k])
                   + ngx_http_adcp_json_str_len(&v);
        }
    }

    obj.data = ngx_pnalloc(r->pool, len);
    if (obj.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(obj.data, "{\"task_id\":");
    p = ngx_http_adcp_json_str(p, &t->task_id);

    for (k = 0; k < 8; k++) {
        if (fields[k] == NULL) {
            continue;
        }

        if (k == 1 && fields[1]->len == 0) {
            continue;
        }

        p = ngx_sprintf(p, ",\"%s\":", names[k]);

        v.data = (u_char *) fields[k]->str;
        v.len = fields[k]->len;

        if (k >= 6) {

            /* result and error are stored JSON objects */

            if (!ngx_http_adcp_tasks_object(fields[k])) {
                p -= sizeof(",\"\":") - 1 + ngx_strlen(names[k]);
                continue;
            }

            p = ngx_cpymem(p, v.data, v.len);
            continue;
        }

        p = ngx_http_adcp_json_str(p, &v);
    }

    if (fields[1] == NULL || fields[1]->len == 0) {
        p = ngx_sprintf(p, ",\"protocol\":\"%s\"",
                        ngx_http_adcp_tasks_protocol(&t->ctx->env->task));
    }

    p = ngx_sprintf(p, ",\"has_webhook\":%s}",
                    (fields[8] && fields[8]->len == 1
                     && fields[8]->str[0] == '1') ? "true" : "false");

    obj.len = p - obj.data;

    return ngx_http_adcp_tasks_send(r, t, &obj, NGX_HTTP_OK);
}


/* a stored value that is a JSON object */

static ngx_uint_t
ngx_http_adcp_tasks_object(redisReply *v)
{
    char      *s;
    yajl_val   root;
    ngx_uint_t  ok;

    if (v->len == 0 || v->str[0] != '{'
        || !ngx_http_adcp_json_depth_ok((u_char *) v->str,
                                        (u_char *) v->str + v->len,
                                        NGX_HTTP_ADCP_TASKS_MAX_DEPTH))
    {
        return 0;
    }

    /* hiredis NUL-terminates its strings */

    s = v->str;
    root = yajl_tree_parse(s, NULL, 0);

    ok = (root && YAJL_IS_OBJECT(root) && ngx_strlen(s) == v->len);

    if (root) {
        yajl_tree_free(root);
    }

    return ok;
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

static ngx_int_t
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
        p = ngx_http_adcp_tasks_now(now);
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


static ngx_int_t
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


/* a command whose reply finalizes the request */

static ngx_int_t
ngx_http_adcp_tasks_wait(ngx_http_request_t *r, ngx_http_adcp_task_t *t,
    ngx_http_adcp_redis_reply_pt handler, int argc, const char **argv,
    const size_t *argvlen)
{
    ngx_http_adcp_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_adcp_module);

    t->call = ngx_http_adcp_redis_command(&amcf->redis, handler, t, argc,
                                          argv, argvlen);

    if (t->call == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "adcp: tenant \"%V\": task \"%V\": Redis is "
                      "unreachable", &t->ctx->tenant, &t->task_id);

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


static void
ngx_http_adcp_tasks_finalize(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_connection_t  *c;

    c = r->connection;

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


/* the checks of a location's adcp_async, once the http{} block is read */

char *
ngx_http_adcp_tasks_merge(ngx_conf_t *cf, ngx_http_adcp_loc_conf_t *prev,
    ngx_http_adcp_loc_conf_t *conf)
{
    char                       *missing;
    ngx_str_t                  *h;
    ngx_http_adcp_main_conf_t  *amcf;

    static ngx_str_t  defaults[] = {
        ngx_string("Authorization"),
        ngx_string("Content-Type"),
        ngx_string("Accept"),
        ngx_string("MCP-Protocol-Version"),
        ngx_string("X-AdCP-*")
    };

    ngx_conf_merge_msec_value(conf->task_ttl, prev->task_ttl, 604800000);
    ngx_conf_merge_value(conf->task_webhooks, prev->task_webhooks, 0);
    ngx_conf_merge_ptr_value(conf->task_headers, prev->task_headers, NULL);

    if (conf->task_headers == NULL) {
        conf->task_headers = ngx_array_create(cf->pool, 5,
                                              sizeof(ngx_str_t));
        if (conf->task_headers == NULL) {
            return NGX_CONF_ERROR;
        }

        h = ngx_array_push_n(conf->task_headers, 5);
        if (h == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memcpy(h, defaults, sizeof(defaults));
    }

    if (conf->async == NULL) {
        return NGX_CONF_OK;
    }

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_adcp_module);

    if (amcf->redis.name.len == 0) {
        missing = "adcp_redis";

    } else if (conf->factory.len == 0) {
        missing = "adcp_factory";

    } else if (!conf->enable) {
        missing = "adcp on";

    } else {
        return NGX_CONF_OK;
    }

    ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                  "\"adcp_async\" requires \"%s\" (tasks are stored in "
                  "Redis and run on the tenant's platform) in %V:%ui",
                  missing, &conf->async_file, conf->async_line);

    return NGX_CONF_ERROR;
}


/* now, for task records and replies: ISO 8601, UTC, to the second */

u_char *
ngx_http_adcp_tasks_now(u_char *p)
{
    ngx_tm_t  tm;

    ngx_gmtime(ngx_time(), &tm);

    return ngx_sprintf(p, "%4d-%02d-%02dT%02d:%02d:%02dZ",
                       tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                       tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec);
}
