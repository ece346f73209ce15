
/*
 * ngx_http_adcp_module: the one small JSON writer used by errors, status
 * and tasks, and the one parse (yajl_tree, depth-checked, the tree freed
 * with a pool) used where JSON is read.  Output is sized first, then
 * filled: every "_len" function has a writer twin that returns the
 * position after what it wrote.
 */


#ifndef _NGX_HTTP_ADCP_JSON_H_INCLUDED_
#define _NGX_HTTP_ADCP_JSON_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include <yajl/yajl_tree.h>
#include <yajl/yajl_gen.h>


size_t ngx_http_adcp_json_escape_len(u_char *src, size_t size);
u_char *ngx_http_adcp_json_escape(u_char *dst, u_char *src, size_t size);

size_t ngx_http_adcp_json_str_len(ngx_str_t *s);
u_char *ngx_http_adcp_json_str(u_char *p, ngx_str_t *s);

ngx_uint_t ngx_http_adcp_json_type(ngx_str_t *content_type);
ngx_uint_t ngx_http_adcp_json_type_exact(ngx_str_t *content_type);
yajl_val ngx_http_adcp_json_parse(ngx_pool_t *pool, u_char *p, size_t len,
    ngx_uint_t max);
yajl_val ngx_http_adcp_json_get(yajl_val obj, char *key);
char *ngx_http_adcp_json_repeated(yajl_val obj, char **keys);
ngx_uint_t ngx_http_adcp_json_depth_ok(u_char *p, u_char *last,
    ngx_uint_t max);
ngx_int_t ngx_http_adcp_json_gen(yajl_gen g, yajl_val v);


#define ngx_http_adcp_json_lit(p, s)  ngx_cpymem(p, s, sizeof(s) - 1)


/*
 * 16 bytes from p are "application/json" in any case: two 8-byte words,
 * a letter's case bit masked (ngx_strncasecmp's reading, its per-byte
 * cost about 280 instructions a request)
 */

static ngx_inline ngx_uint_t
ngx_http_adcp_json_is_application_json(u_char *p)
{
    uint64_t  a, b, la, lb, ma, mb;

    static const u_char  lit[] = "application/json";
    static const u_char  mask[] = {
        0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
        0x20, 0x20, 0x20, 0x00, 0x20, 0x20, 0x20, 0x20
    };

    ngx_memcpy(&a, p, 8);
    ngx_memcpy(&b, p + 8, 8);
    ngx_memcpy(&la, lit, 8);
    ngx_memcpy(&lb, lit + 8, 8);
    ngx_memcpy(&ma, mask, 8);
    ngx_memcpy(&mb, mask + 8, 8);

    return ((a | ma) == la) & ((b | mb) == lb);
}


#endif /* _NGX_HTTP_ADCP_JSON_H_INCLUDED_ */
