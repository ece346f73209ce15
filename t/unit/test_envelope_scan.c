
/*
 * Unit tests of the envelope fast path's steps over JSON
 * (src/ngx_http_adcp_envelope_scan.c): the 16-byte plain mask against the
 * byte-by-byte definition, every scan from every start in buffers of every
 * length to 80 with one byte of each kind at every place (16-byte block
 * edges, the last 16 bytes, buffers shorter than 16), strings with
 * escapes and UTF-8 across blocks, and the value walker against yajl on
 * generated values (every value it steps over, yajl takes; every common
 * one yajl takes, it steps over) and at its depth limit.  Each buffer is
 * its own allocation of its exact size: a read past it is valgrind's and
 * ASan's to see.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <yajl/yajl_parse.h>

#include "ngx_http_adcp_envelope_scan.h"
#include "ngx_stubs.h"
#include "tap.h"


#define TEST_MAX  80


static u_char *test_ref(u_char *p, u_char *end, ngx_uint_t del);
static ngx_uint_t test_yajl(u_char *v, size_t len);
static void test_mask(void);
static void test_scans(void);
static void test_strings(void);
static void test_skip_cases(void);
static void test_skip_generated(void);
static void test_depth(void);
static void gen_value(u_char *b, size_t *n, size_t max, ngx_uint_t depth,
    ngx_uint_t *odd);


static unsigned long  rnd_state = 20261205;


static unsigned long
rnd(void)
{
    rnd_state = rnd_state * 6364136223846793005UL + 1442695040888963407UL;
    return rnd_state >> 33;
}


/* the scans' definition: the first byte from p that is not plain, or end */

static u_char *
test_ref(u_char *p, u_char *end, ngx_uint_t del)
{
    while (p < end && ngx_http_adcp_env_plain(*p, del)) {
        p++;
    }

    return p;
}


/* yajl's verdict on a value alone, as the module's parser is configured */

static ngx_uint_t
test_yajl(u_char *v, size_t len)
{
    ngx_uint_t   ok;
    yajl_handle  h;

    h = yajl_alloc(NULL, NULL, NULL);

    ok = yajl_parse(h, v, len) == yajl_status_ok
         && yajl_complete_parse(h) == yajl_status_ok;

    yajl_free(h);

    return ok;
}


static void
test_mask(void)
{
#if (__SSE2__)
    u_char      buf[16];
    unsigned    bits;
    ngx_uint_t  c, i, del, bad;

    bad = 0;

    for (del = 0; del < 2; del++) {
        for (c = 0; c < 256; c++) {
            for (i = 0; i < 16; i++) {
                ngx_memset(buf, 'a', 16);
                buf[i] = (u_char) c;

                bits = ngx_http_adcp_env_scan_plain(buf, del);

                if (bits != (ngx_http_adcp_env_plain(c, del)
                             ? 0xffffu : (0xffffu & ~(1u << i))))
                {
                    bad++;
                }
            }
        }
    }

    tap_ok(bad == 0, "the 16-byte plain mask is the byte definition for "
           "every byte at every place, DEL plain or not (%lu wrong)", bad);

    bits = ngx_http_adcp_env_ctz(~0xfff0u);
    tap_ok(ngx_http_adcp_env_ctz(0x8000u) == 15
           && ngx_http_adcp_env_ctz(1) == 0 && bits == 0
           && ngx_http_adcp_env_ctz(0xffff0000u) == 16,
           "the bit index: 15, 0, 0, 16");
#else
    tap_skip("no SSE2: the scans are the byte loop");
    tap_skip("no SSE2: no bit index");
#endif
}


/*
 * Every length to 80 (the last byte the closing brace), one byte of each
 * kind at every place or none, every start: scan, scan_del and the inline
 * first step answer what the definition does
 */

static void
test_scans(void)
{
    u_char      *buf, *end, *end16, *p, *r, *ref;
    size_t       len, at;
    ngx_uint_t   k, del, bad, n;

    static const u_char  kinds[] = { '"', '\\', 0x00, 0x1f, 0x7f, 0x80,
                                     0xc3, 0xff, ' ', 'z' };

    bad = 0;
    n = 0;

    for (len = 2; len <= TEST_MAX; len++) {
        for (k = 0; k < sizeof(kinds); k++) {
            for (at = 1; at < len; at++) {

                buf = malloc(len);
                ngx_memset(buf, 'x', len);
                buf[len - 1] = '}';

                if (at < len - 1) {
                    buf[at] = kinds[k];
                }

                end = buf + len - 1;
                end16 = (len >= 16) ? buf + len - 16 : buf;

                for (p = buf + 1; p <= end; p++) {
                    for (del = 0; del < 2; del++) {
                        ref = test_ref(p, end, del);

                        r = del ? ngx_http_adcp_env_scan_del(p, end, end16)
                                : ngx_http_adcp_env_scan(p, end, end16);
                        bad += (r != ref);

                        /* or, 16 plain bytes from p, p + 16 */

                        r = ngx_http_adcp_env_scan16(p, end, end16, del);

                        bad += !(r == ref
                                 || (p < end16 && ref >= p + 16
                                     && r == p + 16));

                        n += 2;
                    }
                }

                free(buf);
            }
        }
    }

    tap_ok(bad == 0, "scans from every start in buffers of 2 to %d bytes, "
           "a quote, a backslash, a control, DEL, UTF-8 at every place "
           "(%lu scans, %lu wrong)", TEST_MAX, n, bad);
}


/*
 * Strings of plain bytes with an escape or a UTF-8 character at every
 * place (across the 16-byte blocks), their closing quote and what follows
 * it found; the broken ones refused
 */

static void
test_strings(void)
{
    u_char      *buf, *end, *end16, *q;
    size_t       len, at, s, total;
    ngx_uint_t   k, bad, n, ok;

    static const struct {
        const char  *text;
        ngx_uint_t   ok;
    } specials[] = {
        { "\\\"", 1 }, { "\\\\", 1 }, { "\\/", 1 }, { "\\n", 1 },
        { "\\u00e9", 1 }, { "\\uD83D\\uDE00", 1 }, { "\xc3\xa9", 1 },
        { "\xe2\x82\xac", 1 }, { "\xf0\x9f\x98\x80", 1 }, { "\x7f", 1 },
        { "\\x", 0 }, { "\\u00g0", 0 }, { "\\u0000", 0 }, { "\x01", 0 },
        { "\xc3", 0 }, { "\xe2\x82", 0 }, { "\xff", 0 }, { "\t", 0 },
        { "\\u12", 0 }
    };

    bad = 0;
    n = 0;

    for (k = 0; k < sizeof(specials) / sizeof(specials[0]); k++) {
        s = strlen(specials[k].text);

        for (len = 0; len <= 70; len++) {
            for (at = 0; at <= len; at++) {

                /* "x..x<special>x..x"} with a byte after the quote */

                total = 1 + len + s + 1 + 1 + 1;
                buf = malloc(total);
                buf[0] = '"';
                ngx_memset(buf + 1, 'y', len);
                ngx_memcpy(buf + 1 + at, specials[k].text, s);
                ngx_memset(buf + 1 + at + s, 'y', len - at);
                buf[1 + len + s] = '"';
                buf[total - 2] = ',';
                buf[total - 1] = '}';

                end = buf + total - 1;
                end16 = (total >= 16) ? buf + total - 16 : buf;

                q = ngx_http_adcp_env_scan16(buf + 1, end, end16, 0);

                if (*q != '"') {
                    q = ngx_http_adcp_env_scan_string(q, end, end16);
                }

                ok = (q == buf + 1 + len + s);
                bad += (specials[k].ok ? !ok : q != NULL);
                n++;

                free(buf);
            }
        }
    }

    tap_ok(bad == 0, "strings to 70 bytes with an escape or UTF-8 at every "
           "place: the closing quote, or refused when broken (%lu strings, "
           "%lu wrong)", n, bad);
}


static void
test_skip_cases(void)
{
    u_char      *buf, *end, *end16, *r;
    size_t       len;
    ngx_uint_t   i, bad;

    static const struct {
        const char  *value;
        ngx_uint_t   ok;        /* 1: stepped over; 0: refused; 2: left
                                   to yajl, which takes it */
    } cases[] = {
        { "{}", 1 }, { "[]", 1 }, { "{ }", 1 }, { "[\n]", 1 },
        { "{\"a\":1}", 1 }, { "[1,2,3]", 1 }, { "[\"a\",\"b\"]", 1 },
        { "{\"a\":{\"b\":[true,false,null,-0.5e+3]}}", 1 },
        { "{ \"a\" : [ 1 , { \"b\" : \"c\" } ] }", 1 },
        { "{\"\\u00e9\\\"\":\"\xc3\xa9\"}", 1 }, { "12", 1 }, { "-0", 1 },
        { "1.5E-7", 1 }, { "true", 1 }, { "null", 1 },
        { "{\"long\":\"0123456789abcdef0123456789abcdef0123456789ab\"}", 1 },
        { "{\"a\":1,}", 0 }, { "[1,]", 0 }, { "{\"a\"}", 0 },
        { "{\"a\":}", 0 }, { "[1 2]", 0 }, { "{\"a\":1]", 0 },
        { "[1}", 0 }, { "{\"a\":01}", 0 }, { "[-]", 0 }, { "[1.]", 0 },
        { "[1e]", 0 }, { "[tru]", 0 }, { "[nulll]", 0 }, { "{a:1}", 0 },
        { "[\"\\u0000\"]", 2 }, { "[\"a\x01\"]", 0 }, { "[\x0c]", 2 },
        { "[\v1]", 2 },
        { "{\"a\":1", 0 }, { "[[[", 0 }, { "[\"abc", 0 }, { "[.5]", 0 }
    };

    bad = 0;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {

        /* the value, then the body's closing brace */

        len = strlen(cases[i].value) + 1;
        buf = malloc(len);
        ngx_memcpy(buf, cases[i].value, len - 1);
        buf[len - 1] = '}';

        end = buf + len - 1;
        end16 = (len >= 16) ? buf + len - 16 : buf;

        r = ngx_http_adcp_env_skip(buf, end, end16);

        if (cases[i].ok == 1 ? r != end : r != NULL) {
            tap_diag("skip '%s': %s", cases[i].value,
                     r ? "stepped over" : "refused");
            bad++;
        }

        if ((cases[i].ok != 0) != test_yajl(buf, len - 1)) {
            tap_diag("yajl on '%s' disagrees with the table", cases[i].value);
            bad++;
        }

        free(buf);
    }

    tap_ok(bad == 0, "the value walker on %lu values: stepped over or "
           "refused as yajl does (a \\u0000, \\f and \\v left to it)",
           (ngx_uint_t) i);
}


/*
 * A value of arrays, objects, strings (plain runs with escapes, UTF-8,
 * DEL, controls at random places), numbers and literals; *odd set when
 * something in it is one the walker may leave to yajl (a \u0000, \f)
 */

static void
gen_value(u_char *b, size_t *n, size_t max, ngx_uint_t depth,
    ngx_uint_t *odd)
{
    size_t       len, i;
    ngx_uint_t   k, items;

    static const char  *pieces[] = {
        "\\\"", "\\\\", "\\n", "\\u00e9", "\\u0000", "\xc3\xa9",
        "\xe2\x82\xac", "\x7f", "\x01", "\xc3", "\\q", "\\u12G4"
    };

    static const char  *scalars[] = {
        "0", "-12", "3.25", "1e5", "-0.5E-2", "true", "false", "null",
        "01", "1.", "-", "tru", "1e+", "nul"
    };

#define gen_put(s, l)                                                        \
    if (*n + (l) < max) {                                                    \
        ngx_memcpy(b + *n, s, l);                                            \
        *n += l;                                                             \
    }

    if (*n + 8 >= max) {
        gen_put("0", 1);
        return;
    }

    switch (depth > 5 ? 2 + rnd() % 2 : rnd() % 4) {

    case 0:
    case 1:
        gen_put(rnd() % 2 ? "[" : "{", 1);

        if (b[*n - 1] == '{') {
            items = rnd() % 4;

            for (i = 0; i < items; i++) {
                if (i && rnd() % 8) {
                    gen_put(",", 1);

                } else if (i) {
                    gen_put(" ,\n", 3);
                }

                gen_put("\"k\":", 4);
                gen_value(b, n, max, depth + 1, odd);
            }

            gen_put("}", 1);

        } else {
            items = rnd() % 4;

            for (i = 0; i < items; i++) {
                if (i) {
                    gen_put(",", 1);
                }

                gen_value(b, n, max, depth + 1, odd);
            }

            gen_put("]", 1);
        }

        break;

    case 2:
        gen_put("\"", 1);
        len = rnd() % 40;

        for (i = 0; i < len; i++) {
            gen_put("a", 1);
        }

        if (rnd() % 2) {
            k = rnd() % (sizeof(pieces) / sizeof(pieces[0]));

            if (k == 4) {
                *odd = 1;
            }

            gen_put(pieces[k], strlen(pieces[k]));
        }

        len = rnd() % 40;

        for (i = 0; i < len; i++) {
            gen_put("b", 1);
        }

        gen_put("\"", 1);
        break;

    default:
        k = rnd() % (sizeof(scalars) / sizeof(scalars[0]));
        gen_put(scalars[k], strlen(scalars[k]));
        break;
    }

#undef gen_put
}


static void
test_skip_generated(void)
{
    u_char      *buf, *end, *end16, *r, v[2048];
    size_t       n;
    ngx_uint_t   i, odd, yes, bad, stepped, taken;

    bad = 0;
    stepped = 0;
    taken = 0;

    for (i = 0; i < 20000; i++) {
        n = 0;
        odd = 0;
        v[n++] = '[';
        gen_value(v, &n, sizeof(v) - 2, 1, &odd);
        v[n++] = ']';

        buf = malloc(n + 1);
        ngx_memcpy(buf, v, n);
        buf[n] = '}';

        end = buf + n;
        end16 = (n + 1 >= 16) ? buf + n + 1 - 16 : buf;

        r = ngx_http_adcp_env_skip(buf, end, end16);
        yes = test_yajl(buf, n);

        stepped += (r != NULL);
        taken += yes;

        if ((r != NULL && (r != end || !yes)) || (r == NULL && yes && !odd)) {
            if (bad++ < 5) {
                tap_diag("'%.*s': walker %s, yajl %s", (int) n, buf,
                         r ? "steps over" : "refuses",
                         yes ? "takes it" : "refuses");
            }
        }

        free(buf);
    }

    tap_ok(bad == 0, "20000 generated values: the walker steps over those "
           "yajl takes (%lu of %lu taken), refuses the rest (%lu wrong)",
           stepped, taken, bad);
}


/* 62 levels of arrays are stepped over, 63 are left to yajl */

static void
test_depth(void)
{
    u_char      *buf, *end, *end16;
    size_t       len, i;
    ngx_uint_t   levels, r[2];

    for (levels = 62; levels <= 63; levels++) {
        len = 2 * levels + 1;
        buf = malloc(len);

        for (i = 0; i < levels; i++) {
            buf[i] = '[';
            buf[2 * levels - 1 - i] = ']';
        }

        buf[len - 1] = '}';
        end = buf + len - 1;
        end16 = (len >= 16) ? buf + len - 16 : buf;

        r[levels - 62] = (ngx_http_adcp_env_skip(buf, end, end16) == end);

        free(buf);
    }

    tap_ok(r[0] && !r[1], "62 levels stepped over, 63 left to yajl");
}


int
main(void)
{
    test_mask();
    test_scans();
    test_strings();
    test_skip_cases();
    test_skip_generated();
    test_depth();

    return tap_done();
}
