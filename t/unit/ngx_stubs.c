
/*
 * Just enough of nginx's core for the module's pure logic to run outside
 * nginx (weak where nginx's own file, linked by a test, has the real
 * one): pool allocations are malloc()s remembered per pool and freed by
 * test_pool_destroy(); files are read with pread().  Everything else the
 * module's files reference is left unresolved at link time and must not
 * be called by a unit test.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_stubs.h"


typedef struct test_alloc_s  test_alloc_t;

struct test_alloc_s {
    test_alloc_t  *next;
    ngx_pool_t    *pool;
    void          *p;
};


static test_alloc_t  *test_allocs;

size_t      test_pool_bytes;
ngx_uint_t  test_pools_destroyed;


ngx_pool_t *
test_pool_create(void)
{
    ngx_pool_t  *pool;

    static ngx_log_t  log;      /* log_level 0: debug lines go nowhere */

    pool = calloc(1, sizeof(ngx_pool_t));

    if (pool) {
        pool->log = &log;
    }

    return pool;
}


void
test_pool_destroy(ngx_pool_t *pool)
{
    test_alloc_t        *a, **pa;
    ngx_pool_cleanup_t  *c;

    for (c = pool->cleanup; c; c = c->next) {
        if (c->handler) {
            c->handler(c->data);
        }
    }

    for (pa = &test_allocs; *pa; /* void */) {
        a = *pa;

        if (a->pool == pool) {
            *pa = a->next;
            free(a->p);
            free(a);
            continue;
        }

        pa = &a->next;
    }

    free(pool);
}


/* how many allocations are live, in every pool */

ngx_uint_t
test_pool_live(void)
{
    ngx_uint_t     n;
    test_alloc_t  *a;

    n = 0;

    for (a = test_allocs; a; a = a->next) {
        n++;
    }

    return n;
}


void *
ngx_palloc(ngx_pool_t *pool, size_t size)
{
    test_alloc_t  *a;

    a = malloc(sizeof(test_alloc_t));
    if (a == NULL) {
        return NULL;
    }

    a->p = malloc(size ? size : 1);
    if (a->p == NULL) {
        free(a);
        return NULL;
    }

    a->pool = pool;
    a->next = test_allocs;
    test_allocs = a;
    test_pool_bytes += size;

    return a->p;
}


void *
ngx_pnalloc(ngx_pool_t *pool, size_t size)
{
    return ngx_palloc(pool, size);
}


void *
ngx_pcalloc(ngx_pool_t *pool, size_t size)
{
    void  *p;

    p = ngx_palloc(pool, size);
    if (p) {
        memset(p, 0, size);
    }

    return p;
}


ngx_pool_cleanup_t *
ngx_pool_cleanup_add(ngx_pool_t *p, size_t size)
{
    ngx_pool_cleanup_t  *c;

    c = ngx_palloc(p, sizeof(ngx_pool_cleanup_t));
    if (c == NULL) {
        return NULL;
    }

    c->data = size ? ngx_palloc(p, size) : NULL;
    c->handler = NULL;
    c->next = p->cleanup;
    p->cleanup = c;

    return c;
}


ngx_int_t
ngx_pfree(ngx_pool_t *pool, void *p)
{
    test_alloc_t  *a, **pa;

    for (pa = &test_allocs; *pa; pa = &(*pa)->next) {
        a = *pa;

        if (a->p == p && a->pool == pool) {
            *pa = a->next;
            free(a->p);
            free(a);
            return NGX_OK;
        }
    }

    return NGX_DECLINED;
}


ssize_t
ngx_read_file(ngx_file_t *file, u_char *buf, size_t size, off_t offset)
{
    return pread(file->fd, buf, size, offset);
}


void
ngx_log_error_core(ngx_uint_t level, ngx_log_t *log, ngx_err_t err,
    const char *fmt, ...)
{
}


volatile ngx_msec_t  ngx_current_msec;


void *
ngx_alloc(size_t size, ngx_log_t *log)
{
    return malloc(size);
}


ngx_pool_t *
ngx_create_pool(size_t size, ngx_log_t *log)
{
    return test_pool_create();
}


void
ngx_destroy_pool(ngx_pool_t *pool)
{
    test_pools_destroyed++;
    test_pool_destroy(pool);
}


ngx_uint_t __attribute__((weak))
ngx_hash_key(u_char *data, size_t len)
{
    ngx_uint_t  i, key;

    key = 0;

    for (i = 0; i < len; i++) {
        key = ngx_hash(key, data[i]);
    }

    return key;
}


u_char * __attribute__((weak))
ngx_pstrdup(ngx_pool_t *pool, ngx_str_t *src)
{
    u_char  *dst;

    dst = ngx_pnalloc(pool, src->len);
    if (dst == NULL) {
        return NULL;
    }

    ngx_memcpy(dst, src->data, src->len);

    return dst;
}


ngx_array_t *
ngx_array_create(ngx_pool_t *p, ngx_uint_t n, size_t size)
{
    ngx_array_t  *a;

    a = ngx_palloc(p, sizeof(ngx_array_t));
    if (a == NULL) {
        return NULL;
    }

    if (ngx_array_init(a, p, n, size) != NGX_OK) {
        return NULL;
    }

    return a;
}


void *
ngx_array_push(ngx_array_t *a)
{
    void  *new;

    if (a->nelts == a->nalloc) {
        new = ngx_palloc(a->pool, 2 * a->nalloc * a->size);
        if (new == NULL) {
            return NULL;
        }

        ngx_memcpy(new, a->elts, a->nelts * a->size);
        a->elts = new;
        a->nalloc *= 2;
    }

    return (u_char *) a->elts + a->size * a->nelts++;
}


ngx_int_t __attribute__((weak))
ngx_strncasecmp(u_char *s1, u_char *s2, size_t n)
{
    ngx_uint_t  c1, c2;

    while (n) {
        c1 = (ngx_uint_t) *s1++;
        c2 = (ngx_uint_t) *s2++;

        c1 = (c1 >= 'A' && c1 <= 'Z') ? (c1 | 0x20) : c1;
        c2 = (c2 >= 'A' && c2 <= 'Z') ? (c2 | 0x20) : c2;

        if (c1 == c2) {

            if (c1) {
                n--;
                continue;
            }

            return 0;
        }

        return c1 - c2;
    }

    return 0;
}


/* what nginx's own files linked by some tests reference (never called) */

volatile ngx_cycle_t  *ngx_cycle __attribute__((weak));
volatile ngx_time_t   *ngx_cached_time __attribute__((weak));
ngx_pid_t              ngx_pid __attribute__((weak));
