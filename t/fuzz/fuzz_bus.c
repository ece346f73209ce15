
/*
 * libFuzzer target: the invalidation message parser of the Redis bus
 * (ngx_http_adcp_bus_parse), checked against its definition: surrounding
 * blanks ignored, "*", "recheck <tenant>" or "<tenant>".
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_adcp.h"
#include "ngx_http_adcp_bus.h"
#include "ngx_http_adcp_redis.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ngx_uint_t fuzz_blank(u_char c);


/*
 * what ngx_http_adcp_bus.c references besides the parser: never called
 * here
 */

volatile ngx_cycle_t  *ngx_cycle;
volatile ngx_time_t   *ngx_cached_time;
ngx_uint_t             ngx_process;
ngx_uint_t             ngx_worker;
ngx_uint_t             ngx_exiting;
sig_atomic_t           ngx_quit;
sig_atomic_t           ngx_terminate;


ngx_int_t
ngx_http_adcp_redis_start(ngx_cycle_t *cycle, ngx_http_adcp_redis_conf_t *rc,
    ngx_http_adcp_redis_handlers_t *h)
{
    abort();
}


void
ngx_http_adcp_redis_stop(void)
{
    abort();
}


ngx_http_adcp_redis_call_t *
ngx_http_adcp_redis_send(ngx_http_adcp_redis_conf_t *rcf,
    ngx_http_adcp_redis_conn_t *conn, ngx_http_adcp_redis_reply_pt handler,
    void *data, ngx_http_adcp_redis_args_t *a)
{
    abort();
}


void
ngx_http_adcp_redis_args_set(ngx_http_adcp_redis_args_t *a,
    const char **argv, size_t *len, ngx_uint_t max)
{
    abort();
}


void
ngx_http_adcp_redis_arg(ngx_http_adcp_redis_args_t *a, const void *data,
    size_t len)
{
    abort();
}


void
ngx_http_adcp_redis_reset(void)
{
    abort();
}


ngx_int_t
ngx_http_adcp_redis_string(ngx_http_adcp_redis_reply_t *reply, ngx_str_t *s)
{
    abort();
}


ngx_int_t
ngx_http_adcp_redis_integer(ngx_http_adcp_redis_reply_t *reply, int64_t *n)
{
    abort();
}


ngx_int_t
ngx_http_adcp_redis_error(ngx_http_adcp_redis_reply_t *reply, ngx_str_t *s)
{
    abort();
}


ngx_int_t
ngx_http_adcp_redis_array(ngx_http_adcp_redis_reply_t *reply, size_t *n)
{
    abort();
}


ngx_http_adcp_redis_reply_t *
ngx_http_adcp_redis_element(ngx_http_adcp_redis_reply_t *reply, size_t i)
{
    abort();
}


ngx_http_adcp_redis_reply_t *
ngx_http_adcp_redis_field(ngx_http_adcp_redis_reply_t *map, char *name)
{
    abort();
}


void
ngx_http_adcp_zone_echo_add(ngx_http_adcp_zone_t *zone, ngx_str_t *message,
    ngx_msec_t ttl)
{
    abort();
}


void
ngx_http_adcp_redis_cancel(ngx_http_adcp_redis_call_t *call)
{
    abort();
}


ngx_uint_t
ngx_http_adcp_zone_echo_take(ngx_http_adcp_zone_t *zone, ngx_str_t *message)
{
    abort();
}


void
ngx_shmtx_lock(ngx_shmtx_t *mtx)
{
    abort();
}


void
ngx_shmtx_unlock(ngx_shmtx_t *mtx)
{
    abort();
}


u_char *
ngx_sprintf(u_char *buf, const char *fmt, ...)
{
    abort();
}


void
ngx_http_adcp_zone_invalidate(ngx_http_adcp_zone_t *zone, ngx_str_t *tenant,
    ngx_uint_t recheck)
{
    abort();
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char     *copy, *p, *last;
    ngx_int_t   rc;
    ngx_str_t   message, tenant;
    ngx_uint_t  recheck, want_recheck, valid;

    /* an allocation of exactly the message: reads past it are caught */

    copy = malloc(size ? size : 1);
    memcpy(copy, data, size);

    message.data = copy;
    message.len = size;

    rc = ngx_http_adcp_bus_parse(&message, &tenant, &recheck);

    /* the definition */

    p = copy;
    last = copy + size;

    while (p < last && fuzz_blank(*p)) {
        p++;
    }

    while (last > p && fuzz_blank(last[-1])) {
        last--;
    }

    want_recheck = (last - p > 8 && memcmp(p, "recheck ", 8) == 0);

    if (want_recheck) {
        p += 8;
    }

    valid = (last - p == 1 && *p == '*' && !want_recheck)
            || ngx_http_adcp_tenant_id_valid(p, last - p);

    if ((rc == NGX_OK) != valid || recheck != want_recheck) {
        abort();
    }

    if (rc == NGX_OK
        && (tenant.data != p || tenant.len != (size_t) (last - p)
            || tenant.len == 0))
    {
        abort();
    }

    free(copy);

    return 0;
}


static ngx_uint_t
fuzz_blank(u_char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}
