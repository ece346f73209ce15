
/*
 * ngx_http_adcp_module: the admin endpoint (SPEC section 5).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_adcp.h"
#include "ngx_http_adcp_admin.h"


/*
 * POST ?invalidate=<tenant>|*: drops the platform in this worker now.
 * (The shared zone makes it host-wide.)
 */

ngx_int_t
ngx_http_adcp_admin_handler(ngx_http_request_t *r)
{
    size_t        len;
    u_char       *p;
    ngx_int_t     rc;
    ngx_str_t     arg;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    if (r->method != NGX_HTTP_POST) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_arg(r, (u_char *) "invalidate", 10, &arg) != NGX_OK
        || !(ngx_http_adcp_tenant_id_valid(arg.data, arg.len)
             || (arg.len == 1 && arg.data[0] == '*')))
    {
        return NGX_HTTP_BAD_REQUEST;
    }

    if (ngx_http_adcp_worker) {
        ngx_http_adcp_cache_invalidate(&ngx_http_adcp_worker->cache,
                                       arg.data[0] == '*' ? NULL : &arg);
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "adcp: invalidated \"%V\"", &arg);

    len = sizeof("{\"invalidated\":\"\",\"scope\":\"worker\"}") - 1
          + arg.len;

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(b->last, "{\"invalidated\":\"%V\",\"scope\":\"worker\"}",
                    &arg);
    b->last = p;
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
