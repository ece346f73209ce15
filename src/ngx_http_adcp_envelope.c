
/*
 * ngx_http_adcp_module: the request envelope (SPEC section 2, "The task
 * name").
 *
 * yajl calls back for every token; we keep a stack of what each open
 * container means (only the few levels that lead to a task name), the
 * members of each already seen, and the role of the next value.  Strings
 * we keep (id, task) are copied from yajl's buffers into the pool; the
 * body itself is never copied.  The body is read to its end: a member the
 * module reads that its object repeats is refused (JSON parsers differ on
 * which of the two wins: the adapter's could run another task than the
 * one checked here), and so is a JSON-RPC batch.  yajl's own memory comes
 * from the same pool.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <yajl/yajl_parse.h>

#if (__SSE2__)
#include <emmintrin.h>
#endif

#include "ngx_http_adcp_envelope.h"
#include "ngx_http_adcp_json.h"


#define NGX_HTTP_ADCP_ENV_FRAMES   8        /* levels whose meaning we keep */
#define NGX_HTTP_ADCP_ENV_ID_DEPTH 64       /* nesting inside an id */
#define NGX_HTTP_ADCP_ENV_READ     16384    /* temp file read size */

/* what an open container is */
#define NGX_HTTP_ADCP_FR_OTHER     0
#define NGX_HTTP_ADCP_FR_ARRAY     1
#define NGX_HTTP_ADCP_FR_TOP       2        /* the JSON-RPC object */
#define NGX_HTTP_ADCP_FR_PARAMS    3
#define NGX_HTTP_ADCP_FR_MESSAGE   4        /* A2A params.message */
#define NGX_HTTP_ADCP_FR_PARTS     5        /* A2A params.message.parts */
#define NGX_HTTP_ADCP_FR_PART      6
#define NGX_HTTP_ADCP_FR_DATA      7        /* a part's data object */

/* what the next value is */
#define NGX_HTTP_ADCP_K_NONE       0
#define NGX_HTTP_ADCP_K_TOP        1
#define NGX_HTTP_ADCP_K_ID         2
#define NGX_HTTP_ADCP_K_METHOD     3
#define NGX_HTTP_ADCP_K_PARAMS     4
#define NGX_HTTP_ADCP_K_NAME       5
#define NGX_HTTP_ADCP_K_MESSAGE    6
#define NGX_HTTP_ADCP_K_PARTS      7
#define NGX_HTTP_ADCP_K_PART       8
#define NGX_HTTP_ADCP_K_KIND       9
#define NGX_HTTP_ADCP_K_DATA       10
#define NGX_HTTP_ADCP_K_SKILL      11
#define NGX_HTTP_ADCP_K_JSONRPC    12       /* read for repeats only */
#define NGX_HTTP_ADCP_K_ARGUMENTS  13
#define NGX_HTTP_ADCP_K_CONTEXT    14
#define NGX_HTTP_ADCP_K_PARAMETERS 15
#define NGX_HTTP_ADCP_K_INPUT      16


#define NGX_HTTP_ADCP_ENV_SKIP_DEPTH  64    /* levels the fast path steps
                                               over; deeper: yajl */


#define ngx_http_adcp_env_is(s, l, lit)                                      \
    ((l) == sizeof(lit) - 1 && ngx_memcmp(s, lit, sizeof(lit) - 1) == 0)


struct ngx_http_adcp_envelope_parser_s {
    yajl_handle                  yajl;
    ngx_pool_t                  *pool;
    ngx_http_adcp_envelope_t    *env;

    ngx_uint_t                   depth;
    ngx_uint_t                   key;        /* role of the next map value */
    u_char                       frame[NGX_HTTP_ADCP_ENV_FRAMES + 1];
    uint32_t                     seen[NGX_HTTP_ADCP_ENV_FRAMES + 1];
                                             /* a bit per K_* member */

    /* an id that is an object or an array, re-serialized */
    u_char                      *id_pos;
    u_char                      *id_end;
    u_char                      *id_start;
    ngx_uint_t                   id_depth;
    uint64_t                     id_comma;   /* a bit per level: "," due */

    ngx_str_t                    mcp_name;   /* params.name */
    ngx_str_t                    skill;      /* first data part's skill */
    ngx_uint_t                   skills;     /* data parts naming a skill */
    ngx_str_t                    part_skill;

    unsigned                     part_skill_seen:1;
    unsigned                     id_after_key:1;
    unsigned                     id_invalid:1;
    unsigned                     dup_id:1;
    unsigned                     dup_method:1;
    unsigned                     batch:1;
    unsigned                     failed:1;
    unsigned                     nomem:1;
    unsigned                     finished:1;
};


static void *ngx_http_adcp_env_malloc(void *ctx, size_t size);
static void *ngx_http_adcp_env_realloc(void *ctx, void *ptr, size_t size);
static void ngx_http_adcp_env_free(void *ctx, void *ptr);

static int ngx_http_adcp_env_null(void *ctx);
static int ngx_http_adcp_env_boolean(void *ctx, int value);
static int ngx_http_adcp_env_number(void *ctx, const char *s, size_t len);
static int ngx_http_adcp_env_string(void *ctx, const unsigned char *s,
    size_t len);
static int ngx_http_adcp_env_start_map(void *ctx);
static int ngx_http_adcp_env_map_key(void *ctx, const unsigned char *s,
    size_t len);
static int ngx_http_adcp_env_end_map(void *ctx);
static int ngx_http_adcp_env_start_array(void *ctx);
static int ngx_http_adcp_env_end_array(void *ctx);

static int ngx_http_adcp_env_scalar(ngx_http_adcp_envelope_parser_t *p,
    u_char *s, size_t len, ngx_uint_t string);
static int ngx_http_adcp_env_open(ngx_http_adcp_envelope_parser_t *p,
    ngx_uint_t map);
static int ngx_http_adcp_env_close(ngx_http_adcp_envelope_parser_t *p,
    ngx_uint_t map);
static void ngx_http_adcp_env_repeated(ngx_http_adcp_envelope_parser_t *p);
static ngx_uint_t ngx_http_adcp_env_role(ngx_http_adcp_envelope_parser_t *p);
static void ngx_http_adcp_env_method(ngx_http_adcp_envelope_parser_t *p,
    u_char *s, size_t len);
static ngx_int_t ngx_http_adcp_env_copy(ngx_http_adcp_envelope_parser_t *p,
    ngx_str_t *dst, u_char *s, size_t len, ngx_uint_t string);

static ngx_inline u_char *ngx_http_adcp_env_fast_ws(u_char *p,
    u_char *last);
static ngx_inline u_char *ngx_http_adcp_env_fast_plain(u_char *p,
    u_char *last);
static ngx_inline u_char *ngx_http_adcp_env_fast_string(u_char *p,
    u_char *last);
static u_char *ngx_http_adcp_env_fast_number(u_char *p, u_char *last);
static u_char *ngx_http_adcp_env_fast_skip(u_char *p, u_char *last);
static u_char *ngx_http_adcp_env_fast_scalar(u_char *p, u_char *last);
static ngx_uint_t ngx_http_adcp_env_method_kind(u_char *s, size_t len);
static ngx_uint_t ngx_http_adcp_env_fast_variant(u_char *k, size_t len,
    ngx_uint_t depth);
static ngx_uint_t ngx_http_adcp_env_fold(u_char *s, size_t len, char *lit);

static void ngx_http_adcp_env_id_sep(ngx_http_adcp_envelope_parser_t *p);
static void ngx_http_adcp_env_id_write(ngx_http_adcp_envelope_parser_t *p,
    u_char *s, size_t len, ngx_uint_t string);


static yajl_callbacks  ngx_http_adcp_env_callbacks = {
    ngx_http_adcp_env_null,
    ngx_http_adcp_env_boolean,
    NULL,
    NULL,
    ngx_http_adcp_env_number,
    ngx_http_adcp_env_string,
    ngx_http_adcp_env_start_map,
    ngx_http_adcp_env_map_key,
    ngx_http_adcp_env_end_map,
    ngx_http_adcp_env_start_array,
    ngx_http_adcp_env_end_array
};


ngx_http_adcp_envelope_parser_t *
ngx_http_adcp_envelope_create(ngx_pool_t *pool, ngx_http_adcp_envelope_t *env)
{
    yajl_alloc_funcs                  af;
    ngx_http_adcp_envelope_parser_t  *p;

    p = ngx_pcalloc(pool, sizeof(ngx_http_adcp_envelope_parser_t));
    if (p == NULL) {
        return NULL;
    }

    p->pool = pool;
    p->env = env;

    ngx_memzero(env, sizeof(ngx_http_adcp_envelope_t));

    af.malloc = ngx_http_adcp_env_malloc;
    af.realloc = ngx_http_adcp_env_realloc;
    af.free = ngx_http_adcp_env_free;
    af.ctx = pool;

    p->yajl = yajl_alloc(&ngx_http_adcp_env_callbacks, &af, p);
    if (p->yajl == NULL) {
        return NULL;
    }

    return p;
}


/*
 * NGX_AGAIN: feed more (the whole body is read);
 * NGX_DECLINED: the body is refused (env->error says why);
 * NGX_ERROR: out of memory.
 */

ngx_int_t
ngx_http_adcp_envelope_feed(ngx_http_adcp_envelope_parser_t *p, u_char *data,
    size_t len)
{
    yajl_status  st;

    if (p->failed) {
        return p->nomem ? NGX_ERROR : NGX_DECLINED;
    }

    /*
     * yajl takes \v and \f for whitespace (and refuses them in strings):
     * not JSON for RFC 8259 nor for any adapter's parser
     */

    if (memchr(data, '\v', len) || memchr(data, '\f', len)) {
        p->failed = 1;
        p->env->error = NGX_HTTP_ADCP_ENV_SYNTAX;
        return NGX_DECLINED;
    }

    st = yajl_parse(p->yajl, data, len);

    if (st == yajl_status_ok) {
        return NGX_AGAIN;
    }

    p->failed = 1;

    if (p->nomem) {
        return NGX_ERROR;
    }

    if (p->env->error == NGX_HTTP_ADCP_ENV_OK) {
        p->env->error = NGX_HTTP_ADCP_ENV_SYNTAX;
    }

    return NGX_DECLINED;
}


void
ngx_http_adcp_envelope_finish(ngx_http_adcp_envelope_parser_t *p)
{
    size_t                     i;
    ngx_http_adcp_envelope_t  *env;

    if (p->finished) {
        return;
    }

    p->finished = 1;
    env = p->env;

    if (!p->failed
        && yajl_complete_parse(p->yajl) != yajl_status_ok)
    {
        p->failed = 1;

        if (env->error == NGX_HTTP_ADCP_ENV_OK) {
            env->error = NGX_HTTP_ADCP_ENV_SYNTAX;
        }
    }

    yajl_free(p->yajl);
    p->yajl = NULL;

    if (env->error == NGX_HTTP_ADCP_ENV_OK && p->batch) {
        env->error = NGX_HTTP_ADCP_ENV_BATCH;
    }

    if (env->error == NGX_HTTP_ADCP_ENV_OK && env->dup) {
        env->error = NGX_HTTP_ADCP_ENV_DUPLICATE;

        /*
         * answered in the form every JSON-RPC client reads, with no id
         * when the id is the member repeated
         */

        if (p->dup_id) {
            ngx_str_set(&env->id, "null");
        }

        if (p->dup_method || p->dup_id) {
            env->method = NGX_HTTP_ADCP_METHOD_OTHER;
        }
    }

    if (env->error != NGX_HTTP_ADCP_ENV_OK) {
        env->task.len = 0;
        return;
    }

    switch (env->method) {

    case NGX_HTTP_ADCP_METHOD_MCP_CALL:
        env->task = p->mcp_name;
        break;

    case NGX_HTTP_ADCP_METHOD_A2A:
        if (p->skills > 1) {
            env->error = NGX_HTTP_ADCP_ENV_AMBIGUOUS;
            break;
        }

        env->task = p->skill;
        break;

    default:
        break;
    }

    for (i = 0; i < env->task.len; i++) {
        if (env->task.data[i] < 0x20 || env->task.data[i] == 0x7f) {
            env->error = NGX_HTTP_ADCP_ENV_TASK;
            env->task.len = 0;
            break;
        }
    }
}


ngx_int_t
ngx_http_adcp_envelope_parse_chain(ngx_pool_t *pool, ngx_chain_t *in,
    ngx_http_adcp_envelope_t *env, ngx_log_t *log)
{
    off_t                             off;
    size_t                            size;
    u_char                           *buf;
    ssize_t                           n;
    ngx_int_t                         rc;
    ngx_buf_t                        *b;
    ngx_chain_t                      *cl;
    ngx_http_adcp_envelope_parser_t  *p;

    if (in && in->next == NULL && ngx_buf_in_memory(in->buf)) {
        rc = ngx_http_adcp_envelope_fast(pool, in->buf->pos, in->buf->last,
                                         env);
        if (rc != NGX_DECLINED) {
            return rc;
        }
    }

    p = ngx_http_adcp_envelope_create(pool, env);
    if (p == NULL) {
        return NGX_ERROR;
    }

    buf = NULL;
    rc = NGX_AGAIN;

    for (cl = in; cl && rc == NGX_AGAIN; cl = cl->next) {
        b = cl->buf;

        if (ngx_buf_in_memory(b)) {
            rc = ngx_http_adcp_envelope_feed(p, b->pos, b->last - b->pos);
            continue;
        }

        if (!b->in_file) {
            continue;
        }

        for (off = b->file_pos; off < b->file_last && rc == NGX_AGAIN;
             off += n)
        {
            if (buf == NULL) {
                buf = ngx_pnalloc(pool, NGX_HTTP_ADCP_ENV_READ);
                if (buf == NULL) {
                    return NGX_ERROR;
                }
            }

            size = (size_t) ngx_min(b->file_last - off,
                                    NGX_HTTP_ADCP_ENV_READ);

            n = ngx_read_file(b->file, buf, size, off);

            if (n == NGX_ERROR) {
                return NGX_ERROR;
            }

            if (n == 0) {
                ngx_log_error(NGX_LOG_ALERT, log, 0,
                              "adcp: request body file \"%V\" is truncated",
                              &b->file->name);
                return NGX_ERROR;
            }

            rc = ngx_http_adcp_envelope_feed(p, buf, n);
        }
    }

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    ngx_http_adcp_envelope_finish(p);

    return NGX_OK;
}


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
 * the yajl parse runs from the start.  NGX_OK: env is set; NGX_ERROR: out
 * of memory.
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

    if (id.data) {
        env->id.len = id_string ? ngx_http_adcp_json_str_len(&id) : id.len;
        env->id.data = ngx_pnalloc(pool, env->id.len);
        if (env->id.data == NULL) {
            return NGX_ERROR;
        }

        if (id_string) {
            (void) ngx_http_adcp_json_str(env->id.data, &id);

        } else {
            ngx_memcpy(env->id.data, id.data, id.len);
        }
    }

    if (env->method == NGX_HTTP_ADCP_METHOD_MCP_CALL && dup == NULL) {
        env->task.len = name.len;
        env->task.data = ngx_pnalloc(pool, name.len ? name.len : 1);
        if (env->task.data == NULL) {
            return NGX_ERROR;
        }

        if (name.len) {
            ngx_memcpy(env->task.data, name.data, name.len);
        }
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
    __m128i     x, quote, backslash, space;

    quote = _mm_set1_epi8('"');
    backslash = _mm_set1_epi8('\\');
    space = _mm_set1_epi8(' ');
    end16 = (last - p >= 16) ? last - 16 : p - 1;
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

            /* signed compare: below 0x20, or 0x80 and above */

            bits = _mm_movemask_epi8(
                       _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote),
                                                 _mm_cmpeq_epi8(x, backslash)),
                                    _mm_cmpgt_epi8(space, x)));

            if (bits) {
                p += __builtin_ctz(bits);
                goto special;
            }

            p += 16;
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

            for (i = 0; i < 4; i++) {
                c = p[i] | 0x20;

                if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
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

        /* signed: below 0x20 or 0x80 and above */

        m = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
                             _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))),
                _mm_or_si128(_mm_cmplt_epi8(x, _mm_set1_epi8(0x20)),
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


/* yajl's allocator: the pool, with the size kept in front for realloc */

static void *
ngx_http_adcp_env_malloc(void *ctx, size_t size)
{
    size_t  *p;

    p = ngx_palloc(ctx, sizeof(size_t) + size);
    if (p == NULL) {
        return NULL;
    }

    *p = size;

    return p + 1;
}


static void *
ngx_http_adcp_env_realloc(void *ctx, void *ptr, size_t size)
{
    void    *n;
    size_t   old;

    if (ptr == NULL) {
        return ngx_http_adcp_env_malloc(ctx, size);
    }

    old = ((size_t *) ptr)[-1];

    if (size <= old) {
        return ptr;
    }

    n = ngx_http_adcp_env_malloc(ctx, size);
    if (n == NULL) {
        return NULL;
    }

    ngx_memcpy(n, ptr, old);
    ngx_http_adcp_env_free(ctx, ptr);

    return n;
}


static void
ngx_http_adcp_env_free(void *ctx, void *ptr)
{
    if (ptr) {
        (void) ngx_pfree(ctx, (size_t *) ptr - 1);
    }
}


/* yajl callbacks: a non-zero return continues the parse */

static int
ngx_http_adcp_env_null(void *ctx)
{
    return ngx_http_adcp_env_scalar(ctx, (u_char *) "null", 4, 0);
}


static int
ngx_http_adcp_env_boolean(void *ctx, int value)
{
    if (value) {
        return ngx_http_adcp_env_scalar(ctx, (u_char *) "true", 4, 0);
    }

    return ngx_http_adcp_env_scalar(ctx, (u_char *) "false", 5, 0);
}


static int
ngx_http_adcp_env_number(void *ctx, const char *s, size_t len)
{
    return ngx_http_adcp_env_scalar(ctx, (u_char *) s, len, 0);
}


static int
ngx_http_adcp_env_string(void *ctx, const unsigned char *s, size_t len)
{
    return ngx_http_adcp_env_scalar(ctx, (u_char *) s, len, 1);
}


static int
ngx_http_adcp_env_start_map(void *ctx)
{
    return ngx_http_adcp_env_open(ctx, 1);
}


static int
ngx_http_adcp_env_start_array(void *ctx)
{
    return ngx_http_adcp_env_open(ctx, 0);
}


static int
ngx_http_adcp_env_end_map(void *ctx)
{
    return ngx_http_adcp_env_close(ctx, 1);
}


static int
ngx_http_adcp_env_end_array(void *ctx)
{
    return ngx_http_adcp_env_close(ctx, 0);
}


static int
ngx_http_adcp_env_map_key(void *ctx, const unsigned char *s, size_t len)
{
    ngx_http_adcp_envelope_parser_t *p = ctx;

    ngx_uint_t  frame;

    static char  *keys[] = {
        "", "", "id", "method", "params", "name", "message", "parts", "",
        "kind", "data", "skill", "jsonrpc", "arguments", "contextId",
        "parameters", "input"
    };

    if (p->id_depth) {
        ngx_http_adcp_env_id_sep(p);
        ngx_http_adcp_env_id_write(p, (u_char *) s, len, 1);
        ngx_http_adcp_env_id_write(p, (u_char *) ":", 1, 0);
        p->id_after_key = 1;
        return 1;
    }

    frame = (p->depth <= NGX_HTTP_ADCP_ENV_FRAMES) ? p->frame[p->depth]
                                                   : NGX_HTTP_ADCP_FR_OTHER;
    p->key = NGX_HTTP_ADCP_K_NONE;

    switch (frame) {

    case NGX_HTTP_ADCP_FR_TOP:
        if (ngx_http_adcp_env_fold((u_char *) s, len, "id")) {
            p->key = NGX_HTTP_ADCP_K_ID;

        } else if (ngx_http_adcp_env_fold((u_char *) s, len, "method")) {
            p->key = NGX_HTTP_ADCP_K_METHOD;

        } else if (ngx_http_adcp_env_fold((u_char *) s, len, "params")) {
            p->key = NGX_HTTP_ADCP_K_PARAMS;

        } else if (ngx_http_adcp_env_fold((u_char *) s, len, "jsonrpc")) {
            p->key = NGX_HTTP_ADCP_K_JSONRPC;
        }

        break;

    case NGX_HTTP_ADCP_FR_PARAMS:
        if (ngx_http_adcp_env_fold((u_char *) s, len, "name")) {
            p->key = NGX_HTTP_ADCP_K_NAME;

        } else if (ngx_http_adcp_env_fold((u_char *) s, len, "message")) {
            p->key = NGX_HTTP_ADCP_K_MESSAGE;

        } else if (ngx_http_adcp_env_fold((u_char *) s, len, "arguments")) {
            p->key = NGX_HTTP_ADCP_K_ARGUMENTS;
        }

        break;

    case NGX_HTTP_ADCP_FR_MESSAGE:
        if (ngx_http_adcp_env_fold((u_char *) s, len, "parts")) {
            p->key = NGX_HTTP_ADCP_K_PARTS;

        } else if (ngx_http_adcp_env_fold((u_char *) s, len, "contextId")) {
            p->key = NGX_HTTP_ADCP_K_CONTEXT;
        }

        break;

    case NGX_HTTP_ADCP_FR_PART:
        if (ngx_http_adcp_env_fold((u_char *) s, len, "kind")) {
            p->key = NGX_HTTP_ADCP_K_KIND;

        } else if (ngx_http_adcp_env_fold((u_char *) s, len, "data")) {
            p->key = NGX_HTTP_ADCP_K_DATA;
        }

        break;

    case NGX_HTTP_ADCP_FR_DATA:
        if (ngx_http_adcp_env_fold((u_char *) s, len, "skill")) {
            p->key = NGX_HTTP_ADCP_K_SKILL;

        } else if (ngx_http_adcp_env_fold((u_char *) s, len, "parameters")) {
            p->key = NGX_HTTP_ADCP_K_PARAMETERS;

        } else if (ngx_http_adcp_env_fold((u_char *) s, len, "input")) {
            p->key = NGX_HTTP_ADCP_K_INPUT;
        }

        break;
    }

    if (p->key != NGX_HTTP_ADCP_K_NONE) {
        if (len != ngx_strlen(keys[p->key])
            || ngx_memcmp(s, keys[p->key], len) != 0)
        {
            /* another spelling of the member: one more reading of it */

            ngx_http_adcp_env_repeated(p);

        } else if (p->seen[p->depth] & (1 << p->key)) {
            ngx_http_adcp_env_repeated(p);

        } else {
            p->seen[p->depth] |= 1 << p->key;
        }
    }

    return 1;
}


/*
 * A member read twice in its object: the body is refused once read (the
 * first one's value is what env holds meanwhile, never used)
 */

static void
ngx_http_adcp_env_repeated(ngx_http_adcp_envelope_parser_t *p)
{
    static char  *names[] = {
        NULL, NULL, "id", "method", "params", "params.name",
        "params.message", "params.message.parts", NULL,
        "params.message.parts[].kind", "params.message.parts[].data",
        "params.message.parts[].data.skill", "jsonrpc", "params.arguments",
        "params.message.contextId", "params.message.parts[].data.parameters",
        "params.message.parts[].data.input"
    };

    if (p->env->dup == NULL) {
        p->env->dup = names[p->key];
    }

    if (p->key == NGX_HTTP_ADCP_K_ID) {
        p->dup_id = 1;

    } else if (p->key == NGX_HTTP_ADCP_K_METHOD) {
        p->dup_method = 1;
    }

    p->key = NGX_HTTP_ADCP_K_NONE;
}


static int
ngx_http_adcp_env_scalar(ngx_http_adcp_envelope_parser_t *p, u_char *s,
    size_t len, ngx_uint_t string)
{
    ngx_http_adcp_envelope_t  *env;

    if (p->id_depth) {
        ngx_http_adcp_env_id_sep(p);
        ngx_http_adcp_env_id_write(p, s, len, string);
        return 1;
    }

    env = p->env;

    switch (ngx_http_adcp_env_role(p)) {

    case NGX_HTTP_ADCP_K_ID:
        if (ngx_http_adcp_env_copy(p, &env->id, s, len, string) != NGX_OK) {
            return 0;
        }

        break;

    case NGX_HTTP_ADCP_K_METHOD:
        if (string) {
            ngx_http_adcp_env_method(p, s, len);
        }

        break;

    case NGX_HTTP_ADCP_K_NAME:
        if (string) {
            if (ngx_http_adcp_env_copy(p, &p->mcp_name, s, len, 0) != NGX_OK)
            {
                return 0;
            }
        }

        break;

    case NGX_HTTP_ADCP_K_SKILL:
        if (string) {
            if (ngx_http_adcp_env_copy(p, &p->part_skill, s, len, 0)
                != NGX_OK)
            {
                return 0;
            }

            p->part_skill_seen = 1;
        }

        break;
    }

    p->key = NGX_HTTP_ADCP_K_NONE;

    return 1;
}


static int
ngx_http_adcp_env_open(ngx_http_adcp_envelope_parser_t *p, ngx_uint_t map)
{
    ngx_uint_t  role, frame;

    if (p->id_depth) {
        ngx_http_adcp_env_id_sep(p);
        ngx_http_adcp_env_id_write(p, (u_char *) (map ? "{" : "["), 1, 0);

        if (++p->id_depth > NGX_HTTP_ADCP_ENV_ID_DEPTH) {
            p->id_invalid = 1;

        } else {
            p->id_comma &= ~((uint64_t) 1 << (p->id_depth - 1));
        }

        if (p->depth + p->id_depth > NGX_HTTP_ADCP_ENV_MAX_DEPTH) {
            p->env->error = NGX_HTTP_ADCP_ENV_DEPTH;
            return 0;
        }

        return 1;
    }

    role = ngx_http_adcp_env_role(p);
    p->key = NGX_HTTP_ADCP_K_NONE;

    if (role == NGX_HTTP_ADCP_K_ID) {

        /*
         * an id that is an object or an array: keep its JSON text, in one
         * buffer per parse however many "id" keys a body repeats
         */

        if (p->id_start == NULL) {
            p->id_start = ngx_pnalloc(p->pool, NGX_HTTP_ADCP_ENV_MAX_ID);
            if (p->id_start == NULL) {
                p->nomem = 1;
                return 0;
            }
        }

        p->id_pos = p->id_start;
        p->id_end = p->id_start + NGX_HTTP_ADCP_ENV_MAX_ID;
        p->id_invalid = 0;
        p->id_after_key = 0;
        p->id_comma = 0;
        p->id_depth = 1;

        ngx_http_adcp_env_id_write(p, (u_char *) (map ? "{" : "["), 1, 0);

        return 1;
    }

    if (p->depth >= NGX_HTTP_ADCP_ENV_MAX_DEPTH) {
        p->env->error = NGX_HTTP_ADCP_ENV_DEPTH;
        return 0;
    }

    frame = map ? NGX_HTTP_ADCP_FR_OTHER : NGX_HTTP_ADCP_FR_ARRAY;

    switch (role) {

    case NGX_HTTP_ADCP_K_TOP:
        frame = map ? NGX_HTTP_ADCP_FR_TOP : frame;
        p->batch = !map;
        break;

    case NGX_HTTP_ADCP_K_PARAMS:
        frame = map ? NGX_HTTP_ADCP_FR_PARAMS : frame;
        break;

    case NGX_HTTP_ADCP_K_MESSAGE:
        frame = map ? NGX_HTTP_ADCP_FR_MESSAGE : frame;
        break;

    case NGX_HTTP_ADCP_K_PARTS:
        frame = map ? frame : NGX_HTTP_ADCP_FR_PARTS;
        break;

    case NGX_HTTP_ADCP_K_PART:
        if (map) {
            frame = NGX_HTTP_ADCP_FR_PART;
            p->part_skill_seen = 0;
        }

        break;

    case NGX_HTTP_ADCP_K_DATA:
        frame = map ? NGX_HTTP_ADCP_FR_DATA : frame;
        break;
    }

    p->depth++;

    if (p->depth <= NGX_HTTP_ADCP_ENV_FRAMES) {
        p->frame[p->depth] = (u_char) frame;
        p->seen[p->depth] = 0;
    }

    return 1;
}


static int
ngx_http_adcp_env_close(ngx_http_adcp_envelope_parser_t *p, ngx_uint_t map)
{
    ngx_uint_t  frame;

    if (p->id_depth) {
        ngx_http_adcp_env_id_write(p, (u_char *) (map ? "}" : "]"), 1, 0);
        p->id_after_key = 0;

        if (--p->id_depth) {
            return 1;
        }

        /* the id is complete */

        if (p->id_invalid) {
            p->env->id.data = (u_char *) "null";
            p->env->id.len = 4;

        } else {
            p->env->id.data = p->id_start;
            p->env->id.len = p->id_pos - p->id_start;
        }

        return 1;
    }

    frame = (p->depth <= NGX_HTTP_ADCP_ENV_FRAMES) ? p->frame[p->depth]
                                                   : NGX_HTTP_ADCP_FR_OTHER;

    switch (frame) {

    case NGX_HTTP_ADCP_FR_PART:
        /*
         * whatever its "kind": A2A 1.0 has none (an adapter reads the
         * data of a part that says "text"), and a 0.3 adapter may look at
         * data alone; a skill named anywhere is a skill checked here
         */

        if (p->part_skill_seen) {
            if (p->skills++ == 0) {
                p->skill = p->part_skill;
            }
        }

        break;

    }

    p->depth--;

    return 1;
}


static ngx_uint_t
ngx_http_adcp_env_role(ngx_http_adcp_envelope_parser_t *p)
{
    if (p->depth == 0) {
        return NGX_HTTP_ADCP_K_TOP;
    }

    if (p->depth <= NGX_HTTP_ADCP_ENV_FRAMES) {

        switch (p->frame[p->depth]) {

        case NGX_HTTP_ADCP_FR_PARTS:
            return NGX_HTTP_ADCP_K_PART;

        case NGX_HTTP_ADCP_FR_ARRAY:
            return NGX_HTTP_ADCP_K_NONE;
        }
    }

    return p->key;
}


static void
ngx_http_adcp_env_method(ngx_http_adcp_envelope_parser_t *p, u_char *s,
    size_t len)
{
    p->env->method = ngx_http_adcp_env_method_kind(s, len);
}


static ngx_uint_t
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


/*
 * The key as Go's encoding/json matches it to a member: caseless, and
 * U+017F (long s), U+212A (Kelvin sign), U+0130 and U+0131 (I with and
 * without a dot) as s, k, i and i.  An adapter in Go reads such a key as
 * the member, the last one winning (CVE-2026-27896 in the MCP Go SDK).
 */

static ngx_uint_t
ngx_http_adcp_env_fold(u_char *s, size_t len, char *lit)
{
    u_char  *last, c;

    last = s + len;

    for ( /* void */ ; *lit; lit++) {
        if (s == last) {
            return 0;
        }

        c = ngx_tolower((u_char) *lit);

        if (*s < 0x80) {
            if (ngx_tolower(*s) != c) {
                return 0;
            }

            s++;
            continue;
        }

        if (last - s >= 2 && c == 's' && s[0] == 0xc5 && s[1] == 0xbf) {
            s += 2;

        } else if (last - s >= 2 && c == 'i' && s[0] == 0xc4
                   && (s[1] == 0xb0 || s[1] == 0xb1))
        {
            s += 2;

        } else if (last - s >= 3 && c == 'k' && s[0] == 0xe2
                   && s[1] == 0x84 && s[2] == 0xaa)
        {
            s += 3;

        } else {
            return 0;
        }
    }

    return s == last;
}


/* a value copied into the pool; "string" = as a quoted JSON string */

static ngx_int_t
ngx_http_adcp_env_copy(ngx_http_adcp_envelope_parser_t *p, ngx_str_t *dst,
    u_char *s, size_t len, ngx_uint_t string)
{
    ngx_str_t  src;

    src.data = s;
    src.len = len;

    dst->len = string ? ngx_http_adcp_json_str_len(&src) : len;

    dst->data = ngx_pnalloc(p->pool, dst->len ? dst->len : 1);
    if (dst->data == NULL) {
        p->nomem = 1;
        return NGX_ERROR;
    }

    if (string) {
        (void) ngx_http_adcp_json_str(dst->data, &src);

    } else {
        ngx_memcpy(dst->data, s, len);
    }

    return NGX_OK;
}


/* re-serializing an id that is an object or an array */

static void
ngx_http_adcp_env_id_sep(ngx_http_adcp_envelope_parser_t *p)
{
    uint64_t  bit;

    if (p->id_after_key) {
        p->id_after_key = 0;
        return;
    }

    if (p->id_depth > NGX_HTTP_ADCP_ENV_ID_DEPTH) {
        return;
    }

    bit = (uint64_t) 1 << (p->id_depth - 1);

    if (p->id_comma & bit) {
        ngx_http_adcp_env_id_write(p, (u_char *) ",", 1, 0);

    } else {
        p->id_comma |= bit;
    }
}


static void
ngx_http_adcp_env_id_write(ngx_http_adcp_envelope_parser_t *p, u_char *s,
    size_t len, ngx_uint_t string)
{
    ngx_str_t  src;

    if (p->id_invalid) {
        return;
    }

    src.data = s;
    src.len = len;

    if (string) {
        if ((size_t) (p->id_end - p->id_pos) < ngx_http_adcp_json_str_len(&src))
        {
            p->id_invalid = 1;
            return;
        }

        p->id_pos = ngx_http_adcp_json_str(p->id_pos, &src);
        return;
    }

    if ((size_t) (p->id_end - p->id_pos) < len) {
        p->id_invalid = 1;
        return;
    }

    p->id_pos = ngx_cpymem(p->id_pos, s, len);
}
