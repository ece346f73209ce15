
/*
 * ngx_http_adcp_module: the clock as AdCP writes it.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_adcp_time.h"


/* now: ISO 8601, UTC, to the second */

u_char *
ngx_http_adcp_time_iso8601(u_char *p)
{
    ngx_tm_t  tm;

    ngx_gmtime(ngx_time(), &tm);

    return ngx_sprintf(p, "%4d-%02d-%02dT%02d:%02d:%02dZ",
                       tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                       tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec);
}
