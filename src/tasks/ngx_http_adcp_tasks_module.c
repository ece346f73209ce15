
/*
 * ngx_http_adcp_tasks_module: long-running tasks (SPEC section 7), a
 * module of its own in the adcp .so.  Its directives and conf, its worker
 * init and exit (the consumer), and the two calls the main module's
 * handler makes when some location has adcp_async (set here, in its
 * main conf, at postconfiguration):
 *
 *   early   before the platform: a task's execution (marked by this host)
 *           is let through; a poll of a task this module issued answered
 *   late    after the capability check: a task of the location's
 *           adcp_async accepted
 *
 * It reads the main module's request ctx and conf; nothing of the main
 * module calls into it otherwise.  Listed before the main module (config:
 * ngx_module_order): its worker exit stops the consumer before the main
 * module's closes Redis.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_adcp_tasks_private.h"


#define NGX_HTTP_ADCP_WEBHOOK_TRUSTED_DEFAULT                                 \
    "/etc/ssl/certs/ca-certificates.crt"

/* a receiver's certificate, up to 3 CAs above it (cross-signed roots) */
#define NGX_HTTP_ADCP_WEBHOOK_VERIFY_DEPTH  4


static ngx_int_t ngx_http_adcp_tasks_early(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx);
static ngx_int_t ngx_http_adcp_tasks_late(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx);

static ngx_int_t ngx_http_adcp_tasks_init_process(ngx_cycle_t *cycle);
static void ngx_http_adcp_tasks_exit_process(ngx_cycle_t *cycle);

static void *ngx_http_adcp_tasks_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_adcp_tasks_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_adcp_tasks_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_adcp_tasks_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_adcp_tasks_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_adcp_tasks_ssl(ngx_conf_t *cf,
    ngx_http_adcp_tasks_main_conf_t *tmcf);

static char *ngx_http_adcp_async(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_adcp_task_headers(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_adcp_task_ttl_check(ngx_conf_t *cf, void *post,
    void *data);


static ngx_conf_post_t  ngx_http_adcp_task_ttl_post = {
    ngx_http_adcp_task_ttl_check
};


static ngx_conf_num_bounds_t  ngx_http_adcp_task_concurrency_bounds = {
    ngx_conf_check_num_bounds, 0, 1024
};


static ngx_command_t  ngx_http_adcp_tasks_commands[] = {

    { ngx_string("adcp_async"),
      NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_adcp_async,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("adcp_task_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_adcp_tasks_loc_conf_t, ttl),
      &ngx_http_adcp_task_ttl_post },

    { ngx_string("adcp_task_claim_after"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_adcp_tasks_main_conf_t, claim_after),
      NULL },

    { ngx_string("adcp_task_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_adcp_tasks_main_conf_t, timeout),
      NULL },

    { ngx_string("adcp_task_concurrency"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_adcp_tasks_main_conf_t, concurrency),
      &ngx_http_adcp_task_concurrency_bounds },

    { ngx_string("adcp_task_webhooks"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_adcp_tasks_loc_conf_t, webhooks),
      NULL },

    { ngx_string("adcp_task_webhook_private"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_adcp_tasks_main_conf_t, webhook_private),
      NULL },

    { ngx_string("adcp_task_webhook_retry_horizon"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_adcp_tasks_main_conf_t, hook_horizon),
      NULL },

    { ngx_string("adcp_task_webhook_http"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_adcp_tasks_main_conf_t, webhook_http),
      NULL },

    { ngx_string("adcp_task_webhook_trusted_certificate"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_adcp_tasks_main_conf_t, webhook_trusted),
      NULL },

    { ngx_string("adcp_task_headers"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_adcp_task_headers,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_adcp_tasks_loc_conf_t, headers),
      NULL },

    { ngx_string("adcp_task_webhook_signing_key"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_adcp_task_webhook_signing_key,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_adcp_tasks_main_conf_t, jwks),
      NULL },

    { ngx_string("adcp_jwks"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_adcp_jwks,
      0,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_adcp_tasks_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_adcp_tasks_init,              /* postconfiguration */

    ngx_http_adcp_tasks_create_main_conf,  /* create main configuration */
    ngx_http_adcp_tasks_init_main_conf,    /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_adcp_tasks_create_loc_conf,   /* create location configuration */
    ngx_http_adcp_tasks_merge_loc_conf     /* merge location configuration */
};


ngx_module_t  ngx_http_adcp_tasks_module = {
    NGX_MODULE_V1,
    &ngx_http_adcp_tasks_module_ctx,       /* module context */
    ngx_http_adcp_tasks_commands,          /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_adcp_tasks_init_process,      /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_adcp_tasks_exit_process,      /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/*
 * Before the platform: this host executing a task (proxied as it is,
 * never accepted), or a poll answered from Redis.  NGX_DECLINED: the
 * request goes on; NGX_DONE; or an HTTP status.
 */

static ngx_int_t
ngx_http_adcp_tasks_early(ngx_http_request_t *r, ngx_http_adcp_ctx_t *ctx)
{
    ngx_int_t                   rc;
    ngx_http_adcp_main_conf_t  *amcf;

    if (!ctx->exec_checked) {
        ctx->exec_checked = 1;

        amcf = ngx_http_get_module_main_conf(r, ngx_http_adcp_module);

        rc = ngx_http_adcp_exec_marked(r, amcf, ctx->tenant);

        if (rc == NGX_ABORT) {
            ngx_http_finalize_request(r,
                ngx_http_adcp_tasks_error(r, ctx,
                                          NGX_HTTP_ADCP_ERR_ACCOUNT_NOT_FOUND,
                                          "the task's account is not "
                                          "served at this address", NULL));
            return NGX_DONE;
        }

        ctx->exec = (rc == NGX_OK);
    }

    if (ctx->exec) {
        return NGX_DECLINED;
    }

    /* the module's own tasks are polled without the platform */

    rc = ngx_http_adcp_tasks_poll(r, ctx);

    if (rc == NGX_DECLINED || rc == NGX_DONE) {
        return rc;
    }

    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}


/* the platform allows the task: accepted here, executed in the background */

static ngx_int_t
ngx_http_adcp_tasks_late(ngx_http_request_t *r, ngx_http_adcp_ctx_t *ctx)
{
    ngx_int_t  rc;

    if (ctx->exec) {
        return NGX_DECLINED;
    }

    rc = ngx_http_adcp_tasks_accept(r, ctx);

    return rc == NGX_ERROR ? NGX_HTTP_INTERNAL_SERVER_ERROR : rc;
}


static ngx_int_t
ngx_http_adcp_tasks_init_process(ngx_cycle_t *cycle)
{
    ngx_http_adcp_main_conf_t        *amcf;
    ngx_http_adcp_tasks_main_conf_t  *tmcf;

    /* as the main module: not the cache manager and loader */

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    amcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_adcp_module);
    tmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_adcp_tasks_module);

    if (amcf == NULL || tmcf == NULL || !amcf->platforms) {
        return NGX_OK;
    }

    return ngx_http_adcp_tasks_consumer_init(cycle, amcf, tmcf);
}


static void
ngx_http_adcp_tasks_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_adcp_tasks_consumer_exit();
}


static void *
ngx_http_adcp_tasks_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_adcp_tasks_main_conf_t  *tmcf;

    tmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_adcp_tasks_main_conf_t));
    if (tmcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&tmcf->checks, cf->pool, 4,
                       sizeof(ngx_http_adcp_tasks_check_t))
        != NGX_OK)
    {
        return NULL;
    }

    tmcf->claim_after = NGX_CONF_UNSET_MSEC;
    tmcf->timeout = NGX_CONF_UNSET_MSEC;
    tmcf->concurrency = NGX_CONF_UNSET_UINT;
    tmcf->webhook_private = NGX_CONF_UNSET;
    tmcf->hook_horizon = NGX_CONF_UNSET_MSEC;
    tmcf->webhook_http = NGX_CONF_UNSET;

    /*
     * set by ngx_pcalloc():
     *
     *     tmcf->webhook_trusted = { 0, NULL };
     *     tmcf->ssl = NULL;
     *     tmcf->jwks = { NULL, { 0, NULL } };
     */

    return tmcf;
}


static char *
ngx_http_adcp_tasks_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_adcp_tasks_main_conf_t *tmcf = conf;

    ngx_conf_init_msec_value(tmcf->claim_after, 60000);
    ngx_conf_init_msec_value(tmcf->timeout, 600000);
    ngx_conf_init_uint_value(tmcf->concurrency, 8);
    ngx_conf_init_value(tmcf->webhook_private, 0);
    ngx_conf_init_msec_value(tmcf->hook_horizon, 86400000);
    ngx_conf_init_value(tmcf->webhook_http, 0);

    /* the private network is the tests' and the operator's own: http too */

    if (tmcf->webhook_private) {
        tmcf->webhook_policy = NGX_HTTP_ADCP_URL_ALLOW_PRIVATE
                               |NGX_HTTP_ADCP_URL_ALLOW_HTTP;

    } else if (tmcf->webhook_http) {
        tmcf->webhook_policy = NGX_HTTP_ADCP_URL_ALLOW_HTTP;
    }

    if (tmcf->claim_after < 1000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "adcp_task_claim_after must be at least 1s: a "
                           "running task is refreshed every third of it");
        return NGX_CONF_ERROR;
    }

    return ngx_http_adcp_jwks_init_conf(cf, &tmcf->jwks);
}


static void *
ngx_http_adcp_tasks_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_adcp_tasks_loc_conf_t  *tlcf;

    tlcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_adcp_tasks_loc_conf_t));
    if (tlcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     tlcf->async_file = { 0, NULL };
     *     tlcf->async_line = 0;
     */

    tlcf->async = NGX_CONF_UNSET_PTR;
    tlcf->ttl = NGX_CONF_UNSET_MSEC;
    tlcf->webhooks = NGX_CONF_UNSET;
    tlcf->headers = NGX_CONF_UNSET_PTR;

    return tlcf;
}


static char *
ngx_http_adcp_tasks_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_http_adcp_tasks_loc_conf_t *prev = parent;
    ngx_http_adcp_tasks_loc_conf_t *conf = child;

    ngx_str_t                        *h;
    ngx_http_adcp_tasks_check_t      *check;
    ngx_http_adcp_tasks_main_conf_t  *tmcf;

    static ngx_str_t  defaults[] = {
        ngx_string("Authorization"),
        ngx_string("Content-Type"),
        ngx_string("Accept"),
        ngx_string("MCP-Protocol-Version"),
        ngx_string("X-AdCP-*")
    };

    if (conf->async == NGX_CONF_UNSET_PTR) {
        conf->async = (prev->async == NGX_CONF_UNSET_PTR) ? NULL
                                                          : prev->async;
        conf->async_file = prev->async_file;
        conf->async_line = prev->async_line;
    }

    ngx_conf_merge_msec_value(conf->ttl, prev->ttl, 604800000);
    ngx_conf_merge_value(conf->webhooks, prev->webhooks, 0);
    ngx_conf_merge_ptr_value(conf->headers, prev->headers, NULL);

    if (conf->headers == NULL) {
        conf->headers = ngx_array_create(cf->pool, 5, sizeof(ngx_str_t));
        if (conf->headers == NULL) {
            return NGX_CONF_ERROR;
        }

        h = ngx_array_push_n(conf->headers, 5);
        if (h == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memcpy(h, defaults, sizeof(defaults));
    }

    if (conf->async == NULL) {
        return NGX_CONF_OK;
    }

    /* checked at postconfiguration, when the main module is merged */

    tmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_adcp_tasks_module);

    check = ngx_array_push(&tmcf->checks);
    if (check == NULL) {
        return NGX_CONF_ERROR;
    }

    check->conf = conf;
    check->alcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_adcp_module);

    return NGX_CONF_OK;
}


/*
 * The checks of each location's adcp_async, once the http{} block is
 * read; then, with some adcp_async, the main module's handler calls this
 * module (amcf->tasks_early, amcf->tasks_late)
 */

static ngx_int_t
ngx_http_adcp_tasks_init(ngx_conf_t *cf)
{
    char                             *missing;
    ngx_uint_t                        i, webhooks;
    ngx_http_adcp_main_conf_t        *amcf;
    ngx_http_adcp_tasks_check_t      *check;
    ngx_http_adcp_tasks_main_conf_t  *tmcf;

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_adcp_module);
    tmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_adcp_tasks_module);

    check = tmcf->checks.elts;
    webhooks = 0;

    for (i = 0; i < tmcf->checks.nelts; i++) {

        webhooks |= check[i].conf->webhooks;

        /* a delivery ends with its record: said once, where it happens */

        if (check[i].conf->webhooks
            && check[i].conf->ttl < tmcf->hook_horizon)
        {
            ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                          "\"adcp_task_ttl\" (%M ms) is shorter than "
                          "\"adcp_task_webhook_retry_horizon\" (%M ms) in "
                          "%V:%ui: a webhook's retries end when its task's "
                          "record expires", check[i].conf->ttl,
                          tmcf->hook_horizon, &check[i].conf->async_file,
                          check[i].conf->async_line);
        }

        if (amcf->redis.name.len == 0) {
            missing = "adcp_redis";

        } else if (check[i].alcf->factory.len == 0) {
            missing = "adcp_factory";

        } else if (!check[i].alcf->enable) {
            missing = "adcp on";

        } else {
            continue;
        }

        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"adcp_async\" requires \"%s\" (tasks are stored in "
                      "Redis and run on the tenant's platform) in %V:%ui",
                      missing, &check[i].conf->async_file,
                      check[i].conf->async_line);

        return NGX_ERROR;
    }

    if (tmcf->enabled) {
        amcf->tasks = 1;
        amcf->tasks_early = ngx_http_adcp_tasks_early;
        amcf->tasks_late = ngx_http_adcp_tasks_late;
    }

    if (webhooks && ngx_http_adcp_tasks_ssl(cf, tmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * The TLS client context of https webhooks, as proxy_ssl's: TLS 1.2 and
 * 1.3, the certificates adcp_task_webhook_trusted_certificate trusts; the
 * peer's certificate and name are checked after each handshake
 * (tasks_http.c), whatever the configuration says
 */

static ngx_int_t
ngx_http_adcp_tasks_ssl(ngx_conf_t *cf, ngx_http_adcp_tasks_main_conf_t *tmcf)
{
    char                *dflt;
    ngx_str_t            file;
    ngx_file_info_t      fi;
    ngx_pool_cleanup_t  *cln;

    file = tmcf->webhook_trusted;
    dflt = "";

    if (file.len == 0) {
        ngx_str_set(&file, NGX_HTTP_ADCP_WEBHOOK_TRUSTED_DEFAULT);
        dflt = " (the default: install ca-certificates or set the "
               "directive)";
    }

    if (ngx_conf_full_name(cf->cycle, &file, 1) != NGX_OK) {
        return NGX_ERROR;
    }

    /* nginx's own message would name OpenSSL's call, not the directive */

    if (ngx_file_info(file.data, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, ngx_errno,
                      "adcp_task_webhook_trusted_certificate \"%s\" cannot "
                      "be read: https webhooks are verified against it%s",
                      file.data, dflt);
        return NGX_ERROR;
    }

    tmcf->ssl = ngx_pcalloc(cf->pool, sizeof(ngx_ssl_t));
    if (tmcf->ssl == NULL) {
        return NGX_ERROR;
    }

    tmcf->ssl->log = cf->log;

    if (ngx_ssl_create(tmcf->ssl, NGX_SSL_TLSv1_2|NGX_SSL_TLSv1_3, NULL)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        ngx_ssl_cleanup_ctx(tmcf->ssl);
        return NGX_ERROR;
    }

    cln->handler = ngx_ssl_cleanup_ctx;
    cln->data = tmcf->ssl;

    if (ngx_ssl_trusted_certificate(cf, tmcf->ssl, &file,
                                    NGX_HTTP_ADCP_WEBHOOK_VERIFY_DEPTH)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "adcp_task_webhook_trusted_certificate \"%s\" holds no "
                      "certificate OpenSSL can read", file.data);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* adcp_async task ...; */

static char *
ngx_http_adcp_async(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_adcp_tasks_loc_conf_t *tlcf = conf;

    ngx_str_t                        *value, *name;
    ngx_uint_t                        i;
    ngx_http_adcp_tasks_main_conf_t  *tmcf;

    if (tlcf->async != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    tlcf->async = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                   sizeof(ngx_str_t));
    if (tlcf->async == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (value[i].len == 0 || value[i].len > 128
            || ngx_strlchr(value[i].data, value[i].data + value[i].len, '$'))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid adcp_async task \"%V\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        name = ngx_array_push(tlcf->async);
        if (name == NULL) {
            return NGX_CONF_ERROR;
        }

        *name = value[i];
    }

    tlcf->async_file = cf->conf_file->file.name;
    tlcf->async_line = cf->conf_file->line;

    tmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_adcp_tasks_module);
    tmcf->enabled = 1;

    return NGX_CONF_OK;
}


/* adcp_task_headers name ...; "X-AdCP-*" names a prefix */

static char *
ngx_http_adcp_task_headers(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_adcp_tasks_loc_conf_t *tlcf = conf;

    u_char      *p;
    ngx_str_t   *value, *name;
    ngx_uint_t   i;

    if (tlcf->headers != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    tlcf->headers = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                     sizeof(ngx_str_t));
    if (tlcf->headers == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        for (p = value[i].data; p < value[i].data + value[i].len; p++) {
            if (!(*p == '-' || *p == '_' || (*p >= '0' && *p <= '9')
                  || ((*p | 0x20) >= 'a' && (*p | 0x20) <= 'z')
                  || (*p == '*' && p == value[i].data + value[i].len - 1)))
            {
                break;
            }
        }

        if (value[i].len == 0 || p != value[i].data + value[i].len) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid adcp_task_headers name \"%V\"",
                               &value[i]);
            return NGX_CONF_ERROR;
        }

        name = ngx_array_push(tlcf->headers);
        if (name == NULL) {
            return NGX_CONF_ERROR;
        }

        *name = value[i];
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_adcp_task_ttl_check(ngx_conf_t *cf, void *post, void *data)
{
    ngx_msec_t *mp = data;

    ngx_str_t  *value;

    if (*mp < NGX_HTTP_ADCP_TASK_TTL_MIN) {
        value = cf->args->elts;

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "adcp_task_ttl \"%V\" is below the minimum of 1h "
                           "(idempotency keys must outlive the buyer's "
                           "retries)", &value[1]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}
