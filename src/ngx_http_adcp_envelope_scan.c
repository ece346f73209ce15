
/*
 * ngx_http_adcp_module: the envelope fast path's steps over JSON
 * (ngx_http_adcp_envelope_fast.c reads the members, these step over the
 * rest): strings 16 bytes a step where SSE2 is, UTF-8 and escapes, numbers,
 * literals, whitespace, nested values; each checked as the yajl parse
 * checks it, or NULL: the yajl parse decides.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_adcp_envelope_scan.h"


static ngx_inline u_char *ngx_http_adcp_env_scan_loop(u_char *p, u_char *end,
    u_char *end16, ngx_uint_t del);
static ngx_inline u_char *ngx_http_adcp_env_scalar(u_char *p, u_char *end);
static u_char *ngx_http_adcp_env_fraction(u_char *p);
static u_char *ngx_http_adcp_env_literal(u_char *p, u_char *end);


/* JSON's whitespace (yajl's also has \f and \v: yajl decides those) */

const u_char  ngx_http_adcp_env_spaces[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0, 0,     /* \t \n \r */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1                                                   /* ' ' */
};


/*
 * The first byte from p that is not plain, or end when none is before it.
 * The buffer is [start, end]: its last byte, end, is a '}' (the closing
 * brace of the body's object: plain, where every scan ends at the latest);
 * end16 is end - 15 (16 bytes from it are the buffer's last), or start
 * when the buffer is shorter; start < p <= end.
 */

static ngx_inline u_char *
ngx_http_adcp_env_scan_loop(u_char *p, u_char *end, u_char *end16,
    ngx_uint_t del)
{
#if (__SSE2__)
    unsigned  bits;

    for ( /* void */ ; p <= end16; p += 16) {
        bits = ~ngx_http_adcp_env_scan_plain(p, del) & 0xffff;

        if (bits) {
            return p + ngx_http_adcp_env_ctz(bits);
        }
    }

    if (end - end16 != 15) {
        goto bytes;                 /* a buffer shorter than 16 bytes */
    }

    /*
     * the buffer's last 16 bytes in one load, those before p shifted out
     * (p > end16: at most 15 of them)
     */

    bits = (~ngx_http_adcp_env_scan_plain(end16, del) & 0xffff)
           >> (p - end16);

    return bits ? p + ngx_http_adcp_env_ctz(bits) : end;

bytes:
#endif

    while (p < end && ngx_http_adcp_env_plain(*p, del)) {
        p++;
    }

    return p;
}


/* the same, DEL plain or not (not inline: the loop keeps its constants) */

ngx_http_adcp_env_noinline u_char *
ngx_http_adcp_env_scan(u_char *p, u_char *end, u_char *end16)
{
    return ngx_http_adcp_env_scan_loop(p, end, end16, 0);
}


ngx_http_adcp_env_noinline u_char *
ngx_http_adcp_env_scan_del(u_char *p, u_char *end, u_char *end16)
{
    return ngx_http_adcp_env_scan_loop(p, end, end16, 1);
}


/*
 * Past a value the module does not read, not a string (p at its first
 * byte), checked as yajl checks it; NULL: not such a value in this buffer,
 * the yajl parse decides.  Inside, a bit per level says array (1) or
 * object, under a guard bit: levels is 1 when the value's last level
 * closes, negative past 62 levels (deeper: yajl).
 */

u_char *
ngx_http_adcp_env_skip(u_char *p, u_char *end, u_char *end16)
{
    u_char    c, *q;
    uint64_t  levels;

    c = *p;

    if (c != '{' && c != '[') {
        return ngx_http_adcp_env_scalar(p, end);
    }

    levels = 1;

    if (c == '[') {
        goto array;
    }

object:

    /* p at '{' */

    levels <<= 1;

    if ((int64_t) levels < 0) {
        return NULL;
    }

    c = *++p;

    if (c != '"') {
        if (c <= ' ') {
            p = ngx_http_adcp_env_skip_ws(p);
            c = *p;
        }

        if (c == '}') {
            goto close;
        }

        if (c != '"') {
            return NULL;
        }
    }

key:

    /* p at a key's opening quote */

    q = ngx_http_adcp_env_scan16(p + 1, end, end16, 0);

    if (*q != '"') {
        q = ngx_http_adcp_env_scan_string(q, end, end16);
        if (q == NULL) {
            return NULL;
        }
    }

    /* q at its closing quote, not the last byte: q + 1 is in the buffer */

    if (ngx_http_adcp_env_likely(q[1] == ':')) {
        p = q + 2;

        if (*p == '"') {
            goto string;
        }

    } else {
        p = ngx_http_adcp_env_skip_ws(q + 1);

        if (*p++ != ':') {
            return NULL;
        }
    }

value:

    c = *p;

    if (c == '"') {

    string:

        q = ngx_http_adcp_env_scan16(p + 1, end, end16, 0);

        if (*q != '"') {
            q = ngx_http_adcp_env_scan_string(q, end, end16);
            if (q == NULL) {
                return NULL;
            }
        }

        /* the next member at once where it follows */

        p = q + 1;
        c = *p;

        if (c != ',') {
            goto end;
        }

        if (p[1] == '"' && !(levels & 1)) {
            p++;
            goto key;
        }

        goto comma;
    }

    if (c == '{') {
        goto object;
    }

    if (c == '[') {
        goto array;
    }

    if (c <= ' ') {
        q = ngx_http_adcp_env_skip_ws(p);

        if (q == p) {
            return NULL;
        }

        p = q;
        goto value;
    }

    /* an integer here, the rest of a number or a literal in a call */

    if (ngx_http_adcp_env_digit(c)) {
        p++;

        if (c != '0') {
            while (ngx_http_adcp_env_digit(*p)) {
                p++;
            }
        }

        if (*p == '.' || (*p | 0x20) == 'e') {
            p = ngx_http_adcp_env_fraction(p);
        }

    } else {
        p = ngx_http_adcp_env_scalar(p, end);
    }

    if (p == NULL) {
        return NULL;
    }

next:

    c = *p;

    if (c == ',') {

    comma:

        p++;

        if (levels & 1) {
            goto value;
        }

        if (*p != '"') {
            p = ngx_http_adcp_env_skip_ws(p);

            if (*p != '"') {
                return NULL;
            }
        }

        goto key;
    }

end:

    /* c = *p, not a comma */

    if (c == '}') {
        if (levels & 1) {
            return NULL;
        }

        goto close;
    }

    if (c == ']') {
        if (!(levels & 1)) {
            return NULL;
        }

        goto close;
    }

    if (c <= ' ') {
        q = ngx_http_adcp_env_skip_ws(p);

        if (q == p) {
            return NULL;
        }

        p = q;
        goto next;
    }

    return NULL;

array:

    /* p at '[' */

    levels = (levels << 1) | 1;

    if ((int64_t) levels < 0) {
        return NULL;
    }

    c = *++p;

    if (c <= ' ') {
        p = ngx_http_adcp_env_skip_ws(p);
        c = *p;
    }

    if (c != ']') {
        goto value;
    }

close:

    /* p at the end of a level, not the body's last brace */

    if (p == end) {
        return NULL;
    }

    p++;
    levels >>= 1;

    if (levels == 1) {
        return p;
    }

    goto next;
}


/*
 * past whitespace (most bodies have none: a call where it is), the closing
 * brace stops it at the latest
 */

ngx_http_adcp_env_noinline u_char *
ngx_http_adcp_env_skip_ws(u_char *p)
{
    while (ngx_http_adcp_env_is_ws(*p)) {
        p++;
    }

    return p;
}


/*
 * Past a number as JSON writes it, true, false or null, or NULL; every
 * byte a number steps over is not the closing brace, so that the next one
 * is in the buffer (what it is is for the caller: a digit after a leading
 * zero, a letter, are not where a value ends)
 */

static ngx_inline u_char *
ngx_http_adcp_env_scalar(u_char *p, u_char *end)
{
    u_char  c;

    c = *p;

    if (c == '-') {
        c = *++p;

        if (!ngx_http_adcp_env_digit(c)) {
            return NULL;
        }

    } else if (!ngx_http_adcp_env_digit(c)) {
        return ngx_http_adcp_env_literal(p, end);
    }

    p++;

    if (c != '0') {
        while (ngx_http_adcp_env_digit(*p)) {
            p++;
        }
    }

    if (*p == '.' || (*p | 0x20) == 'e') {
        return ngx_http_adcp_env_fraction(p);
    }

    return p;
}


/* past a number's fraction and exponent, p at either; NULL: not a number */

static u_char *
ngx_http_adcp_env_fraction(u_char *p)
{
    if (*p == '.') {
        p++;

        if (!ngx_http_adcp_env_digit(*p)) {
            return NULL;
        }

        do {
            p++;
        } while (ngx_http_adcp_env_digit(*p));
    }

    if ((*p | 0x20) == 'e') {
        p++;

        if (*p == '+' || *p == '-') {
            p++;
        }

        if (!ngx_http_adcp_env_digit(*p)) {
            return NULL;
        }

        do {
            p++;
        } while (ngx_http_adcp_env_digit(*p));
    }

    return p;
}


/*
 * Past true, false or null (followed by a byte in the buffer: what it is
 * is for the caller), or NULL
 */

static u_char *
ngx_http_adcp_env_literal(u_char *p, u_char *end)
{
    size_t  n;

    n = end - p;

    switch (*p) {

    case 't':
        return (n >= 4 && ngx_strncmp(p, "true", 4) == 0) ? p + 4 : NULL;

    case 'f':
        return (n >= 5 && ngx_strncmp(p, "false", 5) == 0) ? p + 5 : NULL;

    case 'n':
        return (n >= 4 && ngx_strncmp(p, "null", 4) == 0) ? p + 4 : NULL;

    default:
        return NULL;
    }
}


/*
 * The rest of a string from p, its first byte that is not plain: its
 * closing quote, through UTF-8 and escapes as yajl checks them (no control
 * character, a known escape; a \u0000 is left to the yajl parse); NULL:
 * not such a string in the buffer.
 */

u_char *
ngx_http_adcp_env_scan_escapes(u_char *p, u_char *end, u_char *end16)
{
    u_char      c;
    ngx_uint_t  i, n;

    for ( ;; ) {
        p = ngx_http_adcp_env_scan(p, end, end16);

        if (p == end) {
            return NULL;                    /* no closing quote */
        }

        c = *p;

        if (c == '"') {
            return p;
        }

        if (c >= 0x80) {

            /* UTF-8 as yajl checks it: a lead byte and its continuations */

            n = (c >> 5) == 0x06 ? 1 : (c >> 4) == 0x0e ? 2
                : (c >> 3) == 0x1e ? 3 : 0;

            if (n == 0 || (size_t) (end - p) <= n) {
                return NULL;
            }

            for (i = 1; i <= n; i++) {
                if ((p[i] & 0xc0) != 0x80) {
                    return NULL;
                }
            }

            p += 1 + n;

        } else if (c == '\\') {

            /* p + 1 is in the buffer: p is not the closing brace */

            switch (p[1]) {

            case '"': case '\\': case '/': case 'b': case 'f': case 'n':
            case 'r': case 't':
                p += 2;
                break;

            case 'u':
                if (end - p < 6) {
                    return NULL;
                }

                /* hex: the digits as they are (0x12 | 0x20 is '2') */

                for (i = 2; i < 6; i++) {
                    c = p[i];

                    if (!(ngx_http_adcp_env_digit(c)
                          || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')))
                    {
                        return NULL;
                    }
                }

                /* yajl refuses a \u0000 in a string: the yajl parse decides */

                if (p[2] == '0' && p[3] == '0' && p[4] == '0' && p[5] == '0')
                {
                    return NULL;
                }

                p += 6;
                break;

            default:
                return NULL;
            }

        } else {
            return NULL;                    /* a control character */
        }
    }
}
