
/*
 * ngx_http_adcp_module: webhook signing (RFC 9421, AdCP's webhook profile),
 * its verifier, legacy HMAC-SHA256, signing keys and their JWKS, and the
 * checks of a push_notification_config.
 *
 * Wire forms, as AdCP's conformance vectors have them: Content-Digest is
 * RFC 9530's (standard base64, padded, in an sf-binary); Signature is the
 * webhook-v1 profile's unpadded base64url between colons; nonce unpadded
 * base64url; ECDSA signatures are r || s (RFC 9421 3.3.2), not DER.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/err.h>
#include <openssl/ecdsa.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/core_names.h>
#include <openssl/params.h>

#include "ngx_http_adcp_json.h"
#include "ngx_http_adcp_tasks_sign.h"


#if (OPENSSL_VERSION_NUMBER < 0x30000000L)
#error "ngx_http_adcp_module: webhook signing needs OpenSSL 3.0 or later"
#endif


#define NGX_HTTP_ADCP_SF_MAX_ITEMS   16
#define NGX_HTTP_ADCP_SF_MAX_PARAMS  16

#define NGX_HTTP_ADCP_SF_STRING      1
#define NGX_HTTP_ADCP_SF_INTEGER     2
#define NGX_HTTP_ADCP_SF_BYTES       3
#define NGX_HTTP_ADCP_SF_OTHER       4


typedef struct {
    ngx_str_t                   key;
    ngx_uint_t                  type;
    ngx_str_t                   value;    /* string and byte contents */
    int64_t                     n;
} ngx_http_adcp_sf_param_t;


/* one dictionary member: an inner list of strings or one bare item */

typedef struct {
    ngx_str_t                   value;    /* as serialized, params included */
    ngx_uint_t                  type;     /* 0: inner list */
    ngx_str_t                   item;     /* a bare item's contents */
    ngx_str_t                   items[NGX_HTTP_ADCP_SF_MAX_ITEMS];
    ngx_uint_t                  nitems;
    ngx_http_adcp_sf_param_t    params[NGX_HTTP_ADCP_SF_MAX_PARAMS];
    ngx_uint_t                  nparams;
    unsigned                    item_params:1;
} ngx_http_adcp_sf_member_t;


static size_t ngx_http_adcp_sign_b64_len(size_t n, ngx_uint_t pad);
static u_char *ngx_http_adcp_sign_b64(u_char *dst, u_char *src, size_t n,
    const u_char *alphabet, ngx_uint_t pad);
static ssize_t ngx_http_adcp_sign_b64_decode(u_char *dst, size_t size,
    u_char *src, size_t n, ngx_uint_t url);
static u_char *ngx_http_adcp_sign_int(u_char *p, int64_t n);
static u_char *ngx_http_adcp_sign_dot_segments(u_char *p, u_char *last,
    u_char *out);
static ngx_int_t ngx_http_adcp_sign_host(u_char *h, u_char *e,
    ngx_str_t *host, u_char **port, ngx_uint_t *ipv6);
static ngx_int_t ngx_http_adcp_sign_chars(u_char *p, u_char *last,
    ngx_uint_t path);
static ngx_int_t ngx_http_adcp_sign_xdigit(u_char c);
static u_char *ngx_http_adcp_sign_percent(u_char *o, u_char *p,
    u_char *last);
static ngx_int_t ngx_http_adcp_sign_base(ngx_pool_t *pool, ngx_str_t *names,
    ngx_str_t *values, ngx_uint_t n, ngx_str_t *params, ngx_str_t *base);
static ngx_int_t ngx_http_adcp_sign_raw(EVP_PKEY *pkey, ngx_uint_t alg,
    ngx_str_t *base, u_char *sig);
static ngx_int_t ngx_http_adcp_sign_raw_verify(EVP_PKEY *pkey,
    ngx_uint_t alg, ngx_str_t *base, u_char *sig, size_t len);
static ngx_int_t ngx_http_adcp_sign_sha256(ngx_str_t *data, u_char *md);
static ngx_int_t ngx_http_adcp_sign_hmac_raw(ngx_str_t *secret,
    ngx_str_t *ts, ngx_str_t *body, u_char *md);
static u_char *ngx_http_adcp_sign_hex(u_char *dst, u_char *src, size_t n);
static void ngx_http_adcp_sign_pkey_cleanup(void *data);
static int ngx_http_adcp_sign_no_password(char *buf, int size, int rwflag,
    void *data);

static ngx_int_t ngx_http_adcp_sf_dict(ngx_str_t *header, char *label,
    ngx_http_adcp_sf_member_t *m);
static u_char *ngx_http_adcp_sf_key(u_char *p, u_char *last, ngx_str_t *key);
static u_char *ngx_http_adcp_sf_item(u_char *p, u_char *last,
    ngx_uint_t *type, ngx_str_t *value, int64_t *n);
static u_char *ngx_http_adcp_sf_params(u_char *p, u_char *last,
    ngx_http_adcp_sf_member_t *m, ngx_uint_t keep);
static ngx_http_adcp_sf_param_t *ngx_http_adcp_sf_param(
    ngx_http_adcp_sf_member_t *m, char *key);

static ngx_int_t ngx_http_adcp_sign_str_is(ngx_str_t *s, char *lit);
static size_t ngx_http_adcp_sign_utf8_len(u_char *p, size_t n);


static const u_char  ngx_http_adcp_sign_b64u[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static const u_char  ngx_http_adcp_sign_b64s[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";


/* the covered components, in the order signed */

static ngx_str_t  ngx_http_adcp_sign_components[] = {
    ngx_string("@method"),
    ngx_string("@target-uri"),
    ngx_string("@authority"),
    ngx_string("content-type"),
    ngx_string("content-digest")
};

#define NGX_HTTP_ADCP_SIGN_NCOMPONENTS  5


/* the signature parameters, every one required */

static char  *ngx_http_adcp_sign_params[] = {
    "created", "expires", "nonce", "keyid", "alg", "tag", NULL
};

#define NGX_HTTP_ADCP_SIGN_COMPONENTS                                         \
    "(\"@method\" \"@target-uri\" \"@authority\" \"content-type\" "           \
    "\"content-digest\")"


/* base64 */

static size_t
ngx_http_adcp_sign_b64_len(size_t n, ngx_uint_t pad)
{
    return pad ? (n + 2) / 3 * 4 : (n * 4 + 2) / 3;
}


static u_char *
ngx_http_adcp_sign_b64(u_char *dst, u_char *src, size_t n,
    const u_char *a, ngx_uint_t pad)
{
    while (n > 2) {
        *dst++ = a[src[0] >> 2];
        *dst++ = a[((src[0] & 0x03) << 4) | (src[1] >> 4)];
        *dst++ = a[((src[1] & 0x0f) << 2) | (src[2] >> 6)];
        *dst++ = a[src[2] & 0x3f];

        src += 3;
        n -= 3;
    }

    if (n == 1) {
        *dst++ = a[src[0] >> 2];
        *dst++ = a[(src[0] & 0x03) << 4];

        if (pad) {
            *dst++ = '=';
            *dst++ = '=';
        }

    } else if (n == 2) {
        *dst++ = a[src[0] >> 2];
        *dst++ = a[((src[0] & 0x03) << 4) | (src[1] >> 4)];
        *dst++ = a[(src[1] & 0x0f) << 2];

        if (pad) {
            *dst++ = '=';
        }
    }

    return dst;
}


/*
 * Strict decoding: url, the unpadded base64url alphabet only; else the
 * standard alphabet, padded to a multiple of 4.  The decoded length, or -1.
 */

static ssize_t
ngx_http_adcp_sign_b64_decode(u_char *dst, size_t size, u_char *src,
    size_t n, ngx_uint_t url)
{
    u_char      c;
    size_t      i, len;
    uint32_t    acc;
    ngx_uint_t  bits, v;

    if (!url) {
        if (n % 4) {
            return -1;
        }

        for (i = 0; i < 2 && n && src[n - 1] == '='; i++) {
            n--;
        }
    }

    if (n % 4 == 1 || (n * 3) / 4 > size) {
        return -1;
    }

    acc = 0;
    bits = 0;
    len = 0;

    for (i = 0; i < n; i++) {
        c = src[i];

        if (c >= 'A' && c <= 'Z') {
            v = c - 'A';

        } else if (c >= 'a' && c <= 'z') {
            v = c - 'a' + 26;

        } else if (c >= '0' && c <= '9') {
            v = c - '0' + 52;

        } else if (c == (url ? '-' : '+')) {
            v = 62;

        } else if (c == (url ? '_' : '/')) {
            v = 63;

        } else {
            return -1;
        }

        acc = (acc << 6) | v;
        bits += 6;

        if (bits >= 8) {
            bits -= 8;
            dst[len++] = (u_char) (acc >> bits);
        }
    }

    return len;
}


size_t
ngx_http_adcp_sign_b64url_len(size_t n)
{
    return ngx_http_adcp_sign_b64_len(n, 0);
}


u_char *
ngx_http_adcp_sign_b64url(u_char *dst, u_char *src, size_t n)
{
    return ngx_http_adcp_sign_b64(dst, src, n, ngx_http_adcp_sign_b64u, 0);
}


ngx_int_t
ngx_http_adcp_sign_b64url_decode(ngx_pool_t *pool, ngx_str_t *src,
    ngx_str_t *dst)
{
    ssize_t  n;

    dst->data = ngx_pnalloc(pool, src->len * 3 / 4 + 1);
    if (dst->data == NULL) {
        return NGX_ERROR;
    }

    n = ngx_http_adcp_sign_b64_decode(dst->data, src->len * 3 / 4 + 1,
                                      src->data, src->len, 1);
    if (n < 0) {
        return NGX_DECLINED;
    }

    dst->len = n;

    return NGX_OK;
}


static u_char *
ngx_http_adcp_sign_int(u_char *p, int64_t n)
{
    u_char    buf[24], *b;
    uint64_t  u;

    if (n < 0) {
        *p++ = '-';
        u = (uint64_t) -(n + 1) + 1;

    } else {
        u = n;
    }

    b = buf + sizeof(buf);

    do {
        *--b = (u_char) ('0' + u % 10);
        u /= 10;
    } while (u);

    return ngx_cpymem(p, b, buf + sizeof(buf) - b);
}


static u_char *
ngx_http_adcp_sign_hex(u_char *dst, u_char *src, size_t n)
{
    static const u_char  hex[] = "0123456789abcdef";

    while (n--) {
        *dst++ = hex[*src >> 4];
        *dst++ = hex[*src++ & 0x0f];
    }

    return dst;
}


/*
 * AdCP's URL canonicalization (docs/reference/url-canonicalization): the
 * scheme and host lower-cased, userinfo and the default port dropped, one
 * trailing root dot removed, dot segments removed (consecutive slashes
 * kept), %xx upper-cased and unreserved octets decoded in the path, the
 * query byte for byte, no fragment.  Host names are ASCII only (no IDNA
 * here: a U-label is refused, as the comparer must).
 * NGX_DECLINED: malformed.
 */

ngx_int_t
ngx_http_adcp_sign_uri(ngx_pool_t *pool, ngx_str_t *url,
    ngx_http_adcp_sign_uri_t *u)
{
    u_char      *p, *last, *s, *a, *e, *h, *port, *path, *pe, *q, *qe;
    u_char      *buf, *o, c;
    size_t       len;
    ngx_int_t    rc;
    ngx_str_t    host;
    ngx_uint_t   https, ipv6, n, i;

    ngx_memzero(u, sizeof(ngx_http_adcp_sign_uri_t));

    p = url->data;
    last = p + url->len;

    for (s = p; s < last && *s != ':'; s++) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z'))) {
            return NGX_DECLINED;
        }
    }

    if (s - p == 5 && ngx_strncasecmp(p, (u_char *) "https", 5) == 0) {
        https = 1;

    } else if (s - p == 4 && ngx_strncasecmp(p, (u_char *) "http", 4) == 0) {
        https = 0;

    } else {
        return NGX_DECLINED;
    }

    if (last - s < 3 || s[1] != '/' || s[2] != '/') {
        return NGX_DECLINED;
    }

    a = s + 3;

    for (e = a; e < last && *e != '/' && *e != '?' && *e != '#'; e++) {
        /* void */
    }

    /* userinfo: up to the last '@' */

    for (h = e; h > a && h[-1] != '@'; h--) {
        /* void */
    }

    rc = ngx_http_adcp_sign_host(h, e, &host, &port, &ipv6);
    if (rc != NGX_OK) {
        return rc;
    }

    n = 0;

    if (port < e) {
        if (port + 1 == e) {
            port = e;      /* "host:": the default port */

        } else {
            for (i = 1; port + i < e; i++) {
                c = port[i];

                if (c < '0' || c > '9' || i > 5) {
                    return NGX_DECLINED;
                }

                n = n * 10 + (c - '0');
            }

            if (n == 0 || n > 65535) {
                return NGX_DECLINED;
            }
        }
    }

    if (n == (https ? 443 : 80)) {
        n = 0;
    }

    /* path, query, fragment */

    path = e;

    for (pe = path; pe < last && *pe != '?' && *pe != '#'; pe++) {
        /* void */
    }

    q = pe;
    qe = pe;

    if (q < last && *q == '?') {
        for (qe = q; qe < last && *qe != '#'; qe++) {
            /* void */
        }
    }

    if (ngx_http_adcp_sign_chars(path, pe, 1) != NGX_OK
        || ngx_http_adcp_sign_chars(q, qe, 0) != NGX_OK)
    {
        return NGX_DECLINED;
    }

    /* scheme "://" [ "[" ] host [ "]" ] [ ":" port ] path query */

    len = sizeof("https://[]:65535/") - 1 + host.len + (pe - path)
          + (qe - q);

    buf = ngx_pnalloc(pool, len + (pe - path));
    if (buf == NULL) {
        return NGX_ERROR;
    }

    o = ngx_cpymem(buf, https ? "https://" : "http://", https ? 8 : 7);

    u->authority.data = o;

    if (ipv6) {
        *o++ = '[';
    }

    u->host.data = o;

    for (i = 0; i < host.len; i++) {
        *o++ = ngx_tolower(host.data[i]);
    }

    u->host.len = host.len;

    if (ipv6) {
        *o++ = ']';
    }

    if (n) {
        *o++ = ':';
        o = ngx_http_adcp_sign_int(o, n);
    }

    u->authority.len = o - u->authority.data;
    u->request_target.data = o;

    /*
     * %xx normalized, then dot segments removed (RFC 3986 6.2.2's order,
     * and WHATWG URL's, which reads "%2e" as "."), in a scratch copy; the
     * query normalized the same way, nothing else in it changed
     */

    s = buf + len;
    e = ngx_http_adcp_sign_percent(s, path, pe);
    e = ngx_http_adcp_sign_dot_segments(s, e, s);

    if (e == s) {
        *o++ = '/';
    }

    o = ngx_cpymem(o, s, e - s);
    o = ngx_http_adcp_sign_percent(o, q, qe);

    u->request_target.len = o - u->request_target.data;
    u->target_uri.data = buf;
    u->target_uri.len = o - buf;
    u->port = n ? n : (https ? 443 : 80);
    u->https = https;

    return NGX_OK;
}


/*
 * The host of an authority [h, e): a bracketed IPv6 literal (no zone id),
 * or a DNS name or IPv4 literal with at most one trailing root dot.
 * *port: the ':' after it, or e.
 */

static ngx_int_t
ngx_http_adcp_sign_host(u_char *h, u_char *e, ngx_str_t *host,
    u_char **port, ngx_uint_t *ipv6)
{
    u_char  *p, c;

    if (h < e && *h == '[') {
        for (p = h + 1; p < e && *p != ']'; p++) {
            c = *p;

            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
                  || (c >= 'A' && c <= 'F') || c == ':' || c == '.'))
            {
                return NGX_DECLINED;    /* a zone id ("%25") included */
            }
        }

        if (p == e || p == h + 1 || (p + 1 < e && p[1] != ':')) {
            return NGX_DECLINED;
        }

        host->data = h + 1;
        host->len = p - (h + 1);
        *port = p + 1;
        *ipv6 = 1;

        return NGX_OK;
    }

    for (p = h; p < e && *p != ':'; p++) {
        c = *p;

        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
              || (c >= 'A' && c <= 'Z') || c == '-' || c == '.' || c == '_'))
        {
            return NGX_DECLINED;
        }
    }

    host->data = h;
    host->len = p - h;
    *port = p;
    *ipv6 = 0;

    if (host->len && host->data[host->len - 1] == '.') {
        host->len--;
    }

    if (host->len == 0 || host->data[0] == '.'
        || host->data[host->len - 1] == '.')
    {
        return NGX_DECLINED;
    }

    for (p = host->data + 1; p < host->data + host->len; p++) {
        if (p[0] == '.' && p[-1] == '.') {
            return NGX_DECLINED;     /* an empty label */
        }
    }

    return NGX_OK;
}


/*
 * What may be in a path or a query: RFC 3986's characters, %xx valid.
 * Refused rather than encoded: what WHATWG URL parsers (the buyers'
 * verifiers) would percent-encode, so that both sides sign the same bytes
 * ("'" in a query included).
 */

static ngx_int_t
ngx_http_adcp_sign_chars(u_char *p, u_char *last, ngx_uint_t path)
{
    u_char  c;

    for ( /* void */ ; p < last; p++) {
        c = *p;

        if (c <= 0x20 || c >= 0x7f || c == '"' || c == '<' || c == '>'
            || c == '\\' || c == '^' || c == '`' || c == '{' || c == '|'
            || c == '}' || (c == '\'' && !path))
        {
            return NGX_DECLINED;
        }

        if (c != '%') {
            continue;
        }

        if (last - p < 3 || !ngx_http_adcp_sign_xdigit(p[1])
            || !ngx_http_adcp_sign_xdigit(p[2]))
        {
            return NGX_DECLINED;
        }

        p += 2;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_adcp_sign_xdigit(u_char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
           || (c >= 'A' && c <= 'F');
}


/* %xx: hex digits upper-cased, unreserved octets decoded */

static u_char *
ngx_http_adcp_sign_percent(u_char *o, u_char *p, u_char *last)
{
    u_char      c, d;
    ngx_uint_t  v;

    for ( /* void */ ; p < last; p++) {
        if (*p != '%') {
            *o++ = *p;
            continue;
        }

        c = ngx_toupper(p[1]);
        d = ngx_toupper(p[2]);
        v = ((c >= 'A' ? c - 'A' + 10 : c - '0') << 4)
            | (d >= 'A' ? d - 'A' + 10 : d - '0');

        if ((v >= 'A' && v <= 'Z') || (v >= 'a' && v <= 'z')
            || (v >= '0' && v <= '9')
            || v == '-' || v == '.' || v == '_' || v == '~')
        {
            *o++ = (u_char) v;

        } else {
            *o++ = '%';
            *o++ = c;
            *o++ = d;
        }

        p += 2;
    }

    return o;
}


/* RFC 3986 5.2.4 on [p, last), which it may write to; out may be p */

static u_char *
ngx_http_adcp_sign_dot_segments(u_char *p, u_char *last, u_char *out)
{
    u_char  *o;
    size_t   n;

    o = out;

    while (p < last) {
        n = last - p;

        if (n >= 3 && ngx_strncmp(p, "../", 3) == 0) {
            p += 3;

        } else if (n >= 2 && ngx_strncmp(p, "./", 2) == 0) {
            p += 2;

        } else if (n >= 3 && ngx_strncmp(p, "/./", 3) == 0) {
            p += 2;

        } else if (n == 2 && ngx_strncmp(p, "/.", 2) == 0) {
            p[1] = '/';
            p += 1;

        } else if ((n >= 4 && ngx_strncmp(p, "/../", 4) == 0)
                   || (n == 3 && ngx_strncmp(p, "/..", 3) == 0))
        {
            if (n == 3) {
                p[2] = '/';
                p += 2;

            } else {
                p += 3;
            }

            while (o > out) {
                if (*--o == '/') {
                    break;
                }
            }

        } else if ((n == 1 && p[0] == '.')
                   || (n == 2 && p[0] == '.' && p[1] == '.'))
        {
            break;

        } else {
            *o++ = *p++;

            while (p < last && *p != '/') {
                *o++ = *p++;
            }
        }
    }

    return o;
}


/* the RFC 9421 signature base */

static ngx_int_t
ngx_http_adcp_sign_base(ngx_pool_t *pool, ngx_str_t *names,
    ngx_str_t *values, ngx_uint_t n, ngx_str_t *params, ngx_str_t *base)
{
    u_char      *p;
    size_t       len;
    ngx_uint_t   i;

    len = sizeof("\"@signature-params\": ") - 1 + params->len;

    for (i = 0; i < n; i++) {
        len += sizeof("\"\": \n") - 1 + names[i].len + values[i].len;
    }

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    base->data = p;

    for (i = 0; i < n; i++) {
        *p++ = '"';
        p = ngx_cpymem(p, names[i].data, names[i].len);
        p = ngx_cpymem(p, "\": ", 3);
        p = ngx_cpymem(p, values[i].data, values[i].len);
        *p++ = '\n';
    }

    p = ngx_cpymem(p, "\"@signature-params\": ",
                   sizeof("\"@signature-params\": ") - 1);
    p = ngx_cpymem(p, params->data, params->len);

    base->len = p - base->data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_adcp_sign_sha256(ngx_str_t *data, u_char *md)
{
    unsigned int  len;

    if (EVP_Digest(data->data, data->len, md, &len, EVP_sha256(), NULL)
        != 1)
    {
        ERR_clear_error();
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* 64 bytes: Ed25519's signature, or ECDSA's r || s */

static ngx_int_t
ngx_http_adcp_sign_raw(EVP_PKEY *pkey, ngx_uint_t alg, ngx_str_t *base,
    u_char *sig)
{
    size_t           len;
    u_char           der[128];
    ngx_int_t        rc;
    ECDSA_SIG       *es;
    EVP_MD_CTX      *ctx;
    const BIGNUM    *r, *s;
    const u_char    *p;

    ctx = EVP_MD_CTX_new();
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    rc = NGX_ERROR;
    len = sizeof(der);

    if (EVP_DigestSignInit(ctx, NULL,
                           alg == NGX_HTTP_ADCP_SIGN_ES256 ? EVP_sha256()
                                                           : NULL,
                           NULL, pkey)
        != 1
        || EVP_DigestSign(ctx, der, &len, base->data, base->len) != 1)
    {
        goto done;
    }

    if (alg == NGX_HTTP_ADCP_SIGN_ED25519) {
        if (len == 64) {
            ngx_memcpy(sig, der, 64);
            rc = NGX_OK;
        }

        goto done;
    }

    p = der;
    es = d2i_ECDSA_SIG(NULL, &p, len);
    if (es == NULL) {
        goto done;
    }

    ECDSA_SIG_get0(es, &r, &s);

    if (BN_bn2binpad(r, sig, 32) == 32 && BN_bn2binpad(s, sig + 32, 32) == 32)
    {
        rc = NGX_OK;
    }

    ECDSA_SIG_free(es);

done:

    EVP_MD_CTX_free(ctx);
    ERR_clear_error();

    return rc;
}


/* NGX_OK: verified; NGX_DECLINED: not; NGX_ERROR: no memory */

static ngx_int_t
ngx_http_adcp_sign_raw_verify(EVP_PKEY *pkey, ngx_uint_t alg,
    ngx_str_t *base, u_char *sig, size_t len)
{
    int          n;
    u_char       der[128], *p;
    BIGNUM      *r, *s;
    ngx_int_t    rc;
    ECDSA_SIG   *es;
    EVP_MD_CTX  *ctx;

    if (len != 64) {
        return NGX_DECLINED;
    }

    if (alg == NGX_HTTP_ADCP_SIGN_ED25519) {
        if (EVP_PKEY_base_id(pkey) != EVP_PKEY_ED25519) {
            return NGX_DECLINED;
        }

    } else {
        if (EVP_PKEY_base_id(pkey) != EVP_PKEY_EC) {
            return NGX_DECLINED;
        }

        es = ECDSA_SIG_new();
        r = BN_bin2bn(sig, 32, NULL);
        s = BN_bin2bn(sig + 32, 32, NULL);

        if (es == NULL || r == NULL || s == NULL
            || ECDSA_SIG_set0(es, r, s) != 1)
        {
            ECDSA_SIG_free(es);
            BN_free(r);
            BN_free(s);
            ERR_clear_error();
            return NGX_ERROR;
        }

        p = der;
        n = i2d_ECDSA_SIG(es, &p);
        ECDSA_SIG_free(es);

        if (n <= 0 || n > (int) sizeof(der)) {
            ERR_clear_error();
            return NGX_DECLINED;
        }

        sig = der;
        len = n;
    }

    ctx = EVP_MD_CTX_new();
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    rc = NGX_DECLINED;

    if (EVP_DigestVerifyInit(ctx, NULL,
                             alg == NGX_HTTP_ADCP_SIGN_ES256 ? EVP_sha256()
                                                             : NULL,
                             NULL, pkey)
        == 1
        && EVP_DigestVerify(ctx, sig, len, base->data, base->len) == 1)
    {
        rc = NGX_OK;
    }

    EVP_MD_CTX_free(ctx);
    ERR_clear_error();

    return rc;
}


/*
 * Signs a webhook POST: out gets the canonical URL (the request line's
 * target and Host come from it) and the values of Content-Digest,
 * Signature-Input and Signature.  A fresh nonce unless req->nonce is set
 * (the conformance vectors); expires is created + 300.
 * NGX_DECLINED: the url, method or content type cannot be signed.
 */

ngx_int_t
ngx_http_adcp_sign_webhook(ngx_pool_t *pool, ngx_http_adcp_sign_key_t *key,
    ngx_http_adcp_sign_req_t *req, ngx_http_adcp_sign_out_t *out)
{
    u_char      *p, md[32], rnd[NGX_HTTP_ADCP_SIGN_NONCE_BYTES], sig[64];
    size_t       len, i;
    ngx_int_t    rc;
    ngx_str_t    nonce, params, values[NGX_HTTP_ADCP_SIGN_NCOMPONENTS];
    const char  *alg;

    rc = ngx_http_adcp_sign_uri(pool, &req->url, &out->uri);
    if (rc != NGX_OK) {
        return rc;
    }

    if (req->method.len == 0 || req->content_type.len == 0) {
        return NGX_DECLINED;
    }

    for (i = 0; i < req->method.len; i++) {
        if (req->method.data[i] < 'A' || req->method.data[i] > 'Z') {
            return NGX_DECLINED;
        }
    }

    for (i = 0; i < req->content_type.len; i++) {
        if (req->content_type.data[i] < 0x20
            || req->content_type.data[i] >= 0x7f)
        {
            return NGX_DECLINED;
        }
    }

    if (req->content_type.data[0] == ' '
        || req->content_type.data[req->content_type.len - 1] == ' ')
    {
        return NGX_DECLINED;
    }

    /* Content-Digest: sha-256=:<base64>: */

    if (ngx_http_adcp_sign_sha256(&req->body, md) != NGX_OK) {
        return NGX_ERROR;
    }

    len = sizeof("sha-256=::") - 1 + ngx_http_adcp_sign_b64_len(32, 1);

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    out->content_digest.data = p;
    p = ngx_cpymem(p, "sha-256=:", sizeof("sha-256=:") - 1);
    p = ngx_http_adcp_sign_b64(p, md, 32, ngx_http_adcp_sign_b64s, 1);
    *p++ = ':';
    out->content_digest.len = p - out->content_digest.data;

    /* the nonce: 16 random bytes, base64url */

    nonce = req->nonce;

    if (nonce.len == 0) {
        if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
            ERR_clear_error();
            return NGX_ERROR;
        }

        nonce.data = ngx_pnalloc(pool,
                                 ngx_http_adcp_sign_b64_len(sizeof(rnd), 0));
        if (nonce.data == NULL) {
            return NGX_ERROR;
        }

        nonce.len = ngx_http_adcp_sign_b64(nonce.data, rnd, sizeof(rnd),
                                           ngx_http_adcp_sign_b64u, 0)
                    - nonce.data;

    } else {
        for (i = 0; i < nonce.len; i++) {
            if (ngx_strlchr((u_char *) ngx_http_adcp_sign_b64u,
                            (u_char *) ngx_http_adcp_sign_b64u + 64,
                            nonce.data[i])
                == NULL)
            {
                return NGX_DECLINED;
            }
        }
    }

    alg = (key->alg == NGX_HTTP_ADCP_SIGN_ES256) ? "ecdsa-p256-sha256"
                                                 : "ed25519";

    /* the signature parameters, serialized once: Signature-Input's value */

    len = sizeof("sig1=" NGX_HTTP_ADCP_SIGN_COMPONENTS
                 ";created=;expires=;nonce=\"\";keyid=\"\";alg=\"\""
                 ";tag=\"" NGX_HTTP_ADCP_SIGN_TAG "\"") - 1
          + 2 * NGX_INT64_LEN + nonce.len + key->kid.len
          + sizeof("ecdsa-p256-sha256") - 1;

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    out->signature_input.data = p;
    p = ngx_cpymem(p, "sig1=", 5);
    params.data = p;

    p = ngx_cpymem(p, NGX_HTTP_ADCP_SIGN_COMPONENTS ";created=",
                   sizeof(NGX_HTTP_ADCP_SIGN_COMPONENTS ";created=") - 1);
    p = ngx_http_adcp_sign_int(p, req->created);
    p = ngx_cpymem(p, ";expires=", sizeof(";expires=") - 1);
    p = ngx_http_adcp_sign_int(p, req->created + NGX_HTTP_ADCP_SIGN_VALIDITY);
    p = ngx_cpymem(p, ";nonce=\"", sizeof(";nonce=\"") - 1);
    p = ngx_cpymem(p, nonce.data, nonce.len);
    p = ngx_cpymem(p, "\";keyid=\"", sizeof("\";keyid=\"") - 1);
    p = ngx_cpymem(p, key->kid.data, key->kid.len);
    p = ngx_cpymem(p, "\";alg=\"", sizeof("\";alg=\"") - 1);
    p = ngx_cpymem(p, alg, ngx_strlen(alg));
    p = ngx_cpymem(p, "\";tag=\"" NGX_HTTP_ADCP_SIGN_TAG "\"",
                   sizeof("\";tag=\"" NGX_HTTP_ADCP_SIGN_TAG "\"") - 1);

    params.len = p - params.data;
    out->signature_input.len = p - out->signature_input.data;

    values[0] = req->method;
    values[1] = out->uri.target_uri;
    values[2] = out->uri.authority;
    values[3] = req->content_type;
    values[4] = out->content_digest;

    if (ngx_http_adcp_sign_base(pool, ngx_http_adcp_sign_components, values,
                                NGX_HTTP_ADCP_SIGN_NCOMPONENTS, &params,
                                &out->base)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_adcp_sign_raw(key->pkey, key->alg, &out->base, sig)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* Signature: sig1=:<base64url>: */

    len = sizeof("sig1=::") - 1 + ngx_http_adcp_sign_b64_len(64, 0);

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    out->signature.data = p;
    p = ngx_cpymem(p, "sig1=:", 6);
    p = ngx_http_adcp_sign_b64(p, sig, 64, ngx_http_adcp_sign_b64u, 0);
    *p++ = ':';
    out->signature.len = p - out->signature.data;

    return NGX_OK;
}


/*
 * The buyer's side: AdCP's webhook verifier checklist, steps 1 to 13, in
 * order, the first failure's code in *code.  NGX_OK: verified;
 * NGX_DECLINED: rejected; NGX_ERROR: no memory.
 */

ngx_int_t
ngx_http_adcp_sign_verify(ngx_pool_t *pool, ngx_http_adcp_sign_verifier_t *v,
    ngx_http_adcp_sign_received_t *r, const char **code)
{
    u_char                      sig[128], md[32], dg[64], nb[256];
    size_t                      k;
    ssize_t                     siglen, n;
    ngx_int_t                   rc;
    ngx_str_t                   base;
    ngx_str_t                  *name, names[NGX_HTTP_ADCP_SF_MAX_ITEMS];
    ngx_str_t                   values[NGX_HTTP_ADCP_SF_MAX_ITEMS];
    ngx_uint_t                  i, j, alg, found;
    ngx_http_adcp_sign_jwk_t   *jwk;
    ngx_http_adcp_sign_uri_t    u;
    ngx_http_adcp_sf_param_t   *created, *expires, *nonce, *keyid, *palg;
    ngx_http_adcp_sf_param_t   *tag;
    ngx_http_adcp_sf_member_t   in, sg, cd;

    /* 1: both headers, well-formed; sig1's signature unpadded base64url */

    *code = "webhook_signature_header_malformed";

    if (r->signature_input.data == NULL || r->signature.data == NULL) {
        return NGX_DECLINED;
    }

    if (ngx_http_adcp_sf_dict(&r->signature_input,
                              NGX_HTTP_ADCP_SIGN_LABEL, &in)
        != NGX_OK
        || in.type != 0 || in.item_params)
    {
        return NGX_DECLINED;
    }

    if (ngx_http_adcp_sf_dict(&r->signature, NGX_HTTP_ADCP_SIGN_LABEL, &sg)
        != NGX_OK
        || sg.type != NGX_HTTP_ADCP_SF_BYTES)
    {
        return NGX_DECLINED;
    }

    siglen = ngx_http_adcp_sign_b64_decode(sig, sizeof(sig), sg.item.data,
                                           sg.item.len, 1);
    if (siglen < 0) {
        return NGX_DECLINED;
    }

    for (i = 0; i < in.nparams; i++) {
        for (j = 0; j < i; j++) {
            if (in.params[i].key.len == in.params[j].key.len
                && ngx_strncmp(in.params[i].key.data, in.params[j].key.data,
                               in.params[i].key.len) == 0)
            {
                return NGX_DECLINED;    /* a parameter twice */
            }
        }
    }

    created = ngx_http_adcp_sf_param(&in, "created");
    expires = ngx_http_adcp_sf_param(&in, "expires");
    nonce = ngx_http_adcp_sf_param(&in, "nonce");
    keyid = ngx_http_adcp_sf_param(&in, "keyid");
    palg = ngx_http_adcp_sf_param(&in, "alg");
    tag = ngx_http_adcp_sf_param(&in, "tag");

    if ((created && created->type != NGX_HTTP_ADCP_SF_INTEGER)
        || (expires && expires->type != NGX_HTTP_ADCP_SF_INTEGER)
        || (nonce && nonce->type != NGX_HTTP_ADCP_SF_STRING)
        || (keyid && keyid->type != NGX_HTTP_ADCP_SF_STRING)
        || (palg && palg->type != NGX_HTTP_ADCP_SF_STRING)
        || (tag && tag->type != NGX_HTTP_ADCP_SF_STRING))
    {
        return NGX_DECLINED;
    }

    /* 2: every parameter */

    for (i = 0; ngx_http_adcp_sign_params[i]; i++) {
        if (ngx_http_adcp_sf_param(&in, ngx_http_adcp_sign_params[i]) == NULL) {
            *code = "webhook_signature_params_incomplete";
            return NGX_DECLINED;
        }
    }

    /* the nonce: unpadded base64url of 16 bytes at least */

    n = ngx_http_adcp_sign_b64_decode(nb, sizeof(nb), nonce->value.data,
                                      nonce->value.len, 1);
    if (n < NGX_HTTP_ADCP_SIGN_NONCE_BYTES) {
        return NGX_DECLINED;
    }

    /* 3: the tag, byte for byte */

    if (!ngx_http_adcp_sign_str_is(&tag->value, NGX_HTTP_ADCP_SIGN_TAG)) {
        *code = "webhook_signature_tag_invalid";
        return NGX_DECLINED;
    }

    /* 4: the algorithm */

    if (ngx_http_adcp_sign_str_is(&palg->value, "ed25519")) {
        alg = NGX_HTTP_ADCP_SIGN_ED25519;

    } else if (ngx_http_adcp_sign_str_is(&palg->value, "ecdsa-p256-sha256")) {
        alg = NGX_HTTP_ADCP_SIGN_ES256;

    } else {
        *code = "webhook_signature_alg_not_allowed";
        return NGX_DECLINED;
    }

    /* 5: the window */

    if (expires->n <= created->n
        || created->n > v->now + NGX_HTTP_ADCP_SIGN_SKEW
        || expires->n < v->now - NGX_HTTP_ADCP_SIGN_SKEW
        || expires->n - created->n > NGX_HTTP_ADCP_SIGN_VALIDITY)
    {
        *code = "webhook_signature_window_invalid";
        return NGX_DECLINED;
    }

    /* 6: all five components covered */

    for (i = 0; i < NGX_HTTP_ADCP_SIGN_NCOMPONENTS; i++) {
        name = &ngx_http_adcp_sign_components[i];
        found = 0;

        for (j = 0; j < in.nitems; j++) {
            if (in.items[j].len == name->len
                && ngx_strncmp(in.items[j].data, name->data, name->len) == 0)
            {
                found = 1;
                break;
            }
        }

        if (!found) {
            *code = "webhook_signature_components_incomplete";
            return NGX_DECLINED;
        }
    }

    /* the target URI it will be compared with */

    rc = ngx_http_adcp_sign_uri(pool, &r->url, &u);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc != NGX_OK) {
        *code = "webhook_target_uri_malformed";
        return NGX_DECLINED;
    }

    /* 7: the key */

    jwk = NULL;

    for (i = 0; i < v->nkeys; i++) {
        if (v->keys[i].kid.len == keyid->value.len
            && ngx_strncmp(v->keys[i].kid.data, keyid->value.data,
                           keyid->value.len) == 0)
        {
            jwk = &v->keys[i];
            break;
        }
    }

    if (jwk == NULL || jwk->pkey == NULL) {
        *code = "webhook_signature_key_unknown";
        return NGX_DECLINED;
    }

    /* 8: its purpose, and an alg that matches the signature's */

    if (!jwk->use_sig || !jwk->key_ops_verify
        || !(ngx_http_adcp_sign_str_is(&jwk->adcp_use, "request-signing")
             || ngx_http_adcp_sign_str_is(&jwk->adcp_use, "webhook-signing"))
        || !ngx_http_adcp_sign_str_is(&jwk->alg,
                                      alg == NGX_HTTP_ADCP_SIGN_ED25519
                                      ? "EdDSA" : "ES256")
        || EVP_PKEY_base_id(jwk->pkey) != (alg == NGX_HTTP_ADCP_SIGN_ED25519
                                           ? EVP_PKEY_ED25519 : EVP_PKEY_EC))
    {
        *code = "webhook_signature_key_purpose_invalid";
        return NGX_DECLINED;
    }

    /* 9: revocation; 9a: the key's replay cache */

    if (v->revocation_stale) {
        *code = "webhook_signature_revocation_stale";
        return NGX_DECLINED;
    }

    for (i = 0; i < v->nrevoked; i++) {
        if (v->revoked[i].len == jwk->kid.len
            && ngx_strncmp(v->revoked[i].data, jwk->kid.data, jwk->kid.len)
               == 0)
        {
            *code = "webhook_signature_key_revoked";
            return NGX_DECLINED;
        }
    }

    if (v->at_cap && v->at_cap(v->data, &jwk->kid) == NGX_DECLINED) {
        *code = "webhook_signature_rate_abuse";
        return NGX_DECLINED;
    }

    /* 10: the signature base, in the covered order, and the signature */

    for (i = 0; i < in.nitems; i++) {
        names[i] = in.items[i];

        if (ngx_http_adcp_sign_str_is(&names[i], "@method")) {
            values[i] = r->method;

        } else if (ngx_http_adcp_sign_str_is(&names[i], "@target-uri")) {
            values[i] = u.target_uri;

        } else if (ngx_http_adcp_sign_str_is(&names[i], "@authority")) {
            values[i] = u.authority;

        } else if (ngx_http_adcp_sign_str_is(&names[i], "content-type")
                   && r->content_type.data)
        {
            values[i] = r->content_type;

        } else if (ngx_http_adcp_sign_str_is(&names[i], "content-digest")
                   && r->content_digest.data)
        {
            values[i] = r->content_digest;

        } else {
            /* a component this verifier cannot derive, or a header absent */
            *code = "webhook_signature_invalid";
            return NGX_DECLINED;
        }

        while (values[i].len && (values[i].data[0] == ' '
                                 || values[i].data[0] == '\t'))
        {
            values[i].data++;
            values[i].len--;
        }

        while (values[i].len && (values[i].data[values[i].len - 1] == ' '
                                 || values[i].data[values[i].len - 1] == '\t'))
        {
            values[i].len--;
        }
    }

    if (ngx_http_adcp_sign_base(pool, names, values, in.nitems, &in.value,
                                &base)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    rc = ngx_http_adcp_sign_raw_verify(jwk->pkey, alg, &base, sig, siglen);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc != NGX_OK) {
        *code = "webhook_signature_invalid";
        return NGX_DECLINED;
    }

    /* 11: the body's digest (RFC 9530's base64, or base64url) */

    *code = "webhook_signature_digest_mismatch";

    if (ngx_http_adcp_sf_dict(&r->content_digest, "sha-256", &cd) != NGX_OK
        || cd.type != NGX_HTTP_ADCP_SF_BYTES)
    {
        return NGX_DECLINED;
    }

    n = ngx_http_adcp_sign_b64_decode(dg, sizeof(dg), cd.item.data,
                                      cd.item.len, 0);
    if (n < 0) {
        n = ngx_http_adcp_sign_b64_decode(dg, sizeof(dg), cd.item.data,
                                          cd.item.len, 1);
    }

    if (n != 32 || ngx_http_adcp_sign_sha256(&r->body, md) != NGX_OK
        || CRYPTO_memcmp(dg, md, 32) != 0)
    {
        return NGX_DECLINED;
    }

    /* 12, 13: the nonce, once */

    k = expires->n - v->now + NGX_HTTP_ADCP_SIGN_SKEW;

    if (v->nonce && v->nonce(v->data, &jwk->kid, &nonce->value, (time_t) k)
                    == NGX_DECLINED)
    {
        *code = "webhook_signature_replayed";
        return NGX_DECLINED;
    }

    *code = NULL;

    return NGX_OK;
}


/*
 * RFC 8941 dictionary: parses it all, keeps the member named label.
 * NGX_DECLINED: malformed, the label absent, or twice.
 */

static ngx_int_t
ngx_http_adcp_sf_dict(ngx_str_t *header, char *label,
    ngx_http_adcp_sf_member_t *m)
{
    u_char                     *p, *last, *start;
    size_t                      llen;
    int64_t                     n;
    ngx_str_t                   key, value;
    ngx_uint_t                  type, keep, found;
    ngx_http_adcp_sf_member_t   scratch;

    if (header->data == NULL) {
        return NGX_DECLINED;
    }

    p = header->data;
    last = p + header->len;
    llen = ngx_strlen(label);
    found = 0;

    while (p < last && *p == ' ') {
        p++;
    }

    if (p == last) {
        return NGX_DECLINED;
    }

    for ( ;; ) {
        p = ngx_http_adcp_sf_key(p, last, &key);
        if (p == NULL) {
            return NGX_DECLINED;
        }

        keep = (key.len == llen && ngx_strncmp(key.data, label, llen) == 0);

        if (keep && found) {
            return NGX_DECLINED;
        }

        found |= keep;

        ngx_memzero(&scratch, sizeof(ngx_http_adcp_sf_member_t));

        if (p < last && *p == '=') {
            p++;
            start = p;

            if (p < last && *p == '(') {
                p++;

                for ( ;; ) {
                    while (p < last && *p == ' ') {
                        p++;
                    }

                    if (p == last) {
                        return NGX_DECLINED;
                    }

                    if (*p == ')') {
                        p++;
                        break;
                    }

                    p = ngx_http_adcp_sf_item(p, last, &type, &value, &n);
                    if (p == NULL) {
                        return NGX_DECLINED;
                    }

                    if (scratch.nitems == NGX_HTTP_ADCP_SF_MAX_ITEMS) {
                        return NGX_DECLINED;
                    }

                    if (type != NGX_HTTP_ADCP_SF_STRING) {
                        scratch.item_params = 1;   /* not a component */
                    }

                    scratch.items[scratch.nitems++] = value;

                    if (p < last && *p == ';') {
                        scratch.item_params = 1;
                        p = ngx_http_adcp_sf_params(p, last, &scratch, 0);
                        if (p == NULL) {
                            return NGX_DECLINED;
                        }
                    }

                    if (p == last || (*p != ' ' && *p != ')')) {
                        return NGX_DECLINED;
                    }
                }

                scratch.type = 0;

            } else {
                p = ngx_http_adcp_sf_item(p, last, &scratch.type,
                                          &scratch.item, &n);
                if (p == NULL) {
                    return NGX_DECLINED;
                }
            }

        } else {
            start = p;
            scratch.type = NGX_HTTP_ADCP_SF_OTHER;    /* true */
        }

        p = ngx_http_adcp_sf_params(p, last, &scratch, keep);
        if (p == NULL) {
            return NGX_DECLINED;
        }

        scratch.value.data = start;
        scratch.value.len = p - start;

        if (keep) {
            *m = scratch;
        }

        while (p < last && (*p == ' ' || *p == '\t')) {
            p++;
        }

        if (p == last) {
            break;
        }

        if (*p++ != ',') {
            return NGX_DECLINED;
        }

        while (p < last && (*p == ' ' || *p == '\t')) {
            p++;
        }

        if (p == last) {
            return NGX_DECLINED;
        }
    }

    return found ? NGX_OK : NGX_DECLINED;
}


static u_char *
ngx_http_adcp_sf_key(u_char *p, u_char *last, ngx_str_t *key)
{
    u_char  c;

    if (p == last || !((*p >= 'a' && *p <= 'z') || *p == '*')) {
        return NULL;
    }

    key->data = p;

    for (p++; p < last; p++) {
        c = *p;

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'
              || c == '-' || c == '.' || c == '*'))
        {
            break;
        }
    }

    key->len = p - key->data;

    return p;
}


/*
 * A bare item: an integer, a string (its raw contents: escapes kept), a
 * byte sequence (its contents, either base64 alphabet: the caller
 * decodes strictly), or another type (token, decimal, boolean).
 */

static u_char *
ngx_http_adcp_sf_item(u_char *p, u_char *last, ngx_uint_t *type,
    ngx_str_t *value, int64_t *n)
{
    u_char      c, *start;
    ngx_uint_t  neg, digits;

    if (p == last) {
        return NULL;
    }

    c = *p;
    *n = 0;

    if (c == '-' || (c >= '0' && c <= '9')) {
        start = p;
        neg = (c == '-');
        p += neg;
        digits = 0;

        while (p < last && *p >= '0' && *p <= '9') {
            if (++digits > 15) {
                return NULL;
            }

            *n = *n * 10 + (*p++ - '0');
        }

        if (digits == 0) {
            return NULL;
        }

        if (neg) {
            *n = -*n;
        }

        *type = NGX_HTTP_ADCP_SF_INTEGER;

        if (p < last && *p == '.') {
            for (p++; p < last && *p >= '0' && *p <= '9'; p++) {
                /* void */
            }

            *type = NGX_HTTP_ADCP_SF_OTHER;
        }

        value->data = start;
        value->len = p - start;

        return p;
    }

    if (c == '"') {
        value->data = ++p;

        for ( /* void */ ; p < last; p++) {
            if (*p == '"') {
                value->len = p - value->data;
                *type = NGX_HTTP_ADCP_SF_STRING;
                return p + 1;
            }

            if (*p == '\\') {
                if (p + 1 == last || (p[1] != '"' && p[1] != '\\')) {
                    return NULL;
                }

                p++;
                continue;
            }

            if (*p < 0x20 || *p >= 0x7f) {
                return NULL;
            }
        }

        return NULL;
    }

    if (c == ':') {
        value->data = ++p;

        for ( /* void */ ; p < last; p++) {
            c = *p;

            if (c == ':') {
                value->len = p - value->data;
                *type = NGX_HTTP_ADCP_SF_BYTES;
                return p + 1;
            }

            if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
                  || (c >= '0' && c <= '9') || c == '+' || c == '/'
                  || c == '=' || c == '-' || c == '_'))
            {
                return NULL;
            }
        }

        return NULL;
    }

    if (c == '?') {
        if (last - p < 2 || (p[1] != '0' && p[1] != '1')) {
            return NULL;
        }

        value->data = p;
        value->len = 2;
        *type = NGX_HTTP_ADCP_SF_OTHER;

        return p + 2;
    }

    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '*') {
        value->data = p;

        for (p++; p < last; p++) {
            c = *p;

            if (c <= 0x20 || c >= 0x7f || c == '"' || c == '(' || c == ')'
                || c == ',' || c == ';' || c == '=' || c == '<' || c == '>'
                || c == '@' || c == '[' || c == ']' || c == '?' || c == '{'
                || c == '}' || c == '\\')
            {
                break;
            }
        }

        value->len = p - value->data;
        *type = NGX_HTTP_ADCP_SF_OTHER;

        return p;
    }

    return NULL;
}


static u_char *
ngx_http_adcp_sf_params(u_char *p, u_char *last,
    ngx_http_adcp_sf_member_t *m, ngx_uint_t keep)
{
    ngx_http_adcp_sf_param_t  *pa, scratch;

    while (p < last && *p == ';') {
        p++;

        while (p < last && *p == ' ') {
            p++;
        }

        pa = &scratch;

        if (keep) {
            if (m->nparams == NGX_HTTP_ADCP_SF_MAX_PARAMS) {
                return NULL;
            }

            pa = &m->params[m->nparams++];
        }

        ngx_memzero(pa, sizeof(ngx_http_adcp_sf_param_t));

        p = ngx_http_adcp_sf_key(p, last, &pa->key);
        if (p == NULL) {
            return NULL;
        }

        if (p < last && *p == '=') {
            p = ngx_http_adcp_sf_item(p + 1, last, &pa->type, &pa->value,
                                      &pa->n);
            if (p == NULL) {
                return NULL;
            }

        } else {
            pa->type = NGX_HTTP_ADCP_SF_OTHER;   /* true */
        }
    }

    return p;
}


static ngx_http_adcp_sf_param_t *
ngx_http_adcp_sf_param(ngx_http_adcp_sf_member_t *m, char *key)
{
    size_t      len;
    ngx_uint_t  i;

    len = ngx_strlen(key);

    for (i = 0; i < m->nparams; i++) {
        if (m->params[i].key.len == len
            && ngx_strncmp(m->params[i].key.data, key, len) == 0)
        {
            return &m->params[i];
        }
    }

    return NULL;
}


static ngx_int_t
ngx_http_adcp_sign_str_is(ngx_str_t *s, char *lit)
{
    size_t  len;

    len = ngx_strlen(lit);

    return s->len == len && ngx_strncmp(s->data, lit, len) == 0;
}


/*
 * Legacy HMAC-SHA256: X-ADCP-Timestamp: <ts> and X-ADCP-Signature:
 * sha256=<hex of HMAC-SHA256(secret, "<ts>.<body>")>, the values returned.
 */

ngx_int_t
ngx_http_adcp_sign_hmac(ngx_pool_t *pool, ngx_str_t *secret, time_t ts,
    ngx_str_t *body, ngx_str_t *timestamp, ngx_str_t *signature)
{
    u_char  *p, md[32];

    p = ngx_pnalloc(pool, NGX_INT64_LEN + sizeof("sha256=") - 1 + 64);
    if (p == NULL) {
        return NGX_ERROR;
    }

    timestamp->data = p;
    timestamp->len = ngx_http_adcp_sign_int(p, ts) - p;

    if (ngx_http_adcp_sign_hmac_raw(secret, timestamp, body, md) != NGX_OK) {
        return NGX_ERROR;
    }

    p += timestamp->len;
    signature->data = p;
    p = ngx_cpymem(p, "sha256=", sizeof("sha256=") - 1);
    p = ngx_http_adcp_sign_hex(p, md, 32);
    signature->len = p - signature->data;

    return NGX_OK;
}


/*
 * The receiver's check (AdCP's order): both headers, a numeric timestamp
 * within 300 s of now, then the HMAC compared in constant time.
 */

ngx_int_t
ngx_http_adcp_sign_hmac_verify(ngx_str_t *secret, ngx_str_t *timestamp,
    ngx_str_t *signature, ngx_str_t *body, time_t now)
{
    u_char      md[32], expected[sizeof("sha256=") - 1 + 64];
    int64_t     ts;
    ngx_uint_t  i;

    if (timestamp == NULL || timestamp->len == 0 || timestamp->len > 15
        || signature == NULL || signature->len == 0)
    {
        return NGX_DECLINED;
    }

    ts = 0;

    for (i = 0; i < timestamp->len; i++) {
        if (timestamp->data[i] < '0' || timestamp->data[i] > '9') {
            return NGX_DECLINED;
        }

        ts = ts * 10 + (timestamp->data[i] - '0');
    }

    if (ts - now > NGX_HTTP_ADCP_SIGN_VALIDITY
        || now - ts > NGX_HTTP_ADCP_SIGN_VALIDITY)
    {
        return NGX_DECLINED;
    }

    if (signature->len != sizeof(expected)) {
        return NGX_DECLINED;
    }

    if (ngx_http_adcp_sign_hmac_raw(secret, timestamp, body, md) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_memcpy(expected, "sha256=", sizeof("sha256=") - 1);
    ngx_http_adcp_sign_hex(expected + sizeof("sha256=") - 1, md, 32);

    if (CRYPTO_memcmp(expected, signature->data, sizeof(expected)) != 0) {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_adcp_sign_hmac_raw(ngx_str_t *secret, ngx_str_t *ts,
    ngx_str_t *body, u_char *md)
{
    size_t        len;
    EVP_MAC      *mac;
    ngx_int_t     rc;
    OSSL_PARAM    params[2];
    EVP_MAC_CTX  *ctx;

    mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac == NULL) {
        ERR_clear_error();
        return NGX_ERROR;
    }

    ctx = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);

    if (ctx == NULL) {
        ERR_clear_error();
        return NGX_ERROR;
    }

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *) "SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();

    rc = NGX_ERROR;

    if (EVP_MAC_init(ctx, secret->data, secret->len, params) == 1
        && EVP_MAC_update(ctx, ts->data, ts->len) == 1
        && EVP_MAC_update(ctx, (u_char *) ".", 1) == 1
        && EVP_MAC_update(ctx, body->data, body->len) == 1
        && EVP_MAC_final(ctx, md, &len, 32) == 1
        && len == 32)
    {
        rc = NGX_OK;
    }

    EVP_MAC_CTX_free(ctx);
    ERR_clear_error();

    return rc;
}


/* kid: what AdCP's identifiers allow, quoted nowhere then */

ngx_int_t
ngx_http_adcp_sign_kid_valid(ngx_str_t *kid)
{
    u_char      c;
    ngx_uint_t  i;

    if (kid->len == 0 || kid->len > NGX_HTTP_ADCP_SIGN_KID_MAX) {
        return 0;
    }

    for (i = 0; i < kid->len; i++) {
        c = kid->data[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':'
              || c == '-'))
        {
            return 0;
        }
    }

    return 1;
}


/*
 * A private key from a PEM file (configuration time: the read blocks).
 * The key is freed with the pool.  NULL: loaded; else why not.
 */

char *
ngx_http_adcp_sign_key_load(ngx_pool_t *pool, ngx_str_t *path,
    ngx_str_t *kid, ngx_http_adcp_sign_key_t *key)
{
    BIO                 *bio;
    char                *err;
    u_char              *name;
    EVP_PKEY            *pkey;
    ngx_pool_cleanup_t  *cln;

    name = ngx_pnalloc(pool, path->len + 1);
    if (name == NULL) {
        return "out of memory";
    }

    ngx_memcpy(name, path->data, path->len);
    name[path->len] = '\0';

    bio = BIO_new_file((char *) name, "r");
    if (bio == NULL) {
        ERR_clear_error();
        return "cannot be opened";
    }

    /* no password callback: an encrypted key fails, never prompts */

    pkey = PEM_read_bio_PrivateKey(bio, NULL, ngx_http_adcp_sign_no_password,
                                   NULL);
    BIO_free(bio);
    ERR_clear_error();

    if (pkey == NULL) {
        return "is not an unencrypted PEM private key";
    }

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        EVP_PKEY_free(pkey);
        return "out of memory";
    }

    cln->handler = ngx_http_adcp_sign_pkey_cleanup;
    cln->data = pkey;

    if (ngx_http_adcp_sign_key_set(pool, pkey, kid, key, &err) != NGX_OK) {
        return err;
    }

    return NULL;
}


static void
ngx_http_adcp_sign_pkey_cleanup(void *data)
{
    EVP_PKEY_free(data);
}


static int
ngx_http_adcp_sign_no_password(char *buf, int size, int rwflag, void *data)
{
    return -1;
}


/* an Ed25519 or P-256 key (private or public): its JWK coordinates */

ngx_int_t
ngx_http_adcp_sign_key_set(ngx_pool_t *pool, EVP_PKEY *pkey, ngx_str_t *kid,
    ngx_http_adcp_sign_key_t *key, char **err)
{
    u_char   raw[32], *p;
    char     group[32];
    size_t   len;
    BIGNUM  *x, *y;

    if (!ngx_http_adcp_sign_kid_valid(kid)) {
        *err = "kid is not 1 to 255 of [A-Za-z0-9_.:-]";
        return NGX_DECLINED;
    }

    ngx_memzero(key, sizeof(ngx_http_adcp_sign_key_t));

    key->pkey = pkey;
    key->kid = *kid;

    p = ngx_pnalloc(pool, 2 * ngx_http_adcp_sign_b64_len(32, 0));
    if (p == NULL) {
        *err = "out of memory";
        return NGX_ERROR;
    }

    if (EVP_PKEY_base_id(pkey) == EVP_PKEY_ED25519) {
        len = sizeof(raw);

        if (EVP_PKEY_get_raw_public_key(pkey, raw, &len) != 1 || len != 32) {
            ERR_clear_error();
            *err = "has no Ed25519 public key";
            return NGX_DECLINED;
        }

        key->alg = NGX_HTTP_ADCP_SIGN_ED25519;
        key->x.data = p;
        key->x.len = ngx_http_adcp_sign_b64url(p, raw, 32) - p;

        return NGX_OK;
    }

    if (EVP_PKEY_base_id(pkey) != EVP_PKEY_EC
        || EVP_PKEY_get_group_name(pkey, group, sizeof(group), &len) != 1
        || (ngx_strcmp(group, "prime256v1") != 0
            && ngx_strcmp(group, "P-256") != 0))
    {
        ERR_clear_error();
        *err = "is neither an Ed25519 nor an EC P-256 key";
        return NGX_DECLINED;
    }

    x = NULL;
    y = NULL;

    if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x) != 1
        || EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y) != 1
        || BN_bn2binpad(x, raw, 32) != 32)
    {
        BN_free(x);
        BN_free(y);
        ERR_clear_error();
        *err = "has no P-256 public key";
        return NGX_DECLINED;
    }

    key->alg = NGX_HTTP_ADCP_SIGN_ES256;
    key->x.data = p;
    key->x.len = ngx_http_adcp_sign_b64url(p, raw, 32) - p;
    p += key->x.len;

    len = BN_bn2binpad(y, raw, 32);

    BN_free(x);
    BN_free(y);

    if (len != 32) {
        *err = "has no P-256 public key";
        return NGX_DECLINED;
    }

    key->y.data = p;
    key->y.len = ngx_http_adcp_sign_b64url(p, raw, 32) - p;

    return NGX_OK;
}


/* a public key from a JWK's x (and y), base64url; the caller frees it */

EVP_PKEY *
ngx_http_adcp_sign_public_key(ngx_uint_t alg, ngx_str_t *x, ngx_str_t *y)
{
    u_char         pub[65];
    EVP_PKEY      *pkey;
    OSSL_PARAM     params[3];
    EVP_PKEY_CTX  *ctx;

    if (ngx_http_adcp_sign_b64_decode(pub + 1, 32, x->data, x->len, 1)
        != 32)
    {
        return NULL;
    }

    if (alg == NGX_HTTP_ADCP_SIGN_ED25519) {
        pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub + 1,
                                           32);
        ERR_clear_error();
        return pkey;
    }

    if (y == NULL
        || ngx_http_adcp_sign_b64_decode(pub + 33, 32, y->data, y->len, 1)
           != 32)
    {
        return NULL;
    }

    pub[0] = 0x04;

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                 (char *) "P-256", 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
                                                  pub, sizeof(pub));
    params[2] = OSSL_PARAM_construct_end();

    pkey = NULL;

    ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);

    if (ctx == NULL
        || EVP_PKEY_fromdata_init(ctx) != 1
        || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
    {
        pkey = NULL;
    }

    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();

    return pkey;
}


/* {"keys":[...]}: each key's public part, as AdCP's request-signing JWK */

ngx_int_t
ngx_http_adcp_sign_jwks(ngx_pool_t *pool, ngx_http_adcp_sign_key_t *keys,
    ngx_uint_t n, ngx_str_t *out)
{
    u_char      *p;
    size_t       len;
    ngx_uint_t   i;

#define NGX_HTTP_ADCP_JWK_TAIL                                                \
    "\",\"use\":\"sig\",\"key_ops\":[\"verify\"],"                            \
    "\"adcp_use\":\"request-signing\"}"

    len = sizeof("{\"keys\":[]}") - 1;

    for (i = 0; i < n; i++) {
        len += sizeof(",{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"\""
                      ",\"y\":\"\",\"kid\":\"\",\"alg\":\"EdDSA"
                      NGX_HTTP_ADCP_JWK_TAIL)
               + keys[i].x.len + keys[i].y.len + keys[i].kid.len;
    }

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    out->data = p;
    p = ngx_cpymem(p, "{\"keys\":[", sizeof("{\"keys\":[") - 1);

    for (i = 0; i < n; i++) {
        if (i) {
            *p++ = ',';
        }

        if (keys[i].alg == NGX_HTTP_ADCP_SIGN_ED25519) {
            p = ngx_cpymem(p, "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"",
                           sizeof("{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
                                  "\"x\":\"") - 1);
            p = ngx_cpymem(p, keys[i].x.data, keys[i].x.len);

        } else {
            p = ngx_cpymem(p, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"",
                           sizeof("{\"kty\":\"EC\",\"crv\":\"P-256\","
                                  "\"x\":\"") - 1);
            p = ngx_cpymem(p, keys[i].x.data, keys[i].x.len);
            p = ngx_cpymem(p, "\",\"y\":\"", sizeof("\",\"y\":\"") - 1);
            p = ngx_cpymem(p, keys[i].y.data, keys[i].y.len);
        }

        p = ngx_cpymem(p, "\",\"kid\":\"", sizeof("\",\"kid\":\"") - 1);
        p = ngx_cpymem(p, keys[i].kid.data, keys[i].kid.len);
        p = ngx_cpymem(p, "\",\"alg\":\"", sizeof("\",\"alg\":\"") - 1);

        if (keys[i].alg == NGX_HTTP_ADCP_SIGN_ED25519) {
            p = ngx_cpymem(p, "EdDSA", 5);

        } else {
            p = ngx_cpymem(p, "ES256", 5);
        }

        p = ngx_cpymem(p, NGX_HTTP_ADCP_JWK_TAIL,
                       sizeof(NGX_HTTP_ADCP_JWK_TAIL) - 1);
    }

    *p++ = ']';
    *p++ = '}';

    out->len = p - out->data;

#undef NGX_HTTP_ADCP_JWK_TAIL

    return NGX_OK;
}


/*
 * A push_notification_config's authentication (optional: exactly one
 * scheme, Bearer or HMAC-SHA256, and credentials of 32 characters at
 * least), token (16 to 4096 characters) and operation_id
 * (^[A-Za-z0-9_.:-]{1,255}$).  NULL: valid, out filled (pointing into
 * the parsed tree); else the message, *field the member at fault.
 */

char *
ngx_http_adcp_sign_pnc(yajl_val pnc, ngx_http_adcp_sign_pnc_t *out,
    char **field)
{
    u_char      *s, c;
    size_t       len, i;
    yajl_val     v, auth, schemes, scheme;
    ngx_uint_t   same;

    ngx_memzero(out, sizeof(ngx_http_adcp_sign_pnc_t));

    *field = "push_notification_config";

    if (pnc == NULL || !YAJL_IS_OBJECT(pnc)) {
        return "push_notification_config is not an object";
    }

    v = ngx_http_adcp_json_get(pnc, "token");

    if (v && !YAJL_IS_NULL(v)) {
        *field = "push_notification_config.token";

        if (!YAJL_IS_STRING(v)) {
            return "push_notification_config.token is not a string";
        }

        s = (u_char *) v->u.string;
        len = ngx_http_adcp_sign_utf8_len(s, ngx_strlen(s));

        if (len < 16 || len > 4096) {
            return "push_notification_config.token is not 16 to 4096 "
                   "characters";
        }

        out->token.data = s;
        out->token.len = ngx_strlen(s);
    }

    v = ngx_http_adcp_json_get(pnc, "operation_id");

    if (v && !YAJL_IS_NULL(v)) {
        *field = "push_notification_config.operation_id";

        if (!YAJL_IS_STRING(v)) {
            return "push_notification_config.operation_id is not a string";
        }

        s = (u_char *) v->u.string;
        len = ngx_strlen(s);

        for (i = 0; i < len; i++) {
            c = s[i];

            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                  || (c >= '0' && c <= '9') || c == '_' || c == '.'
                  || c == ':' || c == '-'))
            {
                break;
            }
        }

        if (len == 0 || len > 255 || i < len) {
            return "push_notification_config.operation_id does not match "
                   "^[A-Za-z0-9_.:-]{1,255}$";
        }

        out->operation_id.data = s;
        out->operation_id.len = len;
    }

    auth = ngx_http_adcp_json_get(pnc, "authentication");

    if (auth == NULL || YAJL_IS_NULL(auth)) {
        out->scheme = NGX_HTTP_ADCP_SIGN_AUTH_NONE;
        *field = NULL;
        return NULL;
    }

    *field = "push_notification_config.authentication";

    if (!YAJL_IS_OBJECT(auth)) {
        return "push_notification_config.authentication is not an object";
    }

    for (i = 0; i < auth->u.object.len; i++) {
        if (ngx_strcmp(auth->u.object.keys[i], "schemes") != 0
            && ngx_strcmp(auth->u.object.keys[i], "credentials") != 0)
        {
            return "push_notification_config.authentication has a member "
                   "other than schemes and credentials";
        }
    }

    *field = "push_notification_config.authentication.schemes";

    schemes = ngx_http_adcp_json_get(auth, "schemes");

    if (schemes == NULL || !YAJL_IS_ARRAY(schemes)
        || schemes->u.array.len != 1)
    {
        return "push_notification_config.authentication.schemes is not "
               "an array of exactly one scheme";
    }

    scheme = schemes->u.array.values[0];

    if (YAJL_IS_STRING(scheme)
        && ngx_strcmp(scheme->u.string, "HMAC-SHA256") == 0)
    {
        out->scheme = NGX_HTTP_ADCP_SIGN_AUTH_HMAC;

    } else if (YAJL_IS_STRING(scheme)
               && ngx_strcmp(scheme->u.string, "Bearer") == 0)
    {
        out->scheme = NGX_HTTP_ADCP_SIGN_AUTH_BEARER;

    } else {
        return "push_notification_config.authentication.schemes is neither "
               "[\"Bearer\"] nor [\"HMAC-SHA256\"]";
    }

    *field = "push_notification_config.authentication.credentials";

    v = ngx_http_adcp_json_get(auth, "credentials");

    if (v == NULL || !YAJL_IS_STRING(v)) {
        return "push_notification_config.authentication.credentials is "
               "missing";
    }

    s = (u_char *) v->u.string;
    len = ngx_strlen(s);

    if (ngx_http_adcp_sign_utf8_len(s, len) < 32 || len > 4096) {
        return "push_notification_config.authentication.credentials is "
               "not 32 to 4096 characters";
    }

    /* a Bearer token goes into a header: visible ASCII only */

    same = 1;

    for (i = 0; i < len; i++) {
        if (out->scheme == NGX_HTTP_ADCP_SIGN_AUTH_BEARER
            && (s[i] <= 0x20 || s[i] >= 0x7f))
        {
            return "push_notification_config.authentication.credentials "
                   "is not a valid Bearer token";
        }

        same &= (s[i] == s[0]);
    }

    if (same) {
        return "push_notification_config.authentication.credentials "
               "repeats one character";
    }

    out->credentials.data = s;
    out->credentials.len = len;

    *field = NULL;

    return NULL;
}


/* characters (code points) of well-formed UTF-8 */

static size_t
ngx_http_adcp_sign_utf8_len(u_char *p, size_t n)
{
    size_t  len;

    for (len = 0; n; p++, n--) {
        len += ((*p & 0xc0) != 0x80);
    }

    return len;
}
