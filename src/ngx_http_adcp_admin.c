
/*
 * ngx_http_adcp_module: the admin endpoint (SPEC section 5).
 *
 *   POST ?invalidate=<tenant>   every worker of the host drops the tenant's
 *   POST ?invalidate=*          (every tenant's) platform on its next
 *                               request for it: the shared zone's
 *                               generation moves before the reply
 *   POST ?recheck=<tenant>      every worker rebuilds it on its next
 *                               request, serving the old one if that fails
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_adcp.h"
#include "ngx_http_adcp_admin.h"


static ngx_int_t ngx_http_adcp_admin_reply(ngx_http_request_t *r,
    ngx_str_t *action, ngx_str_t *tenant);


ngx_int_t
ngx_http_adcp_admin_handler(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    ngx_str_t                   arg, action;
    ngx_uint_t                  recheck;
    ngx_http_adcp_main_conf_t  *amcf;

    if (r->method != NGX_HTTP_POST) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    recheck = 0;

    if (ngx_http_arg(r, (u_char *) "invalidate", 10, &arg) == NGX_OK) {
        ngx_str_set(&action, "invalidated");

    } else if (ngx_http_arg(r, (u_char *) "recheck", 7, &arg) == NGX_OK) {
        ngx_str_set(&action, "rechecked");
        recheck = 1;

    } else {
        return NGX_HTTP_BAD_REQUEST;
    }

    if (!ngx_http_adcp_tenant_id_valid(arg.data, arg.len)
        && !(arg.len == 1 && arg.data[0] == '*' && !recheck))
    {
        return NGX_HTTP_BAD_REQUEST;
    }

    amcf = ngx_http_get_module_main_conf(r, ngx_http_adcp_module);

    if (!amcf->platforms) {
        return NGX_HTTP_NOT_FOUND;
    }

    ngx_http_adcp_zone_invalidate(&amcf->zone,
                                  arg.data[0] == '*' ? NULL : &arg, recheck);

    /* and at once in this worker, for a tenant the zone had no room for */

    if (ngx_http_adcp_worker && !recheck) {
        ngx_http_adcp_cache_invalidate(&ngx_http_adcp_worker->cache,
                                       arg.data[0] == '*' ? NULL : &arg);
    }

    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                  "adcp: %V \"%V\"", &action, &arg);

    return ngx_http_adcp_admin_reply(r, &action, &arg);
}


static ngx_int_t
ngx_http_adcp_admin_reply(ngx_http_request_t *r, ngx_str_t *action,
    ngx_str_t *tenant)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    b = ngx_create_temp_buf(r->pool, sizeof("{\"\":\"\",\"scope\":\"host\"}")
                                     + action->len + tenant->len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_sprintf(b->last, "{\"%V\":\"%V\",\"scope\":\"host\"}",
                          action, tenant);
    b->last_buf = 1;
    b->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}
