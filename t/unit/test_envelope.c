
/*
 * Unit tests of the envelope extractor: every body is parsed whole, then
 * split into two buffers at every possible offset, then into random
 * multi-way splits (as bodies arrive in buffers), and through the chain
 * walker with a part of the body in a temporary file.  Every way must give
 * the same id, method, task and verdict.  The fast path (no yajl, for the
 * common MCP shapes) must agree with the yajl parse wherever it answers:
 * on every case, every prefix of it and every one-byte change of it.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_adcp_envelope.h"
#include "ngx_stubs.h"
#include "tap.h"


typedef struct {
    const char  *name;
    const char  *body;
    ngx_uint_t   error;
    ngx_uint_t   method;
    const char  *id;       /* as JSON text; "" = absent */
    const char  *task;
} test_case_t;


#define M_NONE   NGX_HTTP_ADCP_METHOD_NONE
#define M_OTHER  NGX_HTTP_ADCP_METHOD_OTHER
#define M_CALL   NGX_HTTP_ADCP_METHOD_MCP_CALL
#define M_A2A    NGX_HTTP_ADCP_METHOD_A2A
#define E_OK     NGX_HTTP_ADCP_ENV_OK
#define E_SYNTAX NGX_HTTP_ADCP_ENV_SYNTAX
#define E_AMBIG  NGX_HTTP_ADCP_ENV_AMBIGUOUS
#define E_DEPTH  NGX_HTTP_ADCP_ENV_DEPTH
#define E_TASK   NGX_HTTP_ADCP_ENV_TASK
#define E_DUP    NGX_HTTP_ADCP_ENV_DUPLICATE
#define E_BATCH  NGX_HTTP_ADCP_ENV_BATCH


static test_case_t  cases[] = {

    { "mcp tools/call",
      "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\","
      "\"params\":{\"name\":\"get_products\",\"arguments\":{\"a\":1}}}",
      E_OK, M_CALL, "7", "get_products" },

    { "mcp, keys reversed, decoys in arguments",
      "{\"params\":{\"arguments\":{\"name\":\"decoy\",\"x\":[{\"name\":"
      "\"d2\"}]},\"name\":\"create_media_buy\"},\"method\":\"tools/call\","
      "\"id\":\"abc\",\"jsonrpc\":\"2.0\"}",
      E_OK, M_CALL, "\"abc\"", "create_media_buy" },

    { "mcp, whitespace everywhere",
      " \r\n\t{ \"id\" : -1.5e+3 , \"method\" : \"tools/call\" , "
      "\"params\" : { \"name\" : \"sync_creatives\" } } \n",
      E_OK, M_CALL, "-1.5e+3", "sync_creatives" },

    { "mcp, escaped name and id",
      "{\"id\":\"q\\\"\\u00e9\\n\",\"method\":\"tools/call\",\"params\":"
      "{\"name\":\"get_\\u0070roducts\"}}",
      E_OK, M_CALL, "\"q\\\"\xc3\xa9\\n\"", "get_products" },

    { "mcp, CR LF in the name",
      "{\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":"
      "\"x\\r\\nX-Evil: 1\"}}",
      E_TASK, M_CALL, "1", "" },

    { "a2a, NUL in the skill",
      "{\"id\":1,\"method\":\"message/send\",\"params\":{\"message\":"
      "{\"parts\":[{\"kind\":\"data\",\"data\":{\"skill\":\"a\\u0000\"}}]}}}",
      E_TASK, M_A2A, "1", "" },

    { "mcp, no id",
      "{\"method\":\"tools/call\",\"params\":{\"name\":\"x\"}}",
      E_OK, M_CALL, "", "x" },

    { "mcp, name not a string",
      "{\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":5}}",
      E_OK, M_CALL, "1", "" },

    { "mcp, params not an object",
      "{\"id\":1,\"method\":\"tools/call\",\"params\":[{\"name\":\"x\"}]}",
      E_OK, M_CALL, "1", "" },

    { "mcp, read to the end (the rest is not JSON)",
      "{\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"x\","
      "\"arguments\":{\"a\": nope",
      E_SYNTAX, M_CALL, "1", "" },

    { "mcp, read to the end (a member after the arguments)",
      "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":"
      "{\"name\":\"x\",\"arguments\":{\"a\":[1,2.5e-3,true,false,null,"
      "\"s\\\"\\u0041\",{\"b\":{}}],\"c\":[]},\"_meta\":{}},\"z\":-0}",
      E_OK, M_CALL, "1", "x" },

    { "mcp, UTF-8 in the arguments",
      "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":"
      "{\"name\":\"x\",\"arguments\":{\"brief\":\"caf\xc3\xa9 \xe2\x82\xac "
      "\xf0\x9f\x98\x80\",\"m\xc3\xa4rke\":[\"\xc3\xbc\"]}}}",
      E_OK, M_CALL, "1", "x" },

    { "mcp, a control byte in a \\u escape (0x12 | 0x20 is '2')",
      "{\"jsmethod\":\"tools/call\\u1\x12" "615\",\"params\":{\"name\":"
      "\"get_products\",\"argid\":1,\"arguments\":{\"a\":\"\\u00\x19" "0\"}}}",
      E_SYNTAX, M_NONE, "", "" },

    { "mcp, invalid UTF-8 in the arguments",
      "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":"
      "{\"name\":\"x\",\"arguments\":{\"brief\":\"caf\xc3\x28\"}}}",
      E_SYNTAX, M_CALL, "1", "" },

    /* one reading: a member the module reads, twice in its object */

    { "duplicate params.name (the smuggled task)",
      "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":"
      "{\"name\":\"get_products\",\"name\":\"create_media_buy\","
      "\"arguments\":{}}}",
      E_DUP, M_CALL, "1", "" },

    { "duplicate params.name after the arguments",
      "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":"
      "{\"name\":\"get_products\",\"arguments\":{\"name\":\"n\"},"
      "\"name\":\"create_media_buy\"}}",
      E_DUP, M_CALL, "1", "" },

    { "duplicate method",
      "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":"
      "{\"name\":\"create_media_buy\"},\"method\":\"tools/call\"}",
      E_DUP, M_OTHER, "1", "" },

    { "duplicate params",
      "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":"
      "{\"name\":\"get_products\"},\"params\":{\"name\":"
      "\"create_media_buy\"}}",
      E_DUP, M_CALL, "1", "" },

    { "duplicate id: answered with a null id",
      "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":"
      "{\"name\":\"get_products\"},\"id\":\"two\"}",
      E_DUP, M_OTHER, "null", "" },

    { "duplicate jsonrpc",
      "{\"jsonrpc\":\"2.0\",\"jsonrpc\":\"1.0\",\"id\":1,\"method\":"
      "\"tools/call\",\"params\":{\"name\":\"get_products\"}}",
      E_DUP, M_CALL, "1", "" },

    { "duplicate arguments",
      "{\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"g\","
      "\"arguments\":{\"a\":1},\"arguments\":{\"a\":2}}}",
      E_DUP, M_CALL, "1", "" },

    { "duplicate name, escaped (one key for JSON)",
      "{\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"g\","
      "\"n\\u0061me\":\"create_media_buy\"}}",
      E_DUP, M_CALL, "1", "" },

    { "duplicate A2A skill",
      "{\"id\":2,\"method\":\"message/send\",\"params\":{\"message\":"
      "{\"parts\":[{\"kind\":\"data\",\"data\":{\"skill\":\"get_products\","
      "\"skill\":\"create_media_buy\"}}]}}}",
      E_DUP, M_A2A, "2", "" },

    { "duplicate A2A parts",
      "{\"id\":2,\"method\":\"SendMessage\",\"params\":{\"message\":"
      "{\"parts\":[{\"data\":{\"skill\":\"get_products\"}}],\"parts\":"
      "[{\"data\":{\"skill\":\"create_media_buy\"}}]}}}",
      E_DUP, M_A2A, "2", "" },

    { "duplicate A2A message",
      "{\"id\":2,\"method\":\"SendMessage\",\"params\":{\"message\":"
      "{\"parts\":[]},\"message\":{\"parts\":[{\"data\":{\"skill\":"
      "\"create_media_buy\"}}]}}}",
      E_DUP, M_A2A, "2", "" },

    { "duplicate A2A kind",
      "{\"id\":2,\"method\":\"message/send\",\"params\":{\"message\":"
      "{\"parts\":[{\"kind\":\"text\",\"kind\":\"data\",\"data\":"
      "{\"skill\":\"create_media_buy\"}}]}}}",
      E_DUP, M_A2A, "2", "" },

    { "duplicate A2A data",
      "{\"id\":2,\"method\":\"SendMessage\",\"params\":{\"message\":"
      "{\"parts\":[{\"data\":{\"skill\":\"get_products\"},\"data\":"
      "{\"skill\":\"create_media_buy\"}}]}}}",
      E_DUP, M_A2A, "2", "" },

    { "duplicate A2A parameters",
      "{\"id\":2,\"method\":\"message/send\",\"params\":{\"message\":"
      "{\"parts\":[{\"kind\":\"data\",\"data\":{\"skill\":\"g\","
      "\"parameters\":{},\"parameters\":{}}}]}}}",
      E_DUP, M_A2A, "2", "" },

    /*
     * a member the module reads spelled in another case, or with a letter
     * Go's encoding/json folds to ASCII (U+017F long s, U+212A Kelvin
     * sign, U+0130 and U+0131): the same member for a Go adapter, which
     * matches keys caselessly, last one winning (CVE-2026-27896)
     */

    { "case variant of params.name beside it",
      "{\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":"
      "\"get_products\",\"Name\":\"create_media_buy\"}}",
      E_DUP, M_CALL, "1", "" },

    { "case variant of params.name alone",
      "{\"id\":1,\"method\":\"tools/call\",\"params\":{\"NAME\":"
      "\"create_media_buy\",\"arguments\":{}}}",
      E_DUP, M_CALL, "1", "" },

    { "case variant of arguments",
      "{\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"g\","
      "\"arguments\":{},\"Arguments\":{\"a\":1}}}",
      E_DUP, M_CALL, "1", "" },

    { "case variant of method",
      "{\"id\":1,\"method\":\"tools/list\",\"METHOD\":\"tools/call\","
      "\"params\":{\"name\":\"create_media_buy\"}}",
      E_DUP, M_OTHER, "1", "" },

    { "case variant of params, escaped",
      "{\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"g\"},"
      "\"P\\u0061rams\":{\"name\":\"create_media_buy\"}}",
      E_DUP, M_CALL, "1", "" },

    { "params with a long s (UTF-8)",
      "{\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"g\"},"
      "\"param\xc5\xbf\":{\"name\":\"create_media_buy\"}}",
      E_DUP, M_CALL, "1", "" },

    { "params with a long s (escaped)",
      "{\"id\":1,\"method\":\"tools/call\",\"param\\u017f\":{\"name\":"
      "\"create_media_buy\"}}",
      E_DUP, M_CALL, "1", "" },

    { "id with a dotless i",
      "{\"\xc4\xb1" "d\":2,\"id\":1,\"method\":\"tools/call\",\"params\":"
      "{\"name\":\"g\"}}",
      E_DUP, M_OTHER, "null", "" },

    { "A2A skill with a Kelvin sign",
      "{\"id\":2,\"method\":\"SendMessage\",\"params\":{\"message\":"
      "{\"parts\":[{\"data\":{\"skill\":\"get_products\",\"s\\u212aill\":"
      "\"create_media_buy\"}}]}}}",
      E_DUP, M_A2A, "2", "" },

    { "A2A Message, case variant",
      "{\"id\":2,\"method\":\"SendMessage\",\"params\":{\"Message\":"
      "{\"parts\":[{\"data\":{\"skill\":\"create_media_buy\"}}]}}}",
      E_DUP, M_A2A, "2", "" },

    { "keys near the members' names: fine",
      "{\"id\":1,\"ids\":2,\"i\":3,\"method\":\"tools/call\",\"params\":"
      "{\"name\":\"g\",\"names\":1,\"nam\":2,\"n\xd0\xb0" "me\":3,"
      "\"_name\":4,\"argument\":5}}",
      E_OK, M_CALL, "1", "g" },

    { "a member repeated where the module does not read: fine",
      "{\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"g\","
      "\"arguments\":{\"brief\":\"a\",\"brief\":\"b\",\"x\":{\"name\":1,"
      "\"name\":2}}},\"extra\":1,\"extra\":2}",
      E_OK, M_CALL, "1", "g" },

    { "two parts, each with its own kind and data: fine",
      "{\"id\":2,\"method\":\"message/send\",\"params\":{\"message\":"
      "{\"parts\":[{\"kind\":\"text\",\"text\":\"t\"},{\"kind\":\"data\","
      "\"data\":{\"skill\":\"g\"}}]}}}",
      E_OK, M_A2A, "2", "g" },

    { "a2a 0.3 message/send",
      "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"message/send\",\"params\":"
      "{\"message\":{\"role\":\"user\",\"parts\":[{\"kind\":\"text\","
      "\"text\":\"hi\"},{\"kind\":\"data\",\"data\":{\"skill\":"
      "\"get_products\",\"parameters\":{\"skill\":\"decoy\"}}}]}}}",
      E_OK, M_A2A, "2", "get_products" },

    { "a2a 0.3 message/stream, kind last",
      "{\"method\":\"message/stream\",\"params\":{\"message\":{\"parts\":"
      "[{\"data\":{\"skill\":\"s\"},\"kind\":\"data\"}]}},\"id\":null}",
      E_OK, M_A2A, "null", "s" },

    { "a2a 0.3 text part with data: its skill is checked (an adapter may "
      "read data alone)",
      "{\"id\":1,\"method\":\"message/send\",\"params\":{\"message\":"
      "{\"parts\":[{\"kind\":\"text\",\"data\":{\"skill\":\"no\"}}]}}}",
      E_OK, M_A2A, "1", "no" },

    { "a2a 1.0 SendMessage, a part saying \"text\" with data (1.0 has no "
      "kind: the adapter reads the data)",
      "{\"id\":1,\"method\":\"SendMessage\",\"params\":{\"message\":"
      "{\"parts\":[{\"kind\":\"text\",\"data\":{\"skill\":"
      "\"create_media_buy\"}}]}}}",
      E_OK, M_A2A, "1", "create_media_buy" },

    { "a2a, a text-kind part and a data part, each naming a skill",
      "{\"id\":1,\"method\":\"message/send\",\"params\":{\"message\":"
      "{\"parts\":[{\"kind\":\"text\",\"data\":{\"skill\":\"c\"}},"
      "{\"kind\":\"data\",\"data\":{\"skill\":\"g\"}}]}}}",
      E_AMBIG, M_A2A, "1", "" },

    { "a2a 1.0 SendMessage",
      "{\"id\":\"x\",\"method\":\"SendMessage\",\"params\":{\"message\":"
      "{\"parts\":[{\"text\":\"t\"},{\"data\":{\"input\":{},\"skill\":"
      "\"create_media_buy\"}}]}}}",
      E_OK, M_A2A, "\"x\"", "create_media_buy" },

    { "a2a 1.0 SendStreamingMessage, params first",
      "{\"params\":{\"message\":{\"parts\":[{\"data\":{\"skill\":\"g\"}}]}},"
      "\"id\":true,\"method\":\"SendStreamingMessage\"}",
      E_OK, M_A2A, "true", "g" },

    { "a2a, two skill parts",
      "{\"id\":3,\"method\":\"SendMessage\",\"params\":{\"message\":{"
      "\"parts\":[{\"data\":{\"skill\":\"a\"}},{\"data\":{\"skill\":\"b\"}}"
      "]}}}",
      E_AMBIG, M_A2A, "3", "" },

    { "a2a, two skill parts, method last",
      "{\"params\":{\"message\":{\"parts\":[{\"kind\":\"data\",\"data\":"
      "{\"skill\":\"a\"}},{\"kind\":\"data\",\"data\":{\"skill\":\"a\"}}]}},"
      "\"id\":3,\"method\":\"message/send\"}",
      E_AMBIG, M_A2A, "3", "" },

    { "a2a, no parts",
      "{\"id\":3,\"method\":\"message/send\",\"params\":{}}",
      E_OK, M_A2A, "3", "" },

    { "initialize",
      "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":"
      "{\"name\":\"not a task\"}}",
      E_OK, M_OTHER, "0", "" },

    { "id object",
      "{\"id\":{\"a\":[1,\"x\",{},[],null,true],\"b\":{\"c\":\"d\"}},"
      "\"method\":\"tools/list\"}",
      E_OK, M_OTHER, "{\"a\":[1,\"x\",{},[],null,true],\"b\":{\"c\":\"d\"}}",
      "" },

    { "id array",
      "{\"method\":\"tools/list\",\"id\":[[[]],{\"k\":[false]}]}",
      E_OK, M_OTHER, "[[[]],{\"k\":[false]}]", "" },

    { "not JSON-RPC",
      "{\"hello\":{\"method\":\"tools/call\"},\"id\":1}",
      E_OK, M_NONE, "1", "" },

    { "method not a string",
      "{\"method\":[\"tools/call\"],\"id\":1}",
      E_OK, M_NONE, "1", "" },

    { "a batch",
      "[{\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"x\"}}]",
      E_BATCH, M_NONE, "", "" },

    { "an empty batch", " [ ] ", E_BATCH, M_NONE, "", "" },

    { "a scalar", "42", E_OK, M_NONE, "", "" },

    { "empty", "", E_SYNTAX, M_NONE, "", "" },
    { "truncated", "{\"id\":1,\"method\":\"tools/call\"", E_SYNTAX,
      M_NONE, "", "" },
    { "bare word", "nope", E_SYNTAX, M_NONE, "", "" },
    { "trailing garbage", "{\"a\":1} x", E_SYNTAX, M_NONE, "", "" },
    { "two values", "{} {}", E_SYNTAX, M_NONE, "", "" },
    { "invalid utf-8", "{\"x\":\"\xff\"}", E_SYNTAX, M_NONE, "", "" },
    { "control character in a string", "{\"x\":\"a\tb\"}", E_SYNTAX,
      M_NONE, "", "" },

    /* yajl takes \v and \f for whitespace; RFC 8259 (and every adapter's
       parser) does not */

    { "form feed between members",
      "{\"id\":1,\f\"method\":\"tools/call\",\"params\":{\"name\":\"x\"}}",
      E_SYNTAX, M_NONE, "", "" },
    { "vertical tab before a value",
      "{\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\v\"x\"}}",
      E_SYNTAX, M_NONE, "", "" },
    { "form feed after the body", "{\"a\":1}\f", E_SYNTAX, M_NONE, "", "" },

    /* the fast path's common shapes (test_fast_answers: answered fast) */

#define BENCH_BODY                                                           \
    "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"tools/call\",\"params\":"     \
    "{\"name\":\"get_products\",\"arguments\":{\"brief\":\"Premium sports "  \
    "inventory for a spring campaign targeting adults 25-54 in the US\","  \
    "\"brand\":{\"name\":\"Acme Outdoor\",\"url\":"                          \
    "\"https://acme.example.com\"},\"filters\":{\"delivery_type\":"          \
    "\"guaranteed\",\"format_types\":[\"video\",\"display\"],"              \
    "\"min_exposures\":10000},\"context\":{\"request_id\":"                  \
    "\"8d4c2f9a-1b7e-4c3d-9f0a-2e6b5d8c7a1f\"}}}}"

    { "fast: the bench body (bench/hitpath.sh)", BENCH_BODY,
      E_OK, M_CALL, "42", "get_products" },

    { "fast: the bench body, a newline after it", BENCH_BODY "\r\n",
      E_OK, M_CALL, "42", "get_products" },

    { "fast: pretty-printed",
      "{\n  \"jsonrpc\": \"2.0\",\n  \"id\": \"req-9\",\n"
      "  \"method\": \"tools/call\",\n  \"params\": {\n"
      "    \"name\": \"create_media_buy\",\n    \"arguments\": {\n"
      "      \"packages\": [\n        { \"budget\": 5000.5, \"ok\": true },"
      "\n        { \"budget\": -1e3, \"ok\": null }\n      ]\n    }\n"
      "  }\n}\n",
      E_OK, M_CALL, "\"req-9\"", "create_media_buy" },

    { "fast: the TypeScript SDK's order, a negative id",
      "{\"method\":\"tools/call\",\"params\":{\"name\":\"list_creatives\","
      "\"arguments\":{}},\"jsonrpc\":\"2.0\",\"id\":-17}",
      E_OK, M_CALL, "-17", "list_creatives" },

    { "fast: strings of 15 to 65 bytes, escapes and UTF-8 at block edges",
      "{\"id\":1,\"method\":\"tools/call\",\"params\":{\"arguments\":{"
      "\"a15\":\"aaaaaaaaaaaaaaa\",\"a16\":\"aaaaaaaaaaaaaaaa\","
      "\"a17\":\"aaaaaaaaaaaaaaaaa\","
      "\"e15\":\"aaaaaaaaaaaaaa\\\"a\",\"e16\":\"aaaaaaaaaaaaaaa\\n\","
      "\"u16\":\"aaaaaaaaaaaaaaa\xc3\xa9x\",\"u32\":\"aaaaaaaaaaaaaaaa"
      "aaaaaaaaaaaaaa\xe2\x82\xac\",\"x33\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
      "\\u00e9a\",\"d64\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
      "aaaaaaaaaaaaaa\x7f\",\"q65\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
      "aaaaaaaaaaaaaaaaaaaaaaaa\\\"\"},\"name\":\"get_signals\"}}",
      E_OK, M_CALL, "1", "get_signals" },

    { "fast: nested 40 levels in the arguments",
      "{\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"t\","
      "\"arguments\":{\"d\":[[[[[[[[[[[[[[[[[[[[{\"k\":[[[[[[[[[[[[[[[[[[[1]]]]"
      "]]]]]]]]]]]]]]]}]]]]]]]]]]]]]]]]]]]]}}}",
      E_OK, M_CALL, "3", "t" },

    { "fast: a short body", "{\"id\":1}", E_OK, M_NONE, "1", "" },

    { NULL, NULL, 0, 0, NULL, NULL }
};


typedef struct {
    ngx_uint_t  error;
    ngx_uint_t  method;
    char        id[512];
    char        task[256];
} test_result_t;


static ngx_uint_t test_fast_agrees(const char *body, size_t len,
    ngx_uint_t *answered);
static void test_fast(test_case_t *tc);
static void test_feed_split(test_case_t *tc, size_t *cuts, ngx_uint_t n,
    test_result_t *res);
static int test_same(test_case_t *tc, test_result_t *res);
static int test_chain_with_file(test_case_t *tc);
static void test_fast_answers(void);


static unsigned long  rnd_state = 20261125;


static unsigned long
rnd(void)
{
    rnd_state = rnd_state * 6364136223846793005UL + 1442695040888963407UL;
    return rnd_state >> 33;
}


static void
test_feed_split(test_case_t *tc, size_t *cuts, ngx_uint_t n,
    test_result_t *res)
{
    size_t                            len, from, to;
    ngx_int_t                         rc;
    ngx_uint_t                        i;
    ngx_pool_t                       *pool;
    ngx_http_adcp_envelope_t          env;
    ngx_http_adcp_envelope_parser_t  *p;

    len = strlen(tc->body);
    pool = test_pool_create();

    p = ngx_http_adcp_envelope_create(pool, &env);

    from = 0;
    rc = NGX_AGAIN;

    for (i = 0; i <= n && rc == NGX_AGAIN; i++) {
        to = (i < n) ? cuts[i] : len;
        rc = ngx_http_adcp_envelope_feed(p, (u_char *) tc->body + from,
                                         to - from);
        from = to;
    }

    ngx_http_adcp_envelope_finish(p);

    res->error = env.error;
    res->method = env.method;
    snprintf(res->id, sizeof(res->id), "%.*s", (int) env.id.len,
             env.id.data);
    snprintf(res->task, sizeof(res->task), "%.*s", (int) env.task.len,
             env.task.data);

    test_pool_destroy(pool);
}


static int
test_same(test_case_t *tc, test_result_t *res)
{
    if (res->error != tc->error) {
        return 0;
    }

    if (tc->error == E_SYNTAX) {
        return 1;
    }

    return res->method == tc->method
           && strcmp(res->id, tc->id) == 0
           && strcmp(res->task, tc->task) == 0;
}


/*
 * Whether the fast path, when it answers for body[0..len), answers what
 * the yajl parse of the same bytes does
 */

static ngx_uint_t
test_fast_agrees(const char *body, size_t len, ngx_uint_t *answered)
{
    u_char                           *copy;
    ngx_int_t                         rc;
    ngx_uint_t                        same;
    ngx_pool_t                       *pool;
    ngx_http_adcp_envelope_t          fast, slow;
    ngx_http_adcp_envelope_parser_t  *p;

    /*
     * the body alone in its allocation, as a request's buffer is: a read
     * past its end is valgrind's (make test-valgrind), not the next prefix's
     */

    copy = malloc(len ? len : 1);
    if (copy == NULL) {
        return 0;
    }

    memcpy(copy, body, len);
    body = (const char *) copy;

    pool = test_pool_create();

    memset(&fast, 0x5a, sizeof(fast));

    rc = ngx_http_adcp_envelope_fast(pool, (u_char *) body,
                                     (u_char *) body + len, &fast);

    if (rc == NGX_DECLINED) {
        test_pool_destroy(pool);
        free(copy);
        return 1;
    }

    (*answered)++;

    p = ngx_http_adcp_envelope_create(pool, &slow);
    (void) ngx_http_adcp_envelope_feed(p, (u_char *) body, len);
    ngx_http_adcp_envelope_finish(p);

    same = rc == NGX_OK
           && fast.error == slow.error
           && fast.method == slow.method
           && (fast.dup == slow.dup
               || (fast.dup && slow.dup && strcmp(fast.dup, slow.dup) == 0))
           && fast.id.len == slow.id.len
           && (fast.id.len == 0
               || memcmp(fast.id.data, slow.id.data, fast.id.len) == 0)
           && fast.task.len == slow.task.len
           && (fast.task.len == 0
               || memcmp(fast.task.data, slow.task.data, fast.task.len)
                  == 0);

    if (!same) {
        tap_diag("fast: error %lu method %lu id '%.*s' task '%.*s'; "
                 "yajl: error %lu method %lu id '%.*s' task '%.*s'; "
                 "body '%.*s'",
                 fast.error, fast.method, (int) fast.id.len, fast.id.data,
                 (int) fast.task.len, fast.task.data,
                 slow.error, slow.method, (int) slow.id.len, slow.id.data,
                 (int) slow.task.len, slow.task.data, (int) len, body);
    }

    test_pool_destroy(pool);
    free(copy);

    return same;
}


static void
test_fast(test_case_t *tc)
{
    char         buf[4096];
    size_t       len, i, k, n;
    ngx_uint_t   all, answered;

    static const char  subst[] = "\"\\,:{}[] 0-9x.e\x01\x7f\xc3";

    len = strlen(tc->body);
    all = 1;
    answered = 0;
    n = 0;

    if (len >= sizeof(buf)) {
        return;
    }

    for (i = 0; i <= len && all; i++) {
        all = test_fast_agrees(tc->body, i, &answered);
        n++;
    }

    for (i = 0; i < len && all; i++) {
        for (k = 0; k < sizeof(subst) - 1 && all; k++) {
            memcpy(buf, tc->body, len);
            buf[i] = subst[k];
            all = test_fast_agrees(buf, len, &answered);
            n++;
        }
    }

    tap_ok(all, "%s: the fast path agrees with yajl (%lu bodies, "
           "%lu answered fast)", tc->name, n, answered);
}


/* memory buf + file buf + memory buf, as a body half on disk arrives */

static int
test_chain_with_file(test_case_t *tc)
{
    int                        fd, ok;
    char                       path[] = "/tmp/adcp-unit-XXXXXX";
    size_t                     len, a, b;
    ngx_buf_t                  b1, b2, b3;
    ngx_file_t                 file;
    ngx_chain_t                c1, c2, c3;
    ngx_pool_t                *pool;
    test_result_t              res;
    ngx_http_adcp_envelope_t   env;

    len = strlen(tc->body);
    a = len / 3;
    b = 2 * len / 3;

    fd = mkstemp(path);
    if (fd == -1) {
        return 0;
    }

    unlink(path);

    /* the file holds junk around the part the buf points at */

    if (write(fd, "JUNK", 4) != 4
        || write(fd, tc->body + a, b - a) != (ssize_t) (b - a)
        || write(fd, "JUNK", 4) != 4)
    {
        close(fd);
        return 0;
    }

    memset(&b1, 0, sizeof(ngx_buf_t));
    memset(&b2, 0, sizeof(ngx_buf_t));
    memset(&b3, 0, sizeof(ngx_buf_t));
    memset(&file, 0, sizeof(ngx_file_t));

    file.fd = fd;

    b1.pos = (u_char *) tc->body;
    b1.last = b1.pos + a;
    b1.memory = 1;

    b2.in_file = 1;
    b2.file = &file;
    b2.file_pos = 4;
    b2.file_last = 4 + (b - a);

    b3.pos = (u_char *) tc->body + b;
    b3.last = (u_char *) tc->body + len;
    b3.memory = 1;

    c1.buf = &b1;
    c1.next = &c2;
    c2.buf = &b2;
    c2.next = &c3;
    c3.buf = &b3;
    c3.next = NULL;

    pool = test_pool_create();

    ok = (ngx_http_adcp_envelope_parse_chain(pool, &c1, &env, NULL)
          == NGX_OK);

    res.error = env.error;
    res.method = env.method;
    snprintf(res.id, sizeof(res.id), "%.*s", (int) env.id.len, env.id.data);
    snprintf(res.task, sizeof(res.task), "%.*s", (int) env.task.len,
             env.task.data);

    test_pool_destroy(pool);
    close(fd);

    return ok && test_same(tc, &res);
}


/* the common shapes: the fast path answers them (and test_fast: as yajl) */

static void
test_fast_answers(void)
{
    u_char                    *body;
    size_t                     len;
    ngx_int_t                  rc;
    ngx_uint_t                 n, answered;
    test_case_t               *tc;
    ngx_http_adcp_envelope_t   env;

    n = 0;
    answered = 0;

    for (tc = cases; tc->name; tc++) {
        if (ngx_strncmp(tc->name, "fast: ", 6) != 0) {
            continue;
        }

        /* the body alone in its allocation: a read past it is seen */

        len = strlen(tc->body);
        body = malloc(len);
        ngx_memcpy(body, tc->body, len);

        rc = ngx_http_adcp_envelope_fast(NULL, body, body + len, &env);

        n++;

        if (rc == NGX_OK && env.error == tc->error
            && env.method == tc->method
            && env.id.len == strlen(tc->id)
            && ngx_strncmp(env.id.data, tc->id, env.id.len) == 0
            && env.task.len == strlen(tc->task)
            && ngx_strncmp(env.task.data, tc->task, env.task.len) == 0)
        {
            answered++;

        } else {
            tap_diag("%s: not answered fast (%ld)", tc->name, (long) rc);
        }

        free(body);
    }

    tap_ok(n && answered == n, "the fast path answers the %lu common "
           "shapes, as expected (%lu)", n, answered);
}


static void
test_deep(void)
{
    char           *body;
    size_t          n;
    test_case_t     tc;
    test_result_t   res;

    /* 100,000 '[': refused as too deep, without growing without bound */

    n = 100000;
    body = malloc(n + 1);
    memset(body, '[', n);
    body[n] = '\0';

    tc.body = body;
    test_pool_bytes = 0;
    test_feed_split(&tc, NULL, 0, &res);

    tap_ok(res.error == E_DEPTH, "100,000 '[' is refused as too deep");
    tap_ok(test_pool_bytes < 64 * 1024,
           "and costs %zu bytes of pool, not a stack per level",
           test_pool_bytes);

    /* 512 levels are fine */

    n = 512;
    memset(body, '[', n);
    memset(body + n, ']', n);
    body[2 * n] = '\0';
    test_feed_split(&tc, NULL, 0, &res);
    tap_ok(res.error == E_BATCH, "512 levels are followed (to a batch)");

    memset(body, '[', n + 1);
    memset(body + n + 1, ']', n + 1);
    body[2 * n + 2] = '\0';
    test_feed_split(&tc, NULL, 0, &res);
    tap_ok(res.error == E_DEPTH, "513 levels are too deep");

    free(body);
}


static void
test_long_id(void)
{
    char           *body;
    size_t          n, i;
    test_case_t     tc;
    test_result_t   res;

    /* an id object past NGX_HTTP_ADCP_ENV_MAX_ID echoes as null */

    n = NGX_HTTP_ADCP_ENV_MAX_ID;
    body = malloc(n + 64);
    i = sprintf(body, "{\"method\":\"x\",\"id\":{\"k\":\"");
    memset(body + i, 'v', n);
    i += n;
    strcpy(body + i, "\"}}");

    tc.body = body;
    test_feed_split(&tc, NULL, 0, &res);
    tap_ok(res.error == E_OK && strcmp(res.id, "null") == 0,
           "an id object over %d bytes echoes as null (got %.20s)",
           NGX_HTTP_ADCP_ENV_MAX_ID, res.id);

    free(body);

    /* a body repeating "id":[...]: one buffer, refused, answered as null */

    body = malloc(20 * 1000 + 64);
    i = sprintf(body, "{\"a\":0");

    for (n = 0; n < 1000; n++) {
        i += sprintf(body + i, ",\"id\":[%zu]", n);
    }

    strcpy(body + i, ",\"method\":\"x\"}");

    tc.body = body;
    test_pool_bytes = 0;
    test_feed_split(&tc, NULL, 0, &res);
    tap_ok(res.error == E_DUP && strcmp(res.id, "null") == 0,
           "1000 repeated array ids: refused, null id (%s)", res.id);
    tap_ok(test_pool_bytes < 3 * NGX_HTTP_ADCP_ENV_MAX_ID,
           "1000 repeated array ids cost %zu bytes of pool", test_pool_bytes);

    free(body);
}


int
main(void)
{
    int             all;
    size_t          len, cut, cuts[16];
    ngx_uint_t      i, k, n, r;
    test_case_t    *tc;
    test_result_t   res;

    for (tc = cases; tc->name; tc++) {
        len = strlen(tc->body);

        test_feed_split(tc, NULL, 0, &res);
        tap_ok(test_same(tc, &res), "%s: whole", tc->name);

        if (!test_same(tc, &res)) {
            tap_diag("error %lu method %lu id '%s' task '%s'",
                     res.error, res.method, res.id, res.task);
        }

        all = 1;

        for (cut = 0; cut <= len; cut++) {
            test_feed_split(tc, &cut, 1, &res);

            if (!test_same(tc, &res)) {
                tap_diag("split at %zu: error %lu id '%s' task '%s'",
                         cut, res.error, res.id, res.task);
                all = 0;
                break;
            }
        }

        tap_ok(all, "%s: every split into two buffers (%zu)", tc->name,
               len + 1);

        all = 1;

        for (r = 0; r < 300 && all; r++) {
            n = 1 + rnd() % 15;

            for (i = 0; i < n; i++) {
                cuts[i] = len ? rnd() % (len + 1) : 0;
            }

            /* sort the cuts */

            for (i = 1; i < n; i++) {
                for (k = i; k > 0 && cuts[k - 1] > cuts[k]; k--) {
                    cut = cuts[k];
                    cuts[k] = cuts[k - 1];
                    cuts[k - 1] = cut;
                }
            }

            test_feed_split(tc, cuts, n, &res);

            if (!test_same(tc, &res)) {
                tap_diag("random split %lu ways failed", n + 1);
                all = 0;
            }
        }

        tap_ok(all, "%s: 300 random multi-way splits", tc->name);

        if (len >= 3) {
            tap_ok(test_chain_with_file(tc),
                   "%s: memory + temp file + memory", tc->name);
        }

        test_fast(tc);
    }

    test_fast_answers();
    test_deep();
    test_long_id();

    return tap_done();
}
