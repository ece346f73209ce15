
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

#include "ngx_http_adcp_envelope.h"
#include "ngx_http_adcp_envelope_private.h"
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
