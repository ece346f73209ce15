
/*
 * ngx_http_adcp_module: the short strings of the hit path (a host, a
 * tenant id, a task name) compared inline.
 */


#ifndef _NGX_HTTP_ADCP_STR_H_INCLUDED_
#define _NGX_HTTP_ADCP_STR_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * n bytes at a and at b are the same: eight at a time, the last eight
 * overlapping what was compared (four, or one at a time, below eight),
 * never reading outside either string; no call (memcmp() costs a call
 * and its own dispatch for the 10-25 bytes these strings have)
 */

static ngx_inline ngx_uint_t
ngx_http_adcp_str_eq(u_char *a, u_char *b, size_t n)
{
    uint32_t  a4, b4, c4, d4;
    uint64_t  a8, b8;

    if (n >= 8) {
        while (n > 8) {
            ngx_memcpy(&a8, a, 8);
            ngx_memcpy(&b8, b, 8);

            if (a8 != b8) {
                return 0;
            }

            a += 8;
            b += 8;
            n -= 8;
        }

        ngx_memcpy(&a8, a + n - 8, 8);
        ngx_memcpy(&b8, b + n - 8, 8);

        return a8 == b8;
    }

    if (n >= 4) {
        ngx_memcpy(&a4, a, 4);
        ngx_memcpy(&b4, b, 4);
        ngx_memcpy(&c4, a + n - 4, 4);
        ngx_memcpy(&d4, b + n - 4, 4);

        return ((a4 ^ b4) | (c4 ^ d4)) == 0;
    }

    while (n--) {
        if (*a++ != *b++) {
            return 0;
        }
    }

    return 1;
}


/* s is the n bytes at p */

#define ngx_http_adcp_str_is(s, p, n)                                         \
    ((s)->len == (n) && ngx_http_adcp_str_eq((s)->data, p, n))


#endif /* _NGX_HTTP_ADCP_STR_H_INCLUDED_ */
