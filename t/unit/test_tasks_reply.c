
/*
 * Unit tests of the reply interpretation (src/tasks/ngx_http_adcp_tasks_
 * reply.c): what an adapter's answer to a task says, for each transport,
 * plain or as an event stream.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "../../src/tasks/ngx_http_adcp_tasks_private.h"
#include "ngx_stubs.h"
#include "tap.h"


static char  test_out[4096];


/*
 * The outcome as text: "result <json>" or "failed <code> <message>"
 */

static char *
reply(ngx_http_adcp_task_transport_e tt, const char *ct, const char *body)
{
    size_t                          len;
    u_char                         *copy;
    yajl_gen                        g;
    ngx_str_t                       c, b;
    ngx_pool_t                     *pool;
    const unsigned char            *buf;
    ngx_http_adcp_tasks_outcome_t   out;

    pool = test_pool_create();

    copy = ngx_pnalloc(pool, strlen(body) + 1);
    memcpy(copy, body, strlen(body) + 1);

    c.data = (u_char *) ct;
    c.len = strlen(ct);
    b.data = copy;
    b.len = strlen(body);

    if (ngx_http_adcp_tasks_reply(pool, tt, &c, &b, &out) != NGX_OK) {
        test_pool_destroy(pool);
        return "error";
    }

    if (out.failed) {
        snprintf(test_out, sizeof(test_out), "failed %s %.*s", out.code,
                 (int) out.message.len, out.message.data);

    } else {
        g = yajl_gen_alloc(NULL);

        if (ngx_http_adcp_json_gen(g, out.result) != NGX_OK
            || yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok)
        {
            snprintf(test_out, sizeof(test_out), "unwritable");

        } else {
            snprintf(test_out, sizeof(test_out), "result %.*s", (int) len,
                     buf);
        }

        yajl_gen_free(g);
    }

    /* the trees go with the pool */

    test_pool_destroy(pool);

    return test_out;
}


static int
is(const char *got, const char *want, const char *name)
{
    tap_ok(strcmp(got, want) == 0, "%s", name);

    if (strcmp(got, want) != 0) {
        tap_diag("got:  %s", got);
        tap_diag("want: %s", want);
    }

    return 0;
}


#define JSON  "application/json"
#define SSE   "text/event-stream"


int
main(void)
{
    /* plain HTTP */

    is(reply(NGX_HTTP_ADCP_TT_HTTP, JSON, "{\"media_buy_id\":\"mb1\"}"),
       "result {\"media_buy_id\":\"mb1\"}", "http: the body is the result");
    is(reply(NGX_HTTP_ADCP_TT_HTTP, JSON, "[1]"),
       "failed SERVICE_UNAVAILABLE the adapter's answer is not a JSON object",
       "http: an array is not an answer");
    is(reply(NGX_HTTP_ADCP_TT_HTTP, JSON, "not json"),
       "failed SERVICE_UNAVAILABLE the adapter's answer is not a JSON object",
       "http: nor is text");
    is(reply(NGX_HTTP_ADCP_TT_HTTP, JSON, ""),
       "failed SERVICE_UNAVAILABLE the adapter's answer is not a JSON object",
       "http: nor nothing");

    /* MCP */

    is(reply(NGX_HTTP_ADCP_TT_MCP, JSON,
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"content\":[{\"type\":"
             "\"text\",\"text\":\"x\"}],\"structuredContent\":{\"a\":1}}}"),
       "result {\"a\":1}", "mcp: structuredContent");
    is(reply(NGX_HTTP_ADCP_TT_MCP, JSON,
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"content\":[{\"type\":"
             "\"text\",\"text\":\"{\\\"b\\\":2}\"}]}}"),
       "result {\"b\":2}", "mcp: the text item's JSON object");
    is(reply(NGX_HTTP_ADCP_TT_MCP, JSON,
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"content\":[{\"type\":"
             "\"text\",\"text\":\"done\"}]}}"),
       "result {\"content\":[{\"type\":\"text\",\"text\":\"done\"}]}",
       "mcp: else the whole result");
    is(reply(NGX_HTTP_ADCP_TT_MCP, JSON,
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"isError\":true,"
             "\"structuredContent\":{\"adcp_error\":{\"code\":\"BUDGET_TOO_LOW"
             "\",\"message\":\"more\"}}}}"),
       "failed BUDGET_TOO_LOW more", "mcp: isError with an adcp_error");
    is(reply(NGX_HTTP_ADCP_TT_MCP, JSON,
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"isError\":true,"
             "\"structuredContent\":{\"errors\":[{\"code\":\"X\"}]},"
             "\"content\":[{\"type\":\"text\",\"text\":\"why\"}]}}"),
       "failed X why", "mcp: isError with errors[0], the text as message");
    is(reply(NGX_HTTP_ADCP_TT_MCP, JSON,
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"isError\":true}}"),
       "failed SERVICE_UNAVAILABLE the adapter reported an error",
       "mcp: a bare isError");
    is(reply(NGX_HTTP_ADCP_TT_MCP, JSON,
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32000,"
             "\"message\":\"nope\",\"data\":{\"adcp_error\":{\"code\":"
             "\"POLICY_VIOLATION\"}}}}"),
       "failed POLICY_VIOLATION nope", "a JSON-RPC error with an AdCP code");
    is(reply(NGX_HTTP_ADCP_TT_MCP, JSON,
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-1,"
             "\"message\":\"x\",\"data\":{\"adcp_error\":{\"code\":\"\"}}}}"),
       "failed SERVICE_UNAVAILABLE x",
       "a JSON-RPC error with an empty AdCP code: not a code");
    is(reply(NGX_HTTP_ADCP_TT_MCP, JSON,
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-1,"
             "\"message\":\"x\",\"data\":{\"adcp_error\":{\"code\":"
             "\"A123456789B123456789C123456789D123456789E123456789F123456789"
             "G1234\"}}}}"),
       "failed SERVICE_UNAVAILABLE x",
       "a JSON-RPC error with a 65-character AdCP code: not a code");
    is(reply(NGX_HTTP_ADCP_TT_MCP, JSON,
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"isError\":true,"
             "\"structuredContent\":{\"adcp_error\":{\"code\":"
             "\"A123456789B123456789C123456789D123456789E123456789F123456789"
             "G123\",\"message\":\"m\"}}}}"),
       "failed A123456789B123456789C123456789D123456789E123456789F123456789"
       "G123 m", "mcp: isError with a 64-character code: kept");
    is(reply(NGX_HTTP_ADCP_TT_MCP, JSON,
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32000}}"),
       "failed SERVICE_UNAVAILABLE the adapter answered a JSON-RPC error",
       "a bare JSON-RPC error");
    is(reply(NGX_HTTP_ADCP_TT_MCP, JSON, "{\"jsonrpc\":\"2.0\",\"id\":1}"),
       "failed SERVICE_UNAVAILABLE the adapter's answer has no result",
       "no result");

    /* A2A */

    is(reply(NGX_HTTP_ADCP_TT_A2A, JSON,
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"kind\":\"task\","
             "\"status\":{\"state\":\"completed\"},\"artifacts\":[{\"parts\":"
             "[{\"kind\":\"text\",\"text\":\"t\"},{\"kind\":\"data\",\"data\":"
             "{\"c\":3}}]}]}}"),
       "result {\"c\":3}", "a2a 0.3: the first data part of the artifacts");
    is(reply(NGX_HTTP_ADCP_TT_A2A, JSON,
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"task\":{\"status\":"
             "{\"state\":\"TASK_STATE_COMPLETED\"},\"artifacts\":[{\"parts\":"
             "[{\"data\":{\"d\":4}}]}]}}}"),
       "result {\"d\":4}", "a2a 1.0: {\"task\": ...}");
    is(reply(NGX_HTTP_ADCP_TT_A2A, JSON,
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"kind\":\"message\","
             "\"parts\":[{\"kind\":\"data\",\"data\":{\"e\":5}}]}}"),
       "result {\"e\":5}", "a2a: a message's data part");
    is(reply(NGX_HTTP_ADCP_TT_A2A, JSON,
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"kind\":\"task\","
             "\"status\":{\"state\":\"failed\"}}}"),
       "failed SERVICE_UNAVAILABLE the adapter's task failed",
       "a2a: a failed task");
    is(reply(NGX_HTTP_ADCP_TT_A2A, JSON,
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"task\":{\"status\":"
             "{\"state\":\"TASK_STATE_REJECTED\"}}}}"),
       "failed SERVICE_UNAVAILABLE the adapter's task failed",
       "a2a 1.0: a rejected task");
    is(reply(NGX_HTTP_ADCP_TT_A2A, JSON,
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"kind\":\"task\","
             "\"status\":{\"state\":\"completed\"}}}"),
       "result {\"kind\":\"task\",\"status\":{\"state\":\"completed\"}}",
       "a2a: no data part: the whole result");

    /* event streams */

    is(reply(NGX_HTTP_ADCP_TT_MCP, SSE,
             "event: message\r\n"
             "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\","
             "\"params\":{}}\r\n\r\n"
             "data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\r\n"
             "data: {\"structuredContent\":{\"f\":6}}}\r\n\r\n"),
       "result {\"f\":6}",
       "sse: notifications skipped, data lines joined");
    is(reply(NGX_HTTP_ADCP_TT_MCP, SSE,
             "data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":"
             "{\"structuredContent\":{\"g\":1}}}\n\n"
             "data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":"
             "{\"structuredContent\":{\"g\":2}}}"),
       "result {\"g\":2}",
       "sse: the last response wins, even without a closing blank line");
    is(reply(NGX_HTTP_ADCP_TT_A2A, "text/event-stream; charset=utf-8",
             ": a comment\n"
             "id: 7\n"
             "data:{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"kind\":\"task\","
             "\"status\":{\"state\":\"completed\"},\"artifacts\":[{\"parts\":"
             "[{\"kind\":\"data\",\"data\":{\"h\":8}}]}]}}\n\n"),
       "result {\"h\":8}", "sse: a2a, no space after data:, other fields");
    is(reply(NGX_HTTP_ADCP_TT_MCP, SSE,
             "data: {\"jsonrpc\":\"2.0\",\"method\":\"x\"}\n\n"),
       "failed SERVICE_UNAVAILABLE the adapter's answer is not a JSON object",
       "sse: only notifications: no answer");
    is(reply(NGX_HTTP_ADCP_TT_MCP, SSE, ""),
       "failed SERVICE_UNAVAILABLE the adapter's answer is not a JSON object",
       "sse: empty");

    tap_ok(test_pool_live() == 0, "nothing left allocated");

    return tap_done();
}
