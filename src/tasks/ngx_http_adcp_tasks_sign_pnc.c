
/*
 * ngx_http_adcp_module: the checks of a push_notification_config's
 * authentication block, token and operation_id (AdCP's
 * core/push-notification-config.json).
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_adcp_json.h"
#include "ngx_http_adcp_tasks_sign.h"


static size_t ngx_http_adcp_sign_utf8_len(u_char *p, size_t n);


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
