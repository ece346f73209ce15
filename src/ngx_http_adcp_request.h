
/*
 * ngx_http_adcp_module: the request's state and the module's variables.
 */


#ifndef _NGX_HTTP_ADCP_REQUEST_H_INCLUDED_
#define _NGX_HTTP_ADCP_REQUEST_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_adcp.h"


ngx_int_t ngx_http_adcp_variables_add(ngx_conf_t *cf);


/*
 * The main request's ctx, made when there is none yet (inline: the
 * handler makes it for every request); NULL: no memory
 */

static ngx_inline ngx_http_adcp_ctx_t *
ngx_http_adcp_ctx(ngx_http_request_t *r)
{
    ngx_http_adcp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_adcp_module);

    if (ctx) {
        return ctx;
    }

    /* ngx_memzero of a constant size is a few stores, inline */

    ctx = ngx_palloc(r->main->pool, sizeof(ngx_http_adcp_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    ngx_memzero(ctx, sizeof(ngx_http_adcp_ctx_t));

    ctx->env = &ngx_http_adcp_no_env;
    ctx->tenant = &ngx_http_adcp_no_tenant;

    ngx_http_set_ctx(r->main, ctx, ngx_http_adcp_module);

    return ctx;
}


#endif /* _NGX_HTTP_ADCP_REQUEST_H_INCLUDED_ */
