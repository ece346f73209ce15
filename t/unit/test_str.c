
/*
 * Unit tests of ngx_http_adcp_str_eq(): every length from 0 to 40, a
 * difference at every position, strings placed at every alignment, and
 * nothing read outside either string (under valgrind: make
 * test-valgrind; each string is copied to the end of its own buffer).
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_adcp_str.h"
#include "tap.h"


#define MAXLEN  40


int
main(void)
{
    u_char      *a, *b;
    size_t       n, i, off;
    ngx_uint_t   bad, eq;
    u_char       src[MAXLEN];

    for (i = 0; i < MAXLEN; i++) {
        src[i] = (u_char) ('a' + i % 26);
    }

    bad = 0;

    for (n = 0; n <= MAXLEN; n++) {
        for (off = 0; off < 8; off++) {

            /* each string ends where its allocation does */

            a = malloc(n + off);
            b = malloc(n + 7 - off);

            if (a == NULL || b == NULL) {
                return 1;
            }

            ngx_memcpy(a + off, src, n);
            ngx_memcpy(b + 7 - off, src, n);

            if (!ngx_http_adcp_str_eq(a + off, b + 7 - off, n)) {
                tap_ok(0, "%d bytes at offsets %d and %d: equal",
                       (int) n, (int) off, (int) (7 - off));
                bad++;
            }

            for (i = 0; i < n; i++) {
                b[7 - off + i] ^= 0x20;
                eq = ngx_http_adcp_str_eq(a + off, b + 7 - off, n);
                b[7 - off + i] ^= 0x20;

                if (eq) {
                    tap_ok(0, "%d bytes, byte %d differs: not equal",
                           (int) n, (int) i);
                    bad++;
                }

                /* a difference in the high bit of a byte, as in UTF-8 */

                b[7 - off + i] ^= 0x80;
                eq = ngx_http_adcp_str_eq(a + off, b + 7 - off, n);
                b[7 - off + i] ^= 0x80;

                if (eq) {
                    tap_ok(0, "%d bytes, byte %d's high bit differs: not "
                           "equal", (int) n, (int) i);
                    bad++;
                }
            }

            free(a);
            free(b);
        }
    }

    tap_ok(bad == 0, "lengths 0-%d at 8 alignments: equal strings equal, "
           "a byte changed anywhere not", MAXLEN);

    tap_ok(ngx_http_adcp_str_is(&(ngx_str_t) ngx_string("get_products"),
                                (u_char *) "get_products", 12),
           "ngx_http_adcp_str_is: same length and bytes");
    tap_ok(!ngx_http_adcp_str_is(&(ngx_str_t) ngx_string("get_products"),
                                 (u_char *) "get_product", 11),
           "ngx_http_adcp_str_is: a prefix is not the string");

    return tap_done();
}
