
/*
 * ngx_http_adcp_tasks_module: the consumer (every worker).  On a Redis
 * connection of its own, since a blocking read cannot share the command
 * connection's deadline, the group "adcp" of the stream adcp:tasks is
 * created from 0 (the stream holds only unfinished tasks; BUSYGROUP is
 * fine) and read with XREADGROUP ... COUNT <free slots> BLOCK 2000 as
 * consumer <hostname>:<pid>, while fewer than adcp_task_concurrency tasks
 * run; each entry starts an execution (tasks_exec.c).  Every
 * adcp_task_claim_after / 3 the tick (tasks_claim.c) refreshes and
 * reclaims; every second the webhooks due are claimed
 * (tasks_deliveries.c).
 *
 * An exiting worker reads no more, finishes what it runs (the deadline
 * timers are not cancelable), and frees what is left at exit (those tasks
 * are reclaimed).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_http.h>

#include "ngx_http_adcp_tasks_private.h"


static void ngx_http_adcp_tasks_read(ngx_http_adcp_consumer_t *cs);
static void ngx_http_adcp_tasks_on_group(ngx_http_adcp_redis_reply_t *reply,
    void *data);
static void ngx_http_adcp_tasks_on_read(ngx_http_adcp_redis_reply_t *reply,
    void *data);
static void ngx_http_adcp_tasks_backoff(ngx_http_adcp_consumer_t *cs);
static void ngx_http_adcp_tasks_retry(ngx_event_t *ev);
static u_char *ngx_http_adcp_tasks_log_error(ngx_log_t *log, u_char *buf,
    size_t len);


static ngx_http_adcp_consumer_t  ngx_http_adcp_consumer;


ngx_int_t
ngx_http_adcp_tasks_consumer_init(ngx_cycle_t *cycle,
    ngx_http_adcp_main_conf_t *amcf, ngx_http_adcp_tasks_main_conf_t *tmcf)
{
    ngx_msec_t                  tick;
    ngx_http_adcp_consumer_t   *cs;
    ngx_http_core_loc_conf_t   *clcf;
    ngx_http_core_srv_conf_t  **cscfp;
    ngx_http_core_main_conf_t  *cmcf;

    cs = &ngx_http_adcp_consumer;

    ngx_memzero(cs, sizeof(ngx_http_adcp_consumer_t));
    ngx_queue_init(&cs->execs);

    /* adcp_task_concurrency 0: a host that accepts, and runs nothing */

    if (!tmcf->enabled || amcf->redis.name.len == 0
        || tmcf->concurrency == 0)
    {
        return NGX_OK;
    }

    cs->amcf = amcf;
    cs->tmcf = tmcf;
    cs->wake = ngx_http_adcp_tasks_read;

    /* webhook host names: the resolver of the http{} level */

    cmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_core_module);

    if (cmcf && cmcf->servers.nelts) {
        cscfp = cmcf->servers.elts;
        clcf = cscfp[0]->ctx->loc_conf[ngx_http_core_module.ctx_index];
        cs->resolver = clcf->resolver;
        cs->resolver_timeout = clcf->resolver_timeout;
    }

    cs->consumer.data = ngx_alloc(cycle->hostname.len + NGX_INT_T_LEN + 2,
                                  cycle->log);
    if (cs->consumer.data == NULL) {
        return NGX_ERROR;
    }

    cs->consumer.len = ngx_sprintf(cs->consumer.data, "%V:%P",
                                   &cycle->hostname, ngx_pid)
                       - cs->consumer.data;

    /* its messages name the consumer, as nginx's name a client */

    cs->log = *cycle->log;
    cs->log.handler = ngx_http_adcp_tasks_log_error;
    cs->log.data = cs;

    cs->stream = ngx_http_adcp_redis_conn_create(&amcf->redis,
                                     NGX_HTTP_ADCP_EXEC_BLOCK
                                     + amcf->redis.ping, 1, cycle->log);
    if (cs->stream == NULL) {
        ngx_free(cs->consumer.data);
        cs->consumer.data = NULL;
        return NGX_ERROR;
    }

    cs->retry.handler = ngx_http_adcp_tasks_retry;
    cs->retry.data = cs;
    cs->retry.log = &cs->log;
    cs->retry.cancelable = 1;

    cs->hooks.handler = ngx_http_adcp_deliveries_poll;
    cs->hooks.data = cs;
    cs->hooks.log = &cs->log;
    cs->hooks.cancelable = 1;

    cs->tick.handler = ngx_http_adcp_tasks_tick;
    cs->tick.data = cs;
    cs->tick.log = &cs->log;
    cs->tick.cancelable = 1;

    tick = ngx_max(tmcf->claim_after / 3, 100);

    /* spread the workers' ticks */
    ngx_add_timer(&cs->tick, tick / 2 + ngx_random() % (tick / 2 + 1));

    ngx_add_timer(&cs->hooks, ngx_random() % NGX_HTTP_ADCP_HOOK_POLL + 1);

    /* the first read once the event loop runs */
    ngx_add_timer(&cs->retry, 1);

    return NGX_OK;
}


void
ngx_http_adcp_tasks_consumer_exit(void)
{
    ngx_queue_t               *q;
    ngx_http_adcp_exec_t      *e;
    ngx_http_adcp_consumer_t  *cs;

    cs = &ngx_http_adcp_consumer;

    if (cs->amcf == NULL) {
        return;
    }

    cs->exiting = 1;

    while (!ngx_queue_empty(&cs->execs)) {
        q = ngx_queue_head(&cs->execs);
        e = ngx_queue_data(q, ngx_http_adcp_exec_t, queue);

        ngx_http_adcp_exec_abandon(e);
    }

    if (cs->retry.timer_set) {
        ngx_del_timer(&cs->retry);
    }

    if (cs->tick.timer_set) {
        ngx_del_timer(&cs->tick);
    }

    if (cs->hooks.timer_set) {
        ngx_del_timer(&cs->hooks);
    }

    if (cs->due) {
        ngx_http_adcp_redis_cancel(cs->due);
        cs->due = NULL;
    }

    if (cs->read) {
        ngx_http_adcp_redis_cancel(cs->read);
        cs->read = NULL;
    }

    if (cs->claim) {
        ngx_http_adcp_redis_cancel(cs->claim);
        cs->claim = NULL;
    }

    if (cs->stream) {
        ngx_http_adcp_redis_conn_destroy(cs->stream);
        cs->stream = NULL;
    }

    if (cs->consumer.data) {
        ngx_free(cs->consumer.data);
        ngx_str_null(&cs->consumer);
    }

    cs->amcf = NULL;
}


/* XGROUP CREATE once, then XREADGROUP while there is room */

static void
ngx_http_adcp_tasks_read(ngx_http_adcp_consumer_t *cs)
{
    u_char                      count[NGX_INT_T_LEN], block[NGX_INT_T_LEN];
    size_t                      len[11];
    ngx_uint_t                  max;
    const char                 *argv[11];
    ngx_http_adcp_redis_args_t  a;

    if (cs->exiting || ngx_exiting || ngx_terminate || ngx_quit
        || cs->read || cs->retry.timer_set)
    {
        return;
    }

    max = cs->tmcf->concurrency;

    if (cs->running >= max) {
        return;
    }

    ngx_http_adcp_redis_args_local(&a, argv, len);

    if (!cs->group) {
        ngx_http_adcp_redis_arg_lit(&a, "XGROUP");
        ngx_http_adcp_redis_arg_lit(&a, "CREATE");
        ngx_http_adcp_redis_arg_key(&a, NGX_HTTP_ADCP_KEY_TASKS);
        ngx_http_adcp_redis_arg_key(&a, NGX_HTTP_ADCP_KEY_GROUP);
        ngx_http_adcp_redis_arg_lit(&a, "0");
        ngx_http_adcp_redis_arg_lit(&a, "MKSTREAM");

        cs->read = ngx_http_adcp_redis_send(NULL, cs->stream,
                                            ngx_http_adcp_tasks_on_group, cs,
                                            &a);
        goto queued;
    }

    ngx_http_adcp_redis_arg_lit(&a, "XREADGROUP");
    ngx_http_adcp_redis_arg_lit(&a, "GROUP");
    ngx_http_adcp_redis_arg_key(&a, NGX_HTTP_ADCP_KEY_GROUP);
    ngx_http_adcp_redis_arg_str(&a, &cs->consumer);
    ngx_http_adcp_redis_arg_lit(&a, "COUNT");
    ngx_http_adcp_redis_arg(&a, count,
                            ngx_sprintf(count, "%ui", max - cs->running)
                            - count);
    ngx_http_adcp_redis_arg_lit(&a, "BLOCK");
    ngx_http_adcp_redis_arg(&a, block,
                            ngx_sprintf(block, "%ui",
                                        (ngx_uint_t) NGX_HTTP_ADCP_EXEC_BLOCK)
                            - block);
    ngx_http_adcp_redis_arg_lit(&a, "STREAMS");
    ngx_http_adcp_redis_arg_key(&a, NGX_HTTP_ADCP_KEY_TASKS);
    ngx_http_adcp_redis_arg_lit(&a, ">");

    cs->read = ngx_http_adcp_redis_send(NULL, cs->stream,
                                        ngx_http_adcp_tasks_on_read, cs, &a);

queued:

    if (cs->read == NULL) {
        ngx_http_adcp_tasks_backoff(cs);
    }
}


static void
ngx_http_adcp_tasks_on_group(ngx_http_adcp_redis_reply_t *reply, void *data)
{
    ngx_http_adcp_consumer_t *cs = data;

    ngx_str_t  err;

    cs->read = NULL;

    if (reply == NULL
        || (ngx_http_adcp_redis_error(reply, &err) == NGX_OK
            && !(err.len >= 9 && ngx_strncmp(err.data, "BUSYGROUP", 9) == 0)))
    {
        if (reply) {
            ngx_log_error(NGX_LOG_ERR, &cs->log, 0,
                          "adcp: tasks: XGROUP CREATE failed: %V", &err);
        }

        if (!cs->exiting) {
            ngx_http_adcp_tasks_backoff(cs);
        }

        return;
    }

    cs->group = 1;
    cs->backoff = 0;

    ngx_http_adcp_tasks_read(cs);
}


/* [[stream, [[id, [field, value, ...]], ...]]] or nil (no entry) */

static void
ngx_http_adcp_tasks_on_read(ngx_http_adcp_redis_reply_t *reply, void *data)
{
    ngx_http_adcp_consumer_t *cs = data;

    size_t                        n;
    ngx_str_t                     err;
    ngx_http_adcp_redis_reply_t  *s;

    cs->read = NULL;

    /*
     * an exiting worker starts nothing: its listeners are closed, and
     * what it was handed stays pending, claimed by another after
     * adcp_task_claim_after
     */

    if (cs->exiting || ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    if (reply == NULL || ngx_http_adcp_redis_error(reply, &err) == NGX_OK) {

        if (reply) {
            ngx_log_error(NGX_LOG_ERR, &cs->log, 0,
                          "adcp: tasks: XREADGROUP failed: %V", &err);

            if (err.len >= 7 && ngx_strncmp(err.data, "NOGROUP", 7) == 0) {
                cs->group = 0;
            }
        }

        ngx_http_adcp_tasks_backoff(cs);
        return;
    }

    cs->backoff = 0;

    if (ngx_http_adcp_redis_array(reply, &n) == NGX_OK && n == 1) {
        s = ngx_http_adcp_redis_element(reply, 0);

        if (ngx_http_adcp_redis_array(s, &n) == NGX_OK && n == 2) {
            ngx_http_adcp_exec_entries(cs, ngx_http_adcp_redis_element(s, 1),
                                       0);
        }
    }

    ngx_http_adcp_tasks_read(cs);
}


/* Redis failed the consumer: read again in 1, 2, 4, 8, 10, 10 ... s */

static void
ngx_http_adcp_tasks_backoff(ngx_http_adcp_consumer_t *cs)
{
    cs->backoff = cs->backoff ? ngx_min(cs->backoff * 2,
                                        NGX_HTTP_ADCP_EXEC_RETRY_MAX)
                              : NGX_HTTP_ADCP_EXEC_RETRY;

    if (!cs->retry.timer_set) {
        ngx_add_timer(&cs->retry, cs->backoff);
    }
}


static void
ngx_http_adcp_tasks_retry(ngx_event_t *ev)
{
    ngx_http_adcp_tasks_read(ev->data);
}


/* ", consumer: "<hostname>:<pid>"" after each message */

static u_char *
ngx_http_adcp_tasks_log_error(ngx_log_t *log, u_char *buf, size_t len)
{
    ngx_http_adcp_consumer_t  *cs;

    cs = log->data;

    return ngx_snprintf(buf, len, ", consumer: \"%V\"", &cs->consumer);
}
