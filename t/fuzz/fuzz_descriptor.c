
/*
 * libFuzzer target: the platform descriptor parser, and what a platform it
 * accepts answers.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_adcp_descriptor.h"
#include "ngx_stubs.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                    *buf;
    ngx_str_t                  tenant = ngx_string("fuzz"), task;
    const char                *why;
    ngx_http_adcp_platform_t  *pf;

    if (size > NGX_HTTP_ADCP_DESCRIPTOR_MAX) {
        return 0;
    }

    buf = malloc(size + 1);
    memcpy(buf, data, size);
    buf[size] = '\0';

    pf = ngx_http_adcp_descriptor_parse(&tenant, buf, size, NULL, &why);

    free(buf);

    if (pf == NULL) {
        if (why == NULL) {
            abort();
        }

        return 0;
    }

    if (pf->upstream.len == 0 || pf->refs != 1) {
        abort();
    }

    ngx_str_set(&task, "get_products");
    (void) ngx_http_adcp_platform_upstream(pf, &task);
    (void) ngx_http_adcp_platform_allows(pf, &task);
    (void) ngx_http_adcp_platform_var(pf, (u_char *) "network_code", 12);

    ngx_http_adcp_platform_release(pf);

    return 0;
}
