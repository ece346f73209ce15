
/*
 * ngx_http_adcp_module: long-running tasks (SPEC section 7), part B:
 * execution.  Every worker consumes the stream adcp:tasks in the consumer
 * group "adcp" and runs each task as a request of its own to this nginx
 * (a loopback connection marked with the host's task secret), stores
 * the outcome in the task record, acknowledges the entry, and delivers
 * webhooks.  Tasks left by a dead worker or host are reclaimed.
 */


#ifndef _NGX_HTTP_ADCP_EXEC_H_INCLUDED_
#define _NGX_HTTP_ADCP_EXEC_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_adcp.h"


#define NGX_HTTP_ADCP_EXEC_HEADER       "Adcp-Task-Exec"
#define NGX_HTTP_ADCP_EXEC_ATTEMPTS     3        /* then failed */
#define NGX_HTTP_ADCP_EXEC_REPLY_MAX    (1024 * 1024)
#define NGX_HTTP_ADCP_HOOK_ATTEMPTS     6        /* 1+2+4+8+16 s apart */


ngx_int_t ngx_http_adcp_exec_init_worker(ngx_cycle_t *cycle,
    ngx_http_adcp_main_conf_t *amcf);
void ngx_http_adcp_exec_exit_worker(void);
ngx_uint_t ngx_http_adcp_exec_public(struct sockaddr *sa);
ngx_int_t ngx_http_adcp_exec_marked(ngx_http_request_t *r,
    ngx_http_adcp_main_conf_t *amcf, ngx_str_t *tenant);


#endif /* _NGX_HTTP_ADCP_EXEC_H_INCLUDED_ */
