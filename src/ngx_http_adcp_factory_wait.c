
/*
 * ngx_http_adcp_module: the requests parked on a factory build (the way
 * limit_req parks a delayed request), woken when it ends, leaving it when
 * their client goes away; a leader that goes away hands the build over.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_adcp_factory_private.h"


static void ngx_http_adcp_factory_wake(ngx_http_request_t *r);


/* a flight no request waits for any more: it ends without a result */

void
ngx_http_adcp_factory_flight_free(ngx_http_adcp_flight_t *flight)
{
    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "adcp: tenant \"%V\": build abandoned",
                   &flight->entry->tenant);

    if (flight->timer.timer_set) {
        ngx_del_timer(&flight->timer);
    }

    if (flight->attempt) {
        flight->attempt->flight = NULL;
    }

    if (flight->claimed && flight->entry->slot) {
        ngx_http_adcp_zone_unclaim(ngx_http_adcp_worker->zone,
                                   flight->entry->slot);
    }

    flight->entry->flight = NULL;
    ngx_free(flight);
}


void
ngx_http_adcp_factory_park(ngx_http_request_t *r, ngx_http_adcp_ctx_t *ctx,
    ngx_http_adcp_flight_t *flight)
{
    ngx_queue_insert_tail(&flight->waiters, &ctx->aux->waiter);

    ctx->aux->flight = flight;
    ctx->state = NGX_HTTP_ADCP_ST_WAITING;

    r->read_event_handler = ngx_http_test_reading;
    r->write_event_handler = ngx_http_adcp_factory_wake;
}


static void
ngx_http_adcp_factory_wake(ngx_http_request_t *r)
{
    ngx_http_adcp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_adcp_module);

    if (ctx == NULL || ctx->state == NGX_HTTP_ADCP_ST_WAITING) {
        return;
    }

    ngx_http_adcp_resume(r);
}


void
ngx_http_adcp_factory_post(ngx_http_adcp_ctx_t *ctx)
{
    ngx_post_event(ctx->aux->request->connection->write, &ngx_posted_events);
}


void
ngx_http_adcp_factory_leave(void *data)
{
    ngx_http_adcp_ctx_t *ctx = data;

    ngx_http_adcp_flight_t  *flight;

    if (ctx->state != NGX_HTTP_ADCP_ST_WAITING
        && ctx->state != NGX_HTTP_ADCP_ST_LEAD)
    {
        return;
    }

    flight = ctx->aux->flight;

    ngx_queue_remove(&ctx->aux->waiter);
    ctx->aux->flight = NULL;
    ctx->state = NGX_HTTP_ADCP_ST_DONE;

    if (flight->leader != ctx) {
        return;
    }

    flight->leader = NULL;

    ngx_http_adcp_factory_handover(flight);
}


/*
 * The leader went away: its subrequest no longer counts (nor its pool's
 * copy of the descriptor); the first waiter, if any, starts the build again.
 */

void
ngx_http_adcp_factory_handover(ngx_http_adcp_flight_t *flight)
{
    ngx_queue_t          *q;
    ngx_http_adcp_aux_t  *aux;
    ngx_http_adcp_ctx_t  *next;

    if (flight->attempt) {
        flight->attempt->flight = NULL;
        flight->attempt = NULL;
    }

    ngx_str_null(&flight->body);

    if (ngx_queue_empty(&flight->waiters)) {
        ngx_http_adcp_factory_flight_free(flight);
        return;
    }

    q = ngx_queue_head(&flight->waiters);
    aux = ngx_queue_data(q, ngx_http_adcp_aux_t, waiter);
    next = aux->ctx;

    ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                  "adcp: tenant \"%V\": the client that started the build "
                  "went away, a waiting request takes it over",
                  &flight->entry->tenant);

    next->state = NGX_HTTP_ADCP_ST_LEAD;
    flight->leader = next;

    ngx_http_adcp_factory_post(next);
}


/* the cleanup's data is the platform the request holds, or NULL */

void
ngx_http_adcp_factory_release(void *data)
{
    ngx_http_adcp_platform_t *platform = data;

    if (platform) {
        ngx_http_adcp_platform_release(platform);
    }
}


void
ngx_http_adcp_factory_fail(ngx_http_request_t *r, ngx_http_adcp_ctx_t *ctx,
    ngx_uint_t code, ngx_msec_t until)
{
    ngx_http_adcp_error_t  *err;

    /* NULL (out of memory) is answered 500 */

    if (ngx_http_adcp_aux(r, ctx) == NULL) {
        return;
    }

    r = r->main;

    if (code != NGX_HTTP_ADCP_ERR_ACCOUNT_NOT_FOUND) {
        ctx->aux->err = ngx_http_adcp_error_unavailable(r->pool, until);
        return;
    }

    err = ngx_pcalloc(r->pool, sizeof(ngx_http_adcp_error_t));
    ctx->aux->err = err;

    if (err == NULL) {
        return;
    }

    err->code = code;
    ngx_str_set(&err->message, "no account is served at this address");
}
