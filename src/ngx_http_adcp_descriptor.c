
/*
 * ngx_http_adcp_module: parsing the platform descriptor.
 *
 *   {"upstream": "gam_adapter",              required: upstream{} or host:port
 *    "authorization": "Bearer ...",           optional, never logged
 *    "capabilities": ["get_products", ...],   optional: other tasks refused
 *    "routes": {"get_products": "engine"},    optional: task -> upstream
 *    "ttl": 900,                              optional, seconds
 *    "vars": {"network_code": "123456"}}      optional: $adcp_platform_<name>
 *
 * Anything else is ignored.  The body is at most 64k (the caller checks),
 * NUL-terminated, and is refused before yajl's tree parser sees it when it
 * nests deeper than 32 levels (the tree is freed recursively).  What the
 * platform keeps is copied into its own pool; the tree is freed at once.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <yajl/yajl_tree.h>

#include "ngx_http_adcp_descriptor.h"
#include "ngx_http_adcp_json.h"
#include "ngx_http_adcp_str.h"


#define NGX_HTTP_ADCP_UPSTREAM_MAX  255
#define NGX_HTTP_ADCP_VAR_NAME_MAX  64


static const char *ngx_http_adcp_descriptor_fill(
    ngx_http_adcp_platform_t *pf, yajl_val root);
static ngx_int_t ngx_http_adcp_copy_upstream(ngx_http_adcp_platform_t *pf,
    yajl_val v, ngx_str_t *dst);
static ngx_int_t ngx_http_adcp_copy_string(ngx_pool_t *pool, yajl_val v,
    ngx_str_t *dst);
static ngx_array_t *ngx_http_adcp_copy_map(ngx_http_adcp_platform_t *pf,
    yajl_val v, ngx_uint_t upstreams);
static ngx_uint_t ngx_http_adcp_upstream_valid(u_char *p, size_t len);
static ngx_uint_t ngx_http_adcp_var_name_valid(const char *p, size_t len);


/* tasks the AdCP A2A profile requires whatever the capabilities say */

static ngx_str_t  ngx_http_adcp_always_allowed[] = {
    ngx_string("get_adcp_capabilities"),
    ngx_string("get_task_status"),
    ngx_string("tasks/get"),
    ngx_null_string
};


/*
 * A platform with one reference (the caller's), or NULL with *why set
 * (a fixed string naming what is wrong, never the body's content).
 */

ngx_http_adcp_platform_t *
ngx_http_adcp_descriptor_parse(ngx_str_t *tenant, u_char *data, size_t len,
    ngx_log_t *log, const char **why)
{
    yajl_val                   root;
    ngx_pool_t                *pool, *tmp;
    ngx_http_adcp_platform_t  *pf;

    if (len > NGX_HTTP_ADCP_DESCRIPTOR_MAX) {
        *why = "the descriptor is over 64k";
        return NULL;
    }

    if (!ngx_http_adcp_json_depth_ok(data, data + len,
                                     NGX_HTTP_ADCP_DESCRIPTOR_DEPTH))
    {
        *why = "the descriptor nests too deeply";
        return NULL;
    }

    /* the tree lives as long as the parse: a pool of its own */

    tmp = ngx_create_pool(1024, log);
    if (tmp == NULL) {
        *why = "out of memory";
        return NULL;
    }

    root = ngx_http_adcp_json_parse(tmp, data, len,
                                    NGX_HTTP_ADCP_DESCRIPTOR_DEPTH);

    if (root == NULL) {
        ngx_destroy_pool(tmp);
        *why = "the descriptor is not JSON";
        return NULL;
    }

    pool = ngx_create_pool(1024, log);
    if (pool == NULL) {
        ngx_destroy_pool(tmp);
        *why = "out of memory";
        return NULL;
    }

    pf = ngx_pcalloc(pool, sizeof(ngx_http_adcp_platform_t));
    if (pf == NULL) {
        goto nomem;
    }

    pf->pool = pool;
    pf->refs = 1;
    pf->built = ngx_current_msec;

    pf->tenant.data = ngx_pstrdup(pool, tenant);
    if (pf->tenant.data == NULL) {
        goto nomem;
    }

    pf->tenant.len = tenant->len;

    *why = ngx_http_adcp_descriptor_fill(pf, root);

    ngx_destroy_pool(tmp);

    if (*why) {
        ngx_destroy_pool(pool);
        return NULL;
    }

    return pf;

nomem:

    ngx_destroy_pool(tmp);
    ngx_destroy_pool(pool);
    *why = "out of memory";

    return NULL;
}


static const char *
ngx_http_adcp_descriptor_fill(ngx_http_adcp_platform_t *pf, yajl_val root)
{
    size_t       i, k;
    yajl_val     v, item;
    ngx_str_t   *s;
    const char  *key;

    if (!YAJL_IS_OBJECT(root)) {
        return "the descriptor is not a JSON object";
    }

    for (i = 0; i < root->u.object.len; i++) {
        key = root->u.object.keys[i];
        v = root->u.object.values[i];

        if (ngx_strcmp(key, "upstream") == 0) {
            if (ngx_http_adcp_copy_upstream(pf, v, &pf->upstream) != NGX_OK) {
                return "\"upstream\" is not an upstream name or host:port";
            }

        } else if (ngx_strcmp(key, "authorization") == 0) {
            if (ngx_http_adcp_copy_string(pf->pool, v, &pf->authorization)
                != NGX_OK)
            {
                return "\"authorization\" is not a string";
            }

        } else if (ngx_strcmp(key, "capabilities") == 0) {
            if (!YAJL_IS_ARRAY(v)) {
                return "\"capabilities\" is not an array";
            }

            pf->capabilities = ngx_array_create(pf->pool,
                                                ngx_max(v->u.array.len, 1),
                                                sizeof(ngx_str_t));
            if (pf->capabilities == NULL) {
                return "out of memory";
            }

            for (k = 0; k < v->u.array.len; k++) {
                item = v->u.array.values[k];

                s = ngx_array_push(pf->capabilities);
                if (s == NULL) {
                    return "out of memory";
                }

                if (ngx_http_adcp_copy_string(pf->pool, item, s) != NGX_OK) {
                    return "\"capabilities\" holds something not a string";
                }
            }

        } else if (ngx_strcmp(key, "routes") == 0) {
            pf->routes = ngx_http_adcp_copy_map(pf, v, 1);
            if (pf->routes == NULL) {
                return "\"routes\" is not an object of upstreams";
            }

        } else if (ngx_strcmp(key, "vars") == 0) {
            pf->vars = ngx_http_adcp_copy_map(pf, v, 0);
            if (pf->vars == NULL) {
                return "\"vars\" is not an object of strings";
            }

        } else if (ngx_strcmp(key, "ttl") == 0) {
            if (!YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < 0
                || YAJL_GET_INTEGER(v) > 365 * 86400)
            {
                return "\"ttl\" is not a number of seconds";
            }

            pf->ttl = (ngx_msec_t) YAJL_GET_INTEGER(v) * 1000;
        }
    }

    if (pf->upstream.len == 0) {
        return "the descriptor has no \"upstream\"";
    }

    return NULL;
}


static ngx_int_t
ngx_http_adcp_copy_upstream(ngx_http_adcp_platform_t *pf, yajl_val v,
    ngx_str_t *dst)
{
    if (ngx_http_adcp_copy_string(pf->pool, v, dst) != NGX_OK
        || !ngx_http_adcp_upstream_valid(dst->data, dst->len))
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_adcp_copy_string(ngx_pool_t *pool, yajl_val v, ngx_str_t *dst)
{
    char  *s;

    if (!YAJL_IS_STRING(v)) {
        return NGX_ERROR;
    }

    s = YAJL_GET_STRING(v);

    dst->len = ngx_strlen(s);
    dst->data = ngx_pnalloc(pool, dst->len + 1);
    if (dst->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(dst->data, s, dst->len + 1);

    return NGX_OK;
}


static ngx_array_t *
ngx_http_adcp_copy_map(ngx_http_adcp_platform_t *pf, yajl_val v,
    ngx_uint_t upstreams)
{
    size_t         i;
    const char    *key;
    ngx_array_t   *a;
    ngx_keyval_t  *kv;

    if (!YAJL_IS_OBJECT(v)) {
        return NULL;
    }

    a = ngx_array_create(pf->pool, ngx_max(v->u.object.len, 1),
                         sizeof(ngx_keyval_t));
    if (a == NULL) {
        return NULL;
    }

    for (i = 0; i < v->u.object.len; i++) {
        key = v->u.object.keys[i];

        if (!upstreams
            && !ngx_http_adcp_var_name_valid(key, ngx_strlen(key)))
        {
            return NULL;
        }

        kv = ngx_array_push(a);
        if (kv == NULL) {
            return NULL;
        }

        kv->key.len = ngx_strlen(key);
        kv->key.data = ngx_pnalloc(pf->pool, kv->key.len + 1);
        if (kv->key.data == NULL) {
            return NULL;
        }

        ngx_memcpy(kv->key.data, key, kv->key.len + 1);

        if (upstreams) {
            if (ngx_http_adcp_copy_upstream(pf, v->u.object.values[i],
                                            &kv->value)
                != NGX_OK)
            {
                return NULL;
            }

        } else if (ngx_http_adcp_copy_string(pf->pool, v->u.object.values[i],
                                             &kv->value)
                   != NGX_OK)
        {
            return NULL;
        }
    }

    return a;
}


/* an upstream{} name, host:port or [v6]:port: no scheme, path or space */

static ngx_uint_t
ngx_http_adcp_upstream_valid(u_char *p, size_t len)
{
    u_char  c;

    if (len == 0 || len > NGX_HTTP_ADCP_UPSTREAM_MAX) {
        return 0;
    }

    while (len--) {
        c = *p++;

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'
            || c == ':' || c == '[' || c == ']')
        {
            continue;
        }

        return 0;
    }

    return 1;
}


static ngx_uint_t
ngx_http_adcp_var_name_valid(const char *p, size_t len)
{
    u_char  c;

    if (len == 0 || len > NGX_HTTP_ADCP_VAR_NAME_MAX) {
        return 0;
    }

    while (len--) {
        c = *p++;

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9') || c == '_')
        {
            continue;
        }

        return 0;
    }

    return 1;
}


/* the upstream for a task: its route, or the platform's upstream */

ngx_str_t *
ngx_http_adcp_platform_upstream(ngx_http_adcp_platform_t *pf, ngx_str_t *task)
{
    ngx_uint_t     i;
    ngx_keyval_t  *kv;

    if (pf->routes && task->len) {
        kv = pf->routes->elts;

        for (i = 0; i < pf->routes->nelts; i++) {
            if (kv[i].key.len == task->len
                && ngx_memcmp(kv[i].key.data, task->data, task->len) == 0)
            {
                return &kv[i].value;
            }
        }
    }

    return &pf->upstream;
}


/*
 * The task is one of the platform's capabilities (looked at first: the
 * task asked is nearly always one), or one the profile requires
 */

ngx_uint_t
ngx_http_adcp_platform_allows(ngx_http_adcp_platform_t *pf, ngx_str_t *task)
{
    ngx_str_t   *s, *last;

    if (pf->capabilities == NULL || task->len == 0) {
        return 1;
    }

    s = pf->capabilities->elts;

    for (last = s + pf->capabilities->nelts; s < last; s++) {
        if (ngx_http_adcp_str_is(s, task->data, task->len)) {
            return 1;
        }
    }

    for (s = ngx_http_adcp_always_allowed; s->len; s++) {
        if (ngx_http_adcp_str_is(s, task->data, task->len)) {
            return 1;
        }
    }

    return 0;
}


ngx_str_t *
ngx_http_adcp_platform_var(ngx_http_adcp_platform_t *pf, u_char *name,
    size_t len)
{
    ngx_uint_t     i;
    ngx_keyval_t  *kv;

    if (pf->vars == NULL) {
        return NULL;
    }

    kv = pf->vars->elts;

    for (i = 0; i < pf->vars->nelts; i++) {
        if (kv[i].key.len == len
            && ngx_memcmp(kv[i].key.data, name, len) == 0)
        {
            return &kv[i].value;
        }
    }

    return NULL;
}
