
/*
 * libFuzzer target: the envelope reader against a strict reading of the
 * same body (differential).  The input drives a generator of JSON-RPC
 * bodies (MCP and A2A shapes, members repeated, keys escaped, decoys in
 * the arguments, whitespace, batches) or is taken as the body itself.  The
 * strict reading is yajl's tree (a document parser that keeps every
 * member): a member the module reads that appears twice in its object is
 * a duplicate whether its parser keeps the first one or the last one, so
 * both readings are computed and a body where they could differ must be
 * refused.  The reader (its fast path on the whole body in one buffer, and
 * the streaming parse fed in pieces) must agree: the same verdict, method,
 * id and task, on every body.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <yajl/yajl_parse.h>
#include <yajl/yajl_tree.h>

#include "ngx_http_adcp_envelope.h"
#include "ngx_http_adcp_json.h"
#include "ngx_stubs.h"


#define GEN_MAX   (64 * 1024)


typedef struct {
    const uint8_t  *in;
    size_t          len;
    u_char         *out;
    size_t          n;
} gen_t;


typedef struct {
    ngx_uint_t      error;
    ngx_uint_t      method;
    yajl_val        id;         /* NULL: absent */
    ngx_uint_t      id_null;    /* answered as null */
    const char     *task;
} expect_t;


int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
static void report(void);


static u_char      *body_now;
static size_t       body_len;
static ngx_uint_t   fast_answered;     /* bodies the fast path answered */


/* how often the fast path answered, at exit (libFuzzer's stats beside) */

static void
report(void)
{
    fprintf(stderr, "stat::fast_path_answered: %lu\n",
            (unsigned long) fast_answered);
}


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    atexit(report);

    return 0;
}


/* a disagreement: the body, then abort() */

static void
fail(void)
{
    fprintf(stderr, "body (%zu bytes): '%.*s'\n", body_len, (int) body_len,
            body_now);
    abort();
}


static ngx_uint_t
gen_byte(gen_t *g)
{
    if (g->len == 0) {
        return 0;
    }

    g->len--;
    return *g->in++;
}


static void
gen_put(gen_t *g, const char *s)
{
    size_t  l;

    l = strlen(s);

    if (g->n + l < GEN_MAX) {
        memcpy(g->out + g->n, s, l);
        g->n += l;
    }
}


static void
gen_ws(gen_t *g)
{
    static const char  *ws[] = { "", "", "", "", "", " ", "\n", "\t ",
                                 "\r\n  ", "\f", "\v" };

    gen_put(g, ws[gen_byte(g) % (gen_byte(g) % 64 ? 9 : 11)]);
}


/* a key: as written, or with an escape (the same key for JSON) */

static void
gen_key(gen_t *g, const char *key)
{
    char        buf[64];
    const char *c;

    gen_ws(g);

    if (gen_byte(g) % 8 == 0 && strlen(key) < 40) {
        snprintf(buf, sizeof(buf), "\"\\u%04x%s\"", key[0], key + 1);
        gen_put(g, buf);

    } else if (gen_byte(g) % 16 == 0 && strlen(key) < 40) {

        /* another spelling Go's encoding/json takes for the member */

        c = strpbrk(key, "ski");

        if (c == NULL || gen_byte(g) % 2) {
            snprintf(buf, sizeof(buf), "\"%c%s\"", key[0] ^ 0x20, key + 1);

        } else {
            snprintf(buf, sizeof(buf), "\"%.*s%s%s\"", (int) (c - key), key,
                     *c == 's' ? "\\u017f" : *c == 'k' ? "\xe2\x84\xaa"
                                             : "\xc4\xb1",
                     c + 1);
        }

        gen_put(g, buf);

    } else {
        gen_put(g, "\"");
        gen_put(g, key);
        gen_put(g, "\"");
    }

    gen_ws(g);
    gen_put(g, ":");
    gen_ws(g);
}


/*
 * A long string for the fast path's 16-byte scan: plain runs, a special
 * (an escape, UTF-8, DEL, or a broken one) at a place the input chooses,
 * so that they fall on and across the blocks' edges
 */

static void
gen_long_string(gen_t *g)
{
    char        run[128];
    ngx_uint_t  n, m;

    static const char  *special[] = {
        "\\\"", "\\\\", "\\n", "\\u00e9", "\\uD83D\\uDE00", "\xc3\xa9",
        "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\x7f", "", "", "\\x", "\\u0g00",
        "\x01", "\xc3", "\xe2\x82", "\xff", "\t", "\\u12", "\\"
    };

    n = gen_byte(g) % 80;
    m = gen_byte(g) % 80;

    memset(run, 'a' + (int) (gen_byte(g) % 26), sizeof(run));

    gen_put(g, "\"");
    run[n] = '\0';
    gen_put(g, run);
    gen_put(g, special[gen_byte(g) % (sizeof(special) / sizeof(special[0]))]);
    run[n] = run[0];
    run[m] = '\0';
    gen_put(g, run);
    gen_put(g, "\"");
}


static void
gen_string(gen_t *g)
{
    static const char  *s[] = {
        "\"get_products\"", "\"create_media_buy\"", "\"\"", "\"x\"",
        "\"caf\xc3\xa9\"", "\"a\\\"b\"", "\"\\u00e9\\n\"", "\"tab\\tx\"",
        "\"x\\r\\nX-Evil: 1\"", "\"del\x7f\"", "\"a\\u0001\"", "\"\xff\"",
        "\"long string with spaces, commas, {braces} and [brackets]\"",
        "\"name\"", "\"\\ud83d\\ude00\"", "\"bad\\x\"", "\"ctl\x01\""
    };

    if (gen_byte(g) % 4 == 0) {
        gen_long_string(g);
        return;
    }

    gen_put(g, s[gen_byte(g) % (sizeof(s) / sizeof(s[0]))]);
}


static void gen_value(gen_t *g, ngx_uint_t depth);


static void
gen_object(gen_t *g, ngx_uint_t depth)
{
    ngx_uint_t  i, n;

    static const char  *keys[] = { "name", "id", "skill", "brief", "data",
                                   "kind", "a", "parts", "method" };

    n = gen_byte(g) % 5;
    gen_put(g, "{");

    for (i = 0; i < n; i++) {
        if (i) {
            gen_put(g, ",");
        }

        gen_key(g, keys[gen_byte(g) % 9]);
        gen_value(g, depth + 1);
    }

    gen_ws(g);
    gen_put(g, "}");
}


static void
gen_value(gen_t *g, ngx_uint_t depth)
{
    ngx_uint_t  i, n;

    static const char  *scalars[] = {
        "0", "-1", "42", "1.5", "-0.25e+3", "1E9", "true", "false", "null",
        "01", "1.", "-", "tru", "nul", ".5"
    };

    if (depth < 3 && gen_byte(g) % 32 == 0) {

        /* deep: around the fast path's limit of 62 levels it steps over */

        n = 50 + gen_byte(g) % 20;

        for (i = 0; i < n; i++) {
            gen_put(g, (i % 3) ? "[" : "{\"d\":");
        }

        gen_put(g, "0");

        while (n--) {
            gen_put(g, (n % 3) ? "]" : "}");
        }

        return;
    }

    switch (depth > 6 ? gen_byte(g) % 2 : gen_byte(g) % 4) {

    case 0:
        gen_string(g);
        break;

    case 1:
        gen_put(g, scalars[gen_byte(g) % 15 % (depth > 6 ? 9 : 15)]);
        break;

    case 2:
        gen_object(g, depth);
        break;

    default:
        n = gen_byte(g) % 4;
        gen_put(g, "[");

        for (i = 0; i < n; i++) {
            if (i) {
                gen_put(g, ",");
            }

            gen_ws(g);
            gen_value(g, depth + 1);
        }

        gen_put(g, "]");
    }
}


/* a member, 0, 1 or 2 times (mostly once) */

static ngx_uint_t
gen_times(gen_t *g)
{
    ngx_uint_t  b;

    b = gen_byte(g) % 16;

    return b == 0 ? 0 : b == 1 ? 2 : 1;
}


static void
gen_sep(gen_t *g, ngx_uint_t *first)
{
    if (!*first) {
        gen_put(g, ",");
    }

    *first = 0;
}


static void
gen_data(gen_t *g)
{
    ngx_uint_t  i, k, first;

    first = 1;
    gen_put(g, "{");

    for (k = 0; k < 4; k++) {
        for (i = gen_times(g); i; i--) {
            gen_sep(g, &first);

            switch ((k + gen_byte(g) % 2) % 4) {
            case 0:
                gen_key(g, "skill");
                gen_string(g);
                break;
            case 1:
                gen_key(g, "parameters");
                gen_value(g, 2);
                break;
            case 2:
                gen_key(g, "input");
                gen_value(g, 2);
                break;
            default:
                gen_key(g, "other");
                gen_value(g, 2);
            }
        }
    }

    gen_put(g, "}");
}


static void
gen_message(gen_t *g)
{
    ngx_uint_t  i, j, n, k, first, pfirst;

    first = 1;
    gen_put(g, "{");

    for (i = gen_times(g); i; i--) {
        gen_sep(g, &first);
        gen_key(g, "parts");
        n = gen_byte(g) % 4;
        gen_put(g, "[");

        for (j = 0; j < n; j++) {
            if (j) {
                gen_put(g, ",");
            }

            pfirst = 1;
            gen_put(g, "{");

            for (k = gen_times(g); k; k--) {
                gen_sep(g, &pfirst);
                gen_key(g, "kind");

                if (gen_byte(g) % 3) {
                    gen_put(g, "\"data\"");

                } else {
                    gen_string(g);
                }
            }

            for (k = gen_times(g); k; k--) {
                gen_sep(g, &pfirst);
                gen_key(g, "data");

                if (gen_byte(g) % 8) {
                    gen_data(g);

                } else {
                    gen_value(g, 3);
                }
            }

            gen_put(g, "}");
        }

        gen_put(g, "]");
    }

    if (gen_byte(g) % 4 == 0) {
        gen_sep(g, &first);
        gen_key(g, "contextId");
        gen_string(g);
    }

    gen_put(g, "}");
}


static void
gen_params(gen_t *g)
{
    ngx_uint_t  i, k, first;

    first = 1;
    gen_put(g, "{");

    for (k = 0; k < 4; k++) {
        for (i = gen_times(g); i; i--) {
            gen_sep(g, &first);

            switch ((k + gen_byte(g) % 4) % 5) {
            case 0:
                gen_key(g, "name");
                gen_string(g);
                break;
            case 1:
                gen_key(g, "arguments");
                gen_object(g, 2);
                break;
            case 2:
                if (gen_byte(g) % 2) {
                    gen_key(g, "message");
                    gen_message(g);
                }
                break;
            case 3:
                gen_key(g, "_meta");
                gen_value(g, 2);
                break;
            default:
                gen_key(g, "name");
                gen_value(g, 2);
            }
        }
    }

    gen_put(g, "}");
}


static void
gen_rpc(gen_t *g)
{
    ngx_uint_t  i, k, first;

    static const char  *methods[] = {
        "\"tools/call\"", "\"tools/call\"", "\"message/send\"",
        "\"SendMessage\"", "\"message/stream\"", "\"SendStreamingMessage\"",
        "\"tools/list\"", "\"initialize\"", "5", "null", "\"tools\\/call\""
    };

    first = 1;
    gen_ws(g);
    gen_put(g, "{");

    for (k = 0; k < 5; k++) {
        for (i = gen_times(g); i; i--) {
            gen_sep(g, &first);

            switch ((k + gen_byte(g) % 8) % 5) {
            case 0:
                gen_key(g, "jsonrpc");
                gen_put(g, "\"2.0\"");
                break;
            case 1:
                gen_key(g, "id");
                gen_value(g, 4);
                break;
            case 2:
                gen_key(g, "method");
                gen_put(g, methods[gen_byte(g) % 11]);
                break;
            case 3:
                gen_key(g, "params");

                if (gen_byte(g) % 8) {
                    gen_params(g);

                } else {
                    gen_value(g, 2);
                }

                break;
            default:
                gen_key(g, "extra");
                gen_value(g, 2);
            }
        }
    }

    gen_ws(g);
    gen_put(g, "}");
    gen_ws(g);
}


/* --- the strict reading ------------------------------------------------ */


/*
 * RFC 8259 JSON: yajl's parser as configured by default (yajl_tree_parse()
 * allows comments, so its tree is used only for what this accepts), but
 * for its two extra whitespace characters
 */

static ngx_uint_t
strict_valid(u_char *p, size_t len)
{
    ngx_uint_t   ok;
    yajl_handle  h;

    h = yajl_alloc(NULL, NULL, NULL);

    /* yajl's lexer takes \v and \f for whitespace: RFC 8259 does not */

    ok = memchr(p, '\v', len) == NULL && memchr(p, '\f', len) == NULL
         && yajl_parse(h, p, len) == yajl_status_ok
         && yajl_complete_parse(h) == yajl_status_ok;

    yajl_free(h);

    return ok;
}


/* how many times obj holds key; the first and the last of them */

static ngx_uint_t strict_go_same(const char *k, const char *key);


static ngx_uint_t
strict_count(yajl_val obj, const char *key, yajl_val *first)
{
    size_t      i;
    ngx_uint_t  n;

    n = 0;
    *first = NULL;

    if (obj == NULL || !YAJL_IS_OBJECT(obj)) {
        return 0;
    }

    for (i = 0; i < obj->u.object.len; i++) {
        if (strcmp(obj->u.object.keys[i], key) == 0) {
            if (n++ == 0) {
                *first = obj->u.object.values[i];
            }

        } else if (strict_go_same(obj->u.object.keys[i], key)) {
            n += 2;             /* another spelling: Go reads the member */
        }
    }

    return n;
}


/*
 * Go's encoding/json: the key with U+017F, U+212A, U+0130 and U+0131
 * replaced by s, k, i, i, then caselessly equal to the member
 */

static ngx_uint_t
strict_go_same(const char *k, const char *key)
{
    char         buf[256], *b;
    const char  *sp;

    b = buf;

    for (sp = k; *sp && b < buf + sizeof(buf) - 1; ) {
        if (strncmp(sp, "\xc5\xbf", 2) == 0) {
            *b++ = 's'; sp += 2;

        } else if (strncmp(sp, "\xe2\x84\xaa", 3) == 0) {
            *b++ = 'k'; sp += 3;

        } else if (strncmp(sp, "\xc4\xb0", 2) == 0
                   || strncmp(sp, "\xc4\xb1", 2) == 0)
        {
            *b++ = 'i'; sp += 2;

        } else {
            *b++ = *sp++;
        }
    }

    *b = '\0';

    return *sp == '\0' && strcasecmp(buf, key) == 0;
}


/* the members of obj the reader reads: repeated ones set *dup */

static yajl_val
strict_get(yajl_val obj, const char *key, ngx_uint_t *dup)
{
    yajl_val  v;

    if (strict_count(obj, key, &v) > 1) {
        *dup = 1;
    }

    return v;
}


static ngx_uint_t
strict_method(yajl_val v)
{
    const char  *s;

    if (v == NULL || !YAJL_IS_STRING(v)) {
        return NGX_HTTP_ADCP_METHOD_NONE;
    }

    s = v->u.string;

    if (strcmp(s, "tools/call") == 0) {
        return NGX_HTTP_ADCP_METHOD_MCP_CALL;
    }

    if (strcmp(s, "message/send") == 0 || strcmp(s, "message/stream") == 0
        || strcmp(s, "SendMessage") == 0
        || strcmp(s, "SendStreamingMessage") == 0)
    {
        return NGX_HTTP_ADCP_METHOD_A2A;
    }

    return NGX_HTTP_ADCP_METHOD_OTHER;
}


static void
strict_read(yajl_val root, expect_t *x)
{
    size_t       i;
    yajl_val     params, name, message, parts, part, data, skill;
    ngx_uint_t   dup, dup_id, dup_method, skills;
    const char  *first_skill;

    memset(x, 0, sizeof(expect_t));
    x->task = "";

    if (YAJL_IS_ARRAY(root)) {
        x->error = NGX_HTTP_ADCP_ENV_BATCH;
        return;
    }

    if (!YAJL_IS_OBJECT(root)) {
        return;
    }

    dup = 0;
    (void) strict_get(root, "jsonrpc", &dup);

    dup_id = 0;
    x->id = strict_get(root, "id", &dup_id);

    dup_method = 0;
    x->method = strict_method(strict_get(root, "method", &dup_method));

    params = strict_get(root, "params", &dup);
    params = (params && YAJL_IS_OBJECT(params)) ? params : NULL;

    name = strict_get(params, "name", &dup);
    (void) strict_get(params, "arguments", &dup);
    message = strict_get(params, "message", &dup);
    message = (message && YAJL_IS_OBJECT(message)) ? message : NULL;
    parts = strict_get(message, "parts", &dup);
    (void) strict_get(message, "contextId", &dup);
    parts = (parts && YAJL_IS_ARRAY(parts)) ? parts : NULL;

    skills = 0;
    first_skill = "";

    for (i = 0; parts && i < parts->u.array.len; i++) {
        part = parts->u.array.values[i];

        if (!YAJL_IS_OBJECT(part)) {
            continue;
        }

        (void) strict_get(part, "kind", &dup);
        data = strict_get(part, "data", &dup);

        if (data == NULL || !YAJL_IS_OBJECT(data)) {
            continue;
        }

        skill = strict_get(data, "skill", &dup);
        (void) strict_get(data, "parameters", &dup);
        (void) strict_get(data, "input", &dup);

        if (skill && YAJL_IS_STRING(skill)) {
            if (skills++ == 0) {
                first_skill = skill->u.string;
            }
        }
    }

    if (dup || dup_id || dup_method) {
        x->error = NGX_HTTP_ADCP_ENV_DUPLICATE;

        if (dup_id) {
            x->id_null = 1;
        }

        if (dup_id || dup_method) {
            x->method = NGX_HTTP_ADCP_METHOD_OTHER;
        }

        return;
    }

    if (x->method == NGX_HTTP_ADCP_METHOD_MCP_CALL) {
        x->task = (name && YAJL_IS_STRING(name)) ? name->u.string : "";

    } else if (x->method == NGX_HTTP_ADCP_METHOD_A2A) {
        if (skills > 1) {
            x->error = NGX_HTTP_ADCP_ENV_AMBIGUOUS;
            return;
        }

        x->task = first_skill;
    }

    for (i = 0; x->task[i]; i++) {
        if ((u_char) x->task[i] < 0x20 || x->task[i] == 0x7f) {
            x->error = NGX_HTTP_ADCP_ENV_TASK;
            x->task = "";
            return;
        }
    }
}


/* the same JSON value: numbers as written, objects in member order */

static ngx_uint_t
strict_equal(yajl_val a, yajl_val b)
{
    size_t  i;

    if (a->type != b->type) {
        return 0;
    }

    switch (a->type) {

    case yajl_t_string:
        return strcmp(a->u.string, b->u.string) == 0;

    case yajl_t_number:
        return strcmp(a->u.number.r, b->u.number.r) == 0;

    case yajl_t_object:
        if (a->u.object.len != b->u.object.len) {
            return 0;
        }

        for (i = 0; i < a->u.object.len; i++) {
            if (strcmp(a->u.object.keys[i], b->u.object.keys[i]) != 0
                || !strict_equal(a->u.object.values[i],
                                 b->u.object.values[i]))
            {
                return 0;
            }
        }

        return 1;

    case yajl_t_array:
        if (a->u.array.len != b->u.array.len) {
            return 0;
        }

        for (i = 0; i < a->u.array.len; i++) {
            if (!strict_equal(a->u.array.values[i], b->u.array.values[i])) {
                return 0;
            }
        }

        return 1;

    default:
        return 1;
    }
}


/* a bound on the reader's text of a value (over 4096: answered as null) */

static size_t
strict_size(yajl_val v)
{
    size_t     i, n;
    ngx_str_t  s;

    switch (v->type) {

    case yajl_t_string:
        s.data = (u_char *) v->u.string;
        s.len = strlen(v->u.string);
        return ngx_http_adcp_json_str_len(&s);

    case yajl_t_number:
        return strlen(v->u.number.r);

    case yajl_t_object:
        n = 2;

        for (i = 0; i < v->u.object.len; i++) {
            s.data = (u_char *) v->u.object.keys[i];
            s.len = strlen(v->u.object.keys[i]);
            n += ngx_http_adcp_json_str_len(&s) + 2
                 + strict_size(v->u.object.values[i]);
        }

        return n;

    case yajl_t_array:
        n = 2;

        for (i = 0; i < v->u.array.len; i++) {
            n += 1 + strict_size(v->u.array.values[i]);
        }

        return n;

    default:
        return 5;
    }
}


/* the reader's verdict against the strict reading */

static void
check(ngx_http_adcp_envelope_t *env, yajl_val root, expect_t *x,
    const char *who)
{
    yajl_val  id;
    char      buf[NGX_HTTP_ADCP_ENV_MAX_ID + 64];

    if (root == NULL) {
        if (env->error != NGX_HTTP_ADCP_ENV_SYNTAX
            && env->error != NGX_HTTP_ADCP_ENV_DEPTH)
        {
            fprintf(stderr, "%s: accepted what a strict parser refuses "
                    "(error %lu)\n", who, (unsigned long) env->error);
            fail();
        }

        return;
    }

    if (env->error != x->error) {
        fprintf(stderr, "%s: error %lu, strict %lu\n", who,
                (unsigned long) env->error, (unsigned long) x->error);
        fail();
    }

    if (x->error == NGX_HTTP_ADCP_ENV_BATCH) {
        return;
    }

    if (env->method != x->method) {
        fprintf(stderr, "%s: method %lu, strict %lu\n", who,
                (unsigned long) env->method, (unsigned long) x->method);
        fail();
    }

    if (env->task.len != strlen(x->task)
        || (env->task.len
            && memcmp(env->task.data, x->task, env->task.len) != 0))
    {
        fprintf(stderr, "%s: task \"%.*s\", strict \"%s\"\n", who,
                (int) env->task.len, env->task.data, x->task);
        fail();
    }

    /* the id: absent, null when repeated or too big, else the same value */

    if (x->id_null
        || (x->id && strict_size(x->id) > NGX_HTTP_ADCP_ENV_MAX_ID - 8
            && env->id.len == 4 && memcmp(env->id.data, "null", 4) == 0))
    {
        if (env->id.len != 4 || memcmp(env->id.data, "null", 4) != 0) {
            fprintf(stderr, "%s: id \"%.*s\", strict null\n", who,
                    (int) env->id.len, env->id.data);
            fail();
        }

        return;
    }

    if (x->id == NULL) {
        if (env->id.len) {
            fprintf(stderr, "%s: an id, strict none\n", who);
            fail();
        }

        return;
    }

    if (env->id.len == 0 || env->id.len >= sizeof(buf)) {
        fprintf(stderr, "%s: no id, strict one\n", who);
        fail();
    }

    memcpy(buf, env->id.data, env->id.len);
    buf[env->id.len] = '\0';

    id = yajl_tree_parse(buf, NULL, 0);

    if (id == NULL || !strict_equal(id, x->id)) {
        fprintf(stderr, "%s: id \"%s\" is not the strict reading's\n", who,
                buf);
        fail();
    }

    yajl_tree_free(id);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                           *body, *copy;
    size_t                            len, step, off, n;
    ngx_buf_t                         b;
    gen_t                             g;
    yajl_val                          root;
    expect_t                          x;
    ngx_int_t                         rc;
    ngx_uint_t                        mode, pieces;
    ngx_pool_t                       *pool;
    ngx_chain_t                       in;
    ngx_http_adcp_envelope_t          env, fenv;
    ngx_http_adcp_envelope_parser_t  *p;

    if (size < 2) {
        return 0;
    }

    mode = data[0] % 8;
    pieces = 1 + data[1] % 8;

    body = malloc(GEN_MAX + 1);

    if (mode == 0) {
        len = ngx_min(size - 2, GEN_MAX);
        memcpy(body, data + 2, len);

    } else {
        g.in = data + 2;
        g.len = size - 2;
        g.out = body;
        g.n = 0;

        if (mode == 1) {
            gen_put(&g, "[");
            gen_rpc(&g);
            gen_put(&g, "]");

        } else {
            gen_rpc(&g);
        }

        len = g.n;
    }

    /*
     * the strict reading: deep bodies are the reader's own limit; a \u0000
     * cannot be told from the end of a yajl tree string
     */

    if (!ngx_http_adcp_json_depth_ok(body, body + len, 256)
        || memmem(body, len, "\\u0000", 6))
    {
        free(body);
        return 0;
    }

    body[len] = '\0';
    body_now = body;
    body_len = len;
    root = (memchr(body, '\0', len) || !strict_valid(body, len))
           ? NULL : yajl_tree_parse((char *) body, NULL, 0);

    if (root) {
        strict_read(root, &x);
    }

    pool = test_pool_create();

    /* the module's way: the fast path, then yajl, one buffer in memory */

    copy = malloc(len ? len : 1);
    memcpy(copy, body, len);

    ngx_memzero(&b, sizeof(ngx_buf_t));
    b.pos = copy;
    b.last = copy + len;
    b.memory = 1;
    in.buf = &b;
    in.next = NULL;

    if (ngx_http_adcp_envelope_parse_chain(pool, &in, &env, NULL) != NGX_OK) {
        abort();
    }

    check(&env, root, &x, "one buffer");

    /* the streaming parse, in pieces */

    p = ngx_http_adcp_envelope_create(pool, &env);
    step = len / pieces + 1;
    rc = NGX_AGAIN;

    for (off = 0; off < len && rc == NGX_AGAIN; off += n) {
        n = ngx_min(step, len - off);
        rc = ngx_http_adcp_envelope_feed(p, copy + off, n);
    }

    ngx_http_adcp_envelope_finish(p);

    check(&env, root, &x, "in pieces");

    /*
     * the fast path alone, where it answers: the yajl parse's answer to
     * the byte, the repeated member's name included
     */

    if (ngx_http_adcp_envelope_fast(pool, copy, copy + len, &fenv) == NGX_OK)
    {
        fast_answered++;

        if (fenv.error != env.error || fenv.method != env.method
            || (fenv.dup == NULL) != (env.dup == NULL)
            || (fenv.dup && strcmp(fenv.dup, env.dup) != 0)
            || fenv.id.len != env.id.len
            || (fenv.id.len
                && memcmp(fenv.id.data, env.id.data, fenv.id.len) != 0)
            || fenv.task.len != env.task.len
            || (fenv.task.len
                && memcmp(fenv.task.data, env.task.data, fenv.task.len)
                   != 0))
        {
            fprintf(stderr, "fast path: error %lu method %lu dup %s id "
                    "\"%.*s\" task \"%.*s\"; yajl: error %lu method %lu dup "
                    "%s id \"%.*s\" task \"%.*s\"\n",
                    (unsigned long) fenv.error, (unsigned long) fenv.method,
                    fenv.dup ? fenv.dup : "-", (int) fenv.id.len,
                    fenv.id.data, (int) fenv.task.len, fenv.task.data,
                    (unsigned long) env.error, (unsigned long) env.method,
                    env.dup ? env.dup : "-", (int) env.id.len, env.id.data,
                    (int) env.task.len, env.task.data);
            fail();
        }
    }

    free(copy);
    test_pool_destroy(pool);

    if (root) {
        yajl_tree_free(root);
    }

    free(body);

    return 0;
}
