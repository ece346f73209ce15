
/*
 * ngx_http_adcp_module: the envelope fast path's string scan (included by
 * ngx_http_adcp_envelope_fast.c and its unit test only): from a byte in a
 * string, the first byte where plain text stops, 16 bytes a step where
 * SSE2 is (every x86-64), a byte a step elsewhere.
 */


#ifndef _NGX_HTTP_ADCP_ENVELOPE_SCAN_H_INCLUDED_
#define _NGX_HTTP_ADCP_ENVELOPE_SCAN_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#if (__SSE2__)
#include <emmintrin.h>
#endif


/*
 * The buffer being scanned: [start, last), its last byte a '}' (the
 * closing brace of the body's object, where every scan ends at the
 * latest); end16: last - 16, or start when the buffer is shorter than 16
 * bytes (tail 0: a scan starts past the first byte, never at end16 then).
 */

typedef struct {
    u_char      *end;       /* last - 1: the closing brace */
    u_char      *end16;
    ngx_uint_t   tail;      /* end16 is last - 16 */
} ngx_http_adcp_env_scan_t;


/*
 * The plain bytes of a string: printable ASCII but the quote and the
 * backslash; with del, DEL (0x7f) is not plain either.
 */

#define ngx_http_adcp_env_plain(c, del)                                      \
    ((c) >= 0x20 && (c) < ((del) ? 0x7f : 0x80) && (c) != '"'                \
     && (c) != '\\')


#if (__SSE2__)

/*
 * a bit per byte of the 16 at p that is not plain: a byte below 0x20, 0x80
 * and above, or a quote: (x ^ 0x02) below 0x21, signed (the quote's 0x22
 * turns 0x20, controls stay controls, nothing else falls below); a
 * backslash; with del, 0x7f
 */

static ngx_inline unsigned
ngx_http_adcp_env_scan_mask(u_char *p, ngx_uint_t del)
{
    __m128i  x, m;

    x = _mm_loadu_si128((__m128i *) p);

    m = _mm_or_si128(_mm_cmpgt_epi8(_mm_set1_epi8(0x21),
                                    _mm_xor_si128(x, _mm_set1_epi8(0x02))),
                     _mm_cmpeq_epi8(x, _mm_set1_epi8('\\')));

    if (del) {
        m = _mm_or_si128(m, _mm_cmpeq_epi8(x, _mm_set1_epi8(0x7f)));
    }

    return (unsigned) _mm_movemask_epi8(m);
}

#endif


/*
 * The first byte from p (start < p <= s->end) that is not plain, or s->end
 * (the closing brace, itself plain) when none is before it.
 */

static ngx_inline u_char *
ngx_http_adcp_env_scan(ngx_http_adcp_env_scan_t *s, u_char *p,
    ngx_uint_t del)
{
#if (__SSE2__)
    unsigned  bits;

    while (p <= s->end16) {
        bits = ngx_http_adcp_env_scan_mask(p, del);

        if (bits) {
            return p + __builtin_ctz(bits);
        }

        p += 16;
    }

    if (!s->tail) {
        goto bytes;
    }

    /*
     * the buffer's last 16 bytes in one load, those before p shifted out
     * (p > end16: at most 15 of them)
     */

    bits = ngx_http_adcp_env_scan_mask(s->end16, del) >> (p - s->end16);

    return bits ? p + __builtin_ctz(bits) : s->end;

bytes:
#endif

    while (p < s->end && ngx_http_adcp_env_plain(*p, del)) {
        p++;
    }

    return p;
}


#endif /* _NGX_HTTP_ADCP_ENVELOPE_SCAN_H_INCLUDED_ */
