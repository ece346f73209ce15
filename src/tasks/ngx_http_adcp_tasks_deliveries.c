
/*
 * ngx_http_adcp_tasks_module: the webhooks' schedule, in Redis, so that a
 * delivery outlives the worker or host that began it.  adcp:hooks is a
 * sorted set of task ids scored by when their next attempt is due (ms
 * since 1970); the record keeps webhook_attempts, webhook_first,
 * webhook_due, webhook_status (scheduled, delivered, failed, gave_up) and
 * webhook_code (the last answer's status, or "network").
 *
 * The execution that finishes a task schedules its webhook, leased to
 * itself, and makes the first attempt at once (tasks_exec.c).  Every
 * NGX_HTTP_ADCP_HOOK_POLL every worker claims the due ones: a script
 * pushes their score a lease ahead, so no two workers make the same
 * attempt and a dead claimer's lease runs out.  One attempt each
 * (tasks_webhook.c), then: 2xx delivered, removed; 3xx, 4xx but 429
 * failed, removed; 5xx, 429, a network error rescheduled 1 s later,
 * doubling to 60 s, with jitter, unless past adcp_task_webhook_retry_horizon
 * from the first attempt: given up, removed.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_http_adcp_tasks_private.h"


static void ngx_http_adcp_deliveries_on_due(
    ngx_http_adcp_redis_reply_t *reply, void *data);
static void ngx_http_adcp_deliveries_start(ngx_http_adcp_consumer_t *cs,
    ngx_str_t *task);
static void ngx_http_adcp_deliveries_on_load(
    ngx_http_adcp_redis_reply_t *reply, void *data);
static void ngx_http_adcp_deliveries_end(ngx_http_adcp_exec_t *e,
    char *status, uint64_t due);
static void ngx_http_adcp_deliveries_on_end(
    ngx_http_adcp_redis_reply_t *reply, void *data);


/*
 * KEYS: the webhooks due.  ARGV: now (ms), the lease (ms), how many.
 * -> the task ids due, each now leased to the caller
 */

static ngx_http_adcp_redis_script_t  ngx_http_adcp_deliveries_due_script =
    ngx_http_adcp_redis_script(
    "local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1],\n"
    "  'LIMIT', 0, tonumber(ARGV[3]))\n"
    "local till = string.format('%d', tonumber(ARGV[1])\n"
    "  + tonumber(ARGV[2]))\n"
    "for i = 1, #ids do\n"
    "  redis.call('ZADD', KEYS[1], 'XX', till, ids[i])\n"
    "end\n"
    "return ids\n");


/*
 * KEYS: the record, the webhooks due.  ARGV: the task id, now (ms), the
 * record's field names ("status" first).  -> {"run", the fields in that
 * order} (the attempt counted, the first's time set), or "gone" (expired)
 * or "done" (delivered or ended before): no longer due
 */

static ngx_http_adcp_redis_script_t  ngx_http_adcp_deliveries_load_script =
    ngx_http_adcp_redis_script(
    "local names = {unpack(ARGV, 3)}\n"
    "local f = redis.call('HMGET', KEYS[1], unpack(names))\n"
    "if not f[1] then\n"
    "  redis.call('ZREM', KEYS[2], ARGV[1])\n"
    "  return {'gone'}\n"
    "end\n"
    "local at = {}\n"
    "for i = 1, #names do\n"
    "  at[names[i]] = i\n"
    "  if not f[i] then f[i] = '' end\n"
    "end\n"
    "if f[at['webhook_status']] ~= 'scheduled' then\n"
    "  redis.call('ZREM', KEYS[2], ARGV[1])\n"
    "  return {'done'}\n"
    "end\n"
    "local n = (tonumber(f[at['webhook_attempts']]) or 0) + 1\n"
    "f[at['webhook_attempts']] = tostring(n)\n"
    "redis.call('HSET', KEYS[1], 'webhook_attempts', n)\n"
    "if f[at['webhook_first']] == '' then\n"
    "  f[at['webhook_first']] = ARGV[2]\n"
    "  redis.call('HSET', KEYS[1], 'webhook_first', ARGV[2])\n"
    "end\n"
    "return {'run', unpack(f)}\n");


/*
 * KEYS: the record, the webhooks due.  ARGV: the task id, the status
 * (scheduled: again at ARGV[4]; delivered, failed, gave_up: removed, the
 * credentials with it), the last answer's code, the next due (ms).
 */

static ngx_http_adcp_redis_script_t  ngx_http_adcp_deliveries_end_script =
    ngx_http_adcp_redis_script(
    "if ARGV[2] == 'scheduled' then\n"
    "  if redis.call('EXISTS', KEYS[1]) == 0 then\n"
    "    redis.call('ZREM', KEYS[2], ARGV[1])\n"
    "    return 0\n"
    "  end\n"
    "  redis.call('ZADD', KEYS[2], 'XX', ARGV[4], ARGV[1])\n"
    "  redis.call('HSET', KEYS[1], 'webhook_code', ARGV[3],\n"
    "    'webhook_due', ARGV[4])\n"
    "  return 1\n"
    "end\n"
    "redis.call('ZREM', KEYS[2], ARGV[1])\n"
    "if redis.call('EXISTS', KEYS[1]) == 1 then\n"
    "  redis.call('HSET', KEYS[1], 'webhook_status', ARGV[2],\n"
    "    'webhook_code', ARGV[3])\n"
    "  if ARGV[2] == 'delivered' then\n"
    "    redis.call('HSET', KEYS[1], 'webhook_sent', '1')\n"
    "  end\n"
    "  redis.call('HDEL', KEYS[1], 'webhook_auth', 'webhook_due')\n"
    "end\n"
    "return 1\n");


/* every worker, now and then: the due webhooks claimed */

void
ngx_http_adcp_deliveries_poll(ngx_event_t *ev)
{
    ngx_http_adcp_consumer_t *cs = ev->data;

    u_char                      now[NGX_INT64_LEN], lease[NGX_INT_T_LEN],
                                count[NGX_INT_T_LEN];
    size_t                      len[8];
    ngx_uint_t                  room;
    const char                 *argv[8];
    ngx_http_adcp_redis_args_t  a;

    if (cs->exiting || ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    ngx_add_timer(ev, NGX_HTTP_ADCP_HOOK_POLL + ngx_random() % 250);

    room = cs->tmcf->concurrency;
    room = room > cs->delivering ? room - cs->delivering : 0;

    if (room == 0 || cs->due) {
        return;
    }

    ngx_http_adcp_redis_args_local(&a, argv, len);

    ngx_http_adcp_redis_arg_lit(&a, "1");
    ngx_http_adcp_redis_arg_key(&a, NGX_HTTP_ADCP_KEY_HOOKS);
    ngx_http_adcp_redis_arg(&a, now,
                            ngx_sprintf(now, "%uL", ngx_http_adcp_tasks_ms())
                            - now);
    ngx_http_adcp_redis_arg(&a, lease,
                            ngx_sprintf(lease, "%ui",
                                        (ngx_uint_t) NGX_HTTP_ADCP_HOOK_LEASE)
                            - lease);
    ngx_http_adcp_redis_arg(&a, count, ngx_sprintf(count, "%ui", room)
                                       - count);

    cs->due = ngx_http_adcp_redis_eval(&cs->amcf->redis,
                                       &ngx_http_adcp_deliveries_due_script,
                                       ngx_http_adcp_deliveries_on_due, cs,
                                       &a);
}


/* [task id, ...]: each one's attempt */

static void
ngx_http_adcp_deliveries_on_due(ngx_http_adcp_redis_reply_t *reply,
    void *data)
{
    ngx_http_adcp_consumer_t *cs = data;

    size_t     i, n;
    ngx_str_t  id, err;

    cs->due = NULL;

    if (cs->exiting || reply == NULL || ngx_exiting || ngx_quit
        || ngx_terminate)
    {
        return;
    }

    if (ngx_http_adcp_redis_error(reply, &err) == NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, &cs->log, 0,
                      "adcp: tasks: the due webhooks not claimed: %V", &err);
        return;
    }

    if (ngx_http_adcp_redis_array(reply, &n) != NGX_OK) {
        return;
    }

    for (i = 0; i < n; i++) {
        if (ngx_http_adcp_redis_string(ngx_http_adcp_redis_element(reply, i),
                                       &id)
            == NGX_OK
            && id.len)
        {
            ngx_http_adcp_deliveries_start(cs, &id);
        }
    }
}


static void
ngx_http_adcp_deliveries_start(ngx_http_adcp_consumer_t *cs, ngx_str_t *task)
{
    ngx_str_t                   key;
    ngx_queue_t                *q;
    ngx_http_adcp_exec_t       *e;
    ngx_http_adcp_redis_args_t  a;

    /* an attempt here outlived its lease: it goes on, no second one */

    for (q = ngx_queue_head(&cs->execs);
         q != ngx_queue_sentinel(&cs->execs);
         q = ngx_queue_next(q))
    {
        e = ngx_queue_data(q, ngx_http_adcp_exec_t, queue);

        if (e->delivery && e->task_id.len == task->len
            && ngx_strncmp(e->task_id.data, task->data, task->len) == 0)
        {
            return;
        }
    }

    e = ngx_http_adcp_exec_create(cs, task, 1);
    if (e == NULL) {
        return;
    }

    if (ngx_http_adcp_task_key(e->pool, &e->task_id, &key) != NGX_OK
        || ngx_http_adcp_redis_args_init(&a, e->pool, 6 + NGX_HTTP_ADCP_TF_N)
           != NGX_OK)
    {
        ngx_http_adcp_exec_free(e);
        return;
    }

    ngx_http_adcp_redis_arg_lit(&a, "2");
    ngx_http_adcp_redis_arg_str(&a, &key);
    ngx_http_adcp_redis_arg_key(&a, NGX_HTTP_ADCP_KEY_HOOKS);
    ngx_http_adcp_redis_arg_str(&a, &e->task_id);
    ngx_http_adcp_tasks_arg_ms(&a, ngx_http_adcp_tasks_ms());

    ngx_http_adcp_task_arg_fields(&a);

    ngx_http_adcp_exec_command(e, NGX_HTTP_ADCP_PH_HOOK,
                               &ngx_http_adcp_deliveries_load_script,
                               ngx_http_adcp_deliveries_on_load, &a);
}


static void
ngx_http_adcp_deliveries_on_load(ngx_http_adcp_redis_reply_t *reply,
    void *data)
{
    ngx_http_adcp_exec_t *e = data;

    size_t      n;
    ngx_str_t   tag, *v;

    e->call = NULL;

    if (ngx_http_adcp_redis_array(reply, &n) != NGX_OK || n == 0
        || ngx_http_adcp_redis_string(ngx_http_adcp_redis_element(reply, 0),
                                      &tag)
           != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, e->log, 0,
                      "adcp: the webhook's task not read, left for its "
                      "lease to run out");
        ngx_http_adcp_exec_free(e);
        return;
    }

    if (tag.len == 4 && ngx_strncmp(tag.data, "gone", 4) == 0) {
        ngx_log_error(NGX_LOG_WARN, e->log, 0,
                      "adcp: the webhook's task record expired "
                      "(adcp_task_ttl) before it was delivered, given up");
        ngx_http_adcp_exec_free(e);
        return;
    }

    if (!(tag.len == 3 && ngx_strncmp(tag.data, "run", 3) == 0)) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, e->log, 0,
                       "adcp tasks: webhook of \"%V\" no longer due (%V)",
                       &e->task_id, &tag);
        ngx_http_adcp_exec_free(e);
        return;
    }

    if (ngx_http_adcp_exec_fields(e, reply) != NGX_OK) {
        ngx_http_adcp_exec_free(e);
        return;
    }

    /* the payload as the first attempt had it */

    e->status = ngx_http_adcp_task_status(&e->f[NGX_HTTP_ADCP_TF_STATUS]);
    e->value = e->f[e->status == NGX_HTTP_ADCP_TS_FAILED
                    ? NGX_HTTP_ADCP_TF_ERROR : NGX_HTTP_ADCP_TF_RESULT];

    if (e->f[NGX_HTTP_ADCP_TF_COMPLETED_AT].len) {
        e->now = e->f[NGX_HTTP_ADCP_TF_COMPLETED_AT];
    }

    v = &e->f[NGX_HTTP_ADCP_TF_WEBHOOK_ATTEMPTS];
    e->hooks = (ngx_uint_t) ngx_max(ngx_atoi(v->data, v->len), 1);

    v = &e->f[NGX_HTTP_ADCP_TF_WEBHOOK_FIRST];
    e->hook_first = (uint64_t) ngx_max(ngx_atoof(v->data, v->len), 0);

    if (!ngx_http_adcp_task_flag(&e->f[NGX_HTTP_ADCP_TF_HAS_WEBHOOK])) {
        ngx_http_adcp_deliveries_end(e, "failed", 0);
        return;
    }

    ngx_http_adcp_exec_hook(e, ngx_http_adcp_deliveries_hooked);
}


/*
 * One attempt's end (tasks_webhook.c): NGX_OK delivered, NGX_DECLINED
 * not to be retried, NGX_AGAIN (or NGX_ERROR) to be retried
 */

void
ngx_http_adcp_deliveries_hooked(ngx_http_adcp_exec_t *e, ngx_int_t rc)
{
    uint64_t              now, till;
    ngx_msec_t            delay;
    ngx_http_adcp_row_t  *row;

    row = ngx_http_adcp_exec_row();

    switch (rc) {

    case NGX_OK:
        if (row) {
            row->counters[NGX_HTTP_ADCP_C_HOOKS_DELIVERED]++;
        }

        ngx_http_adcp_deliveries_end(e, "delivered", 0);
        return;

    case NGX_DECLINED:
        if (row) {
            row->counters[NGX_HTTP_ADCP_C_HOOKS_FAILED]++;
        }

        ngx_http_adcp_deliveries_end(e, "failed", 0);
        return;

    default:

        /*
         * NGX_AGAIN; NGX_ERROR (out of memory) too: rescheduled, within
         * the horizon, rather than left for the lease to run out each time
         */

        break;
    }

    now = ngx_http_adcp_tasks_ms();
    delay = ngx_http_adcp_tasks_backoff_ms(e->hooks);
    till = (e->hook_first ? e->hook_first : now) + e->cs->tmcf->hook_horizon;

    if (now + delay > till) {
        ngx_log_error(NGX_LOG_ERR, e->log, 0,
                      "adcp: webhook given up after %ui attempts (the "
                      "retry horizon is %M ms)", e->hooks,
                      e->cs->tmcf->hook_horizon);

        if (row) {
            row->counters[NGX_HTTP_ADCP_C_HOOKS_GAVE_UP]++;
        }

        ngx_http_adcp_deliveries_end(e, "gave_up", 0);
        return;
    }

    ngx_log_error(NGX_LOG_INFO, e->log, 0,
                  "adcp: webhook attempt %ui to be retried in %M ms",
                  e->hooks + 1, delay);

    if (row) {
        row->counters[NGX_HTTP_ADCP_C_HOOKS_RETRIED]++;
    }

    ngx_http_adcp_deliveries_end(e, "scheduled", now + delay);
}


static void
ngx_http_adcp_deliveries_end(ngx_http_adcp_exec_t *e, char *status,
    uint64_t due)
{
    u_char                      code[NGX_INT_T_LEN];
    ngx_str_t                   key;
    ngx_http_adcp_redis_args_t  a;

    if (ngx_http_adcp_task_key(e->pool, &e->task_id, &key) != NGX_OK
        || ngx_http_adcp_redis_args_init(&a, e->pool, 7) != NGX_OK)
    {
        ngx_http_adcp_exec_free(e);
        return;
    }

    ngx_http_adcp_redis_arg_lit(&a, "2");
    ngx_http_adcp_redis_arg_str(&a, &key);
    ngx_http_adcp_redis_arg_key(&a, NGX_HTTP_ADCP_KEY_HOOKS);
    ngx_http_adcp_redis_arg_str(&a, &e->task_id);
    ngx_http_adcp_redis_arg(&a, (u_char *) status, ngx_strlen(status));

    if (e->code) {
        ngx_http_adcp_redis_arg(&a, code,
                                ngx_sprintf(code, "%i", e->code) - code);

    } else if (status[0] == 'f') {
        ngx_http_adcp_redis_arg_lit(&a, "refused");   /* the url policy */

    } else {
        ngx_http_adcp_redis_arg_lit(&a, "network");
    }

    ngx_http_adcp_tasks_arg_ms(&a, due);

    e->log->action = "scheduling the webhook";

    ngx_http_adcp_exec_command(e, e->phase,
                               &ngx_http_adcp_deliveries_end_script,
                               ngx_http_adcp_deliveries_on_end, &a);
}


static void
ngx_http_adcp_deliveries_on_end(ngx_http_adcp_redis_reply_t *reply,
    void *data)
{
    ngx_http_adcp_exec_t *e = data;

    ngx_str_t  err;

    e->call = NULL;

    if (ngx_http_adcp_redis_failed(reply, &err) == NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, e->log, 0,
                      "adcp: the webhook's outcome was not stored (%V): "
                      "its lease runs out, then it is attempted again",
                      &err);
    }

    ngx_http_adcp_exec_free(e);
}
