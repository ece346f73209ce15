
/*
 * ngx_http_adcp_tasks_module: one execution.  One EVAL claims the record
 * (status working, attempts+1, and what the request needs), or finds it
 * finished (only its webhook or acknowledgement left), gone (expired:
 * acknowledged), or attempted NGX_HTTP_ADCP_EXEC_ATTEMPTS times already
 * (failed).  Then the task runs (tasks_call.c).  A second EVAL stores
 * completed/failed with the result or error, schedules the webhook if one
 * is due (adcp:hooks, tasks_deliveries.c) and acknowledges (XACK, XDEL)
 * the entry: the webhook's first attempt follows here, its retries are
 * anyone's.
 *
 * Every execution owns a pool (tasks_job.c), and every path ends in
 * ngx_http_adcp_exec_free(), which tells the consumer (cs->wake).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_http.h>

#include "ngx_http_adcp_tasks_private.h"


static void ngx_http_adcp_exec_start(ngx_http_adcp_consumer_t *cs,
    ngx_http_adcp_redis_reply_t *entry, ngx_uint_t reclaimed);
static void ngx_http_adcp_exec_on_claimed(ngx_http_adcp_redis_reply_t *reply,
    void *data);
static void ngx_http_adcp_exec_ran(ngx_http_adcp_exec_t *e, ngx_int_t rc);
static void ngx_http_adcp_exec_finish(ngx_http_adcp_exec_t *e);
static void ngx_http_adcp_exec_on_finish(ngx_http_adcp_redis_reply_t *reply,
    void *data);
static void ngx_http_adcp_exec_ack(ngx_http_adcp_exec_t *e,
    ngx_uint_t schedule);
static void ngx_http_adcp_exec_on_ack(ngx_http_adcp_redis_reply_t *reply,
    void *data);


/*
 * KEYS: the record.  ARGV: the attempts allowed, now, the error of a task
 * attempted that many times, then the record's field names
 * (ngx_http_adcp_task_fields[], "status" first).  -> {tag, the fields in
 * that order}, tag: "run" (status now working), "done" (finished before),
 * "exhausted" (failed now: too many attempts), "gone".
 */

static ngx_http_adcp_redis_script_t  ngx_http_adcp_exec_claim_script =
    ngx_http_adcp_redis_script(
    "local names = {unpack(ARGV, 4)}\n"
    "local f = redis.call('HMGET', KEYS[1], unpack(names))\n"
    "if not f[1] then return {'gone'} end\n"
    "local at = {}\n"
    "for i = 1, #names do\n"
    "  at[names[i]] = i\n"
    "  if not f[i] then f[i] = '' end\n"
    "end\n"
    "if f[1] == 'completed' or f[1] == 'failed' then\n"
    "  return {'done', unpack(f)}\n"
    "end\n"
    "local n = tonumber(f[at['attempts']]) or 0\n"
    "if n >= tonumber(ARGV[1]) then\n"
    "  redis.call('HSET', KEYS[1], 'status', 'failed', 'updated_at',\n"
    "    ARGV[2], 'completed_at', ARGV[2], 'error', ARGV[3])\n"
    "  f[1] = 'failed'; f[at['error']] = ARGV[3]\n"
    "  f[at['completed_at']] = ARGV[2]\n"
    "  return {'exhausted', unpack(f)}\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'status', 'working', 'updated_at',\n"
    "  ARGV[2], 'attempts', n + 1)\n"
    "f[1] = 'working'\n"
    "return {'run', unpack(f)}\n");


/*
 * KEYS: the record, the stream, the webhooks due.  ARGV: status, now, the
 * field to set (result|error), its value, the other field, the entry,
 * the consumer group, "1": a webhook is due, the task id, now (ms), the
 * end of the first attempt's lease (ms).  -> the stream's length
 * The outcome, the webhook's schedule (its first attempt leased to this
 * worker, which makes it now) and the acknowledgement go at once.
 */

static ngx_http_adcp_redis_script_t  ngx_http_adcp_exec_finish_script =
    ngx_http_adcp_redis_script(
    "if redis.call('EXISTS', KEYS[1]) == 1 then\n"
    "  redis.call('HSET', KEYS[1], 'status', ARGV[1], 'updated_at',\n"
    "    ARGV[2], 'completed_at', ARGV[2], ARGV[3], ARGV[4])\n"
    "  redis.call('HDEL', KEYS[1], ARGV[5], 'headers')\n"
    "  if ARGV[8] == '1' then\n"
    "    redis.call('HSET', KEYS[1], 'webhook_status', 'scheduled',\n"
    "      'webhook_attempts', 1, 'webhook_first', ARGV[10],\n"
    "      'webhook_due', ARGV[10])\n"
    "    redis.call('ZADD', KEYS[3], ARGV[11], ARGV[9])\n"
    "  end\n"
    "end\n"
    "redis.call('XACK', KEYS[2], ARGV[7], ARGV[6])\n"
    "redis.call('XDEL', KEYS[2], ARGV[6])\n"
    "return redis.call('XLEN', KEYS[2])\n");


/*
 * KEYS: the record, the stream, the webhooks due.  ARGV: the entry, the
 * consumer group, "1": schedule the webhook (a task finished before this
 * version, or failed for its attempts), the task id, now (ms).
 */

static ngx_http_adcp_redis_script_t  ngx_http_adcp_exec_ack_script =
    ngx_http_adcp_redis_script(
    "if ARGV[3] == '1' and redis.call('EXISTS', KEYS[1]) == 1\n"
    "   and redis.call('HEXISTS', KEYS[1], 'webhook_status') == 0 then\n"
    "  redis.call('HSET', KEYS[1], 'webhook_status', 'scheduled',\n"
    "    'webhook_due', ARGV[5])\n"
    "  redis.call('ZADD', KEYS[3], 'NX', ARGV[5], ARGV[4])\n"
    "end\n"
    "redis.call('XACK', KEYS[2], ARGV[2], ARGV[1])\n"
    "redis.call('XDEL', KEYS[2], ARGV[1])\n"
    "return redis.call('XLEN', KEYS[2])\n");


/* [[id, [field, value]], ...]: each entry's execution begins */

void
ngx_http_adcp_exec_entries(ngx_http_adcp_consumer_t *cs,
    ngx_http_adcp_redis_reply_t *entries, ngx_uint_t reclaimed)
{
    size_t  i, n;

    if (ngx_http_adcp_redis_array(entries, &n) != NGX_OK) {
        return;
    }

    for (i = 0; i < n; i++) {
        ngx_http_adcp_exec_start(cs, ngx_http_adcp_redis_element(entries, i),
                                 reclaimed);
    }
}


/* an entry [id, ["task", <task id>]]: its execution begins */

static void
ngx_http_adcp_exec_start(ngx_http_adcp_consumer_t *cs,
    ngx_http_adcp_redis_reply_t *entry, ngx_uint_t reclaimed)
{
    size_t                        n;
    ngx_str_t                     id, task, key;
    ngx_queue_t                  *q;
    ngx_http_adcp_row_t          *row;
    ngx_http_adcp_exec_t         *e;
    ngx_http_adcp_redis_args_t    a;
    ngx_http_adcp_redis_reply_t  *kv;

    static u_char  attempts[NGX_INT_T_LEN + 1];
    static u_char  exhausted[] =
        "{\"code\":\"SERVICE_UNAVAILABLE\",\"message\":\"the task was "
        "attempted " ngx_value(NGX_HTTP_ADCP_EXEC_ATTEMPTS)
        " times without an outcome\"}";

    kv = ngx_http_adcp_redis_element(entry, 1);

    if (ngx_http_adcp_redis_array(entry, &n) != NGX_OK || n != 2
        || ngx_http_adcp_redis_string(ngx_http_adcp_redis_element(entry, 0),
                                      &id)
           != NGX_OK
        || ngx_http_adcp_redis_array(kv, &n) != NGX_OK || n != 2
        || ngx_http_adcp_redis_string(ngx_http_adcp_redis_element(kv, 1),
                                      &task)
           != NGX_OK)
    {
        /* nil: an entry deleted while pending */
        return;
    }

    /* already running here (a refresh that did not reach Redis) */

    for (q = ngx_queue_head(&cs->execs);
         q != ngx_queue_sentinel(&cs->execs);
         q = ngx_queue_next(q))
    {
        e = ngx_queue_data(q, ngx_http_adcp_exec_t, queue);

        if (e->entry.len == id.len
            && ngx_strncmp(e->entry.data, id.data, id.len) == 0)
        {
            return;
        }
    }

    e = ngx_http_adcp_exec_create(cs, &task, 0);
    if (e == NULL) {
        return;
    }

    e->reclaimed = reclaimed ? 1 : 0;

    e->entry.data = ngx_pstrdup(e->pool, &id);
    if (e->entry.data == NULL) {
        ngx_http_adcp_exec_free(e);
        return;
    }

    e->entry.len = id.len;

    row = ngx_http_adcp_exec_row();

    if (row && reclaimed) {
        row->counters[NGX_HTTP_ADCP_C_TASKS_RECLAIMED]++;
    }

    if (reclaimed) {
        ngx_log_error(NGX_LOG_NOTICE, e->log, 0,
                      "adcp: reclaimed (entry %V)", &e->entry);
    }

    (void) ngx_sprintf(attempts, "%d%Z", NGX_HTTP_ADCP_EXEC_ATTEMPTS);

    if (ngx_http_adcp_task_key(e->pool, &e->task_id, &key) != NGX_OK
        || ngx_http_adcp_redis_args_init(&a, e->pool, 5 + NGX_HTTP_ADCP_TF_N)
           != NGX_OK)
    {
        ngx_http_adcp_exec_free(e);
        return;
    }

    ngx_http_adcp_redis_arg_lit(&a, "1");
    ngx_http_adcp_redis_arg_str(&a, &key);
    ngx_http_adcp_redis_arg(&a, attempts, ngx_strlen(attempts));
    ngx_http_adcp_redis_arg_str(&a, &e->now);
    ngx_http_adcp_redis_arg(&a, exhausted, sizeof(exhausted) - 1);

    ngx_http_adcp_task_arg_fields(&a);

    ngx_http_adcp_exec_command(e, NGX_HTTP_ADCP_PH_CLAIM,
                               &ngx_http_adcp_exec_claim_script,
                               ngx_http_adcp_exec_on_claimed, &a);
}


static void
ngx_http_adcp_exec_on_claimed(ngx_http_adcp_redis_reply_t *reply,
    void *data)
{
    ngx_http_adcp_exec_t *e = data;

    size_t                n;
    ngx_str_t             tag, err;
    ngx_http_adcp_row_t  *row;

    e->call = NULL;

    if (ngx_http_adcp_redis_array(reply, &n) != NGX_OK || n == 0
        || ngx_http_adcp_redis_string(ngx_http_adcp_redis_element(reply, 0),
                                      &tag)
           != NGX_OK)
    {
        if (ngx_http_adcp_redis_failed(reply, &err) != NGX_OK) {
            ngx_str_set(&err, "an unexpected reply");
        }

        ngx_log_error(NGX_LOG_ERR, e->log, 0, "adcp: not claimed: %V", &err);
        ngx_http_adcp_exec_free(e);
        return;
    }

    if (tag.len == 4 && ngx_strncmp(tag.data, "gone", 4) == 0) {
        ngx_log_error(NGX_LOG_WARN, e->log, 0,
                      "adcp: no record (expired?), acknowledged");
        ngx_http_adcp_exec_ack(e, 0);
        return;
    }

    if (ngx_http_adcp_exec_fields(e, reply) != NGX_OK) {
        ngx_http_adcp_exec_free(e);
        return;
    }

    if (!(tag.len == 3 && ngx_strncmp(tag.data, "run", 3) == 0)) {

        /* finished before: its webhook, or only its acknowledgement */

        e->status = ngx_http_adcp_task_status(&e->f[NGX_HTTP_ADCP_TF_STATUS]);

        if (tag.len == 9 && ngx_strncmp(tag.data, "exhausted", 9) == 0) {
            ngx_log_error(NGX_LOG_ERR, e->log, 0,
                          "adcp: failed: attempted %d times",
                          NGX_HTTP_ADCP_EXEC_ATTEMPTS);

            row = ngx_http_adcp_exec_row();

            if (row) {
                row->counters[NGX_HTTP_ADCP_C_TASKS_FAILED]++;
            }
        }

        if (e->status == NGX_HTTP_ADCP_TS_FAILED) {
            e->value = e->f[NGX_HTTP_ADCP_TF_ERROR];

        } else {
            e->value = e->f[NGX_HTTP_ADCP_TF_RESULT];
        }

        if (e->f[NGX_HTTP_ADCP_TF_COMPLETED_AT].len) {
            e->now = e->f[NGX_HTTP_ADCP_TF_COMPLETED_AT];
        }

        /* its webhook scheduled if it never was (the script checks) */

        ngx_http_adcp_exec_ack(e,
            ngx_http_adcp_task_flag(&e->f[NGX_HTTP_ADCP_TF_HAS_WEBHOOK])
            && e->f[NGX_HTTP_ADCP_TF_WEBHOOK_SENT].len == 0);
        return;
    }

    row = ngx_http_adcp_exec_row();

    if (row) {
        (void) ngx_atomic_fetch_add(
                           &row->counters[NGX_HTTP_ADCP_C_TASKS_RUNNING], 1);
        e->counted = 1;
    }

    ngx_http_adcp_exec_run(e, ngx_http_adcp_exec_ran);
}


static void
ngx_http_adcp_exec_ran(ngx_http_adcp_exec_t *e, ngx_int_t rc)
{
    ngx_http_adcp_exec_finish(e);
}


/* the outcome stored, the webhook scheduled, the entry acknowledged */

static void
ngx_http_adcp_exec_finish(ngx_http_adcp_exec_t *e)
{
    ngx_str_t                    key;
    ngx_uint_t                   failed, hook;
    ngx_http_adcp_row_t         *row;
    ngx_http_adcp_redis_args_t   a;

    failed = (e->status == NGX_HTTP_ADCP_TS_FAILED);
    hook = ngx_http_adcp_task_flag(&e->f[NGX_HTTP_ADCP_TF_HAS_WEBHOOK]);

    row = ngx_http_adcp_exec_row();

    if (row) {
        row->counters[failed ? NGX_HTTP_ADCP_C_TASKS_FAILED
                             : NGX_HTTP_ADCP_C_TASKS_COMPLETED]++;

        if (e->counted) {
            (void) ngx_atomic_fetch_add(
                           &row->counters[NGX_HTTP_ADCP_C_TASKS_RUNNING], -1);
            e->counted = 0;
        }
    }

    e->now.len = ngx_http_adcp_time_iso8601(e->now.data) - e->now.data;

    if (ngx_http_adcp_task_key(e->pool, &e->task_id, &key) != NGX_OK
        || ngx_http_adcp_redis_args_init(&a, e->pool, 16) != NGX_OK)
    {
        ngx_http_adcp_exec_free(e);
        return;
    }

    ngx_http_adcp_redis_arg_lit(&a, "3");
    ngx_http_adcp_redis_arg_str(&a, &key);
    ngx_http_adcp_redis_arg_key(&a, NGX_HTTP_ADCP_KEY_TASKS);
    ngx_http_adcp_redis_arg_key(&a, NGX_HTTP_ADCP_KEY_HOOKS);
    ngx_http_adcp_redis_arg_str(&a, &ngx_http_adcp_task_statuses[e->status]);
    ngx_http_adcp_redis_arg_str(&a, &e->now);
    ngx_http_adcp_redis_arg_str(&a, &ngx_http_adcp_task_fields[
                  failed ? NGX_HTTP_ADCP_TF_ERROR : NGX_HTTP_ADCP_TF_RESULT]);
    ngx_http_adcp_redis_arg_str(&a, &e->value);
    ngx_http_adcp_redis_arg_str(&a, &ngx_http_adcp_task_fields[
                  failed ? NGX_HTTP_ADCP_TF_RESULT : NGX_HTTP_ADCP_TF_ERROR]);
    ngx_http_adcp_redis_arg_str(&a, &e->entry);
    ngx_http_adcp_redis_arg_key(&a, NGX_HTTP_ADCP_KEY_GROUP);
    ngx_http_adcp_redis_arg(&a, hook ? "1" : "0", 1);
    ngx_http_adcp_redis_arg_str(&a, &e->task_id);

    e->hook_first = ngx_http_adcp_tasks_ms();

    ngx_http_adcp_tasks_arg_ms(&a, e->hook_first);
    ngx_http_adcp_tasks_arg_ms(&a, e->hook_first + NGX_HTTP_ADCP_HOOK_LEASE);

    e->log->action = "storing the task's outcome";

    ngx_http_adcp_exec_command(e, NGX_HTTP_ADCP_PH_FINISH,
                               &ngx_http_adcp_exec_finish_script,
                               ngx_http_adcp_exec_on_finish, &a);
}


static void
ngx_http_adcp_exec_on_finish(ngx_http_adcp_redis_reply_t *reply, void *data)
{
    ngx_http_adcp_exec_t *e = data;

    ngx_str_t  err;

    e->call = NULL;

    if (ngx_http_adcp_redis_failed(reply, &err) == NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, e->log, 0,
                      "adcp: the outcome was not stored (%V), left for "
                      "reclaiming", &err);
        ngx_http_adcp_exec_free(e);
        return;
    }

    ngx_log_error(NGX_LOG_INFO, e->log, 0,
                  "adcp: %V", &ngx_http_adcp_task_statuses[e->status]);

    ngx_http_adcp_exec_queue(e->cs, reply);

    if (ngx_http_adcp_task_flag(&e->f[NGX_HTTP_ADCP_TF_HAS_WEBHOOK])) {

        /* its first attempt, leased to this worker by the script */

        e->hooks = 1;
        ngx_http_adcp_exec_hook(e, ngx_http_adcp_deliveries_hooked);
        return;
    }

    ngx_http_adcp_exec_free(e);
}


/* the entry acknowledged (and the webhook scheduled) */

static void
ngx_http_adcp_exec_ack(ngx_http_adcp_exec_t *e, ngx_uint_t schedule)
{
    ngx_str_t                   key;
    ngx_http_adcp_redis_args_t  a;

    if (ngx_http_adcp_task_key(e->pool, &e->task_id, &key) != NGX_OK
        || ngx_http_adcp_redis_args_init(&a, e->pool, 9) != NGX_OK)
    {
        ngx_http_adcp_exec_free(e);
        return;
    }

    ngx_http_adcp_redis_arg_lit(&a, "3");
    ngx_http_adcp_redis_arg_str(&a, &key);
    ngx_http_adcp_redis_arg_key(&a, NGX_HTTP_ADCP_KEY_TASKS);
    ngx_http_adcp_redis_arg_key(&a, NGX_HTTP_ADCP_KEY_HOOKS);
    ngx_http_adcp_redis_arg_str(&a, &e->entry);
    ngx_http_adcp_redis_arg_key(&a, NGX_HTTP_ADCP_KEY_GROUP);
    ngx_http_adcp_redis_arg(&a, schedule ? "1" : "0", 1);
    ngx_http_adcp_redis_arg_str(&a, &e->task_id);
    ngx_http_adcp_tasks_arg_ms(&a, ngx_http_adcp_tasks_ms());

    e->log->action = "acknowledging the task";

    ngx_http_adcp_exec_command(e, NGX_HTTP_ADCP_PH_ACK,
                               &ngx_http_adcp_exec_ack_script,
                               ngx_http_adcp_exec_on_ack, &a);
}


static void
ngx_http_adcp_exec_on_ack(ngx_http_adcp_redis_reply_t *reply, void *data)
{
    ngx_http_adcp_exec_t *e = data;

    ngx_http_adcp_exec_queue(e->cs, reply);

    e->call = NULL;
    ngx_http_adcp_exec_free(e);
}


