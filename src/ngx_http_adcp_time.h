
/*
 * ngx_http_adcp_module: the clock as AdCP writes it (ISO 8601, UTC, to the
 * second), for task records, replies and webhooks.
 */


#ifndef _NGX_HTTP_ADCP_TIME_H_INCLUDED_
#define _NGX_HTTP_ADCP_TIME_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/* with room for a NUL */
#define NGX_HTTP_ADCP_ISO8601_LEN  sizeof("1970-01-01T00:00:00Z")


u_char *ngx_http_adcp_time_iso8601(u_char *p);


#endif /* _NGX_HTTP_ADCP_TIME_H_INCLUDED_ */
