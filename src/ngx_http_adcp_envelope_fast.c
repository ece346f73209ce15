
/*
 * ngx_http_adcp_module: the envelope's fast path (SPEC section 2, "The
 * task name"): the common body read without yajl, in one buffer, with the
 * same reading as the yajl parse in ngx_http_adcp_envelope.c; anything
 * unusual is left to that parse.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_adcp_envelope.h"
#include "ngx_http_adcp_envelope_private.h"
#include "ngx_http_adcp_envelope_scan.h"


#define NGX_HTTP_ADCP_ENV_SKIP_DEPTH  62    /* levels the fast path steps
                                               over (a bit each in a word,
                                               under a guard bit); deeper:
                                               yajl */

/* JSON's whitespace (yajl's also has \f and \v: yajl decides those) */
#define ngx_http_adcp_env_ws(c)  (ngx_http_adcp_env_space[c])

#define ngx_http_adcp_env_digit(c)  ((u_char) ((c) - '0') <= 9)


static const u_char  ngx_http_adcp_env_space[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0, 0,     /* \t \n \r */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1                                                   /* ' ' */
};


static u_char *ngx_http_adcp_env_fast_skip(u_char *p, u_char *end,
    u_char *end16);
static ngx_inline u_char *ngx_http_adcp_env_fast_ws(u_char *p);
static ngx_inline u_char *ngx_http_adcp_env_fast_scalar(u_char *p,
    u_char *end);
static u_char *ngx_http_adcp_env_fast_literal(u_char *p, u_char *end);
static u_char *ngx_http_adcp_env_fast_rest(u_char *p, u_char *end,
    u_char *end16);
static ngx_uint_t ngx_http_adcp_env_fast_key(u_char *k, u_char **q,
    ngx_uint_t depth);
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
    u_char       c, *k, *q, *end, *end16;
    uint32_t     seen;
    ngx_str_t    id, name;
    ngx_uint_t   depth, role, method, id_string, dup_id, dup_method;

    static char  *names[] = {
        NULL, NULL, "id", "method", "params", "params.name",
        "params.message", NULL, NULL, NULL, NULL, NULL, "jsonrpc",
        "params.arguments"
    };

    while (last > p && ngx_http_adcp_env_ws(last[-1])) {
        last--;
    }

    if (last - p < 2 || last[-1] != '}') {
        return NGX_DECLINED;
    }

    end = last - 1;
    end16 = (last - p >= 16) ? last - 16 : p;

    p = ngx_http_adcp_env_fast_ws(p);

    if (*p++ != '{') {
        return NGX_DECLINED;
    }

    depth = 1;          /* 1: the body's object; 2: its "params" */
    seen = 0;           /* a bit per K_* read (none is read at both) */
    method = NGX_HTTP_ADCP_METHOD_NONE;
    id_string = 0;
    dup = NULL;
    dup_id = 0;
    dup_method = 0;
    ngx_str_null(&id);
    ngx_str_null(&name);

first:

    /* p past a '{': a key or the end of the object */

    if (*p != '"') {
        p = ngx_http_adcp_env_fast_ws(p);

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
     * as they are, told at once where 16 bytes follow; any other key is
     * scanned (plain: an escape could spell one of them)
     */

    k = p + 1;
    role = NGX_HTTP_ADCP_K_NONE;

    if (k > end16 || (role = ngx_http_adcp_env_fast_key(k, &q, depth))
                     == NGX_HTTP_ADCP_K_NONE)
    {
        q = ngx_http_adcp_env_scan16(k, end, end16, 0);

        if (*q != '"') {
            q = ngx_http_adcp_env_scan(q, end, end16, 0);

            if (*q != '"') {
                return NGX_DECLINED;
            }
        }

        role = ngx_http_adcp_env_fast_role(k, q - k, depth);

        if (role == NGX_HTTP_ADCP_K_MESSAGE) {
            return NGX_DECLINED;            /* A2A's levels, or another
                                               spelling of a member: yajl */
        }
    }

    /* q at the key's closing quote */

    if (q[1] == ':') {
        p = q + 2;

    } else {
        p = ngx_http_adcp_env_fast_ws(q + 1);

        if (*p++ != ':') {
            return NGX_DECLINED;
        }
    }

    c = *p;

    if (ngx_http_adcp_env_ws(c)) {
        p = ngx_http_adcp_env_fast_ws(p);
        c = *p;
    }

    if (role == NGX_HTTP_ADCP_K_NONE) {
        goto other;
    }

    if (seen & (1 << role)) {

        /* read twice: refused once read; the value is stepped over */

        if (dup == NULL) {
            dup = names[role];
        }

        dup_id |= (role == NGX_HTTP_ADCP_K_ID);
        dup_method |= (role == NGX_HTTP_ADCP_K_METHOD);

        goto other;
    }

    seen |= 1 << role;

    switch (role) {

    case NGX_HTTP_ADCP_K_PARAMS:
        if (c != '{') {
            return NGX_DECLINED;
        }

        /* the members of "params" are read too */

        depth = 2;
        p++;
        goto first;

    case NGX_HTTP_ADCP_K_ID:
    case NGX_HTTP_ADCP_K_METHOD:
    case NGX_HTTP_ADCP_K_NAME:
        break;

    default:
        goto other;
    }

    /* the id, the method, params.name: a plain string, an integer id */

    if (c == '"') {
        k = p + 1;

        if (role == NGX_HTTP_ADCP_K_METHOD && k <= end16
            && ngx_memcmp(k, "tools/call\"", 11) == 0)
        {
            method = NGX_HTTP_ADCP_METHOD_MCP_CALL;
            p = k + 11;
            goto after;
        }

        q = ngx_http_adcp_env_scan16(k, end, end16, 1);

        if (*q != '"') {
            q = ngx_http_adcp_env_scan(q, end, end16, 1);

            if (*q != '"') {
                return NGX_DECLINED;
            }
        }

        p = q + 1;

        if (role == NGX_HTTP_ADCP_K_ID) {
            id.data = k;
            id.len = q - k;
            id_string = 1;

        } else if (role == NGX_HTTP_ADCP_K_METHOD) {
            method = ngx_http_adcp_env_method_kind(k, q - k);

            if (method == NGX_HTTP_ADCP_METHOD_A2A) {
                return NGX_DECLINED;
            }

        } else {
            name.data = k;
            name.len = q - k;
        }

        goto after;
    }

    if (role != NGX_HTTP_ADCP_K_ID) {
        return NGX_DECLINED;
    }

    q = p + (c == '-');

    if (!ngx_http_adcp_env_digit(*q)) {
        return NGX_DECLINED;
    }

    if (*q++ != '0') {
        while (ngx_http_adcp_env_digit(*q)) {
            q++;
        }
    }

    if (*q == '.' || (*q | 0x20) == 'e') {
        return NGX_DECLINED;                /* yajl re-serializes it */
    }

    id.data = p;
    id.len = q - p;
    id_string = 0;
    p = q;

    goto after;

other:

    /* a value the module does not read */

    if (c == '"') {
        q = ngx_http_adcp_env_scan16(p + 1, end, end16, 0);

        if (*q != '"') {
            q = ngx_http_adcp_env_fast_rest(q, end, end16);
            if (q == NULL) {
                return NGX_DECLINED;
            }
        }

        p = q + 1;

    } else {
        p = ngx_http_adcp_env_fast_skip(p, end, end16);
        if (p == NULL) {
            return NGX_DECLINED;
        }
    }

after:

    /* after a value: the next member, or the end of its object */

    c = *p;

    if (c == ',') {
        p++;

        if (*p != '"') {
            p = ngx_http_adcp_env_fast_ws(p);

            if (*p != '"') {
                return NGX_DECLINED;
            }
        }

        goto member;
    }

    if (c != '}') {
        if (!ngx_http_adcp_env_ws(c)) {
            return NGX_DECLINED;
        }

        p = ngx_http_adcp_env_fast_ws(p);
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

    env->method = method;
    env->error = NGX_HTTP_ADCP_ENV_OK;
    env->dup = dup;
    ngx_str_null(&env->task);

    if (dup) {
        env->error = NGX_HTTP_ADCP_ENV_DUPLICATE;

        if (dup_id) {
            id_string = 0;
            ngx_str_set(&id, "null");
        }

        if (dup_method || dup_id) {
            env->method = NGX_HTTP_ADCP_METHOD_OTHER;
        }

    } else if (method == NGX_HTTP_ADCP_METHOD_MCP_CALL) {
        env->task.len = name.len;
        env->task.data = name.len ? name.data : (u_char *) "";
    }

    /*
     * the id and the task name where the body has them, not copied: a plain
     * string is its own JSON text, quotes included (the body is kept for
     * the request, r->preserve_body)
     */

    env->id.data = id_string ? id.data - 1 : id.data;
    env->id.len = id_string ? id.len + 2 : id.len;

    return NGX_OK;
}


/*
 * Past a value the module does not read, not a string (p at its first
 * byte), checked as yajl checks it; NULL: not such a value in this buffer,
 * the yajl parse decides.  Inside, a bit per level says array (1) or
 * object, under a guard bit: levels is 1 when the value's last level
 * closes.
 */

static u_char * __attribute__((noinline))
ngx_http_adcp_env_fast_skip(u_char *p, u_char *end, u_char *end16)
{
    u_char    c, *q;
    uint64_t  levels;

    c = *p;

    if (c != '{' && c != '[') {
        return ngx_http_adcp_env_fast_scalar(p, end);
    }

    levels = 1;

    if (c == '[') {
        goto array;
    }

object:

    /* p at '{' */

    levels <<= 1;

    if ((int64_t) levels < 0) {
        return NULL;
    }

    c = *++p;

    if (c != '"') {
        if (ngx_http_adcp_env_ws(c)) {
            p = ngx_http_adcp_env_fast_ws(p);
            c = *p;
        }

        if (c == '}') {
            goto close;
        }

        if (c != '"') {
            return NULL;
        }
    }

key:

    /* p at a key's opening quote */

    q = ngx_http_adcp_env_scan16(p + 1, end, end16, 0);

    if (*q != '"') {
        q = ngx_http_adcp_env_fast_rest(q, end, end16);
        if (q == NULL) {
            return NULL;
        }
    }

    /* q at its closing quote, not the last byte: q + 1 is in the buffer */

    if (q[1] == ':') {
        p = q + 2;

        if (*p == '"') {
            goto string;
        }

    } else {
        p = ngx_http_adcp_env_fast_ws(q + 1);

        if (*p++ != ':') {
            return NULL;
        }
    }

value:

    c = *p;

    if (c == '"') {

    string:

        q = ngx_http_adcp_env_scan16(p + 1, end, end16, 0);

        if (*q != '"') {
            q = ngx_http_adcp_env_fast_rest(q, end, end16);
            if (q == NULL) {
                return NULL;
            }
        }

        /* the next member or element at once where it is a string */

        if (q[1] == ',' && q[2] == '"' && !(levels & 1)) {
            p = q + 2;
            goto key;
        }

        p = q + 1;
        goto next;
    }

    if (c == '{') {
        goto object;
    }

    if (c == '[') {
        goto array;
    }

    if (ngx_http_adcp_env_ws(c)) {
        p = ngx_http_adcp_env_fast_ws(p);
        goto value;
    }

    p = ngx_http_adcp_env_fast_scalar(p, end);
    if (p == NULL) {
        return NULL;
    }

next:

    c = *p;

    if (c == ',') {
        p++;

        if (levels & 1) {
            goto value;
        }

        if (*p != '"') {
            p = ngx_http_adcp_env_fast_ws(p);

            if (*p != '"') {
                return NULL;
            }
        }

        goto key;
    }

    if (c == '}') {
        if (levels & 1) {
            return NULL;
        }

        goto close;
    }

    if (c == ']') {
        if (!(levels & 1)) {
            return NULL;
        }

        goto close;
    }

    if (ngx_http_adcp_env_ws(c)) {
        p = ngx_http_adcp_env_fast_ws(p);
        goto next;
    }

    return NULL;

array:

    /* p at '[' */

    levels = (levels << 1) | 1;

    if ((int64_t) levels < 0) {
        return NULL;
    }

    c = *++p;

    if (ngx_http_adcp_env_ws(c)) {
        p = ngx_http_adcp_env_fast_ws(p);
        c = *p;
    }

    if (c != ']') {
        goto value;
    }

close:

    /* p at the end of a level, not the body's last brace */

    if (p == end) {
        return NULL;
    }

    p++;
    levels >>= 1;

    if (levels == 1) {
        return p;
    }

    goto next;
}


/* past whitespace: the closing brace stops it at the latest */

static ngx_inline u_char *
ngx_http_adcp_env_fast_ws(u_char *p)
{
    while (ngx_http_adcp_env_ws(*p)) {
        p++;
    }

    return p;
}


/*
 * Past a number as JSON writes it, true, false or null, or NULL; every
 * byte a number steps over is not the closing brace, so that the next one
 * is in the buffer (what it is is for the caller: a digit after a leading
 * zero, a letter, are not where a value ends)
 */

static ngx_inline u_char *
ngx_http_adcp_env_fast_scalar(u_char *p, u_char *end)
{
    u_char  c;

    c = *p;

    if (c == '-') {
        c = *++p;

        if (!ngx_http_adcp_env_digit(c)) {
            return NULL;
        }

    } else if (!ngx_http_adcp_env_digit(c)) {
        return ngx_http_adcp_env_fast_literal(p, end);
    }

    p++;

    if (c != '0') {
        while (ngx_http_adcp_env_digit(*p)) {
            p++;
        }
    }

    if (*p == '.') {
        p++;

        if (!ngx_http_adcp_env_digit(*p)) {
            return NULL;
        }

        do {
            p++;
        } while (ngx_http_adcp_env_digit(*p));
    }

    if ((*p | 0x20) == 'e') {
        p++;

        if (*p == '+' || *p == '-') {
            p++;
        }

        if (!ngx_http_adcp_env_digit(*p)) {
            return NULL;
        }

        do {
            p++;
        } while (ngx_http_adcp_env_digit(*p));
    }

    return p;
}


/*
 * Past true, false or null (followed by a byte in the buffer: what it is
 * is for the caller), or NULL
 */

static u_char *
ngx_http_adcp_env_fast_literal(u_char *p, u_char *end)
{
    size_t  n;

    n = end - p;

    switch (*p) {

    case 't':
        return (n >= 4 && ngx_strncmp(p, "true", 4) == 0) ? p + 4 : NULL;

    case 'f':
        return (n >= 5 && ngx_strncmp(p, "false", 5) == 0) ? p + 5 : NULL;

    case 'n':
        return (n >= 4 && ngx_strncmp(p, "null", 4) == 0) ? p + 4 : NULL;

    default:
        return NULL;
    }
}


/*
 * The rest of a string from p, its first byte that is not plain: its
 * closing quote, through UTF-8 and escapes as yajl checks them (no control
 * character, a known escape; a \u0000 is left to the yajl parse); NULL:
 * not such a string in the buffer.
 */

static u_char *
ngx_http_adcp_env_fast_rest(u_char *p, u_char *end, u_char *end16)
{
    u_char      c;
    ngx_uint_t  i, n;

    for ( ;; ) {
        p = ngx_http_adcp_env_scan(p, end, end16, 0);

        if (p == end) {
            return NULL;                    /* no closing quote */
        }

        c = *p;

        if (c == '"') {
            return p;
        }

        if (c >= 0x80) {

            /* UTF-8 as yajl checks it: a lead byte and its continuations */

            n = (c >> 5) == 0x06 ? 1 : (c >> 4) == 0x0e ? 2
                : (c >> 3) == 0x1e ? 3 : 0;

            if (n == 0 || (size_t) (end - p) <= n) {
                return NULL;
            }

            for (i = 1; i <= n; i++) {
                if ((p[i] & 0xc0) != 0x80) {
                    return NULL;
                }
            }

            p += 1 + n;

        } else if (c == '\\') {

            /* p + 1 is in the buffer: p is not the closing brace */

            switch (p[1]) {

            case '"': case '\\': case '/': case 'b': case 'f': case 'n':
            case 'r': case 't':
                p += 2;
                break;

            case 'u':
                if (end - p < 6) {
                    return NULL;
                }

                for (i = 2; i < 6; i++) {
                    c = p[i] | 0x20;

                    if (!(ngx_http_adcp_env_digit(c)
                          || (c >= 'a' && c <= 'f')))
                    {
                        return NULL;
                    }
                }

                /* yajl refuses a \u0000 in a string: the yajl parse decides */

                if (p[2] == '0' && p[3] == '0' && p[4] == '0' && p[5] == '0')
                {
                    return NULL;
                }

                p += 6;
                break;

            default:
                return NULL;
            }

        } else {
            return NULL;                    /* a control character */
        }
    }
}


/*
 * A key of the body's object (depth 1) or of its "params" (depth 2) that
 * is one the module reads, as written, 16 bytes in the buffer from k: its
 * role, *q at its closing quote; K_NONE: another key, or not so written
 */

static ngx_uint_t
ngx_http_adcp_env_fast_key(u_char *k, u_char **q, ngx_uint_t depth)
{
#define ngx_http_adcp_env_key_is(lit, r)                                     \
    if (ngx_memcmp(k, lit, sizeof(lit) - 1) == 0) {                          \
        *q = k + sizeof(lit) - 2;                                            \
        return r;                                                            \
    }                                                                        \
    break

    switch (depth == 1 ? *k : *k | 0x80) {

    case 'i':
        ngx_http_adcp_env_key_is("id\"", NGX_HTTP_ADCP_K_ID);

    case 'm':
        ngx_http_adcp_env_key_is("method\"", NGX_HTTP_ADCP_K_METHOD);

    case 'p':
        ngx_http_adcp_env_key_is("params\"", NGX_HTTP_ADCP_K_PARAMS);

    case 'j':
        ngx_http_adcp_env_key_is("jsonrpc\"", NGX_HTTP_ADCP_K_JSONRPC);

    case 'n' | 0x80:
        ngx_http_adcp_env_key_is("name\"", NGX_HTTP_ADCP_K_NAME);

    case 'a' | 0x80:
        ngx_http_adcp_env_key_is("arguments\"", NGX_HTTP_ADCP_K_ARGUMENTS);
    }

#undef ngx_http_adcp_env_key_is

    return NGX_HTTP_ADCP_K_NONE;
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
