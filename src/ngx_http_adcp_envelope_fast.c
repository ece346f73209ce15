
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


#define NGX_HTTP_ADCP_ENV_FAST_DEPTH  64    /* levels the fast path follows
                                               (a bit each in a word);
                                               deeper: yajl */

/* JSON's whitespace (yajl's also has \f and \v: yajl decides those) */
#define ngx_http_adcp_env_ws(c)                                              \
    ((c) <= ' ' && ((0x100002600ULL >> (c)) & 1))

#define ngx_http_adcp_env_digit(c)  ((u_char) ((c) - '0') <= 9)


static ngx_inline u_char *ngx_http_adcp_env_fast_ws(u_char *p);
static u_char *ngx_http_adcp_env_fast_number(u_char *p);
static u_char *ngx_http_adcp_env_fast_rest(ngx_http_adcp_env_scan_t *s,
    u_char *p);
static ngx_uint_t ngx_http_adcp_env_fast_variant(u_char *k, size_t len,
    ngx_uint_t depth);


/*
 * The common case without yajl (whose set-up and lexer cost about 3,000
 * instructions per request): a body held in one buffer, an object whose
 * "id", "method" and, for tools/call, "params"."name" are plain: strings
 * of printable ASCII without escapes, integers, and "params" itself.
 * Every other value is checked as yajl checks it and stepped over
 * (strings with UTF-8 and escapes, numbers, literals, nesting to 64
 * levels).  The same reading as the yajl parse's, repeated members
 * included, to the end of the body.  Anything else (A2A, an escape or a
 * byte past ASCII where the module reads, an id that is not plain, the
 * buffer's end) is NGX_DECLINED with env untouched: the yajl parse runs
 * from the start.  NGX_OK: env is set, its id and task pointing into the
 * buffer (nothing is allocated: pool is the yajl parse's signature's).
 *
 * One pass, a byte or a string at a time.  The body's last byte but
 * whitespace must be the closing brace of its object: every step stops
 * there at the latest, so that no step but a string's scan and a literal
 * checks for the buffer's end.  A bit per level says array or object
 * (arrays) and whether the module reads its members (reads: the body's
 * object and its "params").
 */

ngx_int_t
ngx_http_adcp_envelope_fast(ngx_pool_t *pool, u_char *p, u_char *last,
    ngx_http_adcp_envelope_t *env)
{
    char                      *dup;
    u_char                     c, *k, *q;
    size_t                     klen;
    uint32_t                   seen;
    uint64_t                   arrays, reads;
    ngx_str_t                  id, name;
    ngx_uint_t                 depth, role, method, id_string, dup_id,
                               dup_method;
    ngx_http_adcp_env_scan_t   s;

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

    s.end = last - 1;
    s.tail = (last - p >= 16);
    s.end16 = s.tail ? last - 16 : p;

    p = ngx_http_adcp_env_fast_ws(p);

    if (*p++ != '{') {
        return NGX_DECLINED;
    }

    depth = 1;
    arrays = 0;
    reads = 1;
    seen = 0;
    method = NGX_HTTP_ADCP_METHOD_NONE;
    id_string = 0;
    dup = NULL;
    dup_id = 0;
    dup_method = 0;
    ngx_str_null(&id);
    ngx_str_null(&name);

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

key:

    /* p at a key's opening quote: past its colon */

    k = p + 1;
    q = ngx_http_adcp_env_scan(&s, k, 0);

    if (*q != '"') {
        if (reads & 1) {
            return NGX_DECLINED;        /* a key the module may read
                                           escaped: yajl */
        }

        q = ngx_http_adcp_env_fast_rest(&s, q);
        if (q == NULL) {
            return NGX_DECLINED;
        }
    }

    p = q + 1;

    if (*p != ':') {
        p = ngx_http_adcp_env_fast_ws(p);

        if (*p != ':') {
            return NGX_DECLINED;
        }
    }

    p++;

    if (reads & 1) {
        goto member;
    }

value:

    c = *p;

    if (c == '"') {
        q = ngx_http_adcp_env_scan(&s, p + 1, 0);

        if (*q != '"') {
            q = ngx_http_adcp_env_fast_rest(&s, q);
            if (q == NULL) {
                return NGX_DECLINED;
            }
        }

        p = q + 1;
        goto after;
    }

    if (c == '{' || c == '[') {
        if (depth == NGX_HTTP_ADCP_ENV_FAST_DEPTH) {
            return NGX_DECLINED;
        }

        depth++;
        arrays = (arrays << 1) | (c == '[');
        reads <<= 1;
        p++;

        if (*p == (u_char) (c + 2)) {           /* "{}" or "[]" */
            goto close;
        }

        if (ngx_http_adcp_env_ws(*p)) {
            p = ngx_http_adcp_env_fast_ws(p);

            if (*p == (u_char) (c + 2)) {
                goto close;
            }
        }

        if (c == '[') {
            goto value;
        }

        if (*p == '"') {
            goto key;
        }

        return NGX_DECLINED;
    }

    if (c == '-' || ngx_http_adcp_env_digit(c)) {
        p = ngx_http_adcp_env_fast_number(p);
        if (p == NULL) {
            return NGX_DECLINED;
        }

        goto after;
    }

    if (ngx_http_adcp_env_ws(c)) {
        p = ngx_http_adcp_env_fast_ws(p);
        goto value;
    }

    /* a literal, something after it (the closing brace at the latest) */

    if (c == 't' && last - p > 4 && ngx_strncmp(p, "true", 4) == 0) {
        p += 4;

    } else if (c == 'f' && last - p > 5 && ngx_strncmp(p, "false", 5) == 0) {
        p += 5;

    } else if (c == 'n' && last - p > 4 && ngx_strncmp(p, "null", 4) == 0) {
        p += 4;

    } else {
        return NGX_DECLINED;
    }

after:

    /* after a value: its container goes on or ends */

    c = *p;

    if (c == ',') {
        p++;

        if (arrays & 1) {
            goto value;
        }

        if (*p != '"') {
            p = ngx_http_adcp_env_fast_ws(p);

            if (*p != '"') {
                return NGX_DECLINED;
            }
        }

        goto key;
    }

    /* '}' (0x7d) ends an object, ']' (0x5d) an array */

    if ((c | 0x20) == '}') {
        if ((((c >> 5) ^ arrays) & 1) == 0) {
            return NGX_DECLINED;
        }

        goto close;
    }

    if (ngx_http_adcp_env_ws(c)) {
        p = ngx_http_adcp_env_fast_ws(p);
        goto after;
    }

    return NGX_DECLINED;

close:

    /* p at the end of a level: the body's object ends at its last brace */

    if (p == s.end) {
        if (depth == 1) {
            goto done;
        }

        return NGX_DECLINED;
    }

    if (depth == 1) {
        return NGX_DECLINED;
    }

    depth--;
    arrays >>= 1;
    reads >>= 1;
    p++;

    goto after;

member:

    /*
     * past the colon of a member of the body's object or of its "params"
     * (depth 2): what the module reads
     */

    klen = q - k;
    role = NGX_HTTP_ADCP_K_NONE;

    if (depth == 1) {
        if (ngx_http_adcp_env_is(k, klen, "id")) {
            role = NGX_HTTP_ADCP_K_ID;

        } else if (ngx_http_adcp_env_is(k, klen, "method")) {
            role = NGX_HTTP_ADCP_K_METHOD;

        } else if (ngx_http_adcp_env_is(k, klen, "params")) {
            role = NGX_HTTP_ADCP_K_PARAMS;

        } else if (ngx_http_adcp_env_is(k, klen, "jsonrpc")) {
            role = NGX_HTTP_ADCP_K_JSONRPC;
        }

    } else if (ngx_http_adcp_env_is(k, klen, "name")) {
        role = NGX_HTTP_ADCP_K_NAME;

    } else if (ngx_http_adcp_env_is(k, klen, "arguments")) {
        role = NGX_HTTP_ADCP_K_ARGUMENTS;

    } else if (ngx_http_adcp_env_is(k, klen, "message")) {
        return NGX_DECLINED;                /* A2A's levels: yajl */
    }

    if (role == NGX_HTTP_ADCP_K_NONE) {
        if (ngx_http_adcp_env_fast_variant(k, klen, depth)) {
            return NGX_DECLINED;            /* another spelling: yajl */
        }

        goto value;
    }

    if (seen & (1 << role)) {

        /* read twice: refused once read; the value is stepped over */

        if (dup == NULL) {
            dup = names[role];
        }

        dup_id |= (role == NGX_HTTP_ADCP_K_ID);
        dup_method |= (role == NGX_HTTP_ADCP_K_METHOD);

        goto value;
    }

    seen |= 1 << role;

    if (role == NGX_HTTP_ADCP_K_JSONRPC || role == NGX_HTTP_ADCP_K_ARGUMENTS) {
        goto value;
    }

    p = ngx_http_adcp_env_fast_ws(p);
    c = *p;

    if (role == NGX_HTTP_ADCP_K_PARAMS) {
        if (c != '{') {
            return NGX_DECLINED;
        }

        /* the members of "params" are read: depth 2 */

        depth = 2;
        arrays <<= 1;
        reads = (reads << 1) | 1;
        p++;

        if (*p != '"') {
            p = ngx_http_adcp_env_fast_ws(p);

            if (*p == '}') {
                goto close;
            }

            if (*p != '"') {
                return NGX_DECLINED;
            }
        }

        goto key;
    }

    /* the id, the method, params.name: a plain string, an integer id */

    if (c == '"') {
        k = p + 1;
        q = ngx_http_adcp_env_scan(&s, k, 1);

        if (*q != '"') {
            return NGX_DECLINED;
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

done:

    ngx_memzero(env, sizeof(ngx_http_adcp_envelope_t));

    env->method = method;

    if (dup) {
        env->error = NGX_HTTP_ADCP_ENV_DUPLICATE;
        env->dup = dup;

        if (dup_id) {
            ngx_str_set(&env->id, "null");
            id.len = 0;
            id.data = NULL;
        }

        if (dup_method || dup_id) {
            env->method = NGX_HTTP_ADCP_METHOD_OTHER;
        }
    }

    /*
     * the id and the task name where the body has them, not copied: a plain
     * string is its own JSON text, quotes included (the body is kept for
     * the request, r->preserve_body)
     */

    if (id.data) {
        env->id.data = id_string ? id.data - 1 : id.data;
        env->id.len = id_string ? id.len + 2 : id.len;
    }

    if (env->method == NGX_HTTP_ADCP_METHOD_MCP_CALL && dup == NULL) {
        env->task.len = name.len;
        env->task.data = name.len ? name.data : (u_char *) "";
    }

    return NGX_OK;
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
 * Past a number as JSON writes it (what follows is for the caller: a
 * digit after a leading zero, a letter, are not where a value ends); NULL:
 * not a number.  A byte past one that is not the closing brace is in the
 * buffer: nothing here checks for its end.
 */

static u_char *
ngx_http_adcp_env_fast_number(u_char *p)
{
    if (*p == '-') {
        p++;
    }

    if (*p == '0') {
        p++;

    } else if (ngx_http_adcp_env_digit(*p)) {
        do {
            p++;
        } while (ngx_http_adcp_env_digit(*p));

    } else {
        return NULL;
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
 * The rest of a string from p, its first byte that is not plain: its
 * closing quote, through UTF-8 and escapes as yajl checks them (no control
 * character, a known escape; a \u0000 is left to the yajl parse); NULL:
 * not such a string in the buffer.
 */

static u_char *
ngx_http_adcp_env_fast_rest(ngx_http_adcp_env_scan_t *s, u_char *p)
{
    u_char      c;
    ngx_uint_t  i, n;

    for ( ;; ) {
        if (p == s->end) {
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

            if (n == 0 || (size_t) (s->end - p) <= n) {
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
                if (s->end - p <= 6) {
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

        p = ngx_http_adcp_env_scan(s, p, 0);
    }
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
 * A key that is, caselessly, a member the fast path reads at this depth
 * but not spelled as it (keys here are printable ASCII without escapes)
 */

static ngx_uint_t
ngx_http_adcp_env_fast_variant(u_char *k, size_t len, ngx_uint_t depth)
{
    static char  *members[][4] = {
        { "id", "method", "params", "jsonrpc" },
        { "name", "arguments", "message", NULL }
    };

    ngx_uint_t  i;
    char       *m;

    for (i = 0; i < 4; i++) {
        m = members[depth - 1][i];

        if (m && len == ngx_strlen(m)
            && ngx_strncasecmp(k, (u_char *) m, len) == 0)
        {
            return 1;
        }
    }

    return 0;
}
