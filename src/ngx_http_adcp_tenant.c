
/*
 * ngx_http_adcp_module: the adcp_tenants{} block and the lookup.
 *
 * Reading: each "host id;" line goes into an ngx_hash_keys_arrays_t kept
 * in a temporary pool; equal ids share one value (and are listed once in
 * tenants->ids).  The hashes are built in init_main_conf, once every
 * adcp_tenants_hash_* directive of http{} is known.
 *
 * Lookup: $host is already lowercase with port and trailing dot gone, so
 * the hash is probed without a copy; regexes run only on a hash miss, and
 * leave the request's own $1..$9 as they were.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_adcp.h"
#include "ngx_http_adcp_tenant.h"
#include "ngx_http_adcp_str.h"


#define NGX_HTTP_ADCP_TENANT_BUCKET_SIZE  256


static char *ngx_http_adcp_tenants_line(ngx_conf_t *cf, ngx_command_t *dummy,
    void *conf);
static ngx_http_adcp_tenant_value_t *ngx_http_adcp_tenants_value(
    ngx_conf_t *cf, ngx_http_adcp_tenants_t *tenants, ngx_str_t *id,
    ngx_uint_t regex);
#if (NGX_PCRE)
static char *ngx_http_adcp_tenants_regex(ngx_conf_t *cf,
    ngx_http_adcp_tenants_t *tenants, ngx_str_t *host,
    ngx_http_adcp_tenant_value_t *value);
static ngx_int_t ngx_http_adcp_tenant_regex(ngx_http_request_t *r,
    ngx_http_adcp_tenants_t *tenants, ngx_str_t *host,
    ngx_http_adcp_tenant_value_t **value);
#endif
static ngx_int_t ngx_http_adcp_tenants_wildcards(ngx_conf_t *cf,
    ngx_hash_init_t *hash, ngx_array_t *keys, ngx_hash_wildcard_t **wc);
static void ngx_http_adcp_tenants_cleanup(void *data);
static ngx_int_t ngx_http_adcp_tenant_lookup(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx, ngx_http_adcp_loc_conf_t *alcf,
    ngx_http_adcp_tenants_t *tenants) NGX_HTTP_ADCP_NOINLINE;
static int ngx_libc_cdecl ngx_http_adcp_tenants_cmp(const void *one,
    const void *two);


char *
ngx_http_adcp_tenants_parse(ngx_conf_t *cf, ngx_http_adcp_tenants_t *tenants)
{
    char                *rv;
    ngx_conf_t           save;
    ngx_pool_cleanup_t  *cln;

    if (tenants->keys) {
        return "is duplicate";
    }

    /* a configuration that fails before ngx_http_adcp_tenants_init() */

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_CONF_ERROR;
    }

    tenants->temp_pool = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, cf->log);
    if (tenants->temp_pool == NULL) {
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_http_adcp_tenants_cleanup;
    cln->data = tenants;

    tenants->keys = ngx_pcalloc(tenants->temp_pool,
                                sizeof(ngx_hash_keys_arrays_t));
    if (tenants->keys == NULL) {
        return NGX_CONF_ERROR;
    }

    tenants->keys->pool = cf->pool;
    tenants->keys->temp_pool = tenants->temp_pool;

    if (ngx_hash_keys_array_init(tenants->keys, NGX_HASH_LARGE) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    tenants->values = ngx_pcalloc(tenants->temp_pool,
                                  sizeof(ngx_array_t) * tenants->keys->hsize);
    if (tenants->values == NULL) {
        return NGX_CONF_ERROR;
    }

#if (NGX_PCRE)
    tenants->map.regex = NULL;
    tenants->map.nregex = 0;
#endif

    save = *cf;
    tenants->cf = &save;

    cf->handler = ngx_http_adcp_tenants_line;
    cf->handler_conf = (void *) tenants;

    rv = ngx_conf_parse(cf, NULL);

    *cf = save;
    tenants->cf = NULL;

    return rv;
}


static char *
ngx_http_adcp_tenants_line(ngx_conf_t *cf, ngx_command_t *dummy, void *conf)
{
    ngx_http_adcp_tenants_t *tenants = conf;

    ngx_int_t                      rc;
    ngx_str_t                     *value, host;
    ngx_uint_t                     regex;
    ngx_http_adcp_tenant_value_t  *v;

    value = cf->args->elts;

    if (cf->args->nelts == 2 && ngx_strcmp(value[0].data, "include") == 0) {
        return ngx_conf_include(cf, dummy, conf);
    }

    if (cf->args->nelts != 2) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid number of parameters in adcp_tenants: "
                           "a line is \"host tenant;\"");
        return NGX_CONF_ERROR;
    }

    host = value[0];
    regex = (host.len > 1 && host.data[0] == '~');

    v = ngx_http_adcp_tenants_value(cf, tenants, &value[1], regex);
    if (v == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_strcmp(host.data, "default") == 0) {

        if (tenants->default_value) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate default in adcp_tenants");
            return NGX_CONF_ERROR;
        }

        tenants->default_value = v;
        return NGX_CONF_OK;
    }

    if (regex) {
#if (NGX_PCRE)
        return ngx_http_adcp_tenants_regex(cf, tenants, &host, v);
#else
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "using regex \"%V\" requires PCRE library", &host);
        return NGX_CONF_ERROR;
#endif
    }

    if (host.len > 1 && host.data[0] == '\\') {
        host.len--;
        host.data++;
    }

    /* $host never ends with a dot: neither does the key */

    if (host.len > 1 && host.data[host.len - 1] == '.'
        && host.data[host.len - 2] != '.')
    {
        host.len--;
        host.data[host.len] = '\0';
    }

    rc = ngx_hash_add_key(tenants->keys, &host, v, NGX_HASH_WILDCARD_KEY);

    if (rc == NGX_OK) {
        return NGX_CONF_OK;
    }

    if (rc == NGX_BUSY) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate host \"%V\" in adcp_tenants", &host);

    } else if (rc == NGX_DECLINED) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid host or wildcard \"%V\" in adcp_tenants",
                           &host);
    }

    return NGX_CONF_ERROR;
}


/* one value per distinct id, so that each tenant is listed once */

static ngx_http_adcp_tenant_value_t *
ngx_http_adcp_tenants_value(ngx_conf_t *cf, ngx_http_adcp_tenants_t *tenants,
    ngx_str_t *id, ngx_uint_t regex)
{
    ngx_uint_t                         i, key;
    ngx_http_complex_value_t           cv;
    ngx_http_adcp_tenant_value_t      *v, **vp;
    ngx_http_compile_complex_value_t   ccv;

    if (ngx_http_script_variables_count(id)) {

        if (!regex) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "tenant \"%V\": variables are allowed only "
                               "in the tenant of a regex host", id);
            return NULL;
        }

        /* a value made of captures: validated per request */

        v = ngx_pcalloc(cf->pool, sizeof(ngx_http_adcp_tenant_value_t));
        if (v == NULL) {
            return NULL;
        }

        ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

        ccv.cf = tenants->cf;
        ccv.value = id;
        ccv.complex_value = &cv;

        if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
            return NULL;
        }

        v->cv = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
        if (v->cv == NULL) {
            return NULL;
        }

        *v->cv = cv;

        return v;
    }

    if (id->len && !ngx_http_adcp_tenant_id_valid(id->data, id->len)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid tenant id \"%V\": a tenant id is 1 to %d "
                           "characters of A-Z a-z 0-9 . _ -",
                           id, NGX_HTTP_ADCP_TENANT_ID_MAX);
        return NULL;
    }

    key = ngx_hash_key(id->data, id->len) % tenants->keys->hsize;

    vp = tenants->values[key].elts;

    if (vp) {
        for (i = 0; i < tenants->values[key].nelts; i++) {
            if (vp[i]->id.len == id->len
                && ngx_strncmp(vp[i]->id.data, id->data, id->len) == 0)
            {
                return vp[i];
            }
        }

    } else if (ngx_array_init(&tenants->values[key], tenants->temp_pool, 4,
                              sizeof(ngx_http_adcp_tenant_value_t *))
               != NGX_OK)
    {
        return NULL;
    }

    v = ngx_pcalloc(cf->pool, sizeof(ngx_http_adcp_tenant_value_t));
    if (v == NULL) {
        return NULL;
    }

    if (id->len) {
        v->id.data = ngx_pstrdup(cf->pool, id);
        if (v->id.data == NULL) {
            return NULL;
        }

        v->id.len = id->len;
        tenants->nids++;
    }

    vp = ngx_array_push(&tenants->values[key]);
    if (vp == NULL) {
        return NULL;
    }

    *vp = v;

    return v;
}


#if (NGX_PCRE)

static char *
ngx_http_adcp_tenants_regex(ngx_conf_t *cf, ngx_http_adcp_tenants_t *tenants,
    ngx_str_t *host, ngx_http_adcp_tenant_value_t *value)
{
    u_char                 errstr[NGX_MAX_CONF_ERRSTR];
    ngx_uint_t             n;
    ngx_regex_compile_t    rc;
    ngx_http_map_regex_t  *re;

    ngx_memzero(&rc, sizeof(ngx_regex_compile_t));

    rc.pattern.data = host->data + 1;
    rc.pattern.len = host->len - 1;

    if (rc.pattern.data[0] == '*') {
        rc.pattern.data++;
        rc.pattern.len--;
        rc.options = NGX_REGEX_CASELESS;
    }

    rc.err.len = NGX_MAX_CONF_ERRSTR;
    rc.err.data = errstr;

    /* the regexes live in cf->pool: grow the array there, once per line */

    n = tenants->map.nregex;

    re = ngx_palloc(cf->pool, (n + 1) * sizeof(ngx_http_map_regex_t));
    if (re == NULL) {
        return NGX_CONF_ERROR;
    }

    if (n) {
        ngx_memcpy(re, tenants->map.regex, n * sizeof(ngx_http_map_regex_t));
    }

    re[n].regex = ngx_http_regex_compile(tenants->cf, &rc);
    if (re[n].regex == NULL) {
        return NGX_CONF_ERROR;
    }

    re[n].value = value;

    tenants->map.regex = re;
    tenants->map.nregex = n + 1;

    return NGX_CONF_OK;
}

#endif


char *
ngx_http_adcp_tenants_init(ngx_conf_t *cf, ngx_http_adcp_tenants_t *tenants)
{
    ngx_str_t                     *id;
    ngx_uint_t                     i, k;
    ngx_hash_init_t                hash;
    ngx_hash_keys_arrays_t        *keys;
    ngx_http_adcp_tenant_value_t **vp;

    keys = tenants->keys;

    if (keys == NULL) {
        return NGX_CONF_OK;
    }

    /* each declared tenant once, in an array of the exact size */

    if (ngx_array_init(&tenants->ids, cf->pool, ngx_max(tenants->nids, 1),
                       sizeof(ngx_str_t))
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    for (i = 0; i < keys->hsize; i++) {
        vp = tenants->values[i].elts;

        for (k = 0; vp && k < tenants->values[i].nelts; k++) {
            if (vp[k]->id.len == 0) {
                continue;
            }

            id = ngx_array_push(&tenants->ids);
            if (id == NULL) {
                return NGX_CONF_ERROR;
            }

            *id = vp[k]->id;
        }
    }

    if (tenants->hash_bucket_size == NGX_CONF_UNSET_UINT) {
        tenants->hash_bucket_size = ngx_max(NGX_HTTP_ADCP_TENANT_BUCKET_SIZE,
                                            ngx_cacheline_size);
    }

    tenants->hash_bucket_size = ngx_align(tenants->hash_bucket_size,
                                          ngx_cacheline_size);

    if (tenants->hash_max_size == NGX_CONF_UNSET_UINT) {
        /* room for every declared host, whatever their number */
        tenants->hash_max_size = ngx_max(2048, 2 * keys->keys.nelts);
    }

    hash.key = ngx_hash_key_lc;
    hash.max_size = tenants->hash_max_size;
    hash.bucket_size = tenants->hash_bucket_size;
    hash.name = "adcp_tenants_hash";
    hash.pool = cf->pool;

    if (keys->keys.nelts) {
        hash.hash = &tenants->map.hash.hash;
        hash.temp_pool = NULL;

        if (ngx_hash_init(&hash, keys->keys.elts, keys->keys.nelts)
            != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }
    }

    hash.temp_pool = tenants->temp_pool;

    if (ngx_http_adcp_tenants_wildcards(cf, &hash, &keys->dns_wc_head,
                                        &tenants->map.hash.wc_head)
        != NGX_OK
        || ngx_http_adcp_tenants_wildcards(cf, &hash, &keys->dns_wc_tail,
                                           &tenants->map.hash.wc_tail)
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    ngx_destroy_pool(tenants->temp_pool);
    tenants->temp_pool = NULL;
    tenants->keys = NULL;
    tenants->values = NULL;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_adcp_tenants_wildcards(ngx_conf_t *cf, ngx_hash_init_t *hash,
    ngx_array_t *keys, ngx_hash_wildcard_t **wc)
{
    if (keys->nelts == 0) {
        return NGX_OK;
    }

    ngx_qsort(keys->elts, (size_t) keys->nelts, sizeof(ngx_hash_key_t),
              ngx_http_adcp_tenants_cmp);

    hash->hash = NULL;

    if (ngx_hash_wildcard_init(hash, keys->elts, keys->nelts) != NGX_OK) {
        return NGX_ERROR;
    }

    *wc = (ngx_hash_wildcard_t *) hash->hash;

    return NGX_OK;
}


/* the temporary pool of a configuration that failed before its init */

static void
ngx_http_adcp_tenants_cleanup(void *data)
{
    ngx_http_adcp_tenants_t *tenants = data;

    if (tenants->temp_pool) {
        ngx_destroy_pool(tenants->temp_pool);
        tenants->temp_pool = NULL;
    }
}


static int ngx_libc_cdecl
ngx_http_adcp_tenants_cmp(const void *one, const void *two)
{
    ngx_hash_key_t  *first, *second;

    first = (ngx_hash_key_t *) one;
    second = (ngx_hash_key_t *) two;

    return ngx_dns_strcmp(first->key.data, second->key.data);
}


/*
 * the request's tenant: adcp_tenant_key, or the host in adcp_tenants{};
 * a keep-alive connection names one host request after request: the last
 * host this worker found is compared here, inline, the rest is
 * ngx_http_adcp_tenant_lookup()'s
 */

ngx_int_t
ngx_http_adcp_tenant_resolve(ngx_http_request_t *r, ngx_http_adcp_ctx_t *ctx)
{
    ngx_str_t                  *host;
    ngx_http_adcp_tenants_t    *tenants;
    ngx_http_adcp_loc_conf_t   *alcf;
    ngx_http_adcp_main_conf_t  *amcf;

    if (ctx->tenant_done) {
        return NGX_OK;
    }

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_adcp_module);
    amcf = ngx_http_get_module_main_conf(r, ngx_http_adcp_module);

    host = &r->headers_in.server;
    tenants = &amcf->tenants;

    if (alcf->tenant_key == NULL
        && host->len == tenants->last_len && host->len
        && ngx_http_adcp_str_eq(host->data, tenants->last_host, host->len))
    {
        ctx->tenant = &tenants->last->id;
        ctx->tenant_done = 1;
        return NGX_OK;
    }

    return ngx_http_adcp_tenant_lookup(r, ctx, alcf, tenants);
}


static ngx_int_t
ngx_http_adcp_tenant_lookup(ngx_http_request_t *r, ngx_http_adcp_ctx_t *ctx,
    ngx_http_adcp_loc_conf_t *alcf, ngx_http_adcp_tenants_t *tenants)
{
    ngx_int_t  rc;
    ngx_str_t  host, key;

    if (alcf->tenant_key) {
        if (ngx_http_complex_value(r, alcf->tenant_key, &key) != NGX_OK) {
            return NGX_ERROR;
        }

        if (ngx_http_adcp_tenant_id_valid(key.data, key.len)) {
            ctx->tenant = ngx_palloc(r->main->pool, sizeof(ngx_str_t));
            if (ctx->tenant == NULL) {
                return NGX_ERROR;
            }

            *ctx->tenant = key;

        } else if (key.len) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "adcp: the tenant key is not a valid tenant id");
        }

        ctx->tenant_done = 1;
        return NGX_OK;
    }

    /*
     * the host nginx chose (request line, then Host), never $host's
     * fallback to server_name: a request that names no host has no tenant
     */

    host = r->headers_in.server;

    if (host.len == 0) {
        ctx->tenant_done = 1;
        return NGX_OK;
    }

    rc = ngx_http_adcp_tenant_find(r, tenants, &host, &ctx->tenant);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    ctx->tenant_done = 1;

    return NGX_OK;
}


/*
 * NGX_OK and *id: the tenant; NGX_DECLINED: no tenant for this host
 * (none declared, "" declared, or a regex capture that is not an id);
 * NGX_ERROR: out of memory.
 */

ngx_int_t
ngx_http_adcp_tenant_find(ngx_http_request_t *r,
    ngx_http_adcp_tenants_t *tenants, ngx_str_t *host, ngx_str_t **id)
{
    ngx_http_adcp_tenant_value_t  *v;

    v = NULL;

    if (host->len == tenants->last_len && host->len
        && ngx_http_adcp_str_eq(host->data, tenants->last_host, host->len))
    {
        v = tenants->last;

    } else if (host->len) {
        v = ngx_hash_find_combined(&tenants->map.hash,
                                   ngx_hash_key(host->data, host->len),
                                   host->data, host->len);

        if (v && host->len <= NGX_HTTP_ADCP_LAST_HOST) {
            tenants->last = v;
            tenants->last_len = host->len;
            ngx_memcpy(tenants->last_host, host->data, host->len);
        }

#if (NGX_PCRE)
        if (v == NULL && tenants->map.nregex) {
            if (ngx_http_adcp_tenant_regex(r, tenants, host, &v) != NGX_OK) {
                return NGX_ERROR;
            }

            if (v) {
                goto found;
            }
        }
#endif
    }

    if (v == NULL) {
        v = tenants->default_value;

        if (v == NULL) {
            return NGX_DECLINED;
        }
    }

#if (NGX_PCRE)
found:
#endif

    /* the conf's value, or the request's for a regex's captures */

    *id = &v->id;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "adcp tenant: host \"%V\" -> \"%V\"", host, *id);

    return v->id.len ? NGX_OK : NGX_DECLINED;
}


#if (NGX_PCRE)

/*
 * Runs the regexes in order; a value with captures is evaluated at once,
 * while they are there, into a value of this request's pool (returned
 * through *value with its id set).  The request's own captures are put
 * back as they were.
 */

static ngx_int_t
ngx_http_adcp_tenant_regex(ngx_http_request_t *r,
    ngx_http_adcp_tenants_t *tenants, ngx_str_t *host,
    ngx_http_adcp_tenant_value_t **value)
{
    int                           *captures;
    u_char                        *captures_data;
    ngx_int_t                      rc;
    ngx_str_t                      id;
    ngx_uint_t                     i, ncaptures;
    ngx_http_map_regex_t          *re;
    ngx_http_adcp_tenant_value_t  *v;

    captures = r->captures;
    ncaptures = r->ncaptures;
    captures_data = r->captures_data;

    r->captures = NULL;

    re = tenants->map.regex;
    v = NULL;
    rc = NGX_OK;

    for (i = 0; i < tenants->map.nregex; i++) {

        rc = ngx_http_regex_exec(r, re[i].regex, host);

        if (rc == NGX_DECLINED) {
            rc = NGX_OK;
            continue;
        }

        if (rc != NGX_OK) {
            break;
        }

        v = re[i].value;

        if (v->cv == NULL) {
            break;
        }

        if (ngx_http_complex_value(r, v->cv, &id) != NGX_OK) {
            rc = NGX_ERROR;
            break;
        }

        if (!ngx_http_adcp_tenant_id_valid(id.data, id.len)) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "adcp: host \"%V\" gives no valid tenant id",
                          host);
            id.len = 0;
        }

        v = ngx_palloc(r->pool, sizeof(ngx_http_adcp_tenant_value_t));
        if (v == NULL) {
            rc = NGX_ERROR;
            break;
        }

        v->id = id;
        v->cv = NULL;

        break;
    }

    r->captures = captures;
    r->ncaptures = ncaptures;
    r->captures_data = captures_data;

    *value = v;

    return rc;
}

#endif


char *
ngx_http_adcp_tenants(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_adcp_main_conf_t *amcf = conf;

    return ngx_http_adcp_tenants_parse(cf, &amcf->tenants);
}
