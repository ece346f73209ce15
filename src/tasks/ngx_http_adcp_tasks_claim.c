
/*
 * ngx_http_adcp_tasks_module: recovery.  Every adcp_task_claim_after / 3
 * a worker refreshes the entries it runs (XCLAIM ... JUSTID, idle 0) and
 * claims others idle for adcp_task_claim_after (XAUTOCLAIM), which it runs
 * like new ones; it reads the queue's depth for status, and now and then
 * removes the consumers of dead workers.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_http_adcp_tasks_private.h"


static void ngx_http_adcp_tasks_on_claim(ngx_http_adcp_redis_reply_t *reply,
    void *data);
static void ngx_http_adcp_tasks_on_xlen(ngx_http_adcp_redis_reply_t *reply,
    void *data);


/*
 * KEYS: the stream.  ARGV: idle ms, the consumer group.  Consumers of
 * dead workers: none pending and idle that long (a live one reads every
 * 2 s, and one removed by mistake is made again by its next XREADGROUP).
 */

static ngx_http_adcp_redis_script_t  ngx_http_adcp_tasks_consumers_script =
    ngx_http_adcp_redis_script(
    "local n = 0\n"
    "for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1],\n"
    "                               ARGV[2])) do\n"
    "  local h = {}\n"
    "  for i = 1, #c, 2 do h[c[i]] = c[i + 1] end\n"
    "  if h['pending'] == 0 and h['idle'] > tonumber(ARGV[1]) then\n"
    "    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[2], h['name'])\n"
    "    n = n + 1\n"
    "  end\n"
    "end\n"
    "return n\n");


/* refresh the entries this worker runs, claim the abandoned ones */

void
ngx_http_adcp_tasks_tick(ngx_event_t *ev)
{
    ngx_http_adcp_consumer_t *cs = ev->data;

    ngx_uint_t                   n, room;
    ngx_pool_t                  *pool;
    ngx_queue_t                 *q;
    ngx_http_adcp_exec_t        *e;
    ngx_http_adcp_redis_args_t   a;

    if (cs->exiting) {
        return;
    }

    n = 0;

    for (q = ngx_queue_head(&cs->execs);
         q != ngx_queue_sentinel(&cs->execs);
         q = ngx_queue_next(q))
    {
        e = ngx_queue_data(q, ngx_http_adcp_exec_t, queue);

        /* a webhook's attempt has no entry: its lease is in adcp:hooks */

        if (e->entry.len) {
            n++;
        }
    }

    /*
     * an exiting worker still finishes what it runs: it keeps those
     * entries its own (refreshed), and claims nothing more
     */

    if ((ngx_exiting || ngx_terminate || ngx_quit) && n == 0) {
        return;
    }

    ngx_add_timer(ev, ngx_max(cs->tmcf->claim_after / 3, 100));

    /* the commands' arguments, until hiredis has them formatted */

    pool = ngx_create_pool(1024, ev->log);
    if (pool == NULL) {
        return;
    }

    if (n && ngx_http_adcp_redis_args_init(&a, pool, n + 6) == NGX_OK) {
        ngx_http_adcp_redis_arg_lit(&a, "XCLAIM");
        ngx_http_adcp_redis_arg_key(&a, NGX_HTTP_ADCP_KEY_TASKS);
        ngx_http_adcp_redis_arg_key(&a, NGX_HTTP_ADCP_KEY_GROUP);
        ngx_http_adcp_redis_arg_str(&a, &cs->consumer);
        ngx_http_adcp_redis_arg_lit(&a, "0");

        for (q = ngx_queue_head(&cs->execs);
             q != ngx_queue_sentinel(&cs->execs);
             q = ngx_queue_next(q))
        {
            e = ngx_queue_data(q, ngx_http_adcp_exec_t, queue);

            if (e->entry.len) {
                ngx_http_adcp_redis_arg_str(&a, &e->entry);
            }
        }

        ngx_http_adcp_redis_arg_lit(&a, "JUSTID");

        (void) ngx_http_adcp_redis_send(&cs->amcf->redis, NULL, NULL, NULL,
                                        &a);
    }

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        goto done;
    }

    room = cs->tmcf->concurrency;
    room = room > cs->running ? room - cs->running : 0;

    if (room == 0 || cs->claim || !cs->group) {
        goto done;
    }

    if (ngx_http_adcp_redis_args_init(&a, pool, 8) == NGX_OK) {
        ngx_http_adcp_redis_arg_lit(&a, "XAUTOCLAIM");
        ngx_http_adcp_redis_arg_key(&a, NGX_HTTP_ADCP_KEY_TASKS);
        ngx_http_adcp_redis_arg_key(&a, NGX_HTTP_ADCP_KEY_GROUP);
        ngx_http_adcp_redis_arg_str(&a, &cs->consumer);
        ngx_http_adcp_redis_arg_uint(&a, cs->tmcf->claim_after);
        ngx_http_adcp_redis_arg_lit(&a, "0-0");
        ngx_http_adcp_redis_arg_lit(&a, "COUNT");
        ngx_http_adcp_redis_arg_uint(&a, room);

        cs->claim = ngx_http_adcp_redis_send(&cs->amcf->redis, NULL,
                                             ngx_http_adcp_tasks_on_claim,
                                             cs, &a);
    }

    /* the queue's depth for status, now and then */

    if (ngx_http_adcp_redis_args_init(&a, pool, 2) == NGX_OK) {
        ngx_http_adcp_redis_arg_lit(&a, "XLEN");
        ngx_http_adcp_redis_arg_key(&a, NGX_HTTP_ADCP_KEY_TASKS);

        (void) ngx_http_adcp_redis_send(&cs->amcf->redis, NULL,
                                        ngx_http_adcp_tasks_on_xlen, cs, &a);
    }

    /* now and then, the consumers of dead workers go */

    if (++cs->ticks % 30 == 0
        && ngx_http_adcp_redis_args_init(&a, pool, 4) == NGX_OK)
    {
        ngx_http_adcp_redis_arg_lit(&a, "1");
        ngx_http_adcp_redis_arg_key(&a, NGX_HTTP_ADCP_KEY_TASKS);
        ngx_http_adcp_redis_arg_uint(&a,
                                ngx_max(cs->tmcf->claim_after * 2, 60000));
        ngx_http_adcp_redis_arg_key(&a, NGX_HTTP_ADCP_KEY_GROUP);

        (void) ngx_http_adcp_redis_eval(&cs->amcf->redis,
                                        &ngx_http_adcp_tasks_consumers_script,
                                        NULL, NULL, &a);
    }

done:

    ngx_destroy_pool(pool);
}


/* [next, [[id, [field, value]], ...], [deleted ids]] */

static void
ngx_http_adcp_tasks_on_claim(ngx_http_adcp_redis_reply_t *reply, void *data)
{
    ngx_http_adcp_consumer_t *cs = data;

    size_t     n;
    ngx_str_t  err;

    cs->claim = NULL;

    if (cs->exiting || reply == NULL || ngx_exiting || ngx_quit
        || ngx_terminate)
    {
        return;
    }

    if (ngx_http_adcp_redis_error(reply, &err) == NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, &cs->log, 0,
                      "adcp: tasks: XAUTOCLAIM failed: %V", &err);

        if (err.len >= 7 && ngx_strncmp(err.data, "NOGROUP", 7) == 0) {
            /* made again before the next read */
            cs->group = 0;
        }

        return;
    }

    if (ngx_http_adcp_redis_array(reply, &n) == NGX_OK && n >= 2) {
        ngx_http_adcp_exec_entries(cs, ngx_http_adcp_redis_element(reply, 1),
                                   1);
    }
}


static void
ngx_http_adcp_tasks_on_xlen(ngx_http_adcp_redis_reply_t *reply, void *data)
{
    ngx_http_adcp_exec_queue(data, reply);
}
