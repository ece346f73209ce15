
/*
 * ngx_http_adcp_tasks_module: the retry policy, pure.  Which answer of a
 * webhook's receiver ends its delivery and which is retried, and how long
 * a retry waits (webhooks and the adapter's transient failures alike).
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_adcp_tasks_private.h"


/*
 * A receiver's HTTP status (0: none, a network error): NGX_OK delivered
 * (2xx), NGX_AGAIN to be retried (5xx, 429, none), NGX_DECLINED not
 * (409: the receiver has it already; any other 4xx, 3xx: redirects are
 * not followed; 1xx)
 */

ngx_int_t
ngx_http_adcp_tasks_hook_outcome(ngx_int_t code)
{
    if (code >= 200 && code <= 299) {
        return NGX_OK;
    }

    if (code == 0 || code == 429 || (code >= 500 && code <= 599)) {
        return NGX_AGAIN;
    }

    return NGX_DECLINED;
}


/* the wait after the n-th failure: 1 s doubling to 60 s, less 0-25 % */

ngx_msec_t
ngx_http_adcp_tasks_backoff_ms(ngx_uint_t n)
{
    ngx_msec_t  base;

    base = NGX_HTTP_ADCP_BACKOFF;

    while (n-- > 1 && base < NGX_HTTP_ADCP_BACKOFF_MAX) {
        base *= 2;
    }

    base = ngx_min(base, NGX_HTTP_ADCP_BACKOFF_MAX);

    return base - (ngx_msec_t) ngx_random() % (base / 4 + 1);
}
