
/*
 * ngx_http_adcp_module: what the envelope's two readers share (the yajl
 * parse in ngx_http_adcp_envelope.c, the fast path in
 * ngx_http_adcp_envelope_fast.c); nothing else includes it.
 */


#ifndef _NGX_HTTP_ADCP_ENVELOPE_PRIVATE_H_INCLUDED_
#define _NGX_HTTP_ADCP_ENVELOPE_PRIVATE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/* what the next value is */
#define NGX_HTTP_ADCP_K_NONE       0
#define NGX_HTTP_ADCP_K_TOP        1
#define NGX_HTTP_ADCP_K_ID         2
#define NGX_HTTP_ADCP_K_METHOD     3
#define NGX_HTTP_ADCP_K_PARAMS     4
#define NGX_HTTP_ADCP_K_NAME       5
#define NGX_HTTP_ADCP_K_MESSAGE    6
#define NGX_HTTP_ADCP_K_PARTS      7
#define NGX_HTTP_ADCP_K_PART       8
#define NGX_HTTP_ADCP_K_KIND       9
#define NGX_HTTP_ADCP_K_DATA       10
#define NGX_HTTP_ADCP_K_SKILL      11
#define NGX_HTTP_ADCP_K_JSONRPC    12       /* read for repeats only */
#define NGX_HTTP_ADCP_K_ARGUMENTS  13
#define NGX_HTTP_ADCP_K_CONTEXT    14
#define NGX_HTTP_ADCP_K_PARAMETERS 15
#define NGX_HTTP_ADCP_K_INPUT      16


#define ngx_http_adcp_env_is(s, l, lit)                                      \
    ((l) == sizeof(lit) - 1 && ngx_memcmp(s, lit, sizeof(lit) - 1) == 0)


ngx_uint_t ngx_http_adcp_env_method_kind(u_char *s, size_t len);


#endif /* _NGX_HTTP_ADCP_ENVELOPE_PRIVATE_H_INCLUDED_ */
