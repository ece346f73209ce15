
/*
 * ngx_http_adcp_module: the envelope's fast path (SPEC section 2, "The
 * task name"): the common body read without yajl, in one buffer, with the
 * same reading as the yajl parse in ngx_http_adcp_envelope.c; anything
 * unusual is left to that parse.  The values the module does not read are
 * stepped over by ngx_http_adcp_envelope_scan.c.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_adcp_envelope.h"
#include "ngx_http_adcp_envelope_private.h"
#include "ngx_http_adcp_envelope_scan.h"


/* the fast path's bits beside a bit per member read (K_*, below 16) */
#define NGX_HTTP_ADCP_ENV_TWICE(r)  (1 << ((r) + 16))   /* read twice */
#define NGX_HTTP_ADCP_ENV_MCP       (1U << 31)          /* tools/call */


static ngx_inline u_char *ngx_http_adcp_env_fast_colon(u_char *q);
static u_char *ngx_http_adcp_env_fast_plain(u_char *p, u_char *end,
    u_char *end16);
static ngx_uint_t ngx_http_adcp_env_fast_role(u_char *k, size_t len,
    ngx_uint_t depth);


/*
 * The common case without yajl (whose set-up and lexer cost about 3,000
 * instructions per request): a body held in one buffer, an object whose
 * "id", "method" and, for tools/call, "params"."name" are plain: strings
 * of printable ASCII without escapes, integers, and "params" itself.
 * Every other value is checked as yajl checks it and stepped over
 * (strings with UTF-8 and escapes, numbers, literals, nesting).  The same
 * reading as the yajl parse's, repeated members included, to the end of
 * the body.  Anything else (A2A, an escape or a byte past ASCII where the
 * module reads, an id that is not plain, the buffer's end) is
 * NGX_DECLINED with env untouched: the yajl parse runs from the start.
 * NGX_OK: env is set, its id and task pointing into the buffer (nothing
 * is allocated: pool is the yajl parse's signature's).
 *
 * The body's last byte but whitespace must be the closing brace of its
 * object (end): every step stops there at the latest, so that only a
 * string's scan and a literal look for the buffer's end.
 */

ngx_int_t
ngx_http_adcp_envelope_fast(ngx_pool_t *pool, u_char *p, u_char *last,
    ngx_http_adcp_envelope_t *env)
{
    char        *dup;
    u_char       c, *k, *q, *end, *end16, *id, *id_end, *name, *name_end;
    uint32_t     seen;
    ngx_uint_t   depth, role;

    static char  *names[] = {
        NULL, NULL, "id", "method", "params", "params.name",
        "params.message", NULL, NULL, NULL, NULL, NULL, "jsonrpc",
        "params.arguments"
    };

    while (last > p && ngx_http_adcp_env_is_ws(last[-1])) {
        last--;
    }

    if (last - p < 2 || last[-1] != '}') {
        return NGX_DECLINED;
    }

    end = last - 1;
    end16 = (last - p >= 16) ? last - 16 : p;

    if (*p != '{') {
        p = ngx_http_adcp_env_skip_ws(p);

        if (*p != '{') {
            return NGX_DECLINED;
        }
    }

    p++;

    depth = 1;          /* 1: the body's object; 2: its "params" */
    seen = 0;           /* a bit per K_* read (none is read at both),
                           one per K_* read twice, tools/call */
    dup = NULL;         /* the first member read twice */
    id = NULL;          /* the id's JSON text, quotes included */
    id_end = NULL;
    name = NULL;        /* params.name */
    name_end = NULL;
    q = NULL;

first:

    /* p past a '{': a key or the end of the object */

    if (*p != '"') {
        p = ngx_http_adcp_env_skip_ws(p);

        if (*p == '}') {
            goto close;
        }

        if (*p != '"') {
            return NGX_DECLINED;
        }
    }

member:

    /*
     * p at a key's opening quote: the members the module reads, spelled
     * as they are and the colon next, told at once where 16 bytes follow;
     * any other key is scanned (plain: an escape could spell one of them)
     */

    k = p + 1;

    if (k <= end16) {

#define ngx_http_adcp_env_key_is(lit, r)                                     \
    if (ngx_memcmp(k, lit, sizeof(lit) - 1) == 0) {                          \
        p = k + sizeof(lit) - 1;                                             \
        goto r;                                                              \
    }                                                                        \
    break

        if (depth == 1) {
            switch (*k) {

            case 'j':
                ngx_http_adcp_env_key_is("jsonrpc\":", read_jsonrpc);

            case 'i':
                ngx_http_adcp_env_key_is("id\":", read_id);

            case 'm':
                ngx_http_adcp_env_key_is("method\":", read_method);

            case 'p':
                ngx_http_adcp_env_key_is("params\":", read_params);
            }

        } else {
            switch (*k) {

            case 'n':
                ngx_http_adcp_env_key_is("name\":", read_name);

            case 'a':
                ngx_http_adcp_env_key_is("arguments\":", read_arguments);
            }
        }

#undef ngx_http_adcp_env_key_is
    }

    q = ngx_http_adcp_env_scan16(k, end, end16, 0);

    if (*q != '"') {
        q = ngx_http_adcp_env_scan(q, end, end16);

        if (*q != '"') {
            return NGX_DECLINED;
        }
    }

    role = ngx_http_adcp_env_fast_role(k, q - k, depth);

    p = ngx_http_adcp_env_fast_colon(q);
    if (p == NULL) {
        return NGX_DECLINED;
    }

    switch (role) {

    case NGX_HTTP_ADCP_K_NONE:
        goto value;

    case NGX_HTTP_ADCP_K_JSONRPC:
        goto read_jsonrpc;

    case NGX_HTTP_ADCP_K_ID:
        goto read_id;

    case NGX_HTTP_ADCP_K_METHOD:
        goto read_method;

    case NGX_HTTP_ADCP_K_PARAMS:
        goto read_params;

    case NGX_HTTP_ADCP_K_NAME:
        goto read_name;

    case NGX_HTTP_ADCP_K_ARGUMENTS:
        goto read_arguments;

    default:
        return NGX_DECLINED;            /* A2A's levels, or another
                                           spelling of a member: yajl */
    }

    /* p past the colon of a member the module reads: read once */

#define ngx_http_adcp_env_once(r)                                            \
    if (seen & (1 << (r))) {                                                 \
        if (dup == NULL) {                                                   \
            dup = names[r];                                                  \
        }                                                                    \
        seen |= NGX_HTTP_ADCP_ENV_TWICE(r);                                  \
        goto value;                                                          \
    }                                                                        \
    seen |= 1 << (r)

read_jsonrpc:

    ngx_http_adcp_env_once(NGX_HTTP_ADCP_K_JSONRPC);
    goto value;

read_arguments:

    ngx_http_adcp_env_once(NGX_HTTP_ADCP_K_ARGUMENTS);
    goto value;

read_params:

    ngx_http_adcp_env_once(NGX_HTTP_ADCP_K_PARAMS);

    if (*p != '{') {
        p = ngx_http_adcp_env_skip_ws(p);

        if (*p != '{') {
            return NGX_DECLINED;
        }
    }

    /* the members of "params" are read too */

    depth = 2;
    p++;
    goto first;

read_method:

    ngx_http_adcp_env_once(NGX_HTTP_ADCP_K_METHOD);

    if (*p != '"') {
        p = ngx_http_adcp_env_skip_ws(p);

        if (*p != '"') {
            return NGX_DECLINED;
        }
    }

    k = p + 1;

    if (k <= end16 && ngx_memcmp(k, "tools/call\"", 11) == 0) {
        seen |= NGX_HTTP_ADCP_ENV_MCP;
        p = k + 11;
        goto after;
    }

    q = ngx_http_adcp_env_scan16(k, end, end16, 1);

    if (*q != '"') {
        q = ngx_http_adcp_env_fast_plain(q, end, end16);
        if (q == NULL) {
            return NGX_DECLINED;
        }
    }

    switch (ngx_http_adcp_env_method_kind(k, q - k)) {

    case NGX_HTTP_ADCP_METHOD_A2A:
        return NGX_DECLINED;

    case NGX_HTTP_ADCP_METHOD_MCP_CALL:
        seen |= NGX_HTTP_ADCP_ENV_MCP;
        break;
    }

    p = q + 1;
    goto after;

read_name:

    ngx_http_adcp_env_once(NGX_HTTP_ADCP_K_NAME);

    if (*p != '"') {
        p = ngx_http_adcp_env_skip_ws(p);

        if (*p != '"') {
            return NGX_DECLINED;
        }
    }

    name = p + 1;
    name_end = ngx_http_adcp_env_scan16(name, end, end16, 1);

    if (*name_end != '"') {
        name_end = ngx_http_adcp_env_fast_plain(name_end, end, end16);
        if (name_end == NULL) {
            return NGX_DECLINED;
        }
    }

    p = name_end + 1;
    goto after;

read_id:

    ngx_http_adcp_env_once(NGX_HTTP_ADCP_K_ID);

    /* a plain string, or an integer: its own JSON text */

    if (*p <= ' ') {
        p = ngx_http_adcp_env_skip_ws(p);
    }

    id = p;
    c = *p;

    if (c == '"') {
        q = ngx_http_adcp_env_scan16(p + 1, end, end16, 1);

        if (*q != '"') {
            q = ngx_http_adcp_env_fast_plain(q, end, end16);
            if (q == NULL) {
                return NGX_DECLINED;
            }
        }

        p = q + 1;
        id_end = p;
        goto after;
    }

    if (c == '-') {
        c = *++p;
    }

    if (!ngx_http_adcp_env_digit(c)) {
        return NGX_DECLINED;
    }

    p++;

    if (c != '0') {
        while (ngx_http_adcp_env_digit(*p)) {
            p++;
        }
    }

    if (*p == '.' || (*p | 0x20) == 'e') {
        return NGX_DECLINED;                /* yajl re-serializes it */
    }

    id_end = p;
    goto after;

#undef ngx_http_adcp_env_once

value:

    /* a value the module does not read */

    if (*p <= ' ') {
        p = ngx_http_adcp_env_skip_ws(p);
    }

    if (*p == '"') {
        q = ngx_http_adcp_env_scan16(p + 1, end, end16, 0);

        if (*q != '"') {
            q = ngx_http_adcp_env_scan_string(q, end, end16);
            if (q == NULL) {
                return NGX_DECLINED;
            }
        }

        p = q + 1;

    } else {
        p = ngx_http_adcp_env_skip(p, end, end16);
        if (p == NULL) {
            return NGX_DECLINED;
        }
    }

after:

    /* after a value: the next member, or the end of its object */

    c = *p;

    if (c == ',') {
        p++;

        if (*p == '"') {
            goto member;
        }

        p = ngx_http_adcp_env_skip_ws(p);

        if (*p == '"') {
            goto member;
        }

        return NGX_DECLINED;
    }

    if (c != '}') {
        q = ngx_http_adcp_env_skip_ws(p);

        if (q == p) {
            return NGX_DECLINED;
        }

        p = q;
        goto after;
    }

close:

    /* the body's object ends at the body's last brace */

    if (p == end) {
        if (depth == 1) {
            goto done;
        }

        return NGX_DECLINED;
    }

    if (depth == 1) {
        return NGX_DECLINED;
    }

    depth = 1;
    p++;

    goto after;

done:

    /*
     * the id and the task name where the body has them, not copied: a plain
     * string is its own JSON text, quotes included (the body is kept for
     * the request, r->preserve_body)
     */

    env->error = NGX_HTTP_ADCP_ENV_OK;
    env->method = !(seen & (1 << NGX_HTTP_ADCP_K_METHOD))
                  ? NGX_HTTP_ADCP_METHOD_NONE
                  : (seen & NGX_HTTP_ADCP_ENV_MCP)
                    ? NGX_HTTP_ADCP_METHOD_MCP_CALL
                    : NGX_HTTP_ADCP_METHOD_OTHER;
    env->dup = dup;
    env->id.len = id_end - id;
    env->id.data = id;
    ngx_str_null(&env->task);

    if (dup) {
        env->error = NGX_HTTP_ADCP_ENV_DUPLICATE;

        if (seen & NGX_HTTP_ADCP_ENV_TWICE(NGX_HTTP_ADCP_K_ID)) {
            ngx_str_set(&env->id, "null");
        }

        if (seen & (NGX_HTTP_ADCP_ENV_TWICE(NGX_HTTP_ADCP_K_ID)
                    | NGX_HTTP_ADCP_ENV_TWICE(NGX_HTTP_ADCP_K_METHOD)))
        {
            env->method = NGX_HTTP_ADCP_METHOD_OTHER;
        }

    } else if (env->method == NGX_HTTP_ADCP_METHOD_MCP_CALL) {
        env->task.len = name_end - name;
        env->task.data = env->task.len ? name : (u_char *) "";
    }

    return NGX_OK;
}


/*
 * q at a key's closing quote (not the last byte): past the colon that
 * follows, or NULL: none (whitespace before the value is the caller's)
 */

static ngx_inline u_char *
ngx_http_adcp_env_fast_colon(u_char *q)
{
    u_char  *p;

    if (ngx_http_adcp_env_likely(q[1] == ':')) {
        return q + 2;
    }

    p = ngx_http_adcp_env_skip_ws(q + 1);

    return (*p == ':') ? p + 1 : NULL;
}


/*
 * The rest of a string the module reads, from p, past its first 16 bytes:
 * its closing quote, or NULL: not plain (printable ASCII, no escape, no
 * DEL)
 */

static u_char *
ngx_http_adcp_env_fast_plain(u_char *p, u_char *end, u_char *end16)
{
    p = ngx_http_adcp_env_scan_del(p, end, end16);

    return (*p == '"') ? p : NULL;
}


/* what a method names (the yajl parse asks too) */

ngx_uint_t
ngx_http_adcp_env_method_kind(u_char *s, size_t len)
{
    if (ngx_http_adcp_env_is(s, len, "tools/call")) {
        return NGX_HTTP_ADCP_METHOD_MCP_CALL;
    }

    if (ngx_http_adcp_env_is(s, len, "message/send")
        || ngx_http_adcp_env_is(s, len, "message/stream")
        || ngx_http_adcp_env_is(s, len, "SendMessage")
        || ngx_http_adcp_env_is(s, len, "SendStreamingMessage"))
    {
        return NGX_HTTP_ADCP_METHOD_A2A;
    }

    return NGX_HTTP_ADCP_METHOD_OTHER;
}


/*
 * What a plain key of the body's object (depth 1) or of its "params"
 * (depth 2) is to the module: a member it reads (K_*), K_NONE, or
 * K_MESSAGE: the fast path stops (A2A's "message", or caselessly a member
 * it reads but not spelled as it)
 */

static ngx_uint_t
ngx_http_adcp_env_fast_role(u_char *k, size_t len, ngx_uint_t depth)
{
    ngx_uint_t  i;
    char       *m;

    static char  *members[][4] = {
        { "id", "method", "params", "jsonrpc" },
        { "name", "arguments", "message", NULL }
    };

    static ngx_uint_t  roles[][4] = {
        { NGX_HTTP_ADCP_K_ID, NGX_HTTP_ADCP_K_METHOD,
          NGX_HTTP_ADCP_K_PARAMS, NGX_HTTP_ADCP_K_JSONRPC },
        { NGX_HTTP_ADCP_K_NAME, NGX_HTTP_ADCP_K_ARGUMENTS,
          NGX_HTTP_ADCP_K_MESSAGE, NGX_HTTP_ADCP_K_NONE }
    };

    for (i = 0; i < 4; i++) {
        m = members[depth - 1][i];

        if (m == NULL || len != ngx_strlen(m)) {
            continue;
        }

        if (ngx_memcmp(k, m, len) == 0) {
            return roles[depth - 1][i];
        }

        if (ngx_strncasecmp(k, (u_char *) m, len) == 0) {
            return NGX_HTTP_ADCP_K_MESSAGE;
        }
    }

    return NGX_HTTP_ADCP_K_NONE;
}
