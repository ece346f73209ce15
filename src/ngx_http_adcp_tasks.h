
/*
 * ngx_http_adcp_module: long-running tasks (SPEC section 7), part A:
 * accept (stored durably in Redis, then answered "submitted"),
 * idempotency, and polling (get_task_status, tasks/get) from Redis.
 */


#ifndef _NGX_HTTP_ADCP_TASKS_H_INCLUDED_
#define _NGX_HTTP_ADCP_TASKS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_adcp.h"


#define NGX_HTTP_ADCP_TASK_PREFIX      "adcp_task_"
#define NGX_HTTP_ADCP_TASK_ID_LEN      (sizeof(NGX_HTTP_ADCP_TASK_PREFIX) - 1 \
                                        + 24)
#define NGX_HTTP_ADCP_TASK_TTL_MIN     3600000     /* 1h */
#define NGX_HTTP_ADCP_IDEM_KEY_MAX     255


ngx_int_t ngx_http_adcp_tasks_poll(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx);
ngx_int_t ngx_http_adcp_tasks_accept(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx);
char *ngx_http_adcp_tasks_merge(ngx_conf_t *cf,
    ngx_http_adcp_loc_conf_t *prev, ngx_http_adcp_loc_conf_t *conf);

u_char *ngx_http_adcp_tasks_now(u_char *p);

#endif /* _NGX_HTTP_ADCP_TASKS_H_INCLUDED_ */
