
/*
 * ngx_http_adcp_module: Redis commands, the features' side.  The keys the
 * module uses named in one table; arguments gathered in a bounded list;
 * commands and scripts (EVALSHA, EVAL again on NOSCRIPT) sent on a
 * connection of ngx_http_adcp_redis.c; replies read into C values.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_sha1.h>

#include "ngx_http_adcp_redis_private.h"


static ngx_int_t ngx_http_adcp_redis_noscript(
    ngx_http_adcp_redis_call_t *call, redisReply *reply);
static void ngx_http_adcp_redis_ignore(ngx_http_adcp_redis_reply_t *reply,
    void *data);


/* in the order of ngx_http_adcp_redis_key_e */

static ngx_str_t  ngx_http_adcp_redis_keys[] = {
    ngx_string("adcp:tasks"),
    ngx_string("adcp"),
    ngx_string("adcp:task"),
    ngx_string("adcp:idem"),
    ngx_string("adcp:hooks")
};


/* a key: its name, then each part after a ':' */

ngx_int_t
ngx_http_adcp_redis_key(ngx_pool_t *pool, ngx_http_adcp_redis_key_e key,
    ngx_str_t *out, ngx_uint_t n, ngx_str_t *parts)
{
    u_char      *p;
    size_t       len;
    ngx_uint_t   i;

    len = ngx_http_adcp_redis_keys[key].len;

    for (i = 0; i < n; i++) {
        len += 1 + parts[i].len;
    }

    out->data = ngx_pnalloc(pool, len);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(out->data, ngx_http_adcp_redis_keys[key].data,
                   ngx_http_adcp_redis_keys[key].len);

    for (i = 0; i < n; i++) {
        *p++ = ':';
        p = ngx_cpymem(p, parts[i].data, parts[i].len);
    }

    out->len = p - out->data;

    return NGX_OK;
}


/* the arguments, on arrays from pool */

ngx_int_t
ngx_http_adcp_redis_args_init(ngx_http_adcp_redis_args_t *a,
    ngx_pool_t *pool, ngx_uint_t max)
{
    a->argv = ngx_palloc(pool, max * sizeof(char *));
    a->len = ngx_palloc(pool, max * sizeof(size_t));
    a->n = 0;
    a->max = max;
    a->pool = pool;
    a->overflow = 0;

    if (a->argv == NULL || a->len == NULL) {
        a->overflow = 1;
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* on the caller's arrays (a command built on the stack): no numbers */

void
ngx_http_adcp_redis_args_set(ngx_http_adcp_redis_args_t *a,
    const char **argv, size_t *len, ngx_uint_t max)
{
    a->argv = argv;
    a->len = len;
    a->n = 0;
    a->max = max;
    a->pool = NULL;
    a->overflow = 0;
}


void
ngx_http_adcp_redis_arg(ngx_http_adcp_redis_args_t *a, const void *data,
    size_t len)
{
    if (a->n == a->max) {
        a->overflow = 1;
        return;
    }

    a->argv[a->n] = (const char *) (data ? data : "");
    a->len[a->n++] = len;
}


void
ngx_http_adcp_redis_arg_uint(ngx_http_adcp_redis_args_t *a, ngx_uint_t n)
{
    u_char  *p, *last;

    if (a->pool == NULL) {
        a->overflow = 1;
        return;
    }

    p = ngx_pnalloc(a->pool, NGX_INT_T_LEN);
    if (p == NULL) {
        a->overflow = 1;
        return;
    }

    last = ngx_sprintf(p, "%ui", n);

    ngx_http_adcp_redis_arg(a, p, last - p);
}


void
ngx_http_adcp_redis_arg_key(ngx_http_adcp_redis_args_t *a,
    ngx_http_adcp_redis_key_e key)
{
    ngx_http_adcp_redis_arg_str(a, &ngx_http_adcp_redis_keys[key]);
}


/* on conn, or (NULL) the worker's command connection */

ngx_http_adcp_redis_call_t *
ngx_http_adcp_redis_send(ngx_http_adcp_redis_conf_t *rcf,
    ngx_http_adcp_redis_conn_t *conn, ngx_http_adcp_redis_reply_pt handler,
    void *data, ngx_http_adcp_redis_args_t *a)
{
    ngx_http_adcp_redis_call_t  *call;

    if (a->overflow || a->n == 0) {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                      "adcp: redis: a command of more than %ui arguments",
                      a->max);
        return NULL;
    }

    if (conn == NULL) {
        conn = ngx_http_adcp_redis_cmd_conn(rcf);

        if (conn == NULL) {
            return NULL;
        }
    }

    call = ngx_calloc(sizeof(ngx_http_adcp_redis_call_t), ngx_cycle->log);
    if (call == NULL) {
        return NULL;
    }

    call->handler = handler;
    call->data = data;
    call->conn = conn;

    if (ngx_http_adcp_redis_conn_send(conn, call, (int) a->n, a->argv,
                                      a->len)
        != NGX_OK)
    {
        ngx_free(call);
        return NULL;
    }

    return call;
}


/*
 * EVALSHA <sha1> followed by a's arguments (numkeys, keys, args), on the
 * worker's command connection; the arguments are copied with the call,
 * for an EVAL if Redis does not know the script
 */

ngx_http_adcp_redis_call_t *
ngx_http_adcp_redis_eval(ngx_http_adcp_redis_conf_t *rcf,
    ngx_http_adcp_redis_script_t *script,
    ngx_http_adcp_redis_reply_pt handler, void *data,
    ngx_http_adcp_redis_args_t *a)
{
    u_char                      *p, md[20];
    size_t                       size;
    ngx_uint_t                   i;
    ngx_sha1_t                   sha1;
    ngx_http_adcp_redis_conn_t  *conn;
    ngx_http_adcp_redis_call_t  *call;

    if (a->overflow) {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                      "adcp: redis: a script call of more than %ui "
                      "arguments", a->max);
        return NULL;
    }

    conn = ngx_http_adcp_redis_cmd_conn(rcf);
    if (conn == NULL) {
        return NULL;
    }

    if (!script->hashed) {
        ngx_sha1_init(&sha1);
        ngx_sha1_update(&sha1, script->source.data, script->source.len);
        ngx_sha1_final(md, &sha1);

        ngx_hex_dump(script->sha1, md, 20);
        script->hashed = 1;
    }

    size = sizeof(ngx_http_adcp_redis_call_t)
           + (a->n + 2) * (sizeof(char *) + sizeof(size_t));

    for (i = 0; i < a->n; i++) {
        size += a->len[i];
    }

    call = ngx_calloc(size, ngx_cycle->log);
    if (call == NULL) {
        return NULL;
    }

    call->handler = handler ? handler : ngx_http_adcp_redis_ignore;
    call->data = data;
    call->conn = conn;
    call->script = script;
    call->argc = (int) a->n + 2;
    call->argv = (const char **) (call + 1);
    call->argvlen = (size_t *) (call->argv + a->n + 2);

    p = (u_char *) (call->argvlen + a->n + 2);

    for (i = 0; i < a->n; i++) {
        call->argv[i + 2] = (const char *) p;
        call->argvlen[i + 2] = a->len[i];
        p = ngx_cpymem(p, a->argv[i], a->len[i]);
    }

    if (script->no_evalsha) {
        call->argv[0] = "EVAL";
        call->argvlen[0] = sizeof("EVAL") - 1;
        call->argv[1] = (const char *) script->source.data;
        call->argvlen[1] = script->source.len;

    } else {
        call->argv[0] = "EVALSHA";
        call->argvlen[0] = sizeof("EVALSHA") - 1;
        call->argv[1] = (const char *) script->sha1;
        call->argvlen[1] = sizeof(script->sha1);
        call->retry = ngx_http_adcp_redis_noscript;
    }

    if (ngx_http_adcp_redis_conn_send(conn, call, call->argc, call->argv,
                                      call->argvlen)
        != NGX_OK)
    {
        ngx_free(call);
        return NULL;
    }

    return call;
}


/*
 * EVALSHA's error: the script is not cached (NOSCRIPT: a restarted Redis,
 * SCRIPT FLUSH), or the user may not EVALSHA (an ACL of before); then it
 * goes as EVAL, on the same call.  NGX_DECLINED: the reply is the caller's.
 */

static ngx_int_t
ngx_http_adcp_redis_noscript(ngx_http_adcp_redis_call_t *call,
    redisReply *reply)
{
    ngx_http_adcp_redis_script_t  *script;

    if (reply->type != REDIS_REPLY_ERROR || reply->str == NULL) {
        return NGX_DECLINED;
    }

    script = call->script;

    if (reply->len >= 8 && ngx_strncmp(reply->str, "NOSCRIPT", 8) == 0) {
        /* EVAL caches it again */

    } else if (reply->len >= 6 && ngx_strncmp(reply->str, "NOPERM", 6) == 0
               && ngx_strlcasestrn((u_char *) reply->str,
                                   (u_char *) reply->str + reply->len,
                                   (u_char *) "evalsha", 7 - 1)
                  != NULL)
    {
        if (!script->no_evalsha) {
            ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                          "adcp: redis: the user may not EVALSHA (%*s): "
                          "scripts are sent whole with EVAL",
                          (size_t) reply->len, reply->str);
        }

        script->no_evalsha = 1;

    } else {
        return NGX_DECLINED;
    }

    call->retry = NULL;
    call->argv[0] = "EVAL";
    call->argvlen[0] = sizeof("EVAL") - 1;
    call->argv[1] = (const char *) script->source.data;
    call->argvlen[1] = script->source.len;

    return ngx_http_adcp_redis_conn_send(call->conn, call, call->argc,
                                         call->argv, call->argvlen);
}


static void
ngx_http_adcp_redis_ignore(ngx_http_adcp_redis_reply_t *reply, void *data)
{
}


/* the reply's readers: NGX_OK and the value, or NGX_DECLINED */

ngx_int_t
ngx_http_adcp_redis_string(ngx_http_adcp_redis_reply_t *reply, ngx_str_t *s)
{
    if (reply == NULL || reply->type != REDIS_REPLY_STRING) {
        return NGX_DECLINED;
    }

    s->data = (u_char *) reply->str;
    s->len = reply->len;

    return NGX_OK;
}


ngx_int_t
ngx_http_adcp_redis_integer(ngx_http_adcp_redis_reply_t *reply, int64_t *n)
{
    if (reply == NULL || reply->type != REDIS_REPLY_INTEGER) {
        return NGX_DECLINED;
    }

    *n = (int64_t) reply->integer;

    return NGX_OK;
}


ngx_int_t
ngx_http_adcp_redis_error(ngx_http_adcp_redis_reply_t *reply, ngx_str_t *s)
{
    if (reply == NULL || reply->type != REDIS_REPLY_ERROR) {
        return NGX_DECLINED;
    }

    s->data = (u_char *) reply->str;
    s->len = reply->len;

    return NGX_OK;
}


/* no reply (Redis did not answer) or an error reply: NGX_OK, and why */

ngx_int_t
ngx_http_adcp_redis_failed(ngx_http_adcp_redis_reply_t *reply, ngx_str_t *s)
{
    if (reply == NULL) {
        ngx_str_set(s, "Redis did not answer");
        return NGX_OK;
    }

    return ngx_http_adcp_redis_error(reply, s);
}


ngx_int_t
ngx_http_adcp_redis_array(ngx_http_adcp_redis_reply_t *reply, size_t *n)
{
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        return NGX_DECLINED;
    }

    *n = reply->elements;

    return NGX_OK;
}


ngx_http_adcp_redis_reply_t *
ngx_http_adcp_redis_element(ngx_http_adcp_redis_reply_t *reply, size_t i)
{
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || i >= reply->elements)
    {
        return NULL;
    }

    return reply->element[i];
}


/* a flat array of names and values (XINFO, HGETALL): name's value */

ngx_http_adcp_redis_reply_t *
ngx_http_adcp_redis_field(ngx_http_adcp_redis_reply_t *map, char *name)
{
    size_t  i, len;

    if (map == NULL || map->type != REDIS_REPLY_ARRAY) {
        return NULL;
    }

    len = ngx_strlen(name);

    for (i = 0; i + 1 < map->elements; i += 2) {
        if (map->element[i]->type == REDIS_REPLY_STRING
            && map->element[i]->len == len
            && ngx_strncmp(map->element[i]->str, name, len) == 0)
        {
            return map->element[i + 1];
        }
    }

    return NULL;
}
