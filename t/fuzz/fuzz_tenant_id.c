
/*
 * libFuzzer target: tenant id validation against its definition.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_adcp_tenant.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t      i;
    ngx_uint_t  valid;

    valid = (size >= 1 && size <= NGX_HTTP_ADCP_TENANT_ID_MAX
             && data[0] != '.');

    for (i = 0; i < size && valid; i++) {
        valid = (data[i] >= 'a' && data[i] <= 'z')
                || (data[i] >= 'A' && data[i] <= 'Z')
                || (data[i] >= '0' && data[i] <= '9')
                || data[i] == '.' || data[i] == '_' || data[i] == '-';
    }

    if (ngx_http_adcp_tenant_id_valid((u_char *) data, size) != valid) {
        abort();
    }

    return 0;
}
