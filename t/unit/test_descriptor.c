
/*
 * Unit tests of the platform descriptor parser and of what a platform
 * answers (upstream after routes, capabilities, vars).
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_adcp_descriptor.h"
#include "ngx_stubs.h"
#include "tap.h"


static ngx_str_t  tenant = ngx_string("wonderstruck");


static ngx_http_adcp_platform_t *
parse(const char *json, const char **why)
{
    size_t                     len;
    u_char                    *buf;
    ngx_http_adcp_platform_t  *pf;

    len = strlen(json);
    buf = malloc(len + 1);
    memcpy(buf, json, len + 1);

    *why = NULL;

    pf = ngx_http_adcp_descriptor_parse(&tenant, buf, len, NULL, why);

    free(buf);          /* the platform keeps copies only */

    return pf;
}


static int
refused(const char *json, const char *want, const char *name)
{
    const char                *why;
    ngx_uint_t                 live;
    ngx_http_adcp_platform_t  *pf;

    live = test_pool_live();
    pf = parse(json, &why);

    tap_ok(pf == NULL && why && strstr(why, want) != NULL,
           "%s: refused (%s)", name, why ? why : "accepted");
    tap_ok(test_pool_live() == live, "%s: nothing left allocated", name);

    return pf == NULL;
}


static int
eq(ngx_str_t *s, const char *want)
{
    return s && s->len == strlen(want) && memcmp(s->data, want, s->len) == 0;
}


int
main(void)
{
    char                      *deep;
    size_t                     i, n;
    ngx_str_t                  task;
    const char                *why;
    ngx_http_adcp_platform_t  *pf;

    pf = parse("{\"upstream\":\"gam_adapter\",\"authorization\":\"Bearer "
               "ya29.a0\",\"capabilities\":[\"get_products\","
               "\"create_media_buy\"],\"routes\":{\"get_products\":"
               "\"proposal_engine\"},\"ttl\":900,\"vars\":{\"network_code\":"
               "\"123456\"},\"unknown\":{\"ignored\":[1,2]}}", &why);

    tap_ok(pf != NULL, "a full descriptor parses (%s)", why ? why : "ok");

    if (pf == NULL) {
        return tap_done();
    }

    tap_ok(eq(&pf->tenant, "wonderstruck"), "tenant");
    tap_ok(eq(&pf->upstream, "gam_adapter"), "upstream");
    tap_ok(eq(&pf->authorization, "Bearer ya29.a0"), "authorization");
    tap_ok(pf->ttl == 900000, "ttl in ms");
    tap_ok(pf->refs == 1, "one reference, the caller's");

    task.data = (u_char *) "get_products";
    task.len = 12;
    tap_ok(eq(ngx_http_adcp_platform_upstream(pf, &task), "proposal_engine"),
           "routes: get_products -> proposal_engine");
    tap_ok(ngx_http_adcp_platform_allows(pf, &task), "get_products allowed");

    task.data = (u_char *) "create_media_buy";
    task.len = 16;
    tap_ok(eq(ngx_http_adcp_platform_upstream(pf, &task), "gam_adapter"),
           "no route: the upstream");
    tap_ok(ngx_http_adcp_platform_allows(pf, &task),
           "create_media_buy allowed");

    task.data = (u_char *) "sync_creatives";
    task.len = 14;
    tap_ok(!ngx_http_adcp_platform_allows(pf, &task),
           "sync_creatives not in capabilities");

    task.data = (u_char *) "get_adcp_capabilities";
    task.len = 21;
    tap_ok(ngx_http_adcp_platform_allows(pf, &task),
           "get_adcp_capabilities always allowed");

    task.data = (u_char *) "tasks/get";
    task.len = 9;
    tap_ok(ngx_http_adcp_platform_allows(pf, &task),
           "tasks/get always allowed");

    task.len = 0;
    tap_ok(ngx_http_adcp_platform_allows(pf, &task), "no task: allowed");

    /* near misses: a capability's prefix, extension, case, last byte */

    {
        static const char  *refused[] = {
            "get_product", "get_products2", "Get_products", "get_producta",
            "create_media_bux", "create_media_buy_", "tasks/ge",
            "tasks/gets", "get_adcp_capabilitie", "get_task_statuS", NULL
        };
        static const char  *allowed[] = {
            "get_task_status", "get_adcp_capabilities", NULL
        };

        for (i = 0; refused[i]; i++) {
            task.data = (u_char *) refused[i];
            task.len = strlen(refused[i]);
            tap_ok(!ngx_http_adcp_platform_allows(pf, &task),
                   "%s: refused", refused[i]);
        }

        for (i = 0; allowed[i]; i++) {
            task.data = (u_char *) allowed[i];
            task.len = strlen(allowed[i]);
            tap_ok(ngx_http_adcp_platform_allows(pf, &task),
                   "%s: always allowed", allowed[i]);
        }
    }

    tap_ok(eq(ngx_http_adcp_platform_var(pf, (u_char *) "network_code", 12),
              "123456"), "vars.network_code");
    tap_ok(ngx_http_adcp_platform_var(pf, (u_char *) "network", 7) == NULL,
           "an unknown var");

    ngx_http_adcp_platform_release(pf);

    pf = parse("{\"upstream\":\"10.0.0.1:8080\"}", &why);
    task.data = (u_char *) "anything";
    task.len = 8;
    tap_ok(pf && pf->capabilities == NULL
           && ngx_http_adcp_platform_allows(pf, &task),
           "no capabilities: every task is forwarded");
    tap_ok(pf && pf->authorization.len == 0 && pf->ttl == 0,
           "optional fields absent");
    ngx_http_adcp_platform_release(pf);

    pf = parse("{\"upstream\":\"a:80\",\"capabilities\":[]}", &why);
    task.data = (u_char *) "get_products";
    task.len = 12;
    tap_ok(pf && !ngx_http_adcp_platform_allows(pf, &task),
           "capabilities []: get_products refused");
    task.data = (u_char *) "tasks/get";
    task.len = 9;
    tap_ok(pf && ngx_http_adcp_platform_allows(pf, &task),
           "capabilities []: tasks/get always allowed");
    if (pf) {
        ngx_http_adcp_platform_release(pf);
    }

    pf = parse("{\"upstream\":\"[::1]:80\"}", &why);
    tap_ok(pf != NULL, "an IPv6 host:port");
    ngx_http_adcp_platform_release(pf);

    refused("", "not JSON", "empty");
    refused("not json", "not JSON", "not JSON");
    refused("{\"upstream\":\"a\"", "not JSON", "truncated");
    refused("[\"upstream\"]", "not a JSON object", "an array");
    refused("\"upstream\"", "not a JSON object", "a string");
    refused("{}", "no \"upstream\"", "no upstream");
    refused("{\"authorization\":\"x\"}", "no \"upstream\"",
            "authorization only");
    refused("{\"upstream\":5}", "\"upstream\" is not", "upstream a number");
    refused("{\"upstream\":\"\"}", "\"upstream\" is not", "upstream empty");
    refused("{\"upstream\":\"http://evil/x\"}", "\"upstream\" is not",
            "upstream with a scheme and a path");
    refused("{\"upstream\":\"a b\"}", "\"upstream\" is not",
            "upstream with a space");
    refused("{\"upstream\":\"a\",\"authorization\":[]}", "authorization",
            "authorization an array");
    refused("{\"upstream\":\"a\",\"capabilities\":\"get_products\"}",
            "\"capabilities\" is not an array", "capabilities a string");
    refused("{\"upstream\":\"a\",\"capabilities\":[\"x\",1]}",
            "not a string", "capabilities with a number");
    refused("{\"upstream\":\"a\",\"routes\":[]}", "\"routes\"",
            "routes an array");
    refused("{\"upstream\":\"a\",\"routes\":{\"t\":\"a/b\"}}", "\"routes\"",
            "a route that is not an upstream");
    refused("{\"upstream\":\"a\",\"vars\":{\"x\":1}}", "\"vars\"",
            "a var that is not a string");
    refused("{\"upstream\":\"a\",\"vars\":{\"bad-name\":\"v\"}}", "\"vars\"",
            "a var name with a dash");
    refused("{\"upstream\":\"a\",\"ttl\":-1}", "\"ttl\"", "negative ttl");
    refused("{\"upstream\":\"a\",\"ttl\":1.5}", "\"ttl\"", "fractional ttl");
    refused("{\"upstream\":\"a\",\"ttl\":\"60\"}", "\"ttl\"", "ttl a string");

    /* nesting */

    n = 33;
    deep = malloc(64 + 2 * n);
    i = sprintf(deep, "{\"upstream\":\"a\",\"x\":");
    memset(deep + i, '[', n - 1);
    memset(deep + i + n - 1, ']', n - 1);
    strcpy(deep + i + 2 * (n - 1), "}");

    refused(deep, "nests too deeply", "33 levels");

    i = sprintf(deep, "{\"upstream\":\"a\",\"x\":");
    memset(deep + i, '[', n - 2);
    memset(deep + i + n - 2, ']', n - 2);
    strcpy(deep + i + 2 * (n - 2), "}");

    pf = parse(deep, &why);
    tap_ok(pf != NULL, "32 levels are fine");
    ngx_http_adcp_platform_release(pf);

    refused("{\"upstream\":\"a\",\"x\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"",
            "not JSON", "brackets inside a string do not count");

    pf = parse("{\"upstream\":\"a\",\"x\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
               "[[[\\\"[[[\"}", &why);
    tap_ok(pf != NULL, "brackets and escaped quotes in strings do not nest");
    ngx_http_adcp_platform_release(pf);

    free(deep);

    return tap_done();
}
