
/*
 * ngx_http_adcp_tasks_module: an execution's life, shared by the task's
 * run (tasks_exec.c, tasks_call.c) and its webhook's attempts
 * (tasks_deliveries.c): made in its own pool with a log that names the
 * tenant and the task, its Redis calls, its record's fields read, freed;
 * the worker's status row; the wall clock of the webhooks' schedule.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_http_adcp_tasks_private.h"


static u_char *ngx_http_adcp_exec_log_error(ngx_log_t *log, u_char *buf,
    size_t len);


/*
 * An execution (or, delivery, only a webhook's attempt) of the task, in
 * its own pool, queued and counted; e->now is now
 */

ngx_http_adcp_exec_t *
ngx_http_adcp_exec_create(ngx_http_adcp_consumer_t *cs, ngx_str_t *task,
    ngx_uint_t delivery)
{
    ngx_pool_t            *pool;
    ngx_http_adcp_exec_t  *e;

    pool = ngx_create_pool(4096, ngx_cycle->log);
    if (pool == NULL) {
        return NULL;
    }

    e = ngx_pcalloc(pool, sizeof(ngx_http_adcp_exec_t));
    if (e == NULL) {
        ngx_destroy_pool(pool);
        return NULL;
    }

    e->cs = cs;
    e->pool = pool;
    e->delivery = delivery ? 1 : 0;

    /* its messages name the tenant and the task, as nginx's name a client */

    e->log = ngx_palloc(pool, sizeof(ngx_log_t));
    if (e->log == NULL) {
        ngx_destroy_pool(pool);
        return NULL;
    }

    *e->log = *ngx_cycle->log;
    e->log->handler = ngx_http_adcp_exec_log_error;
    e->log->data = e;
    e->log->action = delivery ? "claiming the webhook" : "claiming the task";
    pool->log = e->log;

    e->task_id.data = ngx_pnalloc(pool, task->len + 1);
    e->now.data = ngx_pnalloc(pool, NGX_HTTP_ADCP_ISO8601_LEN);

    if (e->task_id.data == NULL || e->now.data == NULL) {
        pool->log = ngx_cycle->log;
        ngx_destroy_pool(pool);
        return NULL;
    }

    e->task_id.len = task->len;
    ngx_memcpy(e->task_id.data, task->data, task->len);
    e->task_id.data[task->len] = '\0';

    e->now.len = ngx_http_adcp_time_iso8601(e->now.data) - e->now.data;

    e->timer.data = e;
    e->timer.log = e->log;
    e->timer.cancelable = 0;

    ngx_queue_insert_tail(&cs->execs, &e->queue);

    if (delivery) {
        cs->delivering++;

    } else {
        cs->running++;
    }

    return e;
}


/* " while <action>, tenant: "...", task: "..."" after each message */

static u_char *
ngx_http_adcp_exec_log_error(ngx_log_t *log, u_char *buf, size_t len)
{
    u_char                *p;
    ngx_http_adcp_exec_t  *e;

    e = log->data;
    p = buf;

    if (log->action) {
        p = ngx_snprintf(p, len, " while %s", log->action);
        len -= p - buf;
        buf = p;
    }

    if (e->f[NGX_HTTP_ADCP_TF_TENANT].len) {
        p = ngx_snprintf(p, len, ", tenant: \"%V\"",
                         &e->f[NGX_HTTP_ADCP_TF_TENANT]);
        len -= p - buf;
    }

    return ngx_snprintf(p, len, ", task: \"%V\"", &e->task_id);
}


/* every path ends here: the connection, timer, call and pool go */

void
ngx_http_adcp_exec_free(ngx_http_adcp_exec_t *e)
{
    ngx_http_adcp_row_t       *row;
    ngx_http_adcp_consumer_t  *cs;

    cs = e->cs;

    ngx_http_adcp_exec_http_close(e);

    if (e->resolving) {
        ngx_resolve_name_done(e->resolving);
        e->resolving = NULL;
    }

    if (e->timer.timer_set) {
        ngx_del_timer(&e->timer);
    }

    if (e->call) {
        ngx_http_adcp_redis_cancel(e->call);
        e->call = NULL;
    }

    if (e->counted) {
        row = ngx_http_adcp_exec_row();

        if (row) {
            (void) ngx_atomic_fetch_add(
                           &row->counters[NGX_HTTP_ADCP_C_TASKS_RUNNING], -1);
        }
    }

    ngx_queue_remove(&e->queue);

    if (e->delivery) {
        if (cs->delivering) {
            cs->delivering--;
        }

    } else if (cs->running) {
        cs->running--;
    }

    /* the log is in the pool: not for the pool's own last words */

    e->pool->log = ngx_cycle->log;
    ngx_destroy_pool(e->pool);

    if (!cs->exiting) {
        cs->wake(cs);
    }
}


/* left pending in the stream: claimed by another after claim_after */

void
ngx_http_adcp_exec_abandon(ngx_http_adcp_exec_t *e)
{
    ngx_log_error(NGX_LOG_NOTICE, e->log, 0,
                  "adcp: task \"%V\" abandoned by an exiting worker (it "
                  "will be reclaimed)", &e->task_id);

    ngx_http_adcp_exec_free(e);
}


/*
 * The execution's next step in Redis, in the phase given; a command that
 * cannot be sent ends the execution here (the task is left for reclaiming)
 */

void
ngx_http_adcp_exec_command(ngx_http_adcp_exec_t *e, ngx_uint_t phase,
    ngx_http_adcp_redis_script_t *script,
    ngx_http_adcp_redis_reply_pt handler, ngx_http_adcp_redis_args_t *a)
{
    e->phase = phase;
    e->call = ngx_http_adcp_redis_eval(&e->cs->amcf->redis, script, handler,
                                       e, a);

    if (e->call == NULL) {
        ngx_log_error(NGX_LOG_ERR, e->log, 0,
                      "adcp: Redis is unreachable, left for reclaiming");
        ngx_http_adcp_exec_free(e);
    }
}


/* a claim's reply [tag, fields...]: the fields, in e->pool */

ngx_int_t
ngx_http_adcp_exec_fields(ngx_http_adcp_exec_t *e,
    ngx_http_adcp_redis_reply_t *reply)
{
    size_t     i, n;
    ngx_str_t  v;

    if (ngx_http_adcp_redis_array(reply, &n) != NGX_OK
        || n != NGX_HTTP_ADCP_TF_N + 1)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < NGX_HTTP_ADCP_TF_N; i++) {

        if (ngx_http_adcp_redis_string(
                ngx_http_adcp_redis_element(reply, i + 1), &v)
            != NGX_OK)
        {
            continue;
        }

        e->f[i].data = ngx_pnalloc(e->pool, v.len + 1);
        if (e->f[i].data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(e->f[i].data, v.data, v.len);
        e->f[i].data[v.len] = '\0';
        e->f[i].len = v.len;
    }

    return NGX_OK;
}


/* the stream's length (XLEN, or a script's answer) for status */

void
ngx_http_adcp_exec_queue(ngx_http_adcp_consumer_t *cs,
    ngx_http_adcp_redis_reply_t *reply)
{
    int64_t  n;

    if (ngx_http_adcp_redis_integer(reply, &n) != NGX_OK
        || cs->amcf == NULL || cs->amcf->zone.sh == NULL)
    {
        return;
    }

    cs->amcf->zone.sh->tasks_queue = (ngx_atomic_uint_t) n;
    cs->amcf->zone.sh->tasks_queue_time = ngx_time();
}


ngx_http_adcp_row_t *
ngx_http_adcp_exec_row(void)
{
    return ngx_http_adcp_worker ? ngx_http_adcp_worker->row : NULL;
}


/* wall-clock milliseconds: the schedule is shared by hosts */

uint64_t
ngx_http_adcp_tasks_ms(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (uint64_t) tp->sec * 1000 + tp->msec;
}


/* a time in ms as a command's argument (ngx_uint_t may be 32 bits) */

void
ngx_http_adcp_tasks_arg_ms(ngx_http_adcp_redis_args_t *a, uint64_t ms)
{
    u_char  *p;

    p = a->pool ? ngx_pnalloc(a->pool, NGX_INT64_LEN) : NULL;

    if (p == NULL) {
        a->overflow = 1;
        return;
    }

    ngx_http_adcp_redis_arg(a, p, ngx_sprintf(p, "%uL", ms) - p);
}
