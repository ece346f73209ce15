
/*
 * ngx_http_adcp_module: webhook signing, the URL as RFC 9421 signs it
 * (AdCP's canonicalization): "@target-uri", "@authority", the request
 * target and the host and port a webhook's request line and Host carry.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_adcp_tasks_sign.h"


static u_char *ngx_http_adcp_sign_port(u_char *p, ngx_uint_t n);
static u_char *ngx_http_adcp_sign_dot_segments(u_char *p, u_char *last,
    u_char *out);
static ngx_int_t ngx_http_adcp_sign_host(u_char *h, u_char *e,
    ngx_str_t *host, u_char **port, ngx_uint_t *ipv6);
static ngx_int_t ngx_http_adcp_sign_chars(u_char *p, u_char *last,
    ngx_uint_t path);
static ngx_int_t ngx_http_adcp_sign_xdigit(u_char c);
static u_char *ngx_http_adcp_sign_percent(u_char *o, u_char *p,
    u_char *last);


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
        o = ngx_http_adcp_sign_port(o, n);
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


/* a port's digits (1 to 65535) */

static u_char *
ngx_http_adcp_sign_port(u_char *p, ngx_uint_t n)
{
    u_char  buf[8], *b;

    b = buf + sizeof(buf);

    do {
        *--b = (u_char) ('0' + n % 10);
        n /= 10;
    } while (n);

    return ngx_cpymem(p, b, buf + sizeof(buf) - b);
}
