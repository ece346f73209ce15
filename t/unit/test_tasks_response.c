
/*
 * Unit tests of how the tasks' HTTP client reads a reply
 * (src/tasks/ngx_http_adcp_tasks_response.c, nginx's own parsers): the
 * status, the Content-Type, the body, chunked bodies decoded.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "../../src/tasks/ngx_http_adcp_tasks_private.h"
#include "ngx_stubs.h"
#include "tap.h"


static ngx_log_t  test_log;
static char       test_out[2048];


/* "<code> <content type>|<body>", or "error" */

static char *
response(const char *text)
{
    u_char      *in;
    size_t       len;
    ngx_int_t    code;
    ngx_str_t    ct, body;
    ngx_pool_t  *pool;

    pool = test_pool_create();
    pool->log = &test_log;

    len = strlen(text);
    in = ngx_pnalloc(pool, len + 1);
    memcpy(in, text, len + 1);

    if (ngx_http_adcp_tasks_response(pool, &test_log, in, len, &code, &ct,
                                     &body)
        != NGX_OK)
    {
        snprintf(test_out, sizeof(test_out), "error");

    } else {
        snprintf(test_out, sizeof(test_out), "%d %.*s|%.*s", (int) code,
                 (int) ct.len, ct.data, (int) body.len, body.data);
    }

    test_pool_destroy(pool);

    return test_out;
}


static void
is(const char *got, const char *want, const char *name)
{
    tap_ok(strcmp(got, want) == 0, "%s", name);

    if (strcmp(got, want) != 0) {
        tap_diag("got:  %s", got);
        tap_diag("want: %s", want);
    }
}


int
main(void)
{
    is(response("HTTP/1.1 200 OK\r\nServer: nginx\r\n"
                "Content-Type: application/json\r\nContent-Length: 7\r\n"
                "\r\n{\"a\":1}"),
       "200 application/json|{\"a\":1}", "a plain reply");
    is(response("HTTP/1.0 502 Bad Gateway\nServer: x\n\n<html>"),
       "502 |<html>", "bare LF line ends, no Content-Type");
    is(response("HTTP/1.1 204\r\n\r\n"), "204 |", "a status without reason");
    is(response("HTTP/1.1 200 OK\r\ncontent-type:   text/event-stream; "
                "charset=utf-8\r\n\r\ndata: x\n\n"),
       "200 text/event-stream; charset=utf-8|data: x\n\n",
       "a header name in any case, blanks before the value");
    is(response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                "Content-Type: application/json\r\n\r\n"
                "5\r\n{\"a\":\r\n"
                "3;ext=1\r\n1}x\r\n"
                "0\r\n\r\n"),
       "200 application/json|{\"a\":1}x", "a chunked body, decoded");
    is(response("HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n"
                "a\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n"),
       "200 |0123456789", "chunked in any case, with a trailer");
    is(response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                "10\r\n0123"),
       "error", "a chunked body cut short");
    is(response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                "zz\r\n"),
       "error", "not chunks");
    is(response("HTTP/1.1 200 OK\r\nContent-Type: a\r\n"),
       "error", "headers without their end");
    is(response("garbage"), "error", "not HTTP");
    is(response(""), "error", "nothing");
    is(response("HTTP/1.1 2000 OK\r\n\r\n"), "error", "a status of 4 digits");
    is(response("HTTP/1.1 200 OK\r\nBad Header\r\n\r\nx"), "error",
       "a header line without a colon");

    /* interim answers (RFC 9110, 15.2): read past, the final one counts */

    is(response("HTTP/1.1 100 Continue\r\n\r\n"
                "HTTP/1.1 200 OK\r\nContent-Type: a\r\n\r\nok"),
       "200 a|ok", "a 100 Continue, then the answer");
    is(response("HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"
                "HTTP/1.1 102 Processing\r\n\r\n"
                "HTTP/1.1 503 Busy\r\n\r\n"),
       "503 |", "two interim answers, then a 503");
    is(response("HTTP/1.1 100 Continue\r\n\r\n"), "error",
       "an interim answer alone is no answer");
    is(response("HTTP/1.1 101 Switching Protocols\r\n\r\nxx"),
       "101 |xx", "a 101 (never asked for) is final");

    tap_ok(test_pool_live() == 0, "nothing left allocated");

    return tap_done();
}
