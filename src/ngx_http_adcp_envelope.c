
/*
 * ngx_http_adcp_module: the request envelope (SPEC section 2, "The task
 * name"): a body read to its end, and what it names taken.
 *
 * ngx_http_adcp_envelope_parse_chain() tries the fast path
 * (ngx_http_adcp_envelope_fast.c) on a body held in one buffer; otherwise
 * every buffer and temp file piece is fed to yajl, whose callbacks
 * (ngx_http_adcp_envelope_callbacks.c) keep what the body names.  This
 * file is the yajl parser's life: created with its memory from the pool,
 * fed (\v and \f refused before yajl sees them), and finished: the
 * refusals decided once the whole body is read (a JSON-RPC batch; a
 * member the module reads that its object repeats: JSON parsers differ on
 * which of the two wins, the adapter's could run another task than the
 * one checked here) and the task name taken from what the callbacks
 * kept.  The body itself is never copied.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <yajl/yajl_parse.h>

#include "ngx_http_adcp_envelope.h"
#include "ngx_http_adcp_envelope_private.h"


#define NGX_HTTP_ADCP_ENV_READ     16384    /* temp file read size */


static void *ngx_http_adcp_env_malloc(void *ctx, size_t size);
static void *ngx_http_adcp_env_realloc(void *ctx, void *ptr, size_t size);
static void ngx_http_adcp_env_free(void *ctx, void *ptr);


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


/*
 * The fast path where the body is in one buffer, else the yajl parse (a
 * function of its own: its frame is not this one's)
 */

ngx_int_t
ngx_http_adcp_envelope_parse_chain(ngx_pool_t *pool, ngx_chain_t *in,
    ngx_http_adcp_envelope_t *env, ngx_log_t *log)
{
    if (in && in->next == NULL && ngx_buf_in_memory(in->buf)
        && ngx_http_adcp_envelope_fast(pool, in->buf->pos, in->buf->last,
                                       env)
           == NGX_OK)
    {
        return NGX_OK;
    }

    return ngx_http_adcp_envelope_parse_yajl(pool, in, env, log);
}


/* every buffer and temp file piece of the body fed to yajl */

ngx_int_t
ngx_http_adcp_envelope_parse_yajl(ngx_pool_t *pool, ngx_chain_t *in,
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

