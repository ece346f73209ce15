
/*
 * ngx_http_adcp_module: the request's state (one ctx per main request,
 * read by its subrequests), the tenant of a request, and the variables
 * that expose both.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_adcp.h"
#include "ngx_http_adcp_request.h"
#include "ngx_http_adcp_descriptor.h"
#include "ngx_http_adcp_factory.h"


#define NGX_HTTP_ADCP_UPSTREAM         0
#define NGX_HTTP_ADCP_AUTHORIZATION    1


static ngx_int_t ngx_http_adcp_tenant_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_adcp_task_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_adcp_platform_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_adcp_cache_status_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_adcp_platform_var_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_adcp_health_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_inline ngx_http_adcp_ctx_t *ngx_http_adcp_var_ctx(
    ngx_http_request_t *r);
static ngx_http_adcp_ctx_t *ngx_http_adcp_var_ctx_sub(ngx_http_request_t *r)
    NGX_HTTP_ADCP_NOINLINE;
static ngx_inline void ngx_http_adcp_variable_set(
    ngx_http_variable_value_t *v, ngx_str_t *value);


static ngx_http_variable_t  ngx_http_adcp_vars[] = {

    { ngx_string("adcp_tenant"), NULL,
      ngx_http_adcp_tenant_variable, 0, 0, 0 },

    { ngx_string("adcp_task"), NULL,
      ngx_http_adcp_task_variable, 0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("adcp_upstream"), NULL,
      ngx_http_adcp_platform_variable, NGX_HTTP_ADCP_UPSTREAM,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("adcp_authorization"), NULL,
      ngx_http_adcp_platform_variable, NGX_HTTP_ADCP_AUTHORIZATION,
      NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_NOHASH, 0 },

    { ngx_string("adcp_cache_status"), NULL,
      ngx_http_adcp_cache_status_variable, 0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("adcp_health"), NULL,
      ngx_http_adcp_health_variable, 0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("adcp_platform_"), NULL,
      ngx_http_adcp_platform_var_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_PREFIX, 0 },

      ngx_http_null_variable
};


static ngx_str_t  ngx_http_adcp_healths[] = {
    ngx_string("pending"),
    ngx_string("healthy"),
    ngx_string("unverified"),
    ngx_string("disabled")
};


/* the envelope of a request without a JSON body: no id, no task */

ngx_http_adcp_envelope_t  ngx_http_adcp_no_env;
ngx_str_t                 ngx_http_adcp_no_tenant;


static ngx_str_t  ngx_http_adcp_statuses[] = {
    ngx_string(""),
    ngx_string("HIT"),
    ngx_string("MISS"),
    ngx_string("WAIT"),
    ngx_string("EXPIRED"),
    ngx_string("STALE"),
    ngx_string("BYPASS"),
    ngx_string("SHARED"),
    ngx_string("UPDATING")
};


static ngx_int_t
ngx_http_adcp_tenant_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_adcp_ctx_t  *ctx;

    ctx = ngx_http_adcp_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_adcp_tenant_resolve(r, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_adcp_variable_set(v, ctx->tenant);

    return NGX_OK;
}


static ngx_int_t
ngx_http_adcp_task_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_adcp_ctx_t  *ctx;

    ctx = ngx_http_adcp_var_ctx(r);

    if (ctx == NULL || !ctx->has_env) {
        v->not_found = 1;
        return NGX_OK;
    }

    ngx_http_adcp_variable_set(v, &ctx->env->task);

    return NGX_OK;
}


static ngx_int_t
ngx_http_adcp_platform_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t            *s;
    ngx_http_adcp_ctx_t  *ctx;

    ctx = ngx_http_adcp_var_ctx(r);

    if (ctx == NULL || ngx_http_adcp_platform(ctx) == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    if (data == NGX_HTTP_ADCP_UPSTREAM) {
        s = ngx_http_adcp_platform_upstream(ngx_http_adcp_platform(ctx),
                                            &ctx->env->task);

    } else {
        s = &ngx_http_adcp_platform(ctx)->authorization;
    }

    ngx_http_adcp_variable_set(v, s);

    return NGX_OK;
}


static ngx_int_t
ngx_http_adcp_cache_status_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_adcp_ctx_t  *ctx;

    ctx = ngx_http_adcp_var_ctx(r);

    if (ctx == NULL || ctx->cache_status == NGX_HTTP_ADCP_CACHE_NONE) {
        v->not_found = 1;
        return NGX_OK;
    }

    ngx_http_adcp_variable_set(v, &ngx_http_adcp_statuses[ctx->cache_status]);

    return NGX_OK;
}


/* $adcp_platform_<name>: data is the variable's full name */

static ngx_int_t
ngx_http_adcp_platform_var_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t *name = (ngx_str_t *) data;

    ngx_str_t            *value;
    ngx_http_adcp_ctx_t  *ctx;

    ctx = ngx_http_adcp_var_ctx(r);

    if (ctx == NULL || ngx_http_adcp_platform(ctx) == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    value = ngx_http_adcp_platform_var(ngx_http_adcp_platform(ctx),
                           name->data + sizeof("adcp_platform_") - 1,
                           name->len - (sizeof("adcp_platform_") - 1));

    if (value == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    ngx_http_adcp_variable_set(v, value);

    return NGX_OK;
}


ngx_int_t
ngx_http_adcp_variables_add(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_adcp_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


/* the tenant's health, host-wide, as the zone has it now */

static ngx_int_t
ngx_http_adcp_health_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_adcp_ctx_t  *ctx;

    ctx = ngx_http_adcp_var_ctx(r);

    if (ctx == NULL || ctx->slot == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    ngx_http_adcp_variable_set(v, &ngx_http_adcp_healths[ctx->slot->health
                                                          & 3]);

    return NGX_OK;
}


/*
 * A request's variables read its main request's state; the validator
 * subrequest has a state of its own: the platform it validates.  The main
 * request's own is found inline, the rest in ngx_http_adcp_var_ctx_sub().
 */

static ngx_inline ngx_http_adcp_ctx_t *
ngx_http_adcp_var_ctx(ngx_http_request_t *r)
{
    ngx_http_adcp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_adcp_module);

    if (ctx) {
        return ctx;
    }

    return ngx_http_adcp_var_ctx_sub(r);
}


static ngx_http_adcp_ctx_t *
ngx_http_adcp_var_ctx_sub(ngx_http_request_t *r)
{
    ngx_http_adcp_ctx_t  *ctx;

    if (r != r->main) {
        ctx = ngx_http_adcp_factory_validator_ctx(r);

        if (ctx) {
            return ctx;
        }
    }

    return ngx_http_get_module_ctx(r->main, ngx_http_adcp_module);
}


static ngx_inline void
ngx_http_adcp_variable_set(ngx_http_variable_value_t *v, ngx_str_t *value)
{
    v->len = value->len;
    v->data = value->data;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
}
