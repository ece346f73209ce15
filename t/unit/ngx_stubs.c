
/*
 * Just enough of nginx's core for the module's pure logic to run outside
 * nginx: pool allocations are malloc()s remembered per pool and freed by
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

size_t  test_pool_bytes;


ngx_pool_t *
test_pool_create(void)
{
    return calloc(1, sizeof(ngx_pool_t));
}


void
test_pool_destroy(ngx_pool_t *pool)
{
    test_alloc_t  *a, **pa;

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
