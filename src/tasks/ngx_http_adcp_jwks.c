
/*
 * ngx_http_adcp_module: the webhook signing keys and the JWKS that
 * publishes them.
 *
 *   adcp_task_webhook_signing_key <pem file> kid=<id>;   (http, repeatable)
 *   location = /.well-known/jwks.json { adcp_jwks; }
 *
 * Keys are read at configuration time (Ed25519 or EC P-256, unencrypted
 * PEM); the first configured signs, every one is published, so a key
 * being rotated in or out keeps verifying.  The JWKS body is built once;
 * a request is answered from it.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_adcp_jwks.h"


static ngx_int_t ngx_http_adcp_jwks_handler(ngx_http_request_t *r);

static void *ngx_http_adcp_jwks_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_adcp_jwks_init_main_conf(ngx_conf_t *cf, void *conf);

static char *ngx_http_adcp_task_webhook_signing_key(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_adcp_jwks(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


static ngx_command_t  ngx_http_adcp_jwks_commands[] = {

    { ngx_string("adcp_task_webhook_signing_key"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_adcp_task_webhook_signing_key,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("adcp_jwks"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_adcp_jwks,
      0,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_adcp_jwks_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_http_adcp_jwks_create_main_conf,   /* create main configuration */
    ngx_http_adcp_jwks_init_main_conf,     /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_http_adcp_jwks_module = {
    NGX_MODULE_V1,
    &ngx_http_adcp_jwks_module_ctx,        /* module context */
    ngx_http_adcp_jwks_commands,           /* module directives */
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


static ngx_str_t  ngx_http_adcp_jwks_type = ngx_string("application/json");


/* the key that signs: the first configured, or NULL */

ngx_http_adcp_sign_key_t *
ngx_http_adcp_jwks_signing_key(ngx_cycle_t *cycle)
{
    ngx_http_adcp_jwks_main_conf_t  *jmcf;

    jmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_adcp_jwks_module);

    if (jmcf == NULL || jmcf->keys == NULL || jmcf->keys->nelts == 0) {
        return NULL;
    }

    return jmcf->keys->elts;
}


static ngx_int_t
ngx_http_adcp_jwks_handler(ngx_http_request_t *r)
{
    ngx_int_t                        rc;
    ngx_buf_t                       *b;
    ngx_chain_t                      out;
    ngx_table_elt_t                 *cc;
    ngx_http_adcp_jwks_main_conf_t  *jmcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    jmcf = ngx_http_get_module_main_conf(r, ngx_http_adcp_jwks_module);

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = jmcf->jwks.len;
    r->headers_out.content_type = ngx_http_adcp_jwks_type;
    r->headers_out.content_type_len = ngx_http_adcp_jwks_type.len;
    r->headers_out.content_type_lowcase = NULL;

    /* verifiers cache a JWKS; a rotation shows within five minutes */

    cc = ngx_list_push(&r->headers_out.headers);
    if (cc == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cc->hash = 1;
    ngx_str_set(&cc->key, "Cache-Control");
    ngx_str_set(&cc->value, "max-age=300");

    if (r->method == NGX_HTTP_HEAD) {
        r->header_only = 1;
        return ngx_http_send_header(r);
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = jmcf->jwks.data;
    b->last = jmcf->jwks.data + jmcf->jwks.len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    return ngx_http_output_filter(r, &out);
}


static void *
ngx_http_adcp_jwks_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_adcp_jwks_main_conf_t  *jmcf;

    jmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_adcp_jwks_main_conf_t));
    if (jmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     jmcf->keys = NULL;
     *     jmcf->jwks = { 0, NULL };
     */

    return jmcf;
}


static char *
ngx_http_adcp_jwks_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_adcp_jwks_main_conf_t  *jmcf = conf;

    if (ngx_http_adcp_sign_jwks(cf->pool,
                                jmcf->keys ? jmcf->keys->elts : NULL,
                                jmcf->keys ? jmcf->keys->nelts : 0,
                                &jmcf->jwks)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_adcp_task_webhook_signing_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_adcp_jwks_main_conf_t  *jmcf = conf;

    char                      *err;
    ngx_str_t                 *value, kid, path;
    ngx_uint_t                 i;
    ngx_http_adcp_sign_key_t  *key, *keys;

    value = cf->args->elts;

    if (value[2].len <= 4 || ngx_strncmp(value[2].data, "kid=", 4) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\", kid=<id> expected",
                           &value[2]);
        return NGX_CONF_ERROR;
    }

    kid.data = value[2].data + 4;
    kid.len = value[2].len - 4;

    if (!ngx_http_adcp_sign_kid_valid(&kid)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid kid \"%V\": 1 to %d of [A-Za-z0-9_.:-]",
                           &kid, NGX_HTTP_ADCP_SIGN_KID_MAX);
        return NGX_CONF_ERROR;
    }

    if (jmcf->keys == NULL) {
        jmcf->keys = ngx_array_create(cf->pool, 2,
                                      sizeof(ngx_http_adcp_sign_key_t));
        if (jmcf->keys == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    keys = jmcf->keys->elts;

    for (i = 0; i < jmcf->keys->nelts; i++) {
        if (keys[i].kid.len == kid.len
            && ngx_strncmp(keys[i].kid.data, kid.data, kid.len) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate kid \"%V\"", &kid);
            return NGX_CONF_ERROR;
        }
    }

    path = value[1];

    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    key = ngx_array_push(jmcf->keys);
    if (key == NULL) {
        return NGX_CONF_ERROR;
    }

    err = ngx_http_adcp_sign_key_load(cf->pool, &path, &kid, key);

    if (err) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "adcp_task_webhook_signing_key \"%V\" %s",
                           &path, err);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_adcp_jwks(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_adcp_jwks_handler;

    return NGX_CONF_OK;
}
