
/*
 * ngx_http_adcp_module: AdCP errors in the request's transport form
 * (SPEC section 3).  Every feature answers its errors through here.
 */


#ifndef _NGX_HTTP_ADCP_ERROR_H_INCLUDED_
#define _NGX_HTTP_ADCP_ERROR_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_adcp_envelope.h"


#define NGX_HTTP_ADCP_ERR_ACCOUNT_NOT_FOUND     0
#define NGX_HTTP_ADCP_ERR_UNSUPPORTED_FEATURE   1
#define NGX_HTTP_ADCP_ERR_INVALID_REQUEST       2
#define NGX_HTTP_ADCP_ERR_SERVICE_UNAVAILABLE   3
#define NGX_HTTP_ADCP_ERR_RATE_LIMITED          4
#define NGX_HTTP_ADCP_ERR_IDEMPOTENCY_CONFLICT  5
#define NGX_HTTP_ADCP_ERR_REFERENCE_NOT_FOUND   6

#define NGX_HTTP_ADCP_RETRY_AFTER_MAX           3600


typedef struct {
    ngx_uint_t   code;          /* NGX_HTTP_ADCP_ERR_* */
    ngx_str_t    message;       /* never upstream names or factory output */
    ngx_str_t    field;         /* "" = none */
    ngx_uint_t   status;        /* HTTP status of the plain form; 0 = the
                                   code's own */
    time_t       retry_after;   /* seconds, 0 = none; sent clamped to
                                   1..3600 */
} ngx_http_adcp_error_t;


ngx_http_adcp_error_t *ngx_http_adcp_error_unavailable(ngx_pool_t *pool,
    ngx_msec_t until);
ngx_int_t ngx_http_adcp_error_send(ngx_http_request_t *r,
    ngx_http_adcp_envelope_t *env, ngx_http_adcp_error_t *err);
ngx_int_t ngx_http_adcp_error_headers(ngx_http_request_t *r,
    ngx_http_adcp_error_t *err, ngx_uint_t status, size_t len);
ngx_int_t ngx_http_adcp_error_body(ngx_pool_t *pool,
    ngx_http_adcp_envelope_t *env, ngx_http_adcp_error_t *err,
    ngx_str_t *body, ngx_uint_t *status);


#endif /* _NGX_HTTP_ADCP_ERROR_H_INCLUDED_ */
