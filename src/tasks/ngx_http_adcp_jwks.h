
/*
 * ngx_http_adcp_module: the webhook signing keys
 * (adcp_task_webhook_signing_key) and their JWKS (adcp_jwks), a small
 * module of its own, ngx_http_adcp_jwks_module.
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
} ngx_http_adcp_jwks_main_conf_t;


extern ngx_module_t  ngx_http_adcp_jwks_module;


ngx_http_adcp_sign_key_t *ngx_http_adcp_jwks_signing_key(ngx_cycle_t *cycle);


#endif /* _NGX_HTTP_ADCP_JWKS_H_INCLUDED_ */
