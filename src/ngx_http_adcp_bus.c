
/*
 * ngx_http_adcp_module: the invalidation bus.
 *
 * One worker of the host (worker 0) holds the Redis subscription, so that
 * each message is applied once per host: it moves the zone's generations,
 * which every worker reads on its next request.  Messages, as text:
 *
 *     <tenant>            drop that tenant's platform
 *     *                   drop every platform
 *     recheck <tenant>    rebuild it, serving the old one if that fails
 *
 * anything else is logged and ignored.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_adcp.h"
#include "ngx_http_adcp_bus.h"
#include "ngx_http_adcp_redis.h"


static void ngx_http_adcp_bus_message(ngx_str_t *message, void *data);
static void ngx_http_adcp_bus_state(ngx_uint_t state, void *data);


ngx_int_t
ngx_http_adcp_bus_init_worker(ngx_cycle_t *cycle,
    ngx_http_adcp_main_conf_t *amcf)
{
    if (amcf->redis.name.len == 0) {
        return NGX_OK;
    }

    if (ngx_process == NGX_PROCESS_WORKER && ngx_worker != 0) {
        return NGX_OK;
    }

    return ngx_http_adcp_redis_start(cycle, &amcf->redis,
                                     ngx_http_adcp_bus_message,
                                     ngx_http_adcp_bus_state, amcf);
}


void
ngx_http_adcp_bus_exit_worker(void)
{
    ngx_http_adcp_redis_stop();
}


/* NGX_OK and the tenant ("*" for all), or NGX_DECLINED: malformed */

ngx_int_t
ngx_http_adcp_bus_parse(ngx_str_t *message, ngx_str_t *tenant,
    ngx_uint_t *recheck)
{
    u_char  *p, *last;

    p = message->data;
    last = p + message->len;

    while (p < last && (*p == ' ' || *p == '\t' || *p == '\r'
                        || *p == '\n'))
    {
        p++;
    }

    while (last > p && (last[-1] == ' ' || last[-1] == '\t'
                        || last[-1] == '\r' || last[-1] == '\n'))
    {
        last--;
    }

    *recheck = 0;

    if (last - p > 8 && ngx_strncmp(p, "recheck ", 8) == 0) {
        *recheck = 1;
        p += 8;
    }

    tenant->data = p;
    tenant->len = last - p;

    if (tenant->len == 1 && *p == '*' && !*recheck) {
        return NGX_OK;
    }

    return ngx_http_adcp_tenant_id_valid(tenant->data, tenant->len)
           ? NGX_OK : NGX_DECLINED;
}


static void
ngx_http_adcp_bus_message(ngx_str_t *message, void *data)
{
    ngx_http_adcp_main_conf_t *amcf = data;

    ngx_str_t               tenant;
    ngx_uint_t              recheck;
    ngx_http_adcp_shctx_t  *sh;

    sh = amcf->zone.sh;

    if (ngx_http_adcp_bus_parse(message, &tenant, &recheck) != NGX_OK) {
        sh->redis_ignored++;
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "adcp: redis: ignored a malformed message of %uz "
                      "bytes", message->len);
        return;
    }

    sh->redis_messages++;
    sh->redis_last = ngx_time();

    ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                  "adcp: redis: %s \"%V\"",
                  recheck ? "recheck" : "invalidate", &tenant);

    ngx_http_adcp_zone_invalidate(&amcf->zone,
                                  (tenant.len == 1 && tenant.data[0] == '*')
                                  ? NULL : &tenant, recheck);
}


static void
ngx_http_adcp_bus_state(ngx_uint_t state, void *data)
{
    ngx_http_adcp_main_conf_t *amcf = data;

    ngx_http_adcp_shctx_t  *sh;

    sh = amcf->zone.sh;

    /* a worker on its way out: the link is its successor's to report */

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    if (state == NGX_HTTP_ADCP_REDIS_CONNECTING
        && sh->redis_state != NGX_HTTP_ADCP_REDIS_OFF)
    {
        sh->redis_reconnects++;
    }

    sh->redis_state = state;
}
