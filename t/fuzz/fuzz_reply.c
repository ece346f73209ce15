
/*
 * libFuzzer target: the interpretation of an adapter's (or, one day, a
 * webhook receiver's) reply, ngx_http_adcp_tasks_reply(): Internet input.
 * The first byte picks the transport (MCP, A2A, plain HTTP) and the
 * Content-Type (JSON or an event stream); the rest is the body.  Checked:
 * it never fails, a result is a JSON object, a failure has a code (1 to 64
 * characters, core/error.json) and a message within the body or a
 * constant, and nothing is left allocated once the pool goes.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "../../src/tasks/ngx_http_adcp_tasks_private.h"
#include "ngx_stubs.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                          *copy;
    ngx_str_t                        ct, body;
    ngx_pool_t                      *pool;
    ngx_http_adcp_tasks_outcome_t    out;
    ngx_http_adcp_task_transport_e   tt;

    if (size == 0) {
        return 0;
    }

    tt = (ngx_http_adcp_task_transport_e) (data[0] % 3);

    if (data[0] & 0x80) {
        ngx_str_set(&ct, "text/event-stream");

    } else {
        ngx_str_set(&ct, "application/json");
    }

    pool = test_pool_create();

    /* the client reads into a buffer one byte larger, NUL-terminated */

    copy = ngx_pnalloc(pool, size);
    ngx_memcpy(copy, data + 1, size - 1);
    copy[size - 1] = '\0';

    body.data = copy;
    body.len = size - 1;

    if (ngx_http_adcp_tasks_reply(pool, tt, &ct, &body, &out) != NGX_OK) {
        abort();
    }

    if (out.failed) {
        if (out.code == NULL || out.code[0] == '\0'
            || ngx_strlen(out.code) > 64 || out.message.data == NULL)
        {
            abort();
        }

        /* a message from the body is within it (a copy of the tree's) */

        if (out.message.len > 1024 + size) {
            abort();
        }

    } else if (out.result == NULL || !YAJL_IS_OBJECT(out.result)) {
        abort();
    }

    test_pool_destroy(pool);

    if (test_pool_live() != 0) {
        abort();
    }

    return 0;
}
