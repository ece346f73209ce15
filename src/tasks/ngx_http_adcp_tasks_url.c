
/*
 * ngx_http_adcp_tasks_module: the webhook URL policy, one for accept and
 * for delivery.  A webhook goes to an https:// url (an http:// one only
 * with adcp_task_webhook_http or adcp_task_webhook_private on: AdCP asks
 * sellers to refuse plain http in production) of at most 2048 bytes,
 * without a space or control byte (it goes into a request line) or
 * userinfo, whose host is a name or an address; never to the gateway's
 * own network (loopback, private, link-local, shared CGNAT, unspecified,
 * multicast, reserved; an IPv6 address that embeds an IPv4 one,
 * IPv4-mapped, NAT64 or 6to4, judged by it) unless
 * adcp_task_webhook_private is on: a buyer must not reach the admin
 * endpoint or a metadata service.  A host name is checked again once
 * resolved.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_adcp_tasks_private.h"


#define NGX_HTTP_ADCP_HOOK_URL_MAX  2048


/*
 * NGX_HTTP_ADCP_URL_OK and u, or why not; allow: NGX_HTTP_ADCP_URL_ALLOW_*
 * (an http:// url is NGX_HTTP_ADCP_URL_PLAIN without ALLOW_HTTP, an
 * address of the gateway's network NGX_HTTP_ADCP_URL_PRIVATE without
 * ALLOW_PRIVATE)
 */

ngx_http_adcp_tasks_url_e
ngx_http_adcp_tasks_url(ngx_pool_t *pool, ngx_str_t *url, ngx_uint_t allow,
    ngx_http_adcp_tasks_url_t *u)
{
    u_char     *p, *last;
    size_t      skip;
    in_port_t   port;
    ngx_url_t   pu;
    ngx_uint_t  ssl;

    last = url->data + url->len;

    if (url->len >= 8
        && ngx_strncasecmp(url->data, (u_char *) "https://", 8) == 0)
    {
        ssl = 1;
        skip = 8;
        port = 443;

    } else if (url->len >= 7
               && ngx_strncasecmp(url->data, (u_char *) "http://", 7) == 0)
    {
        ssl = 0;
        skip = 7;
        port = 80;

    } else {
        return NGX_HTTP_ADCP_URL_NOT_HTTP;
    }

    if (url->len > NGX_HTTP_ADCP_HOOK_URL_MAX) {
        return NGX_HTTP_ADCP_URL_NOT_HTTP;
    }

    if (!ssl && !(allow & NGX_HTTP_ADCP_URL_ALLOW_HTTP)) {
        return NGX_HTTP_ADCP_URL_PLAIN;
    }

    for (p = url->data; p < last; p++) {
        if (*p <= ' ' || *p == 0x7f) {
            return NGX_HTTP_ADCP_URL_INVALID;
        }
    }

    /* a fragment is the buyer's own: never sent (RFC 9110, 7.1) */

    p = ngx_strlchr(url->data + skip, last, '#');

    if (p) {
        last = p;
    }

    /*
     * userinfo is an error (RFC 9110, 4.2.4): nginx's parser would take it
     * for a part of the host name, never resolved
     */

    for (p = url->data + skip; p < last && *p != '/' && *p != '?'; p++) {
        if (*p == '@') {
            return NGX_HTTP_ADCP_URL_INVALID;
        }
    }

    ngx_memzero(&pu, sizeof(ngx_url_t));

    pu.url.data = url->data + skip;
    pu.url.len = last - pu.url.data;
    pu.default_port = port;
    pu.uri_part = 1;
    pu.no_resolve = 1;

    if (ngx_parse_url(pool, &pu) != NGX_OK || pu.host.len == 0) {
        return NGX_HTTP_ADCP_URL_INVALID;
    }

    if (pu.naddrs && !(allow & NGX_HTTP_ADCP_URL_ALLOW_PRIVATE)
        && !ngx_http_adcp_tasks_url_public(pu.addrs[0].sockaddr))
    {
        return NGX_HTTP_ADCP_URL_PRIVATE;
    }

    u->host = pu.host;
    u->path = pu.uri;
    u->port = pu.port;
    u->ssl = ssl;

    if (u->path.len == 0) {
        ngx_str_set(&u->path, "/");
    }

    /* the Host header: the port only when it is not the scheme's */

    if (pu.port == port) {
        u->authority = pu.host;

    } else {
        p = ngx_pnalloc(pool, pu.host.len + sizeof(":65535") - 1);
        if (p == NULL) {
            return NGX_HTTP_ADCP_URL_INVALID;
        }

        u->authority.data = p;
        u->authority.len = ngx_sprintf(p, "%V:%d", &pu.host, (int) pu.port)
                           - p;
    }

    u->addr = pu.naddrs ? &pu.addrs[0] : NULL;

    return NGX_HTTP_ADCP_URL_OK;
}


/* an address a webhook may go to (without adcp_task_webhook_private) */

ngx_uint_t
ngx_http_adcp_tasks_url_public(struct sockaddr *sa)
{
    u_char               *a;
    in_addr_t             ip;
    struct sockaddr_in   *sin;
#if (NGX_HAVE_INET6)
    struct in6_addr      *a6;
    struct sockaddr_in6  *sin6;

    static u_char  nat64[12] = { 0, 0x64, 0xff, 0x9b };    /* ::/96 */
    static u_char  nat64_local[6] = { 0, 0x64, 0xff, 0x9b, 0, 1 };
                                                /* ::/48, RFC 8215 */
#endif

    switch (sa->sa_family) {

#if (NGX_HAVE_INET6)
    case AF_INET6:
        sin6 = (struct sockaddr_in6 *) sa;
        a6 = &sin6->sin6_addr;

        a = a6->s6_addr;

        /*
         * addresses a host or a router turns into the IPv4 address they
         * embed: IPv4-mapped (::ffff:0:0/96), NAT64's well-known prefix
         * (64:ff9b::/96, RFC 6052: a NAT64 gateway reaches the private
         * IPv4 network behind it too), 6to4 (2002::/16, RFC 3056)
         */

        if (IN6_IS_ADDR_V4MAPPED(a6) || ngx_memcmp(a, nat64, 12) == 0) {
            a = &a[12];
            ip = (in_addr_t) a[0] << 24 | a[1] << 16 | a[2] << 8 | a[3];
            goto ipv4;
        }

        if (a[0] == 0x20 && a[1] == 0x02) {
            a = &a[2];
            ip = (in_addr_t) a[0] << 24 | a[1] << 16 | a[2] << 8 | a[3];
            goto ipv4;
        }

        if (IN6_IS_ADDR_UNSPECIFIED(a6) || IN6_IS_ADDR_LOOPBACK(a6)
            || IN6_IS_ADDR_LINKLOCAL(a6) || IN6_IS_ADDR_SITELOCAL(a6)
            || IN6_IS_ADDR_MULTICAST(a6)
            || IN6_IS_ADDR_V4COMPAT(a6)               /* ::/96, deprecated */
            || (a[0] & 0xfe) == 0xfc                  /* fc00::/7 */
            || ngx_memcmp(a, nat64_local, 6) == 0)
        {
            return 0;
        }

        return 1;
#endif

    case AF_INET:
        sin = (struct sockaddr_in *) sa;
        ip = ntohl(sin->sin_addr.s_addr);
        break;

    default:
        return 0;
    }

#if (NGX_HAVE_INET6)
ipv4:
#endif

    if ((ip >> 24) == 0                             /* 0.0.0.0/8 */
        || (ip >> 24) == 10                         /* 10.0.0.0/8 */
        || (ip >> 24) == 127                        /* 127.0.0.0/8 */
        || (ip >> 22) == (100 << 2 | 64 >> 6)       /* 100.64.0.0/10 */
        || (ip >> 16) == (169 << 8 | 254)           /* 169.254.0.0/16 */
        || (ip >> 20) == (172 << 4 | 16 >> 4)       /* 172.16.0.0/12 */
        || (ip >> 16) == (192 << 8 | 168)           /* 192.168.0.0/16 */
        || (ip >> 28) >= 14)                        /* 224.0.0.0/3 */
    {
        return 0;
    }

    return 1;
}


/*
 * A stored value that may go into a request's head: no CR, LF or other
 * control byte (a tab aside), so that it cannot split lines
 */

ngx_uint_t
ngx_http_adcp_tasks_clean(u_char *s, size_t len)
{
    u_char  *last;

    for (last = s + len; s < last; s++) {
        if ((*s < 0x20 && *s != '\t') || *s == 0x7f) {
            return 0;
        }
    }

    return 1;
}
