
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
 * a request is answered from it.  The directives are
 * ngx_http_adcp_tasks_module's; their conf is a part of its main conf.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_adcp_tasks_private.h"
#include "ngx_http_adcp_jwks.h"


static ngx_int_t ngx_http_adcp_jwks_handler(ngx_http_request_t *r);


static ngx_str_t  ngx_http_adcp_jwks_type = ngx_string("application/json");


/* the key that signs: the first configured, or NULL */

ngx_http_adcp_sign_key_t *
ngx_http_adcp_jwks_signing_key(ngx_cycle_t *cycle)
{
    ngx_http_adcp_tasks_main_conf_t  *tmcf;

    tmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_adcp_tasks_module);

    if (tmcf == NULL || tmcf->jwks.keys == NULL
        || tmcf->jwks.keys->nelts == 0)
    {
        return NULL;
    }

    return tmcf->jwks.keys->elts;
}


static ngx_int_t
ngx_http_adcp_jwks_handler(ngx_http_request_t *r)
{
    ngx_int_t                         rc;
    ngx_buf_t                        *b;
    ngx_chain_t                       out;
    ngx_table_elt_t                  *cc;
    ngx_http_adcp_jwks_conf_t        *jcf;
    ngx_http_adcp_tasks_main_conf_t  *tmcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    tmcf = ngx_http_get_module_main_conf(r, ngx_http_adcp_tasks_module);
    jcf = &tmcf->jwks;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = jcf->jwks.len;
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

    b->pos = jcf->jwks.data;
    b->last = jcf->jwks.data + jcf->jwks.len;
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


/* at the tasks module's init main conf: the JWKS of the keys, built once */

char *
ngx_http_adcp_jwks_init_conf(ngx_conf_t *cf, ngx_http_adcp_jwks_conf_t *jcf)
{
    if (ngx_http_adcp_sign_jwks(cf->pool,
                                jcf->keys ? jcf->keys->elts : NULL,
                                jcf->keys ? jcf->keys->nelts : 0,
                                &jcf->jwks)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* conf + cmd->offset: the tasks main conf's ngx_http_adcp_jwks_conf_t */

char *
ngx_http_adcp_task_webhook_signing_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_adcp_jwks_conf_t  *jcf = (void *) ((u_char *) conf + cmd->offset);

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

    if (jcf->keys == NULL) {
        jcf->keys = ngx_array_create(cf->pool, 2,
                                      sizeof(ngx_http_adcp_sign_key_t));
        if (jcf->keys == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    keys = jcf->keys->elts;

    for (i = 0; i < jcf->keys->nelts; i++) {
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

    key = ngx_array_push(jcf->keys);
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


char *
ngx_http_adcp_jwks(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_adcp_jwks_handler;

    return NGX_CONF_OK;
}
