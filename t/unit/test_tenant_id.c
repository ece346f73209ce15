
/*
 * Unit tests of tenant id validation: 1-128 bytes of [A-Za-z0-9._-], not
 * starting with a dot.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_adcp_tenant.h"
#include "tap.h"


static int
valid(const char *s)
{
    return ngx_http_adcp_tenant_id_valid((u_char *) s, strlen(s));
}


int
main(void)
{
    int     c, bad;
    u_char  buf[200], one[1];

    tap_ok(valid("wonderstruck"), "a plain id");
    tap_ok(valid("A-b_c.9"), "every class of allowed character");
    tap_ok(!valid("."), "a lone dot is not an id");
    tap_ok(!valid(".."), "two dots are not an id");
    tap_ok(!valid(".hidden"), "a leading dot is not allowed");
    tap_ok(!valid("../a"), "a path up is not an id");
    tap_ok(valid("a.b"), "a dot inside is allowed");
    tap_ok(valid("a."), "a trailing dot is allowed");
    tap_ok(valid("a..b"), "two dots inside are allowed");
    tap_ok(!valid(""), "empty is not an id");
    tap_ok(!ngx_http_adcp_tenant_id_valid((u_char *) "", 0),
           "length 0 is not an id");
    tap_ok(!valid("a b"), "a space is not allowed");
    tap_ok(!valid("a/b"), "a slash is not allowed");
    tap_ok(!valid("caf\xc3\xa9"), "UTF-8 is not allowed");
    tap_ok(!ngx_http_adcp_tenant_id_valid((u_char *) "a\0b", 3),
           "a NUL byte is not allowed");

    memset(buf, 'x', sizeof(buf));
    tap_ok(ngx_http_adcp_tenant_id_valid(buf, 128), "128 bytes");
    tap_ok(!ngx_http_adcp_tenant_id_valid(buf, 129), "129 bytes");
    tap_ok(ngx_http_adcp_tenant_id_valid(buf, 1), "1 byte");

    bad = 0;

    for (c = 0; c < 256; c++) {
        one[0] = (u_char) c;

        if (ngx_http_adcp_tenant_id_valid(one, 1)
            != ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                || (c >= '0' && c <= '9') || c == '_' || c == '-'))
        {
            tap_diag("byte 0x%02x judged wrongly", c);
            bad++;
        }
    }

    tap_ok(bad == 0, "each of the 256 byte values judged as specified (alone)");

    /* a bad byte at either end of a long id */

    memset(buf, 'x', 128);
    buf[0] = '~';
    tap_ok(!ngx_http_adcp_tenant_id_valid(buf, 128), "bad first byte");
    buf[0] = 'x';
    buf[127] = '~';
    tap_ok(!ngx_http_adcp_tenant_id_valid(buf, 128), "bad last byte");

    return tap_done();
}
