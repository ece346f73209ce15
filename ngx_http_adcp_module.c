
/*
 * ngx_http_adcp_module: a multi-tenant AdCP gateway inside nginx.
 *
 * This file holds the module definition, its directive table, conf and
 * the thin phase handler; each concern lives in src/ngx_http_adcp_*.c,
 * with the handlers of its own directives.
 * The same .so holds three more modules: ngx_http_adcp_tasks_module
 * (src/tasks/: adcp_async and the task directives; called from the
 * handler through amcf->tasks_early and amcf->tasks_late, which it sets),
 * ngx_http_adcp_error_pages_module (src/ngx_http_adcp_error_page.c) and
 * ngx_http_adcp_balancer_module (src/ngx_http_adcp_balancer.c).
 *
 * A request in a location with "adcp on" goes, before the content phase
 * (after the access checks, so that allow/deny and auth_request guard it):
 *   1. envelope: a POST with a JSON body is read, and its JSON-RPC id,
 *      method and AdCP task name taken (src/ngx_http_adcp_envelope.c);
 *   2. tenant: $host (or adcp_tenant_key) -> tenant id
 *      (src/ngx_http_adcp_tenant.c);
 *   3. platform: with adcp_factory, the tenant's platform from this worker's
 *      cache, built on a miss by a factory subrequest
 *      (src/ngx_http_adcp_cache.c, src/ngx_http_adcp_factory.c);
 *   4. policy: the platform's capabilities; a task of the location's
 *      adcp_async accepted (src/tasks/);
 *   errors in the request's transport form (src/ngx_http_adcp_error.c).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_adcp.h"
#include "ngx_http_adcp_request.h"
#include "ngx_http_adcp_factory.h"
#include "ngx_http_adcp_descriptor.h"
#include "ngx_http_adcp_admin.h"
#include "ngx_http_adcp_status.h"
#include "ngx_http_adcp_bus.h"
#include "ngx_http_adcp_redis.h"
#include "ngx_http_adcp_sentinel.h"
#include "ngx_http_adcp_json.h"
#include "ngx_http_adcp_balancer.h"
#include "ngx_http_adcp_refresh.h"
#include "ngx_http_adcp_durability.h"
#include "ngx_http_adcp_headers.h"


static ngx_int_t ngx_http_adcp_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_adcp_refresh_handler(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx) NGX_HTTP_ADCP_COLD;
static void ngx_http_adcp_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_adcp_refuse_envelope(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx) NGX_HTTP_ADCP_COLD;
static ngx_int_t ngx_http_adcp_failed(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx) NGX_HTTP_ADCP_COLD;
static ngx_int_t ngx_http_adcp_refuse(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx, ngx_uint_t code, char *message)
    NGX_HTTP_ADCP_COLD;
static ngx_int_t ngx_http_adcp_refuse_body(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx) NGX_HTTP_ADCP_COLD;
static ngx_inline ngx_uint_t ngx_http_adcp_json_request(ngx_http_request_t *r);

static ngx_int_t ngx_http_adcp_init_process(ngx_cycle_t *cycle);
static void ngx_http_adcp_exit_process(ngx_cycle_t *cycle);

static void *ngx_http_adcp_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_adcp_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_adcp_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_adcp_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_adcp_init(ngx_conf_t *cf);

static char *ngx_http_adcp_endpoint(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_adcp_redis(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_adcp_task_durability(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);


static char *ngx_http_adcp_cache_size_check(ngx_conf_t *cf, void *post,
    void *data);

static ngx_conf_post_t  ngx_http_adcp_cache_size_post = {
    ngx_http_adcp_cache_size_check
};


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

    { ngx_string("adcp_factory"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_adcp_factory,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_adcp_loc_conf_t, factory),
      NULL },

    { ngx_string("adcp_validator"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_adcp_validator,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_adcp_loc_conf_t, validator),
      NULL },

    { ngx_string("adcp_cache_size"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_adcp_main_conf_t, cache_size),
      &ngx_http_adcp_cache_size_post },

    { ngx_string("adcp_cache_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_adcp_main_conf_t, cache_ttl),
      NULL },

    { ngx_string("adcp_cache_shared"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_adcp_cache_shared,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("adcp_cache_refresh"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_adcp_cache_refresh,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("adcp_failure_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_adcp_failure_ttl,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("adcp_not_found_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_adcp_main_conf_t, not_found_ttl),
      NULL },

    { ngx_string("adcp_build_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_adcp_main_conf_t, build_timeout),
      NULL },

    { ngx_string("adcp_stale_if_error"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_adcp_main_conf_t, stale_if_error),
      NULL },

    { ngx_string("adcp_zone_size"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_adcp_main_conf_t, zone_size),
      NULL },

    { ngx_string("adcp_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_adcp_redis,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("adcp_task_durability"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_adcp_task_durability,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("adcp_redis_channel"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_adcp_main_conf_t, redis.channel),
      NULL },

    { ngx_string("adcp_redis_ping"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_adcp_main_conf_t, redis.ping),
      NULL },

    { ngx_string("adcp_redis_down_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_adcp_main_conf_t, redis.down_ttl),
      NULL },

    { ngx_string("adcp_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_adcp_endpoint,
      0,
      0,
      (void *) ngx_http_adcp_status_handler },

    { ngx_string("adcp_admin"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_adcp_endpoint,
      0,
      0,
      (void *) ngx_http_adcp_admin_handler },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_adcp_module_ctx = {
    ngx_http_adcp_variables_add,           /* preconfiguration */
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
    ngx_http_adcp_init_process,            /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_adcp_exit_process,            /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


ngx_http_adcp_worker_t  *ngx_http_adcp_worker;


/*
 * The hit path runs in this frame: what is rare (a refresh request, a
 * refusal, a failure) is in functions of its own (NGX_HTTP_ADCP_COLD), so
 * that their locals cost a hit nothing
 */

static ngx_int_t
ngx_http_adcp_handler(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    ngx_uint_t                  json;
    ngx_http_adcp_ctx_t        *ctx;
    ngx_http_adcp_loc_conf_t   *alcf;
    ngx_http_adcp_main_conf_t  *amcf;

    if (r != r->main) {
        return NGX_DECLINED;
    }

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_adcp_module);

    if (!alcf->enable) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_adcp_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* this host's own refresh request (a loopback HTTP/1.0 GET) */

    if (ctx->refresh
        || (r->http_version == NGX_HTTP_VERSION_10
            && r->method == NGX_HTTP_GET && !ctx->tenant_done
            && ngx_http_adcp_refresh_maybe(r)))
    {
        rc = ngx_http_adcp_refresh_handler(r, ctx);

        if (rc != NGX_DECLINED) {
            return rc;
        }
    }

    if (!ctx->body_done) {

        /*
         * one reading: a POST body the module cannot read as JSON-RPC is
         * never forwarded past the checks
         */

        json = ngx_http_adcp_json_request(r);

        if (!json
            && (r->headers_in.content_length_n > 0 || r->headers_in.chunked))
        {
            ctx->body_done = 1;

            return ngx_http_adcp_refuse(r, ctx,
                       NGX_HTTP_ADCP_ERR_INVALID_REQUEST,
                       r->method == NGX_HTTP_POST
                       ? "the request body is not application/json in UTF-8"
                       : "a request body is read with POST only");
        }

        if (json) {
            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "adcp: reading the request body");

            ctx->reading = 1;

            rc = ngx_http_read_client_request_body(r,
                                                   ngx_http_adcp_body_handler);

            ctx->reading = 0;

            if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
                return rc;
            }

            if (!ctx->body_done) {
                /* the body comes later: ngx_http_adcp_body_handler goes on */
                ngx_http_finalize_request(r, NGX_DONE);
                return NGX_DONE;
            }

            /*
             * read at once (it came with the headers): on from here, the
             * phases not run again; the reading's reference dropped as
             * ngx_http_finalize_request(r, NGX_DONE) drops it (the count
             * stays above 0)
             */

            r->main->count--;

            if (ctx->body_error) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
        }

        ctx->body_done = 1;
    }

    if (ctx->has_env && ctx->env->error != NGX_HTTP_ADCP_ENV_OK) {
        return ngx_http_adcp_refuse_envelope(r, ctx);
    }

    if (ngx_http_adcp_tenant_resolve(r, ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->tenant->len == 0) {
        return ngx_http_adcp_refuse(r, ctx, NGX_HTTP_ADCP_ERR_ACCOUNT_NOT_FOUND,
                                    "no account is served at this address");
    }

    /* the tenant key is read: the X-AdCP- namespace is the gateway's now */

    if (ngx_http_adcp_headers_clean(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "adcp: tenant \"%V\" task \"%V\"",
                   ctx->tenant, &ctx->env->task);

    if (alcf->factory.len == 0) {
        return NGX_DECLINED;
    }

    amcf = ngx_http_get_module_main_conf(r, ngx_http_adcp_module);

    /* a task's execution, or a poll of one: src/tasks/ */

    if (amcf->tasks_early) {
        rc = amcf->tasks_early(r, ctx);

        if (rc != NGX_DECLINED) {
            return rc;
        }
    }

    rc = ngx_http_adcp_factory_resolve(r, ctx);

    switch (rc) {

    case NGX_OK:
        break;

    case NGX_DONE:
        return NGX_DONE;

    case NGX_DECLINED:
        return ngx_http_adcp_failed(r, ctx);

    default:
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!ngx_http_adcp_platform_allows(ngx_http_adcp_platform(ctx),
                                       &ctx->env->task))
    {
        return ngx_http_adcp_refuse(r, ctx,
                                    NGX_HTTP_ADCP_ERR_UNSUPPORTED_FEATURE,
                                    "this account does not support the "
                                    "requested task");
    }

    /* long-running tasks: accepted here, executed in the background */

    if (amcf->tasks_late) {
        rc = amcf->tasks_late(r, ctx);

        if (rc != NGX_DECLINED) {
            return rc;
        }
    }

    rc = ngx_http_adcp_balancer_prepare(r, ctx);

    switch (rc) {

    case NGX_OK:
        return NGX_DECLINED;

    case NGX_DONE:
        return NGX_DONE;

    case NGX_DECLINED:
        return ngx_http_adcp_failed(r, ctx);
    }

    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}


/*
 * A refresh request: answered 204 once the platform's rebuild has ended
 * (or at once when there is none to make here); never proxied.
 * NGX_DECLINED: a buyer's request.
 */

static ngx_int_t
ngx_http_adcp_refresh_handler(ngx_http_request_t *r, ngx_http_adcp_ctx_t *ctx)
{
    ngx_int_t                   rc;
    ngx_str_t                   tenant;
    ngx_msec_t                  after;
    ngx_http_adcp_loc_conf_t   *alcf;
    ngx_http_adcp_main_conf_t  *amcf;

    if (!ctx->refresh) {
        amcf = ngx_http_get_module_main_conf(r, ngx_http_adcp_module);

        if (!amcf->platforms || amcf->zone.sh == NULL
            || ngx_http_adcp_refresh_marked(r, amcf->zone.sh->task_secret,
                                            &tenant, &after)
               != NGX_OK)
        {
            return NGX_DECLINED;
        }

        ctx->tenant = ngx_palloc(r->pool, sizeof(ngx_str_t));
        if (ctx->tenant == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        *ctx->tenant = tenant;

        ctx->refresh = 1;
        ctx->tenant_done = 1;
        ctx->body_done = 1;

        alcf = ngx_http_get_module_loc_conf(r, ngx_http_adcp_module);

        if (alcf->factory.len == 0) {
            return NGX_HTTP_NO_CONTENT;
        }

        rc = ngx_http_adcp_factory_refresh(r, ctx, after);

    } else {
        rc = ngx_http_adcp_factory_resolve(r, ctx);
    }

    if (rc == NGX_DONE) {
        return NGX_DONE;
    }

    return (rc == NGX_ERROR) ? NGX_HTTP_INTERNAL_SERVER_ERROR
                             : NGX_HTTP_NO_CONTENT;
}


static void
ngx_http_adcp_body_handler(ngx_http_request_t *r)
{
    ngx_http_adcp_ctx_t       *ctx;
    ngx_http_adcp_envelope_t  *env;

    ctx = ngx_http_get_module_ctx(r, ngx_http_adcp_module);

    ctx->body_done = 1;

    /*
     * the body's envelope: its own allocation (a GET has none), zeroed
     * inline (ngx_pcalloc() calls memset() for it)
     */

    env = ngx_palloc(r->pool, sizeof(ngx_http_adcp_envelope_t));

    if (env) {
        ngx_memzero(env, sizeof(ngx_http_adcp_envelope_t));
    }

    if (env == NULL || r->request_body == NULL
        || ngx_http_adcp_envelope_parse_chain(r->pool, r->request_body->bufs,
                                              env, r->connection->log)
           != NGX_OK)
    {
        if (ctx->reading) {
            ctx->body_error = 1;        /* the handler answers */
            return;
        }

        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ctx->env = env;
    ctx->has_env = 1;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "adcp envelope: id \"%V\" method %ui task \"%V\"",
                   &ctx->env->id, ctx->env->method, &ctx->env->task);

    r->preserve_body = 1;

    if (ctx->reading) {
        return;                         /* read at once: the handler goes on */
    }

    r->write_event_handler = ngx_http_core_run_phases;
    ngx_http_core_run_phases(r);
}


/* a body the envelope reader refused: the error says why */

static ngx_int_t
ngx_http_adcp_refuse_envelope(ngx_http_request_t *r, ngx_http_adcp_ctx_t *ctx)
{
    switch (ctx->env->error) {

    case NGX_HTTP_ADCP_ENV_DUPLICATE:
        return ngx_http_adcp_refuse_body(r, ctx);

    case NGX_HTTP_ADCP_ENV_BATCH:
        return ngx_http_adcp_refuse(r, ctx, NGX_HTTP_ADCP_ERR_INVALID_REQUEST,
                                    "JSON-RPC batches are not accepted");

    case NGX_HTTP_ADCP_ENV_AMBIGUOUS:
        return ngx_http_adcp_refuse(r, ctx, NGX_HTTP_ADCP_ERR_INVALID_REQUEST,
                                    "more than one data part names a skill");

    case NGX_HTTP_ADCP_ENV_DEPTH:
        return ngx_http_adcp_refuse(r, ctx, NGX_HTTP_ADCP_ERR_INVALID_REQUEST,
                                    "the request body is nested too deeply");

    case NGX_HTTP_ADCP_ENV_TASK:
        return ngx_http_adcp_refuse(r, ctx, NGX_HTTP_ADCP_ERR_INVALID_REQUEST,
                                    "the task name holds a control "
                                    "character");

    default:
        return ngx_http_adcp_refuse(r, ctx, NGX_HTTP_ADCP_ERR_INVALID_REQUEST,
                                    "the request body is not valid JSON");
    }
}


/*
 * No platform (or no peer) for the request: the error ctx->aux->err
 * names is answered
 */

static ngx_int_t
ngx_http_adcp_failed(ngx_http_request_t *r, ngx_http_adcp_ctx_t *ctx)
{
    if (ngx_http_adcp_ctx_err(ctx) == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_finalize_request(r,
        ngx_http_adcp_error_send(r, ctx->has_env ? ctx->env : NULL,
                                 ctx->aux->err));
    return NGX_DONE;
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
        ngx_http_adcp_error_send(r, ctx->has_env ? ctx->env : NULL, &err));

    return NGX_DONE;
}


/* a member the module reads, twice in its object: field names it */

static ngx_int_t
ngx_http_adcp_refuse_body(ngx_http_request_t *r, ngx_http_adcp_ctx_t *ctx)
{
    ngx_http_adcp_error_t  err;

    ngx_memzero(&err, sizeof(ngx_http_adcp_error_t));

    err.code = NGX_HTTP_ADCP_ERR_INVALID_REQUEST;
    err.field.data = (u_char *) ctx->env->dup;
    err.field.len = ngx_strlen(ctx->env->dup);

    err.message.data = ngx_pnalloc(r->pool,
                                   sizeof("the member \"\" appears more "
                                          "than once in its object, or "
                                          "spelled another way") - 1
                                   + err.field.len);
    if (err.message.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    err.message.len = ngx_sprintf(err.message.data,
                                  "the member \"%V\" appears more than once "
                                  "in its object, or spelled another way",
                                  &err.field)
                      - err.message.data;

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "adcp: a request body repeats \"%V\", refused",
                  &err.field);

    ngx_http_finalize_request(r, ngx_http_adcp_error_send(r, ctx->env,
                                                          &err));

    return NGX_DONE;
}


/*
 * a POST whose Content-Type is application/json, its charset UTF-8; the
 * type alone, as nearly every client sends it, without a call
 */

static ngx_inline ngx_uint_t
ngx_http_adcp_json_request(ngx_http_request_t *r)
{
    ngx_table_elt_t  *ct;

    ct = r->headers_in.content_type;

    if (r->method != NGX_HTTP_POST || ct == NULL) {
        return 0;
    }

    if (ct->value.len == sizeof("application/json") - 1) {
        return ngx_http_adcp_json_is_application_json(ct->value.data);
    }

    return ngx_http_adcp_json_type_exact(&ct->value);
}


static ngx_int_t
ngx_http_adcp_init_process(ngx_cycle_t *cycle)
{
    ngx_http_adcp_main_conf_t  *amcf;

    ngx_http_adcp_worker = NULL;

    /*
     * not the cache manager and loader: they call init_process too, but
     * leave with exit() (no exit_process), and serve no request
     */

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    amcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_adcp_module);

    if (amcf == NULL || !amcf->platforms) {
        return NGX_OK;
    }

    if (ngx_http_adcp_factory_init_worker(cycle, amcf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_adcp_bus_init_worker(cycle, amcf);
}


static void
ngx_http_adcp_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_adcp_bus_exit_worker();
    ngx_http_adcp_refresh_exit();

    if (ngx_http_adcp_worker) {
        ngx_http_adcp_cache_destroy(&ngx_http_adcp_worker->cache);
        ngx_http_adcp_worker = NULL;
    }
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
    amcf->cache_size = NGX_CONF_UNSET_UINT;
    amcf->cache_ttl = NGX_CONF_UNSET_MSEC;
    amcf->failure_ttl = NGX_CONF_UNSET_MSEC;
    amcf->failure_ttl_max = NGX_CONF_UNSET_MSEC;
    amcf->not_found_ttl = NGX_CONF_UNSET_MSEC;
    amcf->build_timeout = NGX_CONF_UNSET_MSEC;
    amcf->stale_if_error = NGX_CONF_UNSET_MSEC;
    amcf->zone_size = NGX_CONF_UNSET_SIZE;
    amcf->cache_shared = NGX_CONF_UNSET_SIZE;
    amcf->cache_refresh = NGX_CONF_UNSET_UINT;
    amcf->redis.ping = NGX_CONF_UNSET_MSEC;
    amcf->redis.down_ttl = NGX_CONF_UNSET_MSEC;

    return amcf;
}


static char *
ngx_http_adcp_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_adcp_main_conf_t *amcf = conf;

    ngx_conf_init_uint_value(amcf->cache_size, 256);
    ngx_conf_init_msec_value(amcf->cache_ttl, 3600000);
    ngx_conf_init_msec_value(amcf->failure_ttl, 5000);
    ngx_conf_init_msec_value(amcf->failure_ttl_max, 300000);
    ngx_conf_init_msec_value(amcf->not_found_ttl, 60000);
    ngx_conf_init_msec_value(amcf->build_timeout, 10000);
    ngx_conf_init_msec_value(amcf->stale_if_error, 0);
    ngx_conf_init_size_value(amcf->zone_size, 0);
    ngx_conf_init_size_value(amcf->cache_shared, 32 * 1024 * 1024);
    ngx_conf_init_uint_value(amcf->cache_refresh, 90);
    ngx_conf_init_msec_value(amcf->redis.ping, 5000);
    ngx_conf_init_msec_value(amcf->redis.down_ttl, 60000);

    if (amcf->redis.channel.data == NULL) {
        ngx_str_set(&amcf->redis.channel, "adcp:invalidate");
    }

    /* the lossless log of the channel's messages: <channel>:log */

    amcf->redis.log.len = amcf->redis.channel.len + sizeof(":log") - 1;
    amcf->redis.log.data = ngx_pnalloc(cf->pool, amcf->redis.log.len);
    if (amcf->redis.log.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memcpy(ngx_cpymem(amcf->redis.log.data, amcf->redis.channel.data,
                          amcf->redis.channel.len),
               ":log", sizeof(":log") - 1);

    if (ngx_http_adcp_tenants_init(cf, &amcf->tenants) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    if (!amcf->platforms) {
        return NGX_CONF_OK;
    }

    if (amcf->tenants.ids.elts == NULL
        && ngx_array_init(&amcf->tenants.ids, cf->pool, 1, sizeof(ngx_str_t))
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_adcp_zone_add(cf, &amcf->zone, &amcf->tenants.ids,
                               amcf->zone_size)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    /* after the zone: a reused store follows the zone's generations */

    if (ngx_http_adcp_store_add(cf, &amcf->store, amcf->cache_shared)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_adcp_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_adcp_loc_conf_t  *alcf;

    alcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_adcp_loc_conf_t));
    if (alcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     alcf->factory = { 0, NULL };
     *     alcf->validator = { 0, NULL };
     */

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
    ngx_conf_merge_str_value(conf->factory, prev->factory, "");
    ngx_conf_merge_str_value(conf->validator, prev->validator, "");

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

    return ngx_http_adcp_factory_init_filter(cf);
}


/* adcp_admin, adcp_status: the location's content handler is cmd->post */

static char *
ngx_http_adcp_endpoint(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = (ngx_http_handler_pt) (uintptr_t) cmd->post;

    return NGX_CONF_OK;
}


static char *
ngx_http_adcp_cache_size_check(ngx_conf_t *cf, void *post, void *data)
{
    ngx_uint_t *np = data;

    if (*np == 0) {
        return "must be more than 0 (platforms cached per worker)";
    }

    return NGX_CONF_OK;
}


/* adcp_redis host:port ... | sentinel=host:port ... */

static char *
ngx_http_adcp_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_adcp_main_conf_t *amcf = conf;

    ngx_str_t  *value;

    value = cf->args->elts;

    if (amcf->redis.name.len == 0
        && ngx_strncmp(value[1].data, "sentinel=", 9) == 0)
    {
        return ngx_http_adcp_sentinel_parse(cf, &amcf->redis);
    }

    return ngx_http_adcp_redis_parse(cf, &amcf->redis);
}


static char *
ngx_http_adcp_task_durability(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_adcp_main_conf_t *amcf = conf;

    return ngx_http_adcp_durability_parse(cf, &amcf->redis);
}
