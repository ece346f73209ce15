
/*
 * ngx_http_adcp_module: JSON string escaping (RFC 8259 section 7).
 *
 * Input is expected to be UTF-8 already (yajl validates what it parses,
 * tenant ids are ASCII); bytes >= 0x80 pass through, control characters
 * become short escapes or \u00XX.  Also the module's one JSON parse
 * (ngx_http_adcp_json_parse) and member lookup.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_adcp_json.h"


static void ngx_http_adcp_json_free(void *data);


size_t
ngx_http_adcp_json_escape_len(u_char *src, size_t size)
{
    size_t  n;
    u_char  ch;

    n = size;

    while (size--) {
        ch = *src++;

        if (ch == '"' || ch == '\\') {
            n++;

        } else if (ch < 0x20) {
            switch (ch) {
            case '\b': case '\f': case '\n': case '\r': case '\t':
                n++;
                break;
            default:
                n += sizeof("\\u0000") - 2;
            }
        }
    }

    return n;
}


u_char *
ngx_http_adcp_json_escape(u_char *dst, u_char *src, size_t size)
{
    u_char         ch;
    static u_char  hex[] = "0123456789abcdef";

    while (size--) {
        ch = *src++;

        if (ch >= 0x20) {
            if (ch == '"' || ch == '\\') {
                *dst++ = '\\';
            }

            *dst++ = ch;
            continue;
        }

        *dst++ = '\\';

        switch (ch) {
        case '\b':
            *dst++ = 'b';
            break;
        case '\f':
            *dst++ = 'f';
            break;
        case '\n':
            *dst++ = 'n';
            break;
        case '\r':
            *dst++ = 'r';
            break;
        case '\t':
            *dst++ = 't';
            break;
        default:
            *dst++ = 'u';
            *dst++ = '0';
            *dst++ = '0';
            *dst++ = hex[ch >> 4];
            *dst++ = hex[ch & 0xf];
        }
    }

    return dst;
}


size_t
ngx_http_adcp_json_str_len(ngx_str_t *s)
{
    return 2 + ngx_http_adcp_json_escape_len(s->data, s->len);
}


u_char *
ngx_http_adcp_json_str(u_char *p, ngx_str_t *s)
{
    *p++ = '"';
    p = ngx_http_adcp_json_escape(p, s->data, s->len);
    *p++ = '"';

    return p;
}


/*
 * A Content-Type of application/json whose charset, when a parameter names
 * one, is UTF-8 (RFC 8259 section 8.1): an adapter may decode the body with
 * the charset the buyer names (the MCP TypeScript SDK, express.json()),
 * and in UTF-7 or Shift_JIS the same bytes are another JSON text
 */

ngx_uint_t
ngx_http_adcp_json_type_exact(ngx_str_t *content_type)
{
    u_char  *p, *last, *semi, *end, *v;

    p = content_type->data;
    last = p + content_type->len;

    /* the common case: the type alone */

    if (content_type->len == sizeof("application/json") - 1) {
        return ngx_http_adcp_json_is_application_json(p);
    }

    semi = ngx_strlchr(p, last, ';');

    end = semi ? semi : last;

    while (end > p && (end[-1] == ' ' || end[-1] == '\t')) {
        end--;
    }

    if (end - p != sizeof("application/json") - 1
        || !ngx_http_adcp_json_is_application_json(p))
    {
        return 0;
    }

    /* each parameter; a charset one (every one, if repeated) UTF-8 */

    for (p = semi; p && p < last; p = semi) {
        p++;
        semi = ngx_strlchr(p, last, ';');
        end = semi ? semi : last;

        while (p < end && (*p == ' ' || *p == '\t')) {
            p++;
        }

        while (end > p && (end[-1] == ' ' || end[-1] == '\t')) {
            end--;
        }

        if (end - p < (ssize_t) sizeof("charset=") - 1
            || ngx_strncasecmp(p, (u_char *) "charset=",
                               sizeof("charset=") - 1) != 0)
        {
            continue;
        }

        v = p + sizeof("charset=") - 1;

        if (end - v >= 2 && *v == '"' && end[-1] == '"') {
            v++;
            end--;
        }

        if (!((end - v == sizeof("utf-8") - 1
               && ngx_strncasecmp(v, (u_char *) "utf-8",
                                  sizeof("utf-8") - 1) == 0)
              || (end - v == sizeof("utf8") - 1
                  && ngx_strncasecmp(v, (u_char *) "utf8",
                                     sizeof("utf8") - 1) == 0)))
        {
            return 0;
        }
    }

    return 1;
}


/* a Content-Type of application/json or a +json type, any parameters */

ngx_uint_t
ngx_http_adcp_json_type(ngx_str_t *content_type)
{
    u_char  *p, *last, *semi;

    p = content_type->data;
    last = p + content_type->len;

    /* the common case: the type alone */

    if (content_type->len == sizeof("application/json") - 1) {
        return ngx_http_adcp_json_is_application_json(p);
    }

    semi = ngx_strlchr(p, last, ';');
    if (semi) {
        last = semi;
    }

    while (last > p && (last[-1] == ' ' || last[-1] == '\t')) {
        last--;
    }

    /* as nearly every client sends it, then in any case */

    if (last - p == sizeof("application/json") - 1
        && (ngx_memcmp(p, "application/json",
                       sizeof("application/json") - 1) == 0
            || ngx_strncasecmp(p, (u_char *) "application/json",
                               sizeof("application/json") - 1) == 0))
    {
        return 1;
    }

    return (last - p > (ssize_t) sizeof("+json") - 1
            && ngx_strncasecmp(last - (sizeof("+json") - 1),
                               (u_char *) "+json", sizeof("+json") - 1)
               == 0);
}


/* yajl_tree frees recursively: a document nested at most max deep */

ngx_uint_t
ngx_http_adcp_json_depth_ok(u_char *p, u_char *last, ngx_uint_t max)
{
    ngx_uint_t  depth, string;

    depth = 0;
    string = 0;

    for ( /* void */ ; p < last; p++) {

        if (string) {
            if (*p == '\\') {
                p++;

            } else if (*p == '"') {
                string = 0;
            }

            continue;
        }

        switch (*p) {

        case '"':
            string = 1;
            break;

        case '{':
        case '[':
            if (++depth > max) {
                return 0;
            }

            break;

        case '}':
        case ']':
            if (depth) {
                depth--;
            }

            break;
        }
    }

    return 1;
}


/*
 * Parsed, if nested at most max deep; the tree is the pool's: freed by a
 * cleanup of its own when the pool goes (yajl_tree allocates with malloc)
 */

yajl_val
ngx_http_adcp_json_parse(ngx_pool_t *pool, u_char *p, size_t len,
    ngx_uint_t max)
{
    u_char              *s;
    yajl_val             root;
    ngx_pool_cleanup_t  *cln;

    if (len == 0 || !ngx_http_adcp_json_depth_ok(p, p + len, max)) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    s = ngx_alloc(len + 1, pool->log);
    if (s == NULL) {
        return NULL;
    }

    ngx_memcpy(s, p, len);
    s[len] = '\0';

    root = yajl_tree_parse((char *) s, NULL, 0);

    ngx_free(s);

    if (root) {
        cln->handler = ngx_http_adcp_json_free;
        cln->data = root;
    }

    return root;
}


static void
ngx_http_adcp_json_free(void *data)
{
    yajl_tree_free(data);
}


/*
 * The first of keys (a NULL-terminated list) that obj holds more than
 * once, or NULL: a member read by the gateway must have one reading
 */

char *
ngx_http_adcp_json_repeated(yajl_val obj, char **keys)
{
    size_t  i, n;

    if (obj == NULL || !YAJL_IS_OBJECT(obj)) {
        return NULL;
    }

    for ( /* void */ ; *keys; keys++) {
        n = 0;

        for (i = 0; i < obj->u.object.len; i++) {
            if (ngx_strcmp(obj->u.object.keys[i], *keys) == 0 && n++) {
                return *keys;
            }
        }
    }

    return NULL;
}


/* an object's member; the last one wins, as most JSON parsers do */

yajl_val
ngx_http_adcp_json_get(yajl_val obj, char *key)
{
    size_t  i;

    if (obj == NULL || !YAJL_IS_OBJECT(obj)) {
        return NULL;
    }

    for (i = obj->u.object.len; i > 0; i--) {
        if (ngx_strcmp(obj->u.object.keys[i - 1], key) == 0) {
            return obj->u.object.values[i - 1];
        }
    }

    return NULL;
}


/* v written again (a tree re-serialized with yajl_gen) */

ngx_int_t
ngx_http_adcp_json_gen(yajl_gen g, yajl_val v)
{
    size_t  i;

    switch (v->type) {

    case yajl_t_string:
        return yajl_gen_string(g, (u_char *) v->u.string,
                               ngx_strlen(v->u.string)) == yajl_gen_status_ok
               ? NGX_OK : NGX_ERROR;

    case yajl_t_number:
        return yajl_gen_number(g, v->u.number.r, ngx_strlen(v->u.number.r))
               == yajl_gen_status_ok ? NGX_OK : NGX_ERROR;

    case yajl_t_object:
        if (yajl_gen_map_open(g) != yajl_gen_status_ok) {
            return NGX_ERROR;
        }

        for (i = 0; i < v->u.object.len; i++) {
            if (yajl_gen_string(g, (u_char *) v->u.object.keys[i],
                                ngx_strlen(v->u.object.keys[i]))
                != yajl_gen_status_ok
                || ngx_http_adcp_json_gen(g, v->u.object.values[i])
                   != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        return yajl_gen_map_close(g) == yajl_gen_status_ok
               ? NGX_OK : NGX_ERROR;

    case yajl_t_array:
        if (yajl_gen_array_open(g) != yajl_gen_status_ok) {
            return NGX_ERROR;
        }

        for (i = 0; i < v->u.array.len; i++) {
            if (ngx_http_adcp_json_gen(g, v->u.array.values[i]) != NGX_OK) {
                return NGX_ERROR;
            }
        }

        return yajl_gen_array_close(g) == yajl_gen_status_ok
               ? NGX_OK : NGX_ERROR;

    case yajl_t_true:
        return yajl_gen_bool(g, 1) == yajl_gen_status_ok ? NGX_OK : NGX_ERROR;

    case yajl_t_false:
        return yajl_gen_bool(g, 0) == yajl_gen_status_ok ? NGX_OK : NGX_ERROR;

    default:
        return yajl_gen_null(g) == yajl_gen_status_ok ? NGX_OK : NGX_ERROR;
    }
}
