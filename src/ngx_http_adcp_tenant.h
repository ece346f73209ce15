
/*
 * ngx_http_adcp_module: Host -> tenant (SPEC section 1).
 *
 * The adcp_tenants{} block is read into nginx's own combined hash (exact,
 * leading and trailing wildcards) plus a list of regexes, with the same
 * precedence as server_name; the values are tenant ids.
 */


#ifndef _NGX_HTTP_ADCP_TENANT_H_INCLUDED_
#define _NGX_HTTP_ADCP_TENANT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


#define NGX_HTTP_ADCP_TENANT_ID_MAX  128


#define NGX_HTTP_ADCP_LAST_HOST  64


/* the request's state (ngx_http_adcp.h): resolve sets its tenant */
typedef struct ngx_http_adcp_ctx_s  ngx_http_adcp_ctx_t;


typedef struct {
    ngx_str_t                      id;       /* "" = no tenant */
    ngx_http_complex_value_t      *cv;       /* a regex's value, captures */
} ngx_http_adcp_tenant_value_t;


typedef struct {
    ngx_http_map_t                 map;      /* values: tenant_value_t * */
    ngx_http_adcp_tenant_value_t  *default_value;
    ngx_array_t                    ids;      /* ngx_str_t, each tenant once,
                                                built in init */
    ngx_uint_t                     nids;
    ngx_uint_t                     hash_max_size;
    ngx_uint_t                     hash_bucket_size;

    /*
     * the last host this worker found in the hash, and its value: a
     * keep-alive connection names one host request after request
     */
    ngx_http_adcp_tenant_value_t  *last;
    size_t                         last_len;      /* 0: none */
    u_char                         last_host[NGX_HTTP_ADCP_LAST_HOST];

    /* only while the configuration is read; temp_pool owns them */
    ngx_pool_t                    *temp_pool;
    ngx_hash_keys_arrays_t        *keys;
    ngx_array_t                   *values;   /* buckets of tenant_value_t * */
    ngx_conf_t                    *cf;       /* the http{} level conf */
} ngx_http_adcp_tenants_t;


char *ngx_http_adcp_tenants_parse(ngx_conf_t *cf,
    ngx_http_adcp_tenants_t *tenants);
char *ngx_http_adcp_tenants_init(ngx_conf_t *cf,
    ngx_http_adcp_tenants_t *tenants);
char *ngx_http_adcp_tenants(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
ngx_int_t ngx_http_adcp_tenant_resolve(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx);
ngx_int_t ngx_http_adcp_tenant_find(ngx_http_request_t *r,
    ngx_http_adcp_tenants_t *tenants, ngx_str_t *host, ngx_str_t **id);


/*
 * 1-128 bytes of [A-Za-z0-9._-], not starting with a dot: never "." or
 * "..", never a hidden name, never a path (a factory location may put the
 * id in a URI)
 */

static ngx_inline ngx_int_t
ngx_http_adcp_tenant_id_valid(u_char *p, size_t len)
{
    u_char  c;

    if (len == 0 || len > NGX_HTTP_ADCP_TENANT_ID_MAX || *p == '.') {
        return 0;
    }

    while (len--) {
        c = *p++;

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')
        {
            continue;
        }

        return 0;
    }

    return 1;
}


#endif /* _NGX_HTTP_ADCP_TENANT_H_INCLUDED_ */
