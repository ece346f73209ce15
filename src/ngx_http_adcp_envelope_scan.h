
/*
 * ngx_http_adcp_module: the envelope fast path's steps over JSON
 * (ngx_http_adcp_envelope_scan.c; included by the fast path, the steps and
 * their unit test only).  The buffer is [start, end]: its last byte, end,
 * is a '}' (the closing brace of the body's object, where every step ends
 * at the latest); end16 is end - 15 (16 bytes from it are the buffer's
 * last), or start when the buffer is shorter.
 */


#ifndef _NGX_HTTP_ADCP_ENVELOPE_SCAN_H_INCLUDED_
#define _NGX_HTTP_ADCP_ENVELOPE_SCAN_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#if (__SSE2__)
#include <emmintrin.h>
#endif


#if (__GNUC__)
#define ngx_http_adcp_env_likely(x)  __builtin_expect(!!(x), 1)
#define ngx_http_adcp_env_noinline   __attribute__((noinline))
#else
#define ngx_http_adcp_env_likely(x)  (x)
#define ngx_http_adcp_env_noinline
#endif


#if (__GNUC__ && __x86_64__)

/*
 * The lowest set bit of x (not 0), as an offset: bsf writes a 32-bit
 * register, which zeroes the upper half (__builtin_ctz's int costs a sign
 * extension more, once a string)
 */

static ngx_inline size_t
ngx_http_adcp_env_ctz(unsigned x)
{
    size_t  n;

    __asm__ ("bsf %1, %k0" : "=r" (n) : "rm" (x) : "cc");

    return n;
}

#else

#define ngx_http_adcp_env_ctz(x)  ((size_t) __builtin_ctz(x))

#endif


#define ngx_http_adcp_env_is_ws(c)  (ngx_http_adcp_env_spaces[c])
#define ngx_http_adcp_env_digit(c)  ((u_char) ((c) - '0') <= 9)


/*
 * The plain bytes of a string: printable ASCII but the quote and the
 * backslash; with del, DEL (0x7f) is not plain either.
 */

#define ngx_http_adcp_env_plain(c, del)                                      \
    ((c) >= 0x20 && (c) < ((del) ? 0x7f : 0x80) && (c) != '"'                \
     && (c) != '\\')


#if (__SSE2__)

/*
 * A bit per byte of the 16 at p that is plain.  A plain byte but the
 * backslash is (x ^ 0x02) above 0x20, signed: the quote's 0x22 turns 0x20,
 * controls stay below, 0x80 and above turn negative, nothing else falls
 * to 0x20 or below; the backslash (and with del, 0x7f) taken out.  The
 * constants are memory operands: one instruction each.
 */

static ngx_inline unsigned
ngx_http_adcp_env_scan_plain(u_char *p, ngx_uint_t del)
{
    __m128i  x, ok;

    x = _mm_loadu_si128((__m128i *) p);

    ok = _mm_cmpgt_epi8(_mm_xor_si128(x, _mm_set1_epi8(0x02)),
                        _mm_set1_epi8(0x20));
    ok = _mm_andnot_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('\\')), ok);

    if (del) {
        ok = _mm_andnot_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8(0x7f)), ok);
    }

    return (unsigned) _mm_movemask_epi8(ok);
}

#endif


u_char *ngx_http_adcp_env_scan(u_char *p, u_char *end, u_char *end16);
u_char *ngx_http_adcp_env_scan_del(u_char *p, u_char *end, u_char *end16);
u_char *ngx_http_adcp_env_scan_escapes(u_char *p, u_char *end,
    u_char *end16);
u_char *ngx_http_adcp_env_skip(u_char *p, u_char *end, u_char *end16);
u_char *ngx_http_adcp_env_skip_ws(u_char *p);

extern const u_char  ngx_http_adcp_env_spaces[256];


/*
 * The first byte from p (start < p <= end) that is not plain, or end when
 * none is before it, as ngx_http_adcp_env_scan() answers: its first step
 * inline, for most strings end in their first 16 bytes.  Where 16 bytes
 * follow p (p < end16), the first of them that is not plain, or a plain
 * one (p + 16: the caller goes on with the scan unless it is the closing
 * quote); no branch: the 16 plain bits of the complement are ones.
 */

static ngx_inline u_char *
ngx_http_adcp_env_scan16(u_char *p, u_char *end, u_char *end16,
    ngx_uint_t del)
{
#if (__SSE2__)
    if (ngx_http_adcp_env_likely(p < end16)) {
        return p + ngx_http_adcp_env_ctz(
                                  ~ngx_http_adcp_env_scan_plain(p, del));
    }
#endif

    return del ? ngx_http_adcp_env_scan_del(p, end, end16)
               : ngx_http_adcp_env_scan(p, end, end16);
}


/*
 * The rest of a string from p, past its first 16 bytes: its closing quote,
 * or NULL (the scan goes on where they are plain; escapes and UTF-8 in a
 * call)
 */

static ngx_inline u_char *
ngx_http_adcp_env_scan_string(u_char *p, u_char *end, u_char *end16)
{
    p = ngx_http_adcp_env_scan(p, end, end16);

    if (*p == '"') {
        return p;
    }

    return ngx_http_adcp_env_scan_escapes(p, end, end16);
}


#endif /* _NGX_HTTP_ADCP_ENVELOPE_SCAN_H_INCLUDED_ */
