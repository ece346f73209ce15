
/*
 * Unit tests of the payload hash (src/tasks/ngx_http_adcp_tasks_hash.c):
 * a retry of the same task with another key order or another spelling of
 * a number is the same payload; anything else is another.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "../../src/tasks/ngx_http_adcp_tasks_private.h"
#include "ngx_stubs.h"
#include "tap.h"


static ngx_log_t  test_log;


/* the hash of task over the JSON args ("" for none) */

static void
hash(const char *task, const char *args, u_char *out)
{
    yajl_val   v;
    ngx_str_t  t;

    t.data = (u_char *) task;
    t.len = strlen(task);

    v = args[0] ? yajl_tree_parse(args, NULL, 0) : NULL;

    if (args[0] && v == NULL) {
        tap_diag("cannot parse %s", args);
    }

    ngx_http_adcp_tasks_hash(out, &t, v, &test_log);

    if (v) {
        yajl_tree_free(v);
    }
}


static int
same(const char *a, const char *b)
{
    u_char  ha[32], hb[32];

    hash("create_media_buy", a, ha);
    hash("create_media_buy", b, hb);

    return memcmp(ha, hb, 32) == 0;
}


int
main(void)
{
    int     i, hex;
    u_char  h1[32], h2[32];

    hash("create_media_buy", "{\"a\":1}", h1);

    for (hex = 1, i = 0; i < 32; i++) {
        hex &= (h1[i] >= '0' && h1[i] <= '9') || (h1[i] >= 'a' && h1[i] <= 'f');
    }

    tap_ok(hex, "32 lowercase hex digits");

    tap_ok(same("{\"a\":1,\"b\":\"x\"}", "{\"b\":\"x\",\"a\":1}"),
           "key order does not matter");
    tap_ok(same("{\"o\":{\"y\":[1,2],\"x\":null}}",
                "{\"o\":{\"x\":null,\"y\":[1,2]}}"),
           "... at any depth");
    tap_ok(same("{\"n\":1500.5}", "{\"n\":1.5005e3}"),
           "numbers by value: 1500.5 = 1.5005e3");
    tap_ok(same("{\"n\":1500.50}", "{\"n\":1500.5}"),
           "... 1500.50 = 1500.5");
    tap_ok(same("{\"n\":0}", "{\"n\":-0}"), "... 0 = -0");
    tap_ok(same("{ \"a\" : [ 1 , 2 ] }", "{\"a\":[1,2]}"),
           "white space does not matter");

    tap_ok(!same("{\"a\":[1,2]}", "{\"a\":[2,1]}"), "array order matters");
    tap_ok(!same("{\"a\":1}", "{\"a\":\"1\"}"), "1 is not \"1\"");
    tap_ok(!same("{\"a\":true}", "{\"a\":false}"), "true is not false");
    tap_ok(!same("{\"a\":null}", "{}"), "null is not absent");
    tap_ok(!same("{\"ab\":\"c\"}", "{\"a\":\"bc\"}"),
           "keys and values do not run together");
    tap_ok(!same("{\"a\":[\"x\",\"y\"]}", "{\"a\":[\"xy\"]}"),
           "strings do not run together");
    tap_ok(!same("{\"a\":[[1],2]}", "{\"a\":[1,[2]]}"),
           "nesting matters");
    tap_ok(!same("{\"n\":9007199254740993}", "{\"n\":9007199254740992}"),
           "integers past 2^53 are told apart");

    hash("create_media_buy", "{}", h1);
    hash("update_media_buy", "{}", h2);
    tap_ok(memcmp(h1, h2, 32) != 0, "the task name is part of it");

    hash("create_media_buy", "", h1);
    hash("create_media_buy", "{}", h2);
    tap_ok(memcmp(h1, h2, 32) != 0, "no arguments is not {}");

    /* pinned: a change of the canonical form breaks stored idempotency */

    hash("create_media_buy", "{\"b\":[1,\"x\",true,null],\"a\":{\"c\":2.5}}",
         h1);
    tap_diag("pinned hash %.32s", h1);
    tap_ok(memcmp(h1, "f26e3c233505923bc8420adeefa03bbe", 32) == 0,
           "the canonical form is unchanged (%.32s)", h1);

    return tap_done();
}
