
/*
 * ngx_http_adcp_module: the webhook signing keys
 * (adcp_task_webhook_signing_key) and their JWKS (adcp_jwks): directives
 * of ngx_http_adcp_tasks_module, whose main conf holds this part (not a
 * module of its own: each module is a pointer more in every request's
 * r->ctx).
 */


#ifndef _NGX_HTTP_ADCP_JWKS_H_INCLUDED_
#define _NGX_HTTP_ADCP_JWKS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_adcp_tasks_sign.h"


typedef struct {
    ngx_array_t                *keys;   /* ngx_http_adcp_sign_key_t */
    ngx_str_t                   jwks;   /* built once, at configuration */
} ngx_http_adcp_jwks_conf_t;


char *ngx_http_adcp_task_webhook_signing_key(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
char *ngx_http_adcp_jwks(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_adcp_jwks_init_conf(ngx_conf_t *cf,
    ngx_http_adcp_jwks_conf_t *jcf);

ngx_http_adcp_sign_key_t *ngx_http_adcp_jwks_signing_key(ngx_cycle_t *cycle);


#endif /* _NGX_HTTP_ADCP_JWKS_H_INCLUDED_ */
