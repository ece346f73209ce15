
/*
 * ngx_http_adcp_module: adcp_task_durability (SPEC section 7): an accepted
 * task answered "submitted" only once WAIT counts the replicas holding
 * its writes (the task record, the idempotency key, the stream entry).
 * WAIT goes on the worker's command connection right behind the accept's
 * EVAL (sent from its reply's callback: the same connection), so it
 * waits for that write.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <hiredis/hiredis.h>

#include "ngx_http_adcp_redis.h"
#include "ngx_http_adcp_durability.h"


/*
 * adcp_task_durability replicas=<n> timeout=<ms> | off;
 */

char *
ngx_http_adcp_durability_parse(ngx_conf_t *cf,
    ngx_http_adcp_redis_conf_t *rcf)
{
    ngx_str_t   *value;
    ngx_int_t    n;
    ngx_msec_t   ms;
    ngx_str_t    s;
    ngx_uint_t   i;

    /* a timeout is set by every form, "off" included */

    if (rcf->replicas_timeout) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "off") == 0) {
        rcf->replicas = 0;
        rcf->replicas_timeout = 1;
        return NGX_CONF_OK;
    }

    rcf->replicas = 0;
    rcf->replicas_timeout = 1000;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "replicas=", 9) == 0) {
            n = ngx_atoi(value[i].data + 9, value[i].len - 9);

            if (n <= 0) {
                goto invalid;
            }

            rcf->replicas = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "timeout=", 8) == 0) {
            s.data = value[i].data + 8;
            s.len = value[i].len - 8;

            ms = ngx_parse_time(&s, 0);

            if (ms == (ngx_msec_t) NGX_ERROR || ms == 0) {
                goto invalid;
            }

            rcf->replicas_timeout = ms;
            continue;
        }

        goto invalid;
    }

    if (rcf->replicas == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "adcp_task_durability needs \"replicas=\"");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "adcp_task_durability: invalid \"%V\"", &value[i]);
    return NGX_CONF_ERROR;
}


/* WAIT <replicas> <timeout> on this worker's command connection */

ngx_http_adcp_redis_call_t *
ngx_http_adcp_durability_wait(ngx_http_adcp_redis_conf_t *rcf,
    ngx_http_adcp_redis_reply_pt handler, void *data)
{
    u_char       n[NGX_INT_T_LEN], ms[NGX_INT_T_LEN];
    size_t       len[3];
    const char  *argv[3];

    argv[0] = "WAIT";  len[0] = 4;
    argv[1] = (char *) n;
    len[1] = ngx_sprintf(n, "%ui", rcf->replicas) - n;
    argv[2] = (char *) ms;
    len[2] = ngx_sprintf(ms, "%M", rcf->replicas_timeout) - ms;

    return ngx_http_adcp_redis_command(rcf, handler, data, 3, argv, len);
}


/* NGX_OK: WAIT counted enough replicas */

ngx_int_t
ngx_http_adcp_durability_waited(ngx_http_adcp_redis_conf_t *rcf,
    redisReply *reply, ngx_log_t *log)
{
    if (reply && reply->type == REDIS_REPLY_INTEGER
        && reply->integer >= (long long) rcf->replicas)
    {
        return NGX_OK;
    }

    if (reply && reply->type == REDIS_REPLY_INTEGER) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "adcp: redis \"%V\": WAIT: %L of %ui replicas "
                      "within %M ms", &rcf->name, (int64_t) reply->integer,
                      rcf->replicas, rcf->replicas_timeout);

    } else {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "adcp: redis \"%V\": WAIT failed%s%*s", &rcf->name,
                      reply ? ": " : "",
                      reply ? (size_t) reply->len : 0,
                      reply ? reply->str : "");
    }

    return NGX_DECLINED;
}
