
/*
 * ngx_http_adcp_module: the request envelope (SPEC section 2, "The task
 * name").
 *
 * yajl calls back for every token; we keep a stack of what each open
 * container means (only the few levels that lead to a task name) and the
 * role of the next value.  Strings we keep (id, task) are copied from
 * yajl's buffers into the pool; the body itself is never copied.  Once the
 * id, the method and the task are all known, the callbacks cancel the
 * parse.  yajl's own memory comes from the same pool.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <yajl/yajl_parse.h>

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


#define ngx_http_adcp_env_is(s, l, lit)                                      \
    ((l) == sizeof(lit) - 1 && ngx_memcmp(s, lit, sizeof(lit) - 1) == 0)


struct ngx_http_adcp_envelope_parser_s {
    yajl_handle                  yajl;
    ngx_pool_t                  *pool;
    ngx_http_adcp_envelope_t    *env;

    ngx_uint_t                   depth;
    ngx_uint_t                   key;        /* role of the next map value */
    u_char                       frame[NGX_HTTP_ADCP_ENV_FRAMES + 1];

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

    unsigned                     part_kind:1;
    unsigned                     part_data:1;
    unsigned                     part_skill_seen:1;
    unsigned                     id_seen:1;
    unsigned                     id_after_key:1;
    unsigned                     id_invalid:1;
    unsigned                     mcp_name_seen:1;
    unsigned                     params_done:1;
    unsigned                     parts_done:1;
    unsigned                     stopped:1;
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
static int ngx_http_adcp_env_more(ngx_http_adcp_envelope_parser_t *p);
static ngx_uint_t ngx_http_adcp_env_role(ngx_http_adcp_envelope_parser_t *p);
static void ngx_http_adcp_env_method(ngx_http_adcp_envelope_parser_t *p,
    u_char *s, size_t len);
static ngx_int_t ngx_http_adcp_env_copy(ngx_http_adcp_envelope_parser_t *p,
    ngx_str_t *dst, u_char *s, size_t len, ngx_uint_t string);

static u_char *ngx_http_adcp_env_fast_ws(u_char *p, u_char *last);
static u_char *ngx_http_adcp_env_fast_string(u_char *p, u_char *last);
static u_char *ngx_http_adcp_env_fast_number(u_char *p, u_char *last);
static ngx_uint_t ngx_http_adcp_env_method_kind(u_char *s, size_t len);

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
 * NGX_AGAIN: feed more; NGX_OK: everything needed is known, stop;
 * NGX_DECLINED: the body is refused (env->error says why);
 * NGX_ERROR: out of memory.
 */

ngx_int_t
ngx_http_adcp_envelope_feed(ngx_http_adcp_envelope_parser_t *p, u_char *data,
    size_t len)
{
    yajl_status  st;

    if (p->stopped) {
        return NGX_OK;
    }

    if (p->failed) {
        return p->nomem ? NGX_ERROR : NGX_DECLINED;
    }

    st = yajl_parse(p->yajl, data, len);

    if (st == yajl_status_ok) {
        return NGX_AGAIN;
    }

    if (st == yajl_status_client_canceled && p->stopped) {
        return NGX_OK;
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

    if (!p->stopped && !p->failed
        && yajl_complete_parse(p->yajl) != yajl_status_ok)
    {
        p->failed = 1;

        if (env->error == NGX_HTTP_ADCP_ENV_OK) {
            env->error = NGX_HTTP_ADCP_ENV_SYNTAX;
        }
    }

    yajl_free(p->yajl);
    p->yajl = NULL;

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

    if (in && ngx_buf_in_memory(in->buf)) {
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
 * instructions per request): a body whose first buffer holds an object
 * where the "id", the "method" and, for tools/call, "params"."name" come
 * before any value that is not plain: strings of printable ASCII without
 * escapes, integers, and "params" itself.  The same state as the yajl
 * parse's, stopping at the same token (the rest is not read by either).
 * Anything else (A2A, an escape, a nested value first, a true/false/null,
 * the buffer's end) is NGX_DECLINED with env untouched: the yajl parse
 * runs from the start.  NGX_OK: env is set; NGX_ERROR: out of memory.
 */

ngx_int_t
ngx_http_adcp_envelope_fast(ngx_pool_t *pool, u_char *p, u_char *last,
    ngx_http_adcp_envelope_t *env)
{
    u_char      *k, *s, *e;
    size_t       klen;
    ngx_str_t    id, name;
    ngx_uint_t   depth, role, method, id_string, id_seen, name_seen;

    p = ngx_http_adcp_env_fast_ws(p, last);

    if (p == last || *p != '{') {
        return NGX_DECLINED;
    }

    p++;
    depth = 1;
    method = NGX_HTTP_ADCP_METHOD_NONE;
    id_seen = 0;
    id_string = 0;
    name_seen = 0;
    ngx_str_null(&id);
    ngx_str_null(&name);

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
            }

        } else if (ngx_http_adcp_env_is(k, klen, "name")) {
            role = NGX_HTTP_ADCP_K_NAME;
        }

        if (*p == '{' && role == NGX_HTTP_ADCP_K_PARAMS) {
            p++;
            depth = 2;
            continue;
        }

        if (*p == '"') {
            s = p + 1;
            e = ngx_http_adcp_env_fast_string(s, last);
            if (e == NULL) {
                return NGX_DECLINED;
            }

            p = e + 1;

            switch (role) {

            case NGX_HTTP_ADCP_K_ID:
                id.data = s;
                id.len = e - s;
                id_string = 1;
                id_seen = 1;
                break;

            case NGX_HTTP_ADCP_K_METHOD:
                method = ngx_http_adcp_env_method_kind(s, e - s);

                if (method == NGX_HTTP_ADCP_METHOD_A2A) {
                    return NGX_DECLINED;
                }

                break;

            case NGX_HTTP_ADCP_K_NAME:
                name.data = s;
                name.len = e - s;
                name_seen = 1;
                break;
            }

        } else if (*p == '-' || (*p >= '0' && *p <= '9')) {
            s = p;
            p = ngx_http_adcp_env_fast_number(p, last);
            if (p == NULL) {
                return NGX_DECLINED;
            }

            if (role == NGX_HTTP_ADCP_K_ID) {
                id.data = s;
                id.len = p - s;
                id_string = 0;
                id_seen = 1;
            }

        } else {
            return NGX_DECLINED;
        }

        /* what the yajl parse's callbacks ask after each scalar */

        if (id_seen
            && (method == NGX_HTTP_ADCP_METHOD_OTHER
                || (method == NGX_HTTP_ADCP_METHOD_MCP_CALL && name_seen)))
        {
            break;
        }

        p = ngx_http_adcp_env_fast_ws(p, last);

        if (p == last || *p++ != ',') {
            return NGX_DECLINED;
        }
    }

    env->method = method;
    env->error = NGX_HTTP_ADCP_ENV_OK;
    ngx_str_null(&env->task);

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

    if (method == NGX_HTTP_ADCP_METHOD_MCP_CALL) {
        env->task.len = name.len;
        env->task.data = ngx_pnalloc(pool, name.len ? name.len : 1);
        if (env->task.data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(env->task.data, name.data, name.len);
    }

    return NGX_OK;
}


static u_char *
ngx_http_adcp_env_fast_ws(u_char *p, u_char *last)
{
    while (p < last
           && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
    {
        p++;
    }

    return p;
}


/* the closing quote of a string of printable ASCII without escapes */

static u_char *
ngx_http_adcp_env_fast_string(u_char *p, u_char *last)
{
    /* 1: printable ASCII but '"' and '\\' */

    static const u_char  plain[256] = {
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
    };

    while (last - p >= 4
           && (plain[p[0]] & plain[p[1]] & plain[p[2]] & plain[p[3]]))
    {
        p += 4;
    }

    while (p < last && plain[*p]) {
        p++;
    }

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
        if (ngx_http_adcp_env_is(s, len, "id")) {
            p->key = NGX_HTTP_ADCP_K_ID;

        } else if (ngx_http_adcp_env_is(s, len, "method")) {
            p->key = NGX_HTTP_ADCP_K_METHOD;

        } else if (ngx_http_adcp_env_is(s, len, "params")) {
            p->key = NGX_HTTP_ADCP_K_PARAMS;
        }

        break;

    case NGX_HTTP_ADCP_FR_PARAMS:
        if (ngx_http_adcp_env_is(s, len, "name")) {
            p->key = NGX_HTTP_ADCP_K_NAME;

        } else if (ngx_http_adcp_env_is(s, len, "message")) {
            p->key = NGX_HTTP_ADCP_K_MESSAGE;
        }

        break;

    case NGX_HTTP_ADCP_FR_MESSAGE:
        if (ngx_http_adcp_env_is(s, len, "parts")) {
            p->key = NGX_HTTP_ADCP_K_PARTS;
        }

        break;

    case NGX_HTTP_ADCP_FR_PART:
        if (ngx_http_adcp_env_is(s, len, "kind")) {
            p->key = NGX_HTTP_ADCP_K_KIND;

        } else if (ngx_http_adcp_env_is(s, len, "data")) {
            p->key = NGX_HTTP_ADCP_K_DATA;
        }

        break;

    case NGX_HTTP_ADCP_FR_DATA:
        if (ngx_http_adcp_env_is(s, len, "skill")) {
            p->key = NGX_HTTP_ADCP_K_SKILL;
        }

        break;
    }

    return 1;
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

        p->id_seen = 1;
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

            p->mcp_name_seen = 1;
        }

        break;

    case NGX_HTTP_ADCP_K_KIND:
        p->part_kind = 1;
        p->part_data = (string && ngx_http_adcp_env_is(s, len, "data"));
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

    return ngx_http_adcp_env_more(p);
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
            p->part_kind = 0;
            p->part_data = 0;
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

        p->id_seen = 1;

        return ngx_http_adcp_env_more(p);
    }

    frame = (p->depth <= NGX_HTTP_ADCP_ENV_FRAMES) ? p->frame[p->depth]
                                                   : NGX_HTTP_ADCP_FR_OTHER;

    switch (frame) {

    case NGX_HTTP_ADCP_FR_PART:
        if (p->part_skill_seen && (!p->part_kind || p->part_data)) {
            if (p->skills++ == 0) {
                p->skill = p->part_skill;
            }
        }

        break;

    case NGX_HTTP_ADCP_FR_PARTS:
        p->parts_done = 1;
        break;

    case NGX_HTTP_ADCP_FR_PARAMS:
        p->params_done = 1;
        break;
    }

    p->depth--;

    return ngx_http_adcp_env_more(p);
}


/* 1 while something needed is still unknown; 0 stops the parse */

static int
ngx_http_adcp_env_more(ngx_http_adcp_envelope_parser_t *p)
{
    if (!p->id_seen) {
        return 1;
    }

    switch (p->env->method) {

    case NGX_HTTP_ADCP_METHOD_NONE:
        return 1;

    case NGX_HTTP_ADCP_METHOD_MCP_CALL:
        if (!p->mcp_name_seen && !p->params_done) {
            return 1;
        }

        break;

    case NGX_HTTP_ADCP_METHOD_A2A:
        if (!p->parts_done && !p->params_done) {
            return 1;
        }

        break;
    }

    p->stopped = 1;

    return 0;
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
