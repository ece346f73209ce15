
/*
 * ngx_http_adcp_module: the envelope's fast path (SPEC section 2, "The
 * task name"): the common body read without yajl, in one buffer, with the
 * same reading as the yajl parse in ngx_http_adcp_envelope.c; anything
 * unusual is left to that parse.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#if (__SSE2__)
#include <emmintrin.h>
#endif

#include "ngx_http_adcp_envelope.h"
#include "ngx_http_adcp_envelope_private.h"


#define NGX_HTTP_ADCP_ENV_SKIP_DEPTH  64    /* levels the fast path steps
                                               over; deeper: yajl */


static ngx_inline u_char *ngx_http_adcp_env_fast_ws(u_char *p,
    u_char *last);
static ngx_inline u_char *ngx_http_adcp_env_fast_plain(u_char *p,
    u_char *last);
static ngx_inline u_char *ngx_http_adcp_env_fast_string(u_char *p,
    u_char *last);
static u_char *ngx_http_adcp_env_fast_number(u_char *p, u_char *last);
static u_char *ngx_http_adcp_env_fast_skip(u_char *p, u_char *last);
static u_char *ngx_http_adcp_env_fast_scalar(u_char *p, u_char *last);
static ngx_uint_t ngx_http_adcp_env_fast_variant(u_char *k, size_t len,
    ngx_uint_t depth);


/*
 * The common case without yajl (whose set-up and lexer cost about 3,000
 * instructions per request): a body held in one buffer, an object whose
 * "id", "method" and, for tools/call, "params"."name" are plain: strings
 * of printable ASCII without escapes, integers, and "params" itself.
 * Every other value is checked as JSON and stepped over (strings of
 * printable ASCII, escapes allowed).  The same reading as the yajl parse's,
 * repeated members included, to the end of the body.  Anything else (A2A,
 * an escape or a byte past ASCII where the module reads or steps, an id
 * that is not plain, the buffer's end) is NGX_DECLINED with env untouched:
 * the yajl parse runs from the start.  NGX_OK: env is set, its id and task
 * pointing into the buffer (nothing is allocated: pool is the yajl parse's
 * signature's).
 */

ngx_int_t
ngx_http_adcp_envelope_fast(ngx_pool_t *pool, u_char *p, u_char *last,
    ngx_http_adcp_envelope_t *env)
{
    char        *dup;
    u_char      *k, *s, *e;
    size_t       klen;
    uint32_t     seen[3];
    ngx_str_t    id, name;
    ngx_uint_t   depth, role, method, id_string, dup_id, dup_method;

    static char  *names[] = {
        NULL, NULL, "id", "method", "params", "params.name",
        "params.message", NULL, NULL, NULL, NULL, NULL, "jsonrpc",
        "params.arguments"
    };

    p = ngx_http_adcp_env_fast_ws(p, last);

    if (p == last || *p++ != '{') {
        return NGX_DECLINED;
    }

    depth = 1;
    method = NGX_HTTP_ADCP_METHOD_NONE;
    id_string = 0;
    dup = NULL;
    dup_id = 0;
    dup_method = 0;
    seen[1] = 0;
    seen[2] = 0;
    ngx_str_null(&id);
    ngx_str_null(&name);

    p = ngx_http_adcp_env_fast_ws(p, last);

    if (p < last && *p == '}') {
        p++;
        goto done;
    }

    for ( ;; ) {

        /* a member: "key" : value */

        p = ngx_http_adcp_env_fast_ws(p, last);

        if (p == last || *p != '"') {
            return NGX_DECLINED;
        }

        k = p + 1;
        p = ngx_http_adcp_env_fast_string(k, last);
        if (p == NULL) {
            return NGX_DECLINED;
        }

        klen = p++ - k;

        p = ngx_http_adcp_env_fast_ws(p, last);

        if (p == last || *p++ != ':') {
            return NGX_DECLINED;
        }

        p = ngx_http_adcp_env_fast_ws(p, last);

        if (p == last) {
            return NGX_DECLINED;
        }

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
            return NGX_DECLINED;            /* A2A's levels: yajl */
        }

        if (role == NGX_HTTP_ADCP_K_NONE
            && ngx_http_adcp_env_fast_variant(k, klen, depth))
        {
            return NGX_DECLINED;            /* another spelling: yajl */
        }

        if (role != NGX_HTTP_ADCP_K_NONE) {

            if (seen[depth] & (1 << role)) {

                /* read twice: refused once read; the value is skipped */

                if (dup == NULL) {
                    dup = names[role];
                }

                dup_id |= (role == NGX_HTTP_ADCP_K_ID);
                dup_method |= (role == NGX_HTTP_ADCP_K_METHOD);
                role = NGX_HTTP_ADCP_K_NONE;

            } else {
                seen[depth] |= 1 << role;
            }
        }

        switch (role) {

        case NGX_HTTP_ADCP_K_PARAMS:
            if (*p != '{') {
                return NGX_DECLINED;
            }

            p = ngx_http_adcp_env_fast_ws(p + 1, last);

            if (p < last && *p == '}') {
                p++;
                break;
            }

            depth = 2;
            continue;

        case NGX_HTTP_ADCP_K_ID:
        case NGX_HTTP_ADCP_K_METHOD:
        case NGX_HTTP_ADCP_K_NAME:

            if (*p == '"') {
                s = p + 1;
                e = ngx_http_adcp_env_fast_string(s, last);
                if (e == NULL) {
                    return NGX_DECLINED;
                }

                p = e + 1;

                if (role == NGX_HTTP_ADCP_K_ID) {
                    id.data = s;
                    id.len = e - s;
                    id_string = 1;

                } else if (role == NGX_HTTP_ADCP_K_METHOD) {
                    method = ngx_http_adcp_env_method_kind(s, e - s);

                    if (method == NGX_HTTP_ADCP_METHOD_A2A) {
                        return NGX_DECLINED;
                    }

                } else {
                    name.data = s;
                    name.len = e - s;
                }

                break;
            }

            if (role != NGX_HTTP_ADCP_K_ID
                || !(*p == '-' || (*p >= '0' && *p <= '9')))
            {
                return NGX_DECLINED;
            }

            s = p;
            p = ngx_http_adcp_env_fast_number(p, last);
            if (p == NULL) {
                return NGX_DECLINED;
            }

            id.data = s;
            id.len = p - s;
            id_string = 0;
            break;

        default:
            p = ngx_http_adcp_env_fast_skip(p, last);
            if (p == NULL) {
                return NGX_DECLINED;
            }
        }

        /* after a value: the next member, or the end of its object */

        for ( ;; ) {
            p = ngx_http_adcp_env_fast_ws(p, last);

            if (p == last) {
                return NGX_DECLINED;
            }

            if (*p != '}') {
                break;
            }

            p++;

            if (--depth == 0) {
                goto done;
            }
        }

        if (*p++ != ',') {
            return NGX_DECLINED;
        }
    }

done:

    if (ngx_http_adcp_env_fast_ws(p, last) != last) {
        return NGX_DECLINED;
    }

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


/*
 * Past a JSON value the module does not read, checked as yajl checks it
 * (strings of printable ASCII with escapes, numbers, literals, nesting up
 * to 64 levels: a bit per level says array or object); NULL: not such a
 * value in this buffer, the yajl parse decides.
 */

static u_char *
ngx_http_adcp_env_fast_skip(u_char *p, u_char *last)
{
    u_char      c, *q;
    uint64_t    arrays;
    ngx_uint_t  depth, key, i, n;
#if (__SSE2__)
    int         bits;
    u_char     *end16;
    ngx_uint_t  tail;
    __m128i     x, two, backslash, limit;

    /*
     * a byte below 0x20, 0x80 and above, or a quote: (x ^ 0x02) below
     * 0x21, signed (the quote's 0x22 turns 0x20, controls stay controls,
     * nothing else falls below); and a backslash
     */

    two = _mm_set1_epi8(0x02);
    backslash = _mm_set1_epi8('\\');
    limit = _mm_set1_epi8(0x21);
    tail = (last - p >= 16);
    end16 = tail ? last - 16 : p - 1;
#endif

    arrays = 0;
    depth = 0;

value:

    if (p == last) {
        return NULL;
    }

    c = *p;

    if (c == '"') {
        key = 0;
        goto string;
    }

    if (c == '{' || c == '[') {
        if (depth == NGX_HTTP_ADCP_ENV_SKIP_DEPTH) {
            return NULL;
        }

        arrays = (arrays << 1) | (c == '[');
        depth++;

        p = ngx_http_adcp_env_fast_ws(p + 1, last);

        if (p == last) {
            return NULL;
        }

        if (*p == (u_char) (c + 2)) {           /* "{}" or "[]" */
            p++;
            arrays >>= 1;
            depth--;
            goto after;
        }

        if (c == '[') {
            goto value;
        }

        goto member;
    }

    if (c <= ' ') {
        q = ngx_http_adcp_env_fast_ws(p, last);

        if (q == p) {
            return NULL;
        }

        p = q;
        goto value;
    }

    p = ngx_http_adcp_env_fast_scalar(p, last);

    if (p == NULL) {
        return NULL;
    }

after:

    /* after a value: its container goes on or ends */

    if (depth == 0) {
        return p;
    }

    if (p == last) {
        return NULL;
    }

    c = *p++;

    if (c == ',') {
        if (arrays & 1) {
            goto value;
        }

        goto member;
    }

    if (c == (u_char) ((arrays & 1) ? ']' : '}')) {
        arrays >>= 1;
        depth--;
        goto after;
    }

    if (c <= ' ') {
        q = ngx_http_adcp_env_fast_ws(p - 1, last);

        if (q == p - 1) {
            return NULL;
        }

        p = q;
        goto after;
    }

    return NULL;

member:

    if (p == last) {
        return NULL;
    }

    if (*p != '"') {
        q = ngx_http_adcp_env_fast_ws(p, last);

        if (q == p || q == last || *q != '"') {
            return NULL;
        }

        p = q;
    }

    key = 1;

string:

    /*
     * p at the opening quote: past the closing one, through UTF-8 and
     * escapes as yajl checks them (no control character, a known escape;
     * a \u0000 is left to the yajl parse)
     */

    p++;

    for ( ;; ) {

#if (__SSE2__)
        while (p <= end16) {
            x = _mm_loadu_si128((__m128i *) p);

            bits = _mm_movemask_epi8(
                       _mm_or_si128(_mm_cmpgt_epi8(limit,
                                                   _mm_xor_si128(x, two)),
                                    _mm_cmpeq_epi8(x, backslash)));

            if (bits) {
                p += __builtin_ctz(bits);

                if (*p == '"') {
                    p++;
                    goto closed;
                }

                goto special;
            }

            p += 16;
        }

        /*
         * the buffer's last bytes: its last 16 in one load, those before
         * p shifted out (a string that ends there ends without the bytes
         * loop)
         */

        if (tail && p < last) {
            x = _mm_loadu_si128((__m128i *) end16);

            bits = _mm_movemask_epi8(
                       _mm_or_si128(_mm_cmpgt_epi8(limit,
                                                   _mm_xor_si128(x, two)),
                                    _mm_cmpeq_epi8(x, backslash)))
                   >> (p - end16);

            if (bits == 0) {
                return NULL;                    /* no closing quote */
            }

            p += __builtin_ctz(bits);

            if (*p == '"') {
                p++;
                goto closed;
            }

            goto special;
        }
#endif

        while (p < last && *p >= 0x20 && *p < 0x80 && *p != '"'
               && *p != '\\')
        {
            p++;
        }

#if (__SSE2__)
    special:
#endif

        if (p == last) {
            return NULL;
        }

        c = *p++;

        if (c == '"') {
            break;
        }

        if (c >= 0x80) {

            /* UTF-8 as yajl checks it: a lead byte and its continuations */

            n = (c >> 5) == 0x06 ? 1 : (c >> 4) == 0x0e ? 2
                : (c >> 3) == 0x1e ? 3 : 0;

            if (n == 0 || (size_t) (last - p) < n) {
                return NULL;
            }

            for (i = 0; i < n; i++) {
                if ((p[i] & 0xc0) != 0x80) {
                    return NULL;
                }
            }

            p += n;
            continue;
        }

        if (c != '\\' || p == last) {
            return NULL;
        }

        switch (*p++) {

        case '"': case '\\': case '/': case 'b': case 'f': case 'n':
        case 'r': case 't':
            break;

        case 'u':
            if (last - p < 4) {
                return NULL;
            }

            /* a hex digit: the digits as they are, letters either case */

            for (i = 0; i < 4; i++) {
                c = p[i];

                if (!((c >= '0' && c <= '9')
                      || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')))
                {
                    return NULL;
                }
            }

            /* yajl refuses a \u0000 in a string: the yajl parse decides */

            if (p[0] == '0' && p[1] == '0' && p[2] == '0' && p[3] == '0') {
                return NULL;
            }

            p += 4;
            break;

        default:
            return NULL;
        }
    }

#if (__SSE2__)
closed:
#endif

    if (!key) {
        goto after;
    }

    if (p == last) {
        return NULL;
    }

    if (*p != ':') {
        p = ngx_http_adcp_env_fast_ws(p, last);

        if (p == last || *p != ':') {
            return NULL;
        }
    }

    p++;

    goto value;
}


/* past a number, true, false or null that something else follows */

static u_char *
ngx_http_adcp_env_fast_scalar(u_char *p, u_char *last)
{
    u_char  *d;

    switch (*p) {

    case 't':
        p = (last - p > 4 && ngx_strncmp(p, "true", 4) == 0) ? p + 4 : last;
        goto end;

    case 'f':
        p = (last - p > 5 && ngx_strncmp(p, "false", 5) == 0) ? p + 5 : last;
        goto end;

    case 'n':
        p = (last - p > 4 && ngx_strncmp(p, "null", 4) == 0) ? p + 4 : last;
        goto end;
    }

    if (*p == '-') {
        p++;
    }

    if (p == last || *p < '0' || *p > '9') {
        return NULL;
    }

    if (*p++ == '0') {
        if (p < last && *p >= '0' && *p <= '9') {
            return NULL;
        }

    } else {
        while (p < last && *p >= '0' && *p <= '9') {
            p++;
        }
    }

    if (p < last && *p == '.') {
        d = ++p;

        while (p < last && *p >= '0' && *p <= '9') {
            p++;
        }

        if (p == d) {
            return NULL;
        }
    }

    if (p < last && (*p == 'e' || *p == 'E')) {
        p++;

        if (p < last && (*p == '+' || *p == '-')) {
            p++;
        }

        d = p;

        while (p < last && *p >= '0' && *p <= '9') {
            p++;
        }

        if (p == d) {
            return NULL;
        }
    }

end:

    /* a letter or a digit after it: not where a value ends */

    if (p == last || (*p >= '0' && *p <= '9')
        || ((*p | 0x20) >= 'a' && (*p | 0x20) <= 'z'))
    {
        return NULL;
    }

    return p;
}


static ngx_inline u_char *
ngx_http_adcp_env_fast_ws(u_char *p, u_char *last)
{
    /* most bodies have none: one test then */

    if (p == last || *p > ' ') {
        return p;
    }

    while (p < last
           && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
    {
        p++;
    }

    return p;
}


/*
 * The first byte from p that is a quote, a backslash or not printable
 * ASCII, or last: 16 bytes a step where SSE2 is (every x86-64), the bulk
 * of a body being strings
 */

static ngx_inline u_char *
ngx_http_adcp_env_fast_plain(u_char *p, u_char *last)
{
#if (__SSE2__)
    int      bits;
    __m128i  x, m;

    while (last - p >= 16) {
        x = _mm_loadu_si128((__m128i *) p);

        /*
         * below 0x20, 0x80 and above, or a quote: (x ^ 0x02) below 0x21,
         * signed (as in ngx_http_adcp_env_fast_skip); a backslash, 0x7f
         */

        m = _mm_or_si128(
                _mm_cmpgt_epi8(_mm_set1_epi8(0x21),
                               _mm_xor_si128(x, _mm_set1_epi8(0x02))),
                _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('\\')),
                             _mm_cmpeq_epi8(x, _mm_set1_epi8(0x7f))));

        bits = _mm_movemask_epi8(m);

        if (bits) {
            return p + __builtin_ctz(bits);
        }

        p += 16;
    }
#endif

    while (p < last && *p >= 0x20 && *p <= 0x7e && *p != '"' && *p != '\\') {
        p++;
    }

    return p;
}


/* the closing quote of a string of printable ASCII without escapes */

static ngx_inline u_char *
ngx_http_adcp_env_fast_string(u_char *p, u_char *last)
{
    p = ngx_http_adcp_env_fast_plain(p, last);

    return (p < last && *p == '"') ? p : NULL;
}


/* past an integer that something other than a digit follows in the buffer */

static u_char *
ngx_http_adcp_env_fast_number(u_char *p, u_char *last)
{
    if (*p == '-') {
        p++;
    }

    if (p == last || *p < '0' || *p > '9') {
        return NULL;
    }

    if (*p++ == '0') {
        if (p < last && *p >= '0' && *p <= '9') {
            return NULL;
        }

    } else {
        while (p < last && *p >= '0' && *p <= '9') {
            p++;
        }
    }

    if (p == last || *p == '.' || *p == 'e' || *p == 'E') {
        return NULL;
    }

    return p;
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
