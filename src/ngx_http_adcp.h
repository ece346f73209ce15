
/*
 * ngx_http_adcp_module: configuration and per-request state shared by the
 * module file and the feature files.
 */


#ifndef _NGX_HTTP_ADCP_H_INCLUDED_
#define _NGX_HTTP_ADCP_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_adcp_tenant.h"
#include "ngx_http_adcp_envelope.h"
#include "ngx_http_adcp_error.h"


typedef struct {
    ngx_http_adcp_tenants_t     tenants;
} ngx_http_adcp_main_conf_t;


typedef struct {
    ngx_flag_t                  enable;        /* adcp on */
    ngx_http_complex_value_t   *tenant_key;    /* adcp_tenant_key */
} ngx_http_adcp_loc_conf_t;


/* per request, in the request pool; subrequests read their main's */

typedef struct {
    ngx_str_t                   tenant;        /* "" = none */
    ngx_http_adcp_envelope_t    env;

    unsigned                    tenant_done:1;
    unsigned                    body_done:1;   /* envelope read (or none) */
    unsigned                    has_env:1;     /* env holds a parsed body */
} ngx_http_adcp_ctx_t;


extern ngx_module_t  ngx_http_adcp_module;


#endif /* _NGX_HTTP_ADCP_H_INCLUDED_ */
