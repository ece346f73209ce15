
/*
 * ngx_http_adcp_module: a multi-tenant AdCP gateway inside nginx.
 *
 * This file holds the module definition, its directives, variables and
 * the thin phase handler; each concern lives in src/ngx_http_adcp_*.c.
 *
 * A request in a location with "adcp on" goes, before the content phase
 * (after the access checks, so that allow/deny and auth_request guard it):
 *   1. envelope: a POST with a JSON body is read, and its JSON-RPC id,
 *      method and AdCP task name taken (src/ngx_http_adcp_envelope.c);
 *   2. tenant: $host (or adcp_tenant_key) -> tenant id
 *      (src/ngx_http_adcp_tenant.c);
 *   3. errors in the request's transport form (src/ngx_http_adcp_error.c).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_adcp.h"


static ngx_int_t ngx_http_adcp_handler(ngx_http_request_t *r);
static void ngx_http_adcp_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_adcp_refuse(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx, ngx_uint_t code, char *message);
static ngx_http_adcp_ctx_t *ngx_http_adcp_get_ctx(ngx_http_request_t *r);
static ngx_int_t ngx_http_adcp_resolve_tenant(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx);
static ngx_uint_t ngx_http_adcp_json_request(ngx_http_request_t *r);

static ngx_int_t ngx_http_adcp_tenant_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_adcp_task_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);

static ngx_int_t ngx_http_adcp_add_variables(ngx_conf_t *cf);
static void *ngx_http_adcp_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_adcp_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_adcp_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_adcp_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_adcp_init(ngx_conf_t *cf);

static char *ngx_http_adcp_tenants(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


static ngx_command_t  ngx_http_adcp_commands[] = {

    { ngx_string("adcp_tenants"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_BLOCK|NGX_CONF_NOARGS,
      ngx_http_adcp_tenants,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("adcp_tenants_hash_max_size"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_adcp_main_conf_t, tenants.hash_max_size),
      NULL },

    { ngx_string("adcp_tenants_hash_bucket_size"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_adcp_main_conf_t, tenants.hash_bucket_size),
      NULL },

    { ngx_string("adcp_tenant_key"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_adcp_loc_conf_t, tenant_key),
      NULL },

    { ngx_string("adcp"),
      NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_adcp_loc_conf_t, enable),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_adcp_module_ctx = {
    ngx_http_adcp_add_variables,           /* preconfiguration */
    ngx_http_adcp_init,                    /* postconfiguration */

    ngx_http_adcp_create_main_conf,        /* create main configuration */
    ngx_http_adcp_init_main_conf,          /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_adcp_create_loc_conf,         /* create location configuration */
    ngx_http_adcp_merge_loc_conf           /* merge location configuration */
};


ngx_module_t  ngx_http_adcp_module = {
    NGX_MODULE_V1,
    &ngx_http_adcp_module_ctx,             /* module context */
    ngx_http_adcp_commands,                /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_variable_t  ngx_http_adcp_vars[] = {

    { ngx_string("adcp_tenant"), NULL,
      ngx_http_adcp_tenant_variable, 0, 0, 0 },

    { ngx_string("adcp_task"), NULL,
      ngx_http_adcp_task_variable, 0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static ngx_int_t
ngx_http_adcp_handler(ngx_http_request_t *r)
{
    ngx_int_t                  rc;
    ngx_http_adcp_ctx_t       *ctx;
    ngx_http_adcp_loc_conf_t  *alcf;

    if (r != r->main) {
        return NGX_DECLINED;
    }

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_adcp_module);

    if (!alcf->enable) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_adcp_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!ctx->body_done) {

        if (ngx_http_adcp_json_request(r)) {
            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "adcp: reading the request body");

            rc = ngx_http_read_client_request_body(r,
                                                   ngx_http_adcp_body_handler);

            if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
                return rc;
            }

            ngx_http_finalize_request(r, NGX_DONE);
            return NGX_DONE;
        }

        ctx->body_done = 1;
    }

    if (ctx->has_env) {

        switch (ctx->env.error) {

        case NGX_HTTP_ADCP_ENV_OK:
            break;

        case NGX_HTTP_ADCP_ENV_AMBIGUOUS:
            return ngx_http_adcp_refuse(r, ctx,
                       NGX_HTTP_ADCP_ERR_INVALID_REQUEST,
                       "more than one data part names a skill");

        case NGX_HTTP_ADCP_ENV_DEPTH:
            return ngx_http_adcp_refuse(r, ctx,
                       NGX_HTTP_ADCP_ERR_INVALID_REQUEST,
                       "the request body is nested too deeply");

        default:
            return ngx_http_adcp_refuse(r, ctx,
                       NGX_HTTP_ADCP_ERR_INVALID_REQUEST,
                       "the request body is not valid JSON");
        }
    }

    if (ngx_http_adcp_resolve_tenant(r, ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->tenant.len == 0) {
        return ngx_http_adcp_refuse(r, ctx, NGX_HTTP_ADCP_ERR_ACCOUNT_NOT_FOUND,
                                    "no account is served at this address");
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "adcp: tenant \"%V\" task \"%V\"",
                   &ctx->tenant, &ctx->env.task);

    return NGX_DECLINED;
}


static void
ngx_http_adcp_body_handler(ngx_http_request_t *r)
{
    ngx_http_adcp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_adcp_module);

    ctx->body_done = 1;

    if (r->request_body == NULL
        || ngx_http_adcp_envelope_parse_chain(r->pool, r->request_body->bufs,
                                              &ctx->env, r->connection->log)
           != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ctx->has_env = 1;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "adcp envelope: id \"%V\" method %ui task \"%V\"",
                   &ctx->env.id, ctx->env.method, &ctx->env.task);

    r->preserve_body = 1;

    r->write_event_handler = ngx_http_core_run_phases;
    ngx_http_core_run_phases(r);
}


/* answers an AdCP error and ends the request */

static ngx_int_t
ngx_http_adcp_refuse(ngx_http_request_t *r, ngx_http_adcp_ctx_t *ctx,
    ngx_uint_t code, char *message)
{
    ngx_http_adcp_error_t  err;

    ngx_memzero(&err, sizeof(ngx_http_adcp_error_t));

    err.code = code;
    err.message.data = (u_char *) message;
    err.message.len = ngx_strlen(message);

    ngx_http_finalize_request(r,
        ngx_http_adcp_error_send(r, ctx->has_env ? &ctx->env : NULL, &err));

    return NGX_DONE;
}


static ngx_http_adcp_ctx_t *
ngx_http_adcp_get_ctx(ngx_http_request_t *r)
{
    ngx_http_adcp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_adcp_module);

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->main->pool, sizeof(ngx_http_adcp_ctx_t));
        if (ctx == NULL) {
            return NULL;
        }

        ngx_http_set_ctx(r->main, ctx, ngx_http_adcp_module);
    }

    return ctx;
}


static ngx_int_t
ngx_http_adcp_resolve_tenant(ngx_http_request_t *r, ngx_http_adcp_ctx_t *ctx)
{
    ngx_int_t                   rc;
    ngx_str_t                   host, key;
    ngx_http_adcp_loc_conf_t   *alcf;
    ngx_http_adcp_main_conf_t  *amcf;
    ngx_http_core_srv_conf_t   *cscf;

    if (ctx->tenant_done) {
        return NGX_OK;
    }

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_adcp_module);

    if (alcf->tenant_key) {
        if (ngx_http_complex_value(r, alcf->tenant_key, &key) != NGX_OK) {
            return NGX_ERROR;
        }

        if (ngx_http_adcp_tenant_id_valid(key.data, key.len)) {
            ctx->tenant = key;

        } else if (key.len) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "adcp: the tenant key is not a valid tenant id");
        }

        ctx->tenant_done = 1;
        return NGX_OK;
    }

    if (r->headers_in.server.len) {
        host = r->headers_in.server;

    } else {
        cscf = ngx_http_get_module_srv_conf(r, ngx_http_core_module);
        host = cscf->server_name;
    }

    amcf = ngx_http_get_module_main_conf(r, ngx_http_adcp_module);

    rc = ngx_http_adcp_tenant_find(r, &amcf->tenants, &host, &ctx->tenant);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    ctx->tenant_done = 1;

    return NGX_OK;
}


/* a POST whose Content-Type is application/json or a +json type */

static ngx_uint_t
ngx_http_adcp_json_request(ngx_http_request_t *r)
{
    u_char     *p, *last, *semi;
    ngx_str_t  *ct;

    if (r->method != NGX_HTTP_POST || r->headers_in.content_type == NULL) {
        return 0;
    }

    ct = &r->headers_in.content_type->value;

    p = ct->data;
    last = ct->data + ct->len;

    semi = ngx_strlchr(p, last, ';');
    if (semi) {
        last = semi;
    }

    while (last > p && (last[-1] == ' ' || last[-1] == '\t')) {
        last--;
    }

    if (last - p == sizeof("application/json") - 1
        && ngx_strncasecmp(p, (u_char *) "application/json",
                           sizeof("application/json") - 1) == 0)
    {
        return 1;
    }

    return (last - p > (ssize_t) sizeof("+json") - 1
            && ngx_strncasecmp(last - (sizeof("+json") - 1),
                               (u_char *) "+json", sizeof("+json") - 1)
               == 0);
}


static ngx_int_t
ngx_http_adcp_tenant_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_adcp_ctx_t  *ctx;

    ctx = ngx_http_adcp_get_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_adcp_resolve_tenant(r, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    v->len = ctx->tenant.len;
    v->data = ctx->tenant.data;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_adcp_task_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_adcp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_adcp_module);

    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    if (ctx == NULL || !ctx->has_env) {
        v->len = 0;
        v->data = (u_char *) "";
        return NGX_OK;
    }

    v->len = ctx->env.task.len;
    v->data = ctx->env.task.data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_adcp_add_variables(ngx_conf_t *cf)
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


static void *
ngx_http_adcp_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_adcp_main_conf_t  *amcf;

    amcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_adcp_main_conf_t));
    if (amcf == NULL) {
        return NULL;
    }

    amcf->tenants.hash_max_size = NGX_CONF_UNSET_UINT;
    amcf->tenants.hash_bucket_size = NGX_CONF_UNSET_UINT;

    return amcf;
}


static char *
ngx_http_adcp_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_adcp_main_conf_t *amcf = conf;

    return ngx_http_adcp_tenants_init(cf, &amcf->tenants);
}


static void *
ngx_http_adcp_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_adcp_loc_conf_t  *alcf;

    alcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_adcp_loc_conf_t));
    if (alcf == NULL) {
        return NULL;
    }

    alcf->enable = NGX_CONF_UNSET;
    alcf->tenant_key = NGX_CONF_UNSET_PTR;

    return alcf;
}


static char *
ngx_http_adcp_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_adcp_loc_conf_t *prev = parent;
    ngx_http_adcp_loc_conf_t *conf = child;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);
    ngx_conf_merge_ptr_value(conf->tenant_key, prev->tenant_key, NULL);

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_adcp_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_adcp_handler;

    return NGX_OK;
}


static char *
ngx_http_adcp_tenants(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_adcp_main_conf_t *amcf = conf;

    return ngx_http_adcp_tenants_parse(cf, &amcf->tenants);
}
