
/*
 * libFuzzer target: the envelope extractor, fed the input in the number of
 * pieces its first byte says (as bodies arrive in buffers), with the
 * invariants the module relies on checked after every parse; and the fast
 * path (no yajl) on the whole input, which must agree with yajl whenever
 * it answers.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_adcp_envelope.h"
#include "ngx_stubs.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t                            pieces, step, off, n;
    u_char                           *copy;
    ngx_int_t                         rc;
    ngx_pool_t                       *pool;
    ngx_http_adcp_envelope_t          env, fast;
    ngx_http_adcp_envelope_parser_t  *p;

    if (size == 0) {
        return 0;
    }

    pieces = 1 + data[0] % 16;
    data++;
    size--;

    /* each piece in its own allocation, so that reads past it are caught */

    pool = test_pool_create();
    p = ngx_http_adcp_envelope_create(pool, &env);

    step = size / pieces + 1;
    rc = NGX_AGAIN;

    for (off = 0; off < size && rc == NGX_AGAIN; off += n) {
        n = ngx_min(step, size - off);

        copy = malloc(n ? n : 1);
        memcpy(copy, data + off, n);

        rc = ngx_http_adcp_envelope_feed(p, copy, n);

        free(copy);
    }

    ngx_http_adcp_envelope_finish(p);

    if (env.error == NGX_HTTP_ADCP_ENV_OK) {

        if (env.task.len && env.method != NGX_HTTP_ADCP_METHOD_MCP_CALL
            && env.method != NGX_HTTP_ADCP_METHOD_A2A)
        {
            abort();
        }

        if (env.id.len > NGX_HTTP_ADCP_ENV_MAX_ID + 8) {
            abort();
        }

        /* $adcp_task goes into headers: no control character */

        for (n = 0; n < env.task.len; n++) {
            if (env.task.data[n] < 0x20 || env.task.data[n] == 0x7f) {
                abort();
            }
        }

        /* the id is echoed into JSON as is: it must not break out */

        if (env.id.len && (env.id.data[0] == ',' || env.id.data[0] == '}')) {
            abort();
        }
    }

    /* the fast path reads the input in one piece of its own */

    copy = malloc(size ? size : 1);
    memcpy(copy, data, size);

    rc = ngx_http_adcp_envelope_fast(pool, copy, copy + size, &fast);

    if (rc == NGX_OK
        && (fast.error != env.error || fast.method != env.method
            || fast.id.len != env.id.len
            || (env.id.len
                && ngx_memcmp(fast.id.data, env.id.data, env.id.len) != 0)
            || fast.task.len != env.task.len
            || (fast.task.len
                && ngx_memcmp(fast.task.data, env.task.data, fast.task.len)
                   != 0)))
    {
        abort();
    }

    free(copy);

    test_pool_destroy(pool);

    return 0;
}
