
/*
 * Unit tests of the retry policy (src/tasks/ngx_http_adcp_tasks_retry.c):
 * which webhook answers end a delivery, and the backoff (1 s doubling to
 * 60 s, less up to a quarter).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "../../src/tasks/ngx_http_adcp_tasks_private.h"
#include "ngx_stubs.h"
#include "tap.h"


static void
outcome(ngx_int_t code, ngx_int_t want, const char *what)
{
    tap_ok(ngx_http_adcp_tasks_hook_outcome(code) == want,
           "HTTP %d: %s", (int) code, what);
}


static void
backoff(ngx_uint_t n, ngx_msec_t base)
{
    ngx_uint_t  i, varied;
    ngx_msec_t  d, lo, hi, first;

    lo = base - base / 4;
    hi = base;
    varied = 0;
    first = ngx_http_adcp_tasks_backoff_ms(n);

    for (i = 0; i < 1000; i++) {
        d = ngx_http_adcp_tasks_backoff_ms(n);

        if (d < lo || d > hi) {
            break;
        }

        if (d != first) {
            varied = 1;
        }
    }

    tap_ok(i == 1000, "after failure %u: %u..%u ms (1000 draws)",
           (unsigned) n, (unsigned) lo, (unsigned) hi);
    tap_ok(varied, "after failure %u: jitter", (unsigned) n);
}


int
main(void)
{
    outcome(0, NGX_AGAIN, "no answer (network error): retried");
    outcome(200, NGX_OK, "delivered");
    outcome(202, NGX_OK, "delivered");
    outcome(204, NGX_OK, "delivered");
    outcome(299, NGX_OK, "delivered");
    outcome(100, NGX_DECLINED, "not retried");
    outcome(301, NGX_DECLINED, "a redirect, not followed nor retried");
    outcome(302, NGX_DECLINED, "a redirect, not followed nor retried");
    outcome(400, NGX_DECLINED, "not retried");
    outcome(401, NGX_DECLINED, "not retried");
    outcome(404, NGX_DECLINED, "not retried");
    outcome(409, NGX_DECLINED, "the receiver has it: not retried");
    outcome(410, NGX_DECLINED, "not retried");
    outcome(429, NGX_AGAIN, "retried");
    outcome(500, NGX_AGAIN, "retried");
    outcome(502, NGX_AGAIN, "retried");
    outcome(503, NGX_AGAIN, "retried");
    outcome(504, NGX_AGAIN, "retried");
    outcome(599, NGX_AGAIN, "retried");
    outcome(600, NGX_DECLINED, "not HTTP's: not retried");

    backoff(0, 1000);
    backoff(1, 1000);
    backoff(2, 2000);
    backoff(3, 4000);
    backoff(6, 32000);
    backoff(7, 60000);
    backoff(8, 60000);
    backoff(1000, 60000);

    return tap_done();
}
