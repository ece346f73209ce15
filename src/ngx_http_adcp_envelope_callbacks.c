
/*
 * ngx_http_adcp_module: the envelope's yajl callbacks, what each token of
 * the body means (the parser's life, and what is taken from it once the
 * body is read, are in ngx_http_adcp_envelope.c).
 *
 * yajl calls back for every token; we keep a stack of what each open
 * container means (only the few levels that lead to a task name), the
 * members of each already seen, and the role of the next value.  A key
 * is matched to a member as Go's encoding/json matches it; a member the
 * module reads, found again in its object, is noted (the body is refused
 * once read).  Strings we keep (id, task) are copied from yajl's buffers
 * into the pool; an id that is an object or an array is re-serialized
 * into one buffer of its own.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <yajl/yajl_parse.h>

#include "ngx_http_adcp_envelope.h"
#include "ngx_http_adcp_envelope_private.h"
#include "ngx_http_adcp_json.h"


#define NGX_HTTP_ADCP_ENV_ID_DEPTH 64       /* nesting inside an id */

/* what an open container is */
#define NGX_HTTP_ADCP_FR_OTHER     0
#define NGX_HTTP_ADCP_FR_ARRAY     1
#define NGX_HTTP_ADCP_FR_TOP       2        /* the JSON-RPC object */
#define NGX_HTTP_ADCP_FR_PARAMS    3
#define NGX_HTTP_ADCP_FR_MESSAGE   4        /* A2A params.message */
#define NGX_HTTP_ADCP_FR_PARTS     5        /* A2A params.message.parts */
#define NGX_HTTP_ADCP_FR_PART      6
#define NGX_HTTP_ADCP_FR_DATA      7        /* a part's data object */


static int ngx_http_adcp_env_null(void *ctx);
static int ngx_http_adcp_env_boolean(void *ctx, int value);
static int ngx_http_adcp_env_number(void *ctx, const char *s, size_t len);
static int ngx_http_adcp_env_string(void *ctx, const unsigned char *s,
    size_t len);
static int ngx_http_adcp_env_start_map(void *ctx);
static int ngx_http_adcp_env_map_key(void *ctx, const unsigned char *s,
    size_t len);
static int ngx_http_adcp_env_end_map(void *ctx);
static int ngx_http_adcp_env_start_array(void *ctx);
static int ngx_http_adcp_env_end_array(void *ctx);

static int ngx_http_adcp_env_scalar(ngx_http_adcp_envelope_parser_t *p,
    u_char *s, size_t len, ngx_uint_t string);
static int ngx_http_adcp_env_open(ngx_http_adcp_envelope_parser_t *p,
    ngx_uint_t map);
static int ngx_http_adcp_env_close(ngx_http_adcp_envelope_parser_t *p,
    ngx_uint_t map);
static void ngx_http_adcp_env_repeated(ngx_http_adcp_envelope_parser_t *p);
static ngx_uint_t ngx_http_adcp_env_role(ngx_http_adcp_envelope_parser_t *p);
static void ngx_http_adcp_env_method(ngx_http_adcp_envelope_parser_t *p,
    u_char *s, size_t len);
static ngx_int_t ngx_http_adcp_env_copy(ngx_http_adcp_envelope_parser_t *p,
    ngx_str_t *dst, u_char *s, size_t len, ngx_uint_t string);

static ngx_uint_t ngx_http_adcp_env_fold(u_char *s, size_t len, char *lit);

static void ngx_http_adcp_env_id_sep(ngx_http_adcp_envelope_parser_t *p);
static void ngx_http_adcp_env_id_write(ngx_http_adcp_envelope_parser_t *p,
    u_char *s, size_t len, ngx_uint_t string);


yajl_callbacks  ngx_http_adcp_env_callbacks = {
    ngx_http_adcp_env_null,
    ngx_http_adcp_env_boolean,
    NULL,
    NULL,
    ngx_http_adcp_env_number,
    ngx_http_adcp_env_string,
    ngx_http_adcp_env_start_map,
    ngx_http_adcp_env_map_key,
    ngx_http_adcp_env_end_map,
    ngx_http_adcp_env_start_array,
    ngx_http_adcp_env_end_array
};


/* yajl callbacks: a non-zero return continues the parse */

static int
ngx_http_adcp_env_null(void *ctx)
{
    return ngx_http_adcp_env_scalar(ctx, (u_char *) "null", 4, 0);
}


static int
ngx_http_adcp_env_boolean(void *ctx, int value)
{
    if (value) {
        return ngx_http_adcp_env_scalar(ctx, (u_char *) "true", 4, 0);
    }

    return ngx_http_adcp_env_scalar(ctx, (u_char *) "false", 5, 0);
}


static int
ngx_http_adcp_env_number(void *ctx, const char *s, size_t len)
{
    return ngx_http_adcp_env_scalar(ctx, (u_char *) s, len, 0);
}


static int
ngx_http_adcp_env_string(void *ctx, const unsigned char *s, size_t len)
{
    return ngx_http_adcp_env_scalar(ctx, (u_char *) s, len, 1);
}


static int
ngx_http_adcp_env_start_map(void *ctx)
{
    return ngx_http_adcp_env_open(ctx, 1);
}


static int
ngx_http_adcp_env_start_array(void *ctx)
{
    return ngx_http_adcp_env_open(ctx, 0);
}


static int
ngx_http_adcp_env_end_map(void *ctx)
{
    return ngx_http_adcp_env_close(ctx, 1);
}


static int
ngx_http_adcp_env_end_array(void *ctx)
{
    return ngx_http_adcp_env_close(ctx, 0);
}


static int
ngx_http_adcp_env_map_key(void *ctx, const unsigned char *s, size_t len)
{
    ngx_http_adcp_envelope_parser_t *p = ctx;

    ngx_uint_t  frame;

    static char  *keys[] = {
        "", "", "id", "method", "params", "name", "message", "parts", "",
        "kind", "data", "skill", "jsonrpc", "arguments", "contextId",
        "parameters", "input"
    };

    if (p->id_depth) {
        ngx_http_adcp_env_id_sep(p);
        ngx_http_adcp_env_id_write(p, (u_char *) s, len, 1);
        ngx_http_adcp_env_id_write(p, (u_char *) ":", 1, 0);
        p->id_after_key = 1;
        return 1;
    }

    frame = (p->depth <= NGX_HTTP_ADCP_ENV_FRAMES) ? p->frame[p->depth]
                                                   : NGX_HTTP_ADCP_FR_OTHER;
    p->key = NGX_HTTP_ADCP_K_NONE;

    switch (frame) {

    case NGX_HTTP_ADCP_FR_TOP:
        if (ngx_http_adcp_env_fold((u_char *) s, len, "id")) {
            p->key = NGX_HTTP_ADCP_K_ID;

        } else if (ngx_http_adcp_env_fold((u_char *) s, len, "method")) {
            p->key = NGX_HTTP_ADCP_K_METHOD;

        } else if (ngx_http_adcp_env_fold((u_char *) s, len, "params")) {
            p->key = NGX_HTTP_ADCP_K_PARAMS;

        } else if (ngx_http_adcp_env_fold((u_char *) s, len, "jsonrpc")) {
            p->key = NGX_HTTP_ADCP_K_JSONRPC;
        }

        break;

    case NGX_HTTP_ADCP_FR_PARAMS:
        if (ngx_http_adcp_env_fold((u_char *) s, len, "name")) {
            p->key = NGX_HTTP_ADCP_K_NAME;

        } else if (ngx_http_adcp_env_fold((u_char *) s, len, "message")) {
            p->key = NGX_HTTP_ADCP_K_MESSAGE;

        } else if (ngx_http_adcp_env_fold((u_char *) s, len, "arguments")) {
            p->key = NGX_HTTP_ADCP_K_ARGUMENTS;
        }

        break;

    case NGX_HTTP_ADCP_FR_MESSAGE:
        if (ngx_http_adcp_env_fold((u_char *) s, len, "parts")) {
            p->key = NGX_HTTP_ADCP_K_PARTS;

        } else if (ngx_http_adcp_env_fold((u_char *) s, len, "contextId")) {
            p->key = NGX_HTTP_ADCP_K_CONTEXT;
        }

        break;

    case NGX_HTTP_ADCP_FR_PART:
        if (ngx_http_adcp_env_fold((u_char *) s, len, "kind")) {
            p->key = NGX_HTTP_ADCP_K_KIND;

        } else if (ngx_http_adcp_env_fold((u_char *) s, len, "data")) {
            p->key = NGX_HTTP_ADCP_K_DATA;
        }

        break;

    case NGX_HTTP_ADCP_FR_DATA:
        if (ngx_http_adcp_env_fold((u_char *) s, len, "skill")) {
            p->key = NGX_HTTP_ADCP_K_SKILL;

        } else if (ngx_http_adcp_env_fold((u_char *) s, len, "parameters")) {
            p->key = NGX_HTTP_ADCP_K_PARAMETERS;

        } else if (ngx_http_adcp_env_fold((u_char *) s, len, "input")) {
            p->key = NGX_HTTP_ADCP_K_INPUT;
        }

        break;
    }

    if (p->key != NGX_HTTP_ADCP_K_NONE) {
        if (len != ngx_strlen(keys[p->key])
            || ngx_memcmp(s, keys[p->key], len) != 0)
        {
            /* another spelling of the member: one more reading of it */

            ngx_http_adcp_env_repeated(p);

        } else if (p->seen[p->depth] & (1 << p->key)) {
            ngx_http_adcp_env_repeated(p);

        } else {
            p->seen[p->depth] |= 1 << p->key;
        }
    }

    return 1;
}


/*
 * A member read twice in its object: the body is refused once read (the
 * first one's value is what env holds meanwhile, never used)
 */

static void
ngx_http_adcp_env_repeated(ngx_http_adcp_envelope_parser_t *p)
{
    static char  *names[] = {
        NULL, NULL, "id", "method", "params", "params.name",
        "params.message", "params.message.parts", NULL,
        "params.message.parts[].kind", "params.message.parts[].data",
        "params.message.parts[].data.skill", "jsonrpc", "params.arguments",
        "params.message.contextId", "params.message.parts[].data.parameters",
        "params.message.parts[].data.input"
    };

    if (p->env->dup == NULL) {
        p->env->dup = names[p->key];
    }

    if (p->key == NGX_HTTP_ADCP_K_ID) {
        p->dup_id = 1;

    } else if (p->key == NGX_HTTP_ADCP_K_METHOD) {
        p->dup_method = 1;
    }

    p->key = NGX_HTTP_ADCP_K_NONE;
}


static int
ngx_http_adcp_env_scalar(ngx_http_adcp_envelope_parser_t *p, u_char *s,
    size_t len, ngx_uint_t string)
{
    ngx_http_adcp_envelope_t  *env;

    if (p->id_depth) {
        ngx_http_adcp_env_id_sep(p);
        ngx_http_adcp_env_id_write(p, s, len, string);
        return 1;
    }

    env = p->env;

    switch (ngx_http_adcp_env_role(p)) {

    case NGX_HTTP_ADCP_K_ID:
        if (ngx_http_adcp_env_copy(p, &env->id, s, len, string) != NGX_OK) {
            return 0;
        }

        break;

    case NGX_HTTP_ADCP_K_METHOD:
        if (string) {
            ngx_http_adcp_env_method(p, s, len);
        }

        break;

    case NGX_HTTP_ADCP_K_NAME:
        if (string) {
            if (ngx_http_adcp_env_copy(p, &p->mcp_name, s, len, 0) != NGX_OK)
            {
                return 0;
            }
        }

        break;

    case NGX_HTTP_ADCP_K_SKILL:
        if (string) {
            if (ngx_http_adcp_env_copy(p, &p->part_skill, s, len, 0)
                != NGX_OK)
            {
                return 0;
            }

            p->part_skill_seen = 1;
        }

        break;
    }

    p->key = NGX_HTTP_ADCP_K_NONE;

    return 1;
}


static int
ngx_http_adcp_env_open(ngx_http_adcp_envelope_parser_t *p, ngx_uint_t map)
{
    ngx_uint_t  role, frame;

    if (p->id_depth) {
        ngx_http_adcp_env_id_sep(p);
        ngx_http_adcp_env_id_write(p, (u_char *) (map ? "{" : "["), 1, 0);

        if (++p->id_depth > NGX_HTTP_ADCP_ENV_ID_DEPTH) {
            p->id_invalid = 1;

        } else {
            p->id_comma &= ~((uint64_t) 1 << (p->id_depth - 1));
        }

        if (p->depth + p->id_depth > NGX_HTTP_ADCP_ENV_MAX_DEPTH) {
            p->env->error = NGX_HTTP_ADCP_ENV_DEPTH;
            return 0;
        }

        return 1;
    }

    role = ngx_http_adcp_env_role(p);
    p->key = NGX_HTTP_ADCP_K_NONE;

    if (role == NGX_HTTP_ADCP_K_ID) {

        /*
         * an id that is an object or an array: keep its JSON text, in one
         * buffer per parse however many "id" keys a body repeats
         */

        if (p->id_start == NULL) {
            p->id_start = ngx_pnalloc(p->pool, NGX_HTTP_ADCP_ENV_MAX_ID);
            if (p->id_start == NULL) {
                p->nomem = 1;
                return 0;
            }
        }

        p->id_pos = p->id_start;
        p->id_end = p->id_start + NGX_HTTP_ADCP_ENV_MAX_ID;
        p->id_invalid = 0;
        p->id_after_key = 0;
        p->id_comma = 0;
        p->id_depth = 1;

        ngx_http_adcp_env_id_write(p, (u_char *) (map ? "{" : "["), 1, 0);

        return 1;
    }

    if (p->depth >= NGX_HTTP_ADCP_ENV_MAX_DEPTH) {
        p->env->error = NGX_HTTP_ADCP_ENV_DEPTH;
        return 0;
    }

    frame = map ? NGX_HTTP_ADCP_FR_OTHER : NGX_HTTP_ADCP_FR_ARRAY;

    switch (role) {

    case NGX_HTTP_ADCP_K_TOP:
        frame = map ? NGX_HTTP_ADCP_FR_TOP : frame;
        p->batch = !map;
        break;

    case NGX_HTTP_ADCP_K_PARAMS:
        frame = map ? NGX_HTTP_ADCP_FR_PARAMS : frame;
        break;

    case NGX_HTTP_ADCP_K_MESSAGE:
        frame = map ? NGX_HTTP_ADCP_FR_MESSAGE : frame;
        break;

    case NGX_HTTP_ADCP_K_PARTS:
        frame = map ? frame : NGX_HTTP_ADCP_FR_PARTS;
        break;

    case NGX_HTTP_ADCP_K_PART:
        if (map) {
            frame = NGX_HTTP_ADCP_FR_PART;
            p->part_skill_seen = 0;
        }

        break;

    case NGX_HTTP_ADCP_K_DATA:
        frame = map ? NGX_HTTP_ADCP_FR_DATA : frame;
        break;
    }

    p->depth++;

    if (p->depth <= NGX_HTTP_ADCP_ENV_FRAMES) {
        p->frame[p->depth] = (u_char) frame;
        p->seen[p->depth] = 0;
    }

    return 1;
}


static int
ngx_http_adcp_env_close(ngx_http_adcp_envelope_parser_t *p, ngx_uint_t map)
{
    ngx_uint_t  frame;

    if (p->id_depth) {
        ngx_http_adcp_env_id_write(p, (u_char *) (map ? "}" : "]"), 1, 0);
        p->id_after_key = 0;

        if (--p->id_depth) {
            return 1;
        }

        /* the id is complete */

        if (p->id_invalid) {
            p->env->id.data = (u_char *) "null";
            p->env->id.len = 4;

        } else {
            p->env->id.data = p->id_start;
            p->env->id.len = p->id_pos - p->id_start;
        }

        return 1;
    }

    frame = (p->depth <= NGX_HTTP_ADCP_ENV_FRAMES) ? p->frame[p->depth]
                                                   : NGX_HTTP_ADCP_FR_OTHER;

    switch (frame) {

    case NGX_HTTP_ADCP_FR_PART:
        /*
         * whatever its "kind": A2A 1.0 has none (an adapter reads the
         * data of a part that says "text"), and a 0.3 adapter may look at
         * data alone; a skill named anywhere is a skill checked here
         */

        if (p->part_skill_seen) {
            if (p->skills++ == 0) {
                p->skill = p->part_skill;
            }
        }

        break;

    }

    p->depth--;

    return 1;
}


static ngx_uint_t
ngx_http_adcp_env_role(ngx_http_adcp_envelope_parser_t *p)
{
    if (p->depth == 0) {
        return NGX_HTTP_ADCP_K_TOP;
    }

    if (p->depth <= NGX_HTTP_ADCP_ENV_FRAMES) {

        switch (p->frame[p->depth]) {

        case NGX_HTTP_ADCP_FR_PARTS:
            return NGX_HTTP_ADCP_K_PART;

        case NGX_HTTP_ADCP_FR_ARRAY:
            return NGX_HTTP_ADCP_K_NONE;
        }
    }

    return p->key;
}


static void
ngx_http_adcp_env_method(ngx_http_adcp_envelope_parser_t *p, u_char *s,
    size_t len)
{
    p->env->method = ngx_http_adcp_env_method_kind(s, len);
}


/*
 * The key as Go's encoding/json matches it to a member: caseless, and
 * U+017F (long s), U+212A (Kelvin sign), U+0130 and U+0131 (I with and
 * without a dot) as s, k, i and i.  An adapter in Go reads such a key as
 * the member, the last one winning (CVE-2026-27896 in the MCP Go SDK).
 */

static ngx_uint_t
ngx_http_adcp_env_fold(u_char *s, size_t len, char *lit)
{
    u_char  *last, c;

    last = s + len;

    for ( /* void */ ; *lit; lit++) {
        if (s == last) {
            return 0;
        }

        c = ngx_tolower((u_char) *lit);

        if (*s < 0x80) {
            if (ngx_tolower(*s) != c) {
                return 0;
            }

            s++;
            continue;
        }

        if (last - s >= 2 && c == 's' && s[0] == 0xc5 && s[1] == 0xbf) {
            s += 2;

        } else if (last - s >= 2 && c == 'i' && s[0] == 0xc4
                   && (s[1] == 0xb0 || s[1] == 0xb1))
        {
            s += 2;

        } else if (last - s >= 3 && c == 'k' && s[0] == 0xe2
                   && s[1] == 0x84 && s[2] == 0xaa)
        {
            s += 3;

        } else {
            return 0;
        }
    }

    return s == last;
}


/* a value copied into the pool; "string" = as a quoted JSON string */

static ngx_int_t
ngx_http_adcp_env_copy(ngx_http_adcp_envelope_parser_t *p, ngx_str_t *dst,
    u_char *s, size_t len, ngx_uint_t string)
{
    ngx_str_t  src;

    src.data = s;
    src.len = len;

    dst->len = string ? ngx_http_adcp_json_str_len(&src) : len;

    dst->data = ngx_pnalloc(p->pool, dst->len ? dst->len : 1);
    if (dst->data == NULL) {
        p->nomem = 1;
        return NGX_ERROR;
    }

    if (string) {
        (void) ngx_http_adcp_json_str(dst->data, &src);

    } else {
        ngx_memcpy(dst->data, s, len);
    }

    return NGX_OK;
}


/* re-serializing an id that is an object or an array */

static void
ngx_http_adcp_env_id_sep(ngx_http_adcp_envelope_parser_t *p)
{
    uint64_t  bit;

    if (p->id_after_key) {
        p->id_after_key = 0;
        return;
    }

    if (p->id_depth > NGX_HTTP_ADCP_ENV_ID_DEPTH) {
        return;
    }

    bit = (uint64_t) 1 << (p->id_depth - 1);

    if (p->id_comma & bit) {
        ngx_http_adcp_env_id_write(p, (u_char *) ",", 1, 0);

    } else {
        p->id_comma |= bit;
    }
}


static void
ngx_http_adcp_env_id_write(ngx_http_adcp_envelope_parser_t *p, u_char *s,
    size_t len, ngx_uint_t string)
{
    ngx_str_t  src;

    if (p->id_invalid) {
        return;
    }

    src.data = s;
    src.len = len;

    if (string) {
        if ((size_t) (p->id_end - p->id_pos) < ngx_http_adcp_json_str_len(&src))
        {
            p->id_invalid = 1;
            return;
        }

        p->id_pos = ngx_http_adcp_json_str(p->id_pos, &src);
        return;
    }

    if ((size_t) (p->id_end - p->id_pos) < len) {
        p->id_invalid = 1;
        return;
    }

    p->id_pos = ngx_cpymem(p->id_pos, s, len);
}
