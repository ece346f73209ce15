
/*
 * ngx_http_adcp_module: adcp_task_durability, an accept confirmed by WAIT.
 */


#ifndef _NGX_HTTP_ADCP_DURABILITY_H_INCLUDED_
#define _NGX_HTTP_ADCP_DURABILITY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_adcp_redis.h"


char *ngx_http_adcp_durability_parse(ngx_conf_t *cf,
    ngx_http_adcp_redis_conf_t *rcf);
ngx_http_adcp_redis_call_t *ngx_http_adcp_durability_wait(
    ngx_http_adcp_redis_conf_t *rcf, ngx_http_adcp_redis_reply_pt handler,
    void *data);
ngx_int_t ngx_http_adcp_durability_waited(ngx_http_adcp_redis_conf_t *rcf,
    redisReply *reply, ngx_log_t *log);


#endif /* _NGX_HTTP_ADCP_DURABILITY_H_INCLUDED_ */
