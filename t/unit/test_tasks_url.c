
/*
 * Unit tests of the webhook URL policy (src/tasks/ngx_http_adcp_tasks_url.c):
 * which urls a task may name for its webhook, and which addresses a
 * webhook may go to.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "../../src/tasks/ngx_http_adcp_tasks_private.h"
#include "ngx_stubs.h"
#include "tap.h"


static int
public4(const char *ip)
{
    struct sockaddr_in  sin;

    ngx_memzero(&sin, sizeof(struct sockaddr_in));
    sin.sin_family = AF_INET;
    inet_pton(AF_INET, ip, &sin.sin_addr);

    return ngx_http_adcp_tasks_url_public((struct sockaddr *) &sin);
}


static int
public6(const char *ip)
{
    struct sockaddr_in6  sin6;

    ngx_memzero(&sin6, sizeof(struct sockaddr_in6));
    sin6.sin6_family = AF_INET6;
    inet_pton(AF_INET6, ip, &sin6.sin6_addr);

    return ngx_http_adcp_tasks_url_public((struct sockaddr *) &sin6);
}


static ngx_pool_t  *test_pool;


/* what the conf makes of adcp_task_webhook_http and _private on */

#define HTTP     NGX_HTTP_ADCP_URL_ALLOW_HTTP
#define PRIVATE  (NGX_HTTP_ADCP_URL_ALLOW_PRIVATE|NGX_HTTP_ADCP_URL_ALLOW_HTTP)


/* u points into the pool: kept until the next call */

static char *
policy(const char *url, ngx_uint_t allow, ngx_http_adcp_tasks_url_t *u)
{
    ngx_str_t                  s;
    ngx_http_adcp_tasks_url_e  why;

    static char  *names[] = { "ok", "plain", "not http", "invalid",
                              "private" };

    if (test_pool) {
        test_pool_destroy(test_pool);
    }

    test_pool = test_pool_create();

    s.data = (u_char *) url;
    s.len = strlen(url);

    ngx_memzero(u, sizeof(ngx_http_adcp_tasks_url_t));

    why = ngx_http_adcp_tasks_url(test_pool, &s, allow, u);

    return names[why];
}


static int
clean(const char *s)
{
    return ngx_http_adcp_tasks_clean((u_char *) s, strlen(s));
}


int
main(void)
{
    char                       long_url[2100];
    ngx_http_adcp_tasks_url_t  u;

    /* addresses */

    tap_ok(public4("8.8.8.8"), "8.8.8.8 is public");
    tap_ok(public4("172.32.0.1"), "172.32.0.1 is public (past 172.16/12)");
    tap_ok(public4("100.128.0.1"), "100.128.0.1 is public (past CGNAT)");
    tap_ok(public4("223.255.255.255"), "223.255.255.255 is public");
    tap_ok(!public4("0.0.0.0"), "0.0.0.0 is not");
    tap_ok(!public4("10.1.2.3"), "10/8 is not");
    tap_ok(!public4("127.0.0.1"), "loopback is not");
    tap_ok(!public4("100.64.0.1"), "100.64/10 (CGNAT) is not");
    tap_ok(!public4("100.127.255.255"), "... to its end");
    tap_ok(!public4("169.254.169.254"), "link-local (metadata) is not");
    tap_ok(!public4("172.16.0.1"), "172.16/12 is not");
    tap_ok(!public4("172.31.255.255"), "... to its end");
    tap_ok(!public4("192.168.1.1"), "192.168/16 is not");
    tap_ok(!public4("224.0.0.1"), "multicast is not");
    tap_ok(!public4("255.255.255.255"), "reserved is not");

    tap_ok(public6("2001:4860:4860::8888"), "a global IPv6 address is");
    tap_ok(!public6("::1"), "IPv6 loopback is not");
    tap_ok(!public6("::"), "IPv6 unspecified is not");
    tap_ok(!public6("fe80::1"), "IPv6 link-local is not");
    tap_ok(!public6("fd00::1"), "IPv6 unique local is not");
    tap_ok(!public6("ff02::1"), "IPv6 multicast is not");
    tap_ok(!public6("::ffff:10.0.0.1"), "an IPv4-mapped private one is not");
    tap_ok(public6("::ffff:8.8.8.8"), "an IPv4-mapped public one is");

    /* IPv6 prefixes a router turns into the IPv4 address they embed */

    tap_ok(!public6("64:ff9b::a9fe:a9fe"),
           "NAT64 (64:ff9b::/96) of 169.254.169.254 is not");
    tap_ok(!public6("64:ff9b::10.0.0.1"), "NAT64 of 10.0.0.1 is not");
    tap_ok(!public6("64:ff9b::127.0.0.1"), "NAT64 of loopback is not");
    tap_ok(public6("64:ff9b::8.8.8.8"), "NAT64 of a public address is");
    tap_ok(!public6("64:ff9b:1::a00:1"),
           "local-use NAT64 (64:ff9b:1::/48, RFC 8215) is not");
    tap_ok(!public6("2002:7f00:1::1"), "6to4 (2002::/16) of loopback is not");
    tap_ok(!public6("2002:a9fe:a9fe::1"), "6to4 of 169.254.169.254 is not");
    tap_ok(public6("2002:808:808::1"), "6to4 of a public address is");
    tap_ok(!public6("::127.0.0.1"), "IPv4-compatible (::/96) is not");
    tap_ok(!public6("::8.8.8.8"), "... deprecated, none of it");

    /* urls */

    tap_ok(strcmp(policy("https://hooks.example/x", 0, &u), "ok") == 0
           && u.ssl && u.port == 443 && u.addr == NULL
           && u.host.len == 13
           && ngx_strncmp(u.host.data, "hooks.example", 13) == 0,
           "https: fine, port 443, the host");
    tap_ok(u.authority.len == 13
           && ngx_strncmp(u.authority.data, "hooks.example", 13) == 0,
           "... Host without the default port");
    tap_ok(strcmp(policy("HTTPS://hooks.example/x", 0, &u), "ok") == 0
           && u.ssl, "... in any case");
    tap_ok(strcmp(policy("https://hooks.example:443/x", 0, &u), "ok") == 0
           && u.authority.len == 13, "... :443 given: Host without it");
    tap_ok(strcmp(policy("https://hooks.example:9443/x?a=1", 0, &u), "ok")
           == 0 && u.port == 9443 && u.authority.len == 18
           && ngx_strncmp(u.authority.data, "hooks.example:9443", 18) == 0
           && u.path.len == 6 && ngx_strncmp(u.path.data, "/x?a=1", 6) == 0,
           "... :9443: Host hooks.example:9443, path and query");
    tap_ok(strcmp(policy("https://93.184.216.34:8443", 0, &u), "ok") == 0
           && u.ssl && u.addr != NULL && u.path.len == 1
           && u.authority.len == 18
           && ngx_strncmp(u.authority.data, "93.184.216.34:8443", 18) == 0,
           "an https address: the address, Host with the port");
    tap_ok(strcmp(policy("https://hooks.example/x?a=1#frag", 0, &u), "ok")
           == 0 && u.path.len == 6
           && ngx_strncmp(u.path.data, "/x?a=1", 6) == 0,
           "... a fragment dropped");
    tap_ok(strcmp(policy("https://hooks.example#frag", 0, &u), "ok") == 0
           && u.path.len == 1 && u.path.data[0] == '/'
           && u.authority.len == 13, "... a fragment alone: path \"/\"");
    tap_ok(strcmp(policy("https://[2001:db8::1]:8443/h", 0, &u), "ok") == 0
           && u.addr != NULL && u.host.len == 13
           && ngx_strncmp(u.host.data, "[2001:db8::1]", 13) == 0
           && u.authority.len == 18
           && ngx_strncmp(u.authority.data, "[2001:db8::1]:8443", 18) == 0,
           "an IPv6 address: host in [], Host with the port");
    tap_ok(strcmp(policy("https://127.0.0.1/h", 0, &u), "private") == 0,
           "https to loopback: refused");
    tap_ok(strcmp(policy("https://127.0.0.1:8443/h",
                         NGX_HTTP_ADCP_URL_ALLOW_PRIVATE, &u), "ok") == 0
           && u.ssl && u.port == 8443,
           "... allowed with adcp_task_webhook_private");

    tap_ok(strcmp(policy("http://hooks.example/x", 0, &u), "plain") == 0,
           "http: refused by default");
    tap_ok(strcmp(policy("HTTP://93.184.216.34/x", 0, &u), "plain") == 0,
           "... in any case");
    tap_ok(strcmp(policy("http://hooks.example/x",
                         NGX_HTTP_ADCP_URL_ALLOW_PRIVATE, &u), "plain") == 0,
           "... the private flag alone does not allow it (the conf sets "
           "both)");
    tap_ok(strcmp(policy("http://hooks.example/x", HTTP, &u), "ok") == 0
           && !u.ssl && u.port == 80 && u.authority.len == 13,
           "... allowed with adcp_task_webhook_http: port 80, Host without "
           "it");
    tap_ok(strcmp(policy("http://10.0.0.5/x", HTTP, &u), "private") == 0,
           "... still not to a private address");

    tap_ok(strcmp(policy("ftp://hooks.example/x", HTTP, &u), "not http")
           == 0, "ftp: not http");
    tap_ok(strcmp(policy("http:/x", HTTP, &u), "not http") == 0,
           "a short url: not http");
    tap_ok(strcmp(policy("https:/x", 0, &u), "not http") == 0,
           "... https too");
    tap_ok(strcmp(policy("http://a b/", HTTP, &u), "invalid") == 0,
           "a space: invalid");
    tap_ok(strcmp(policy("https://a b/", 0, &u), "invalid") == 0,
           "... https too");
    tap_ok(strcmp(policy("http://a/\tb", HTTP, &u), "invalid") == 0,
           "a tab: invalid");
    tap_ok(strcmp(policy("https://a/\r\nX: y", 0, &u), "invalid") == 0,
           "CR LF: invalid");
    tap_ok(strcmp(policy("http://a/\x7f", HTTP, &u), "invalid") == 0,
           "DEL: invalid");
    tap_ok(strcmp(policy("https://user@hooks.example/h", 0, &u), "invalid")
           == 0, "userinfo: refused (its host would be resolved with it)");
    tap_ok(strcmp(policy("https://127.0.0.1@hooks.example/h", 0, &u),
                  "invalid") == 0, "... an address as userinfo too");
    tap_ok(strcmp(policy("https://hooks.example/a@b?c=@", 0, &u), "ok")
           == 0, "'@' in the path and the query is fine");
    tap_ok(strcmp(policy("http://", HTTP, &u), "invalid") == 0,
           "no host: invalid");
    tap_ok(strcmp(policy("https://", 0, &u), "invalid") == 0,
           "... https too");

    memset(long_url, 'a', sizeof(long_url) - 1);
    memcpy(long_url, "https://h/", 10);
    long_url[2049] = '\0';
    tap_ok(strcmp(policy(long_url, 0, &u), "not http") == 0,
           "2049 bytes: refused");
    long_url[2048] = '\0';
    tap_ok(strcmp(policy(long_url, 0, &u), "ok") == 0, "2048 bytes: fine");

    tap_ok(strcmp(policy("http://10.0.0.5:8080/h", HTTP, &u), "private")
           == 0, "a private address: refused");
    tap_ok(strcmp(policy("http://127.0.0.1/h", HTTP, &u), "private") == 0,
           "loopback: refused");
    tap_ok(strcmp(policy("http://[::1]/h", HTTP, &u), "private") == 0,
           "IPv6 loopback: refused");
    tap_ok(strcmp(policy("https://[64:ff9b::a9fe:a9fe]/h", 0, &u),
                  "private") == 0,
           "the metadata address through NAT64: refused");
    tap_ok(strcmp(policy("https://[2002:a00:1::1]/h", 0, &u), "private")
           == 0, "10.0.0.1 through 6to4: refused");
    tap_ok(strcmp(policy("http://127.0.0.1:81/h", PRIVATE, &u), "ok") == 0
           && u.addr != NULL && u.port == 81 && u.authority.len == 12
           && ngx_strncmp(u.authority.data, "127.0.0.1:81", 12) == 0,
           "... allowed with adcp_task_webhook_private");

    tap_ok(strcmp(policy("http://hooks.example:8080/p?q=1", HTTP, &u), "ok")
           == 0
           && u.host.len == 13
           && ngx_strncmp(u.host.data, "hooks.example", 13) == 0
           && u.port == 8080 && u.path.len == 6
           && ngx_strncmp(u.path.data, "/p?q=1", 6) == 0
           && u.authority.len == 18
           && ngx_strncmp(u.authority.data, "hooks.example:8080", 18) == 0
           && u.addr == NULL,
           "a host name: host, port, path, Host; resolved later");

    tap_ok(strcmp(policy("http://93.184.216.34", HTTP, &u), "ok") == 0
           && u.port == 80 && u.path.len == 1 && u.path.data[0] == '/'
           && u.addr != NULL && u.addr->name.len == 16
           && ngx_strncmp(u.addr->name.data, "93.184.216.34:80", 16) == 0,
           "an address: port 80, path \"/\", the address");

    /* values in a request head */

    tap_ok(clean("Bearer abc\tdef"), "a tab may be in a header value");
    tap_ok(!clean("a\r\nX-Injected: 1"), "CR LF may not");
    tap_ok(!clean("a\nb"), "LF may not");
    tap_ok(!clean("a\x7f"), "DEL may not");
    tap_ok(!ngx_http_adcp_tasks_clean((u_char *) "a\0b", 3),
           "NUL may not");

    test_pool_destroy(test_pool);

    return tap_done();
}
