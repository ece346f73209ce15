
/*
 * ngx_http_adcp_module: the platform factory.
 *
 * A request whose tenant has no live platform in this worker either joins
 * the tenant's build in flight or starts one.  Every request of a flight,
 * the one that started it (the leader) included, is parked the way
 * limit_req parks a delayed request (test_reading while it waits, so a
 * client that goes away is finalized and leaves the flight), and is woken
 * by posting its connection's write event when the flight ends.
 *
 * The leader runs the factory as a background subrequest (the way mirror
 * runs its own), so that the flight can end, and the leader answer, while
 * the subrequest is still running: the flight's timer (adcp_build_timeout)
 * bounds every request of it.  This module's body filter swallows the
 * subrequest's output into a 64k buffer; its post_subrequest handler
 * parses the descriptor and ends the flight.
 *
 * A leader that goes away hands the build to the first waiter, which starts
 * the factory again; the old subrequest, detached, is ignored when it ends.
 *
 * This file is the flight (its start, its subrequests' ends and the capture
 * filter, which tell each other apart by their handlers).  Layered around
 * it, each calling only downwards: ngx_http_adcp_factory_lookup.c (the
 * lookup policy: it starts flights), ngx_http_adcp_factory_entry.c (what a
 * cache entry keeps) and ngx_http_adcp_factory_wait.c (the parked requests).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_adcp_factory.h"
#include "ngx_http_adcp_factory_private.h"
#include "ngx_http_adcp_descriptor.h"


static void ngx_http_adcp_factory_remote_poll(ngx_event_t *ev);
static ngx_int_t ngx_http_adcp_factory_validate_start(ngx_http_request_t *sr,
    ngx_http_adcp_attempt_t *attempt, ngx_http_adcp_flight_t *flight,
    ngx_http_adcp_platform_t *pf);
static ngx_int_t ngx_http_adcp_factory_validate_done(ngx_http_request_t *sr,
    void *data, ngx_int_t rc);
static void ngx_http_adcp_factory_validate_cleanup(void *data);
static ngx_uint_t ngx_http_adcp_factory_status(ngx_http_request_t *sr,
    ngx_int_t rc);
static ngx_int_t ngx_http_adcp_factory_capture_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_http_adcp_factory_capture(ngx_http_request_t *r,
    ngx_chain_t *in) NGX_HTTP_ADCP_COLD;


static ngx_http_output_body_filter_pt  ngx_http_next_body_filter;


/*
 * Joins the tenant's build in flight in this worker, or starts one: a
 * factory call, or, while another worker of the host holds the tenant's
 * claim, a wait on the outcome of that worker's build (polled in the zone
 * every 20 ms, bounded by adcp_build_timeout).
 */

ngx_int_t
ngx_http_adcp_factory_fly(ngx_http_request_t *r, ngx_http_adcp_ctx_t *ctx,
    ngx_http_adcp_entry_t *e, ngx_uint_t claim)
{
    ngx_http_cleanup_t         *cln;
    ngx_http_adcp_slot_t       *slot;
    ngx_http_adcp_flight_t     *flight;
    ngx_http_adcp_main_conf_t  *amcf;

    /* leaving a flight: at once, even while a subrequest holds the pool */

    cln = ngx_http_cleanup_add(r, 0);
    if (cln == NULL || ngx_http_adcp_aux(r, ctx) == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_adcp_factory_leave;
    cln->data = ctx;

    if (e->flight) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "adcp: tenant \"%V\" joins the build in flight",
                       ctx->tenant);

        ctx->cache_status = NGX_HTTP_ADCP_CACHE_WAIT;
        ngx_http_adcp_worker->row->counters[NGX_HTTP_ADCP_C_WAITS]++;
        ngx_http_adcp_factory_park(r, ctx, e->flight);

        return NGX_DONE;
    }

    amcf = ngx_http_get_module_main_conf(r, ngx_http_adcp_module);

    flight = ngx_calloc(sizeof(ngx_http_adcp_flight_t), ngx_cycle->log);
    if (flight == NULL) {
        return NGX_ERROR;
    }

    slot = e->slot;

    flight->entry = e;
    flight->generation = slot ? slot->generation : e->generation;
    flight->recheck = slot ? slot->recheck : 0;

    flight->global = ngx_http_adcp_worker->zone->sh->generation;
    flight->started = ngx_current_msec;
    ngx_queue_init(&flight->waiters);

    if (ctx->refresh) {
        flight->refresh = 1;
        ctx->cache_status = NGX_HTTP_ADCP_CACHE_UPDATING;

    } else {

        /* a miss starts a build; waiting on another worker's is a wait */

        ngx_http_adcp_worker->row->counters[claim == NGX_HTTP_ADCP_CLAIM_BUSY
                                            ? NGX_HTTP_ADCP_C_WAITS
                                            : NGX_HTTP_ADCP_C_MISSES]++;
    }

    flight->timer.handler = ngx_http_adcp_factory_build_timeout;
    flight->timer.data = flight;
    flight->timer.log = ngx_cycle->log;
    flight->deadline = ngx_current_msec + amcf->build_timeout;
    flight->claimed = (claim == NGX_HTTP_ADCP_CLAIM_OWN);

    e->flight = flight;

    ngx_http_adcp_factory_park(r, ctx, flight);

    /* not cancelable: a worker shutting down waits for its builds */

    if (claim == NGX_HTTP_ADCP_CLAIM_BUSY) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "adcp: tenant \"%V\": another worker builds it",
                       ctx->tenant);

        ctx->cache_status = NGX_HTTP_ADCP_CACHE_WAIT;
        flight->remote = 1;
        flight->timer.handler = ngx_http_adcp_factory_remote_poll;
        ngx_add_timer(&flight->timer, NGX_HTTP_ADCP_POLL);

        return NGX_DONE;
    }

    ngx_add_timer(&flight->timer, amcf->build_timeout);

    return ngx_http_adcp_factory_build_start(r, ctx);
}


static void
ngx_http_adcp_factory_remote_poll(ngx_event_t *ev)
{
    ngx_http_adcp_flight_t *flight = ev->data;

    ngx_uint_t                   claim;
    ngx_queue_t                 *q;
    ngx_msec_int_t               left;
    ngx_http_adcp_aux_t         *aux;
    ngx_http_adcp_ctx_t         *next;
    ngx_http_adcp_slot_t        *slot;
    ngx_http_adcp_platform_t    *pf;
    ngx_http_adcp_main_conf_t   *amcf;
    ngx_http_adcp_store_meta_t   meta;

    slot = flight->entry->slot;
    left = (ngx_msec_int_t) (flight->deadline - ngx_current_msec);

    if (left > 0 && ngx_http_adcp_zone_claimed(slot)) {
        ngx_add_timer(ev, NGX_HTTP_ADCP_POLL);
        return;
    }

    /* the build ended (or its worker died): its result is in the store */

    claim = NGX_HTTP_ADCP_CLAIM_FREE;

    for ( ;; ) {

        if (ngx_http_adcp_worker->store->sh) {
            pf = ngx_http_adcp_factory_shared(flight->entry, 0, &meta);

            if (pf) {
                if (claim == NGX_HTTP_ADCP_CLAIM_OWN) {
                    ngx_http_adcp_zone_unclaim(ngx_http_adcp_worker->zone,
                                               slot);
                }

                ngx_http_adcp_factory_flight_end(flight, pf,
                                                 NGX_HTTP_ADCP_BUILT);
                ngx_http_adcp_platform_release(pf);
                return;
            }
        }

        /*
         * the failure the build's worker remembered: it writes it and drops
         * the claim under one lock, but this look at the claim took no
         * lock, so it is looked at again once the claim is this worker's
         */

        if (ngx_http_adcp_factory_active(slot->not_found_until)) {
            if (claim == NGX_HTTP_ADCP_CLAIM_OWN) {
                ngx_http_adcp_zone_unclaim(ngx_http_adcp_worker->zone, slot);
            }

            ngx_http_adcp_factory_flight_end(flight, NULL,
                                             NGX_HTTP_ADCP_NOT_FOUND);
            return;
        }

        if (ngx_http_adcp_factory_active(slot->failed_until) || left <= 0) {
            if (claim == NGX_HTTP_ADCP_CLAIM_OWN) {
                ngx_http_adcp_zone_unclaim(ngx_http_adcp_worker->zone, slot);
            }

            ngx_http_adcp_factory_flight_end(flight, NULL,
                                             NGX_HTTP_ADCP_FAILED);
            return;
        }

        if (claim == NGX_HTTP_ADCP_CLAIM_OWN) {
            break;
        }

        if (ngx_queue_empty(&flight->waiters)) {
            ngx_http_adcp_factory_flight_free(flight);
            return;
        }

        amcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                                   ngx_http_adcp_module);

        claim = ngx_http_adcp_zone_claim(ngx_http_adcp_worker->zone, slot,
                                         amcf->build_timeout,
                                         ngx_http_adcp_worker->store->sh
                                         != NULL);

        if (claim == NGX_HTTP_ADCP_CLAIM_BUSY) {
            ngx_add_timer(ev, NGX_HTTP_ADCP_POLL);
            return;
        }

        if (claim == NGX_HTTP_ADCP_CLAIM_FREE) {
            break;
        }

        /* looked at again under the claim */
    }

    if (claim == NGX_HTTP_ADCP_CLAIM_OWN) {
        flight->claimed = 1;
    }

    /* this worker builds (for the host, or its own: no store) */

    flight->remote = 0;
    ev->handler = ngx_http_adcp_factory_build_timeout;
    ngx_add_timer(ev, (ngx_msec_t) left);

    q = ngx_queue_head(&flight->waiters);
    aux = ngx_queue_data(q, ngx_http_adcp_aux_t, waiter);
    next = aux->ctx;

    next->state = NGX_HTTP_ADCP_ST_LEAD;
    flight->leader = next;

    ngx_http_adcp_factory_post(next);
}


ngx_int_t
ngx_http_adcp_factory_build_start(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx)
{
    ngx_http_adcp_flight_t       *flight;
    ngx_http_adcp_attempt_t      *attempt;
    ngx_http_adcp_loc_conf_t     *alcf;

    flight = ctx->aux->flight;
    alcf = ngx_http_get_module_loc_conf(r, ngx_http_adcp_module);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "adcp: tenant \"%V\": calling the factory", ctx->tenant);

    ctx->state = NGX_HTTP_ADCP_ST_WAITING;
    flight->leader = ctx;

    attempt = ngx_pcalloc(r->pool, sizeof(ngx_http_adcp_attempt_t));
    if (attempt == NULL) {
        goto failed;
    }

    if (ngx_http_adcp_factory_subrequest(r, &alcf->factory,
                                         ngx_http_adcp_factory_build_done,
                                         attempt, flight)
        == NULL)
    {
        goto failed;
    }

    return NGX_DONE;

failed:

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "adcp: tenant \"%V\": could not start the factory "
                  "subrequest", ctx->tenant);

    ngx_http_adcp_factory_flight_end(flight, NULL, NGX_HTTP_ADCP_FAILED);

    return NGX_DONE;
}


ngx_int_t
ngx_http_adcp_factory_build_done(ngx_http_request_t *sr, void *data,
    ngx_int_t rc)
{
    ngx_http_adcp_attempt_t *attempt = data;

    u_char                    *body;
    ngx_uint_t                 status;
    const char                *why;
    ngx_http_adcp_entry_t     *e;
    ngx_http_adcp_flight_t    *flight;
    ngx_http_adcp_platform_t  *pf;

    if (attempt->validating) {

        /* called again (a postponed subrequest): the result is in */

        return rc;
    }

    flight = attempt->flight;

    if (flight == NULL) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, sr->connection->log, 0,
                       "adcp: a detached factory subrequest ended");
        return rc;
    }

    attempt->flight = NULL;
    flight->attempt = NULL;
    e = flight->entry;

    status = ngx_http_adcp_factory_status(sr, rc);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, sr->connection->log, 0,
                   "adcp: tenant \"%V\": factory status %ui, %uz bytes",
                   &e->tenant, status, attempt->len);

    if (status == NGX_HTTP_NOT_FOUND) {
        ngx_log_error(NGX_LOG_INFO, sr->connection->log, 0,
                      "adcp: tenant \"%V\": the factory does not know it",
                      &e->tenant);
        ngx_http_adcp_factory_flight_end(flight, NULL, NGX_HTTP_ADCP_NOT_FOUND);
        return rc;
    }

    if (status < NGX_HTTP_OK || status >= NGX_HTTP_SPECIAL_RESPONSE) {
        ngx_log_error(NGX_LOG_ERR, sr->connection->log, 0,
                      "adcp: tenant \"%V\": the factory answered %ui",
                      &e->tenant, status);
        ngx_http_adcp_factory_flight_end(flight, NULL, NGX_HTTP_ADCP_FAILED);
        return rc;
    }

    if (attempt->oversize || attempt->read_error || attempt->buf == NULL) {
        ngx_log_error(NGX_LOG_ERR, sr->connection->log, 0,
                      "adcp: tenant \"%V\": the factory's descriptor is %s",
                      &e->tenant,
                      attempt->oversize ? "over 64k"
                      : attempt->read_error ? "unreadable" : "empty");
        ngx_http_adcp_factory_flight_end(flight, NULL, NGX_HTTP_ADCP_FAILED);
        return rc;
    }

    body = attempt->buf;
    body[attempt->len] = '\0';

    pf = ngx_http_adcp_descriptor_parse(&e->tenant, body, attempt->len,
                                        ngx_cycle->log, &why);

    if (pf == NULL) {
        ngx_log_error(NGX_LOG_ERR, sr->connection->log, 0,
                      "adcp: tenant \"%V\": bad descriptor: %s",
                      &e->tenant, why);
        ngx_http_adcp_factory_flight_end(flight, NULL, NGX_HTTP_ADCP_FAILED);
        return rc;
    }

    flight->body.data = body;
    flight->body.len = attempt->len;

    if (ngx_http_adcp_factory_validate_start(sr, attempt, flight, pf)
        == NGX_OK)
    {
        return rc;
    }

    ngx_http_adcp_factory_flight_end(flight, pf, NGX_HTTP_ADCP_BUILT);

    ngx_http_adcp_platform_release(pf);

    return rc;
}


/*
 * adcp_validator: a second subrequest, with the fresh descriptor in its
 * variables ($adcp_tenant, $adcp_upstream, $adcp_platform_<name>); a 2xx
 * accepts the platform.  The attempt holds the platform meanwhile; the
 * leader's pool releases it if the subrequest never ends.
 */

static ngx_int_t
ngx_http_adcp_factory_validate_start(ngx_http_request_t *sr,
    ngx_http_adcp_attempt_t *attempt, ngx_http_adcp_flight_t *flight,
    ngx_http_adcp_platform_t *pf)
{
    ngx_http_request_t          *r, *vsr;
    ngx_pool_cleanup_t          *cln;
    ngx_http_adcp_ctx_t         *vctx;
    ngx_http_adcp_loc_conf_t    *alcf;

    r = sr->parent;
    alcf = ngx_http_get_module_loc_conf(r, ngx_http_adcp_module);

    if (alcf->validator.len == 0) {
        return NGX_DECLINED;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "adcp: tenant \"%V\": calling the validator",
                   &flight->entry->tenant);

    vctx = ngx_pcalloc(r->pool, sizeof(ngx_http_adcp_ctx_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (vctx == NULL || cln == NULL) {
        goto failed;
    }

    vctx->env = &ngx_http_adcp_no_env;

    cln->handler = ngx_http_adcp_factory_validate_cleanup;
    cln->data = attempt;

    vctx->tenant = ngx_palloc(r->pool, sizeof(ngx_str_t));
    if (vctx->tenant == NULL) {
        goto failed;
    }

    vctx->tenant->len = flight->entry->tenant.len;
    vctx->tenant->data = ngx_pstrdup(r->pool, &flight->entry->tenant);
    if (vctx->tenant->data == NULL) {
        goto failed;
    }

    /* a reference for its variables, read up to its log phase */

    vctx->cleanup.data = pf;
    vctx->slot = flight->entry->slot;
    vctx->state = NGX_HTTP_ADCP_ST_DONE;
    vctx->tenant_done = 1;
    pf->refs++;

    attempt->vctx = vctx;
    attempt->pf = pf;
    attempt->validating = 1;

    vsr = ngx_http_adcp_factory_subrequest(r, &alcf->validator,
                                           ngx_http_adcp_factory_validate_done,
                                           attempt, flight);
    if (vsr == NULL) {
        goto failed;
    }

    ngx_http_set_ctx(vsr, vctx, ngx_http_adcp_module);

    return NGX_OK;

failed:

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "adcp: tenant \"%V\": could not start the validator "
                  "subrequest", &flight->entry->tenant);

    /* the variables' reference, if taken, goes with the leader's pool */

    attempt->pf = NULL;
    ngx_http_adcp_factory_flight_end(flight, NULL, NGX_HTTP_ADCP_FAILED);
    ngx_http_adcp_platform_release(pf);

    return NGX_OK;
}


static ngx_int_t
ngx_http_adcp_factory_validate_done(ngx_http_request_t *sr, void *data,
    ngx_int_t rc)
{
    ngx_http_adcp_attempt_t *attempt = data;

    ngx_uint_t                 status;
    ngx_http_adcp_flight_t    *flight;
    ngx_http_adcp_platform_t  *pf;

    flight = attempt->flight;
    pf = attempt->pf;
    attempt->pf = NULL;

    if (pf == NULL) {
        return rc;
    }

    if (flight == NULL) {
        ngx_http_adcp_platform_release(pf);
        return rc;
    }

    attempt->flight = NULL;
    flight->attempt = NULL;

    status = ngx_http_adcp_factory_status(sr, rc);

    if (status >= NGX_HTTP_OK && status < NGX_HTTP_SPECIAL_RESPONSE) {
        ngx_http_adcp_factory_flight_end(flight, pf, NGX_HTTP_ADCP_BUILT);

    } else {
        ngx_log_error(NGX_LOG_ERR, sr->connection->log, 0,
                      "adcp: tenant \"%V\": the validator refused the "
                      "platform (%ui)", &flight->entry->tenant, status);
        ngx_http_adcp_factory_flight_end(flight, NULL, NGX_HTTP_ADCP_FAILED);
    }

    ngx_http_adcp_platform_release(pf);

    return rc;
}


static void
ngx_http_adcp_factory_validate_cleanup(void *data)
{
    ngx_http_adcp_attempt_t *attempt = data;

    if (attempt->pf) {
        ngx_http_adcp_platform_release(attempt->pf);
        attempt->pf = NULL;
    }

    if (attempt->vctx && attempt->vctx->cleanup.data) {
        ngx_http_adcp_platform_release(attempt->vctx->cleanup.data);
        attempt->vctx->cleanup.data = NULL;
    }
}


/*
 * The validator subrequest's variables: its own state, even after an
 * internal redirect (which clears r->ctx, not r->post_subrequest).
 */

ngx_http_adcp_ctx_t *
ngx_http_adcp_factory_validator_ctx(ngx_http_request_t *r)
{
    ngx_http_adcp_attempt_t  *attempt;

    if (r->post_subrequest == NULL
        || r->post_subrequest->handler != ngx_http_adcp_factory_validate_done)
    {
        return NULL;
    }

    attempt = r->post_subrequest->data;

    return attempt->vctx;
}


/*
 * A background subrequest for the attempt, with an empty body and headers
 * that say so (sr->headers_in is the subrequest's own copy): the buyer's
 * body is not the factory's business, and a proxied factory must not wait
 * for it.
 */

ngx_http_request_t *
ngx_http_adcp_factory_subrequest(ngx_http_request_t *r, ngx_str_t *uri,
    ngx_http_post_subrequest_pt handler, ngx_http_adcp_attempt_t *attempt,
    ngx_http_adcp_flight_t *flight)
{
    ngx_http_request_t          *sr;
    ngx_http_post_subrequest_t  *ps;

    ps = ngx_palloc(r->pool, sizeof(ngx_http_post_subrequest_t));
    if (ps == NULL) {
        return NULL;
    }

    ps->handler = handler;
    ps->data = attempt;

    if (ngx_http_subrequest(r, uri, NULL, &sr, ps,
                            NGX_HTTP_SUBREQUEST_BACKGROUND)
        != NGX_OK)
    {
        return NULL;
    }

    sr->request_body = ngx_pcalloc(r->pool, sizeof(ngx_http_request_body_t));
    if (sr->request_body == NULL) {
        return NULL;
    }

    sr->headers_in.content_length_n = -1;
    sr->headers_in.content_length = NULL;
    sr->headers_in.content_type = NULL;
    sr->headers_in.chunked = 0;

    attempt->sr = sr;
    attempt->flight = flight;
    flight->attempt = attempt;

    return sr;
}


static ngx_uint_t
ngx_http_adcp_factory_status(ngx_http_request_t *sr, ngx_int_t rc)
{
    if (rc == NGX_ERROR || rc >= NGX_HTTP_SPECIAL_RESPONSE
        || sr->headers_out.status == 0)
    {
        return (rc >= NGX_HTTP_SPECIAL_RESPONSE) ? (ngx_uint_t) rc
                                                 : NGX_HTTP_BAD_GATEWAY;
    }

    return sr->headers_out.status;
}


/*
 * The flight fails at once; the subrequest's upstream, if it has one, is
 * closed, so that it holds neither the factory nor the leader's
 * connection.  The leader is parked and alive here: a leader that leaves
 * detaches its attempt first.
 */

void
ngx_http_adcp_factory_build_timeout(ngx_event_t *ev)
{
    ngx_http_adcp_flight_t *flight = ev->data;

    ngx_http_upstream_t      *u;
    ngx_http_adcp_attempt_t  *attempt;

    ngx_log_error(NGX_LOG_ERR, ev->log, 0,
                  "adcp: tenant \"%V\": the platform build timed out",
                  &flight->entry->tenant);

    attempt = flight->attempt;

    ngx_http_adcp_factory_flight_end(flight, NULL, NGX_HTTP_ADCP_FAILED);

    if (attempt == NULL) {
        return;
    }

    u = attempt->sr->upstream;

    if (u && u->cleanup && *u->cleanup) {
        (*u->cleanup)(attempt->sr);
    }
}


/*
 * Ends a flight: caches the platform unless an invalidation came during
 * the build, or remembers the failure; hands the result to every request
 * of the flight and wakes them.
 */

void
ngx_http_adcp_factory_flight_end(ngx_http_adcp_flight_t *flight,
    ngx_http_adcp_platform_t *pf, ngx_uint_t code)
{
    ngx_msec_t                  until;
    ngx_uint_t                  gen, status;
    ngx_queue_t                *q;
    ngx_http_adcp_aux_t        *aux;
    ngx_http_adcp_ctx_t        *ctx;
    ngx_http_adcp_slot_t       *slot;
    ngx_http_adcp_entry_t      *e;
    ngx_http_adcp_worker_t     *w;
    ngx_http_adcp_platform_t   *serve;
    ngx_http_adcp_main_conf_t  *amcf;

    e = flight->entry;
    slot = e->slot;
    w = ngx_http_adcp_worker;
    amcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_adcp_module);

    if (flight->timer.timer_set) {
        ngx_del_timer(&flight->timer);
    }

    if (flight->attempt) {
        flight->attempt->flight = NULL;
    }

    e->flight = NULL;

    if (flight->refresh && flight->leader) {

        /* the request that ran the refresh was served already */

        flight->leader->aux->flight = NULL;
        flight->leader = NULL;
    }

    if (!flight->remote) {

        /* stored before the claim goes: the host's waiters look there */

        if (pf) {
            ngx_http_adcp_factory_store(flight, pf);
        }

        ngx_http_adcp_zone_built(w->zone, slot,
                                 pf ? NGX_HTTP_ADCP_BUILD_OK
                             : (code == NGX_HTTP_ADCP_NOT_FOUND)
                               ? NGX_HTTP_ADCP_BUILD_NOT_FOUND
                               : NGX_HTTP_ADCP_BUILD_FAILED,
                                 e->stale != NULL
                                 || (flight->refresh && e->platform),
                                 flight->recheck, flight->started,
                                 amcf->failure_ttl, amcf->failure_ttl_max,
                                 amcf->not_found_ttl);

        if (flight->refresh) {
            w->row->counters[pf ? NGX_HTTP_ADCP_C_REFRESH_OK
                                : NGX_HTTP_ADCP_C_REFRESH_FAILED]++;
        }
    }

    until = slot ? slot->failed_until : 0;
    gen = slot ? slot->generation : e->generation;

    if (pf) {
        if (flight->generation == gen
            && flight->global == w->zone->sh->generation)
        {
            ngx_http_adcp_factory_keep(e, pf, gen, flight->global,
                                       flight->recheck);

        } else {
            ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                          "adcp: tenant \"%V\" was invalidated during its "
                          "build: the platform serves its waiters only",
                          &e->tenant);
        }

    } else if (slot == NULL) {

        /* no room in the zone: this worker's own memory */

        if (code == NGX_HTTP_ADCP_NOT_FOUND) {
            e->not_found_until = ngx_current_msec + amcf->not_found_ttl;

        } else {
            until = ngx_current_msec + amcf->failure_ttl;
            e->failed_until = until;
        }
    }

    if (pf) {
        serve = pf;
        status = 0;

    } else if (e->stale && code != NGX_HTTP_ADCP_NOT_FOUND
               && (slot == NULL || !slot->no_stale))
    {
        serve = e->stale;
        status = NGX_HTTP_ADCP_CACHE_STALE;
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "adcp: tenant \"%V\": the rebuild failed, serving "
                      "the previous platform", &e->tenant);

    } else {
        serve = NULL;
        status = 0;
    }

    if (code == NGX_HTTP_ADCP_NOT_FOUND || (pf == NULL && serve == NULL)) {
        ngx_http_adcp_cache_unstale(e);
    }

    while (!ngx_queue_empty(&flight->waiters)) {
        q = ngx_queue_head(&flight->waiters);
        ngx_queue_remove(q);

        aux = ngx_queue_data(q, ngx_http_adcp_aux_t, waiter);
        ctx = aux->ctx;

        ctx->aux->flight = NULL;
        ctx->state = NGX_HTTP_ADCP_ST_DONE;

        if (serve) {
            ctx->cleanup.data = serve;
            serve->refs++;

            if (status) {
                ctx->cache_status = status;
                w->row->counters[NGX_HTTP_ADCP_C_STALE]++;

            } else if (!ctx->refresh) {
                w->row->counters[flight->remote ? NGX_HTTP_ADCP_C_SHARED
                                                : NGX_HTTP_ADCP_C_FACTORY]++;
            }

        } else if (code == NGX_HTTP_ADCP_NOT_FOUND) {
            ngx_http_adcp_factory_fail(aux->request, ctx,
                                       NGX_HTTP_ADCP_ERR_ACCOUNT_NOT_FOUND, 0);

        } else {
            ngx_http_adcp_factory_fail(aux->request, ctx,
                                       NGX_HTTP_ADCP_ERR_SERVICE_UNAVAILABLE,
                                       until ? until
                                             : ngx_current_msec + 1000);
        }

        ngx_http_adcp_factory_post(ctx);
    }

    ngx_free(flight);
}


/*
 * The capture filter sees every body, chained whatever the configuration:
 * a worker the master starts after a failed reload runs the master's
 * configuration with the filter chain the failed one built (t/43)
 */

ngx_int_t
ngx_http_adcp_factory_init_filter(ngx_conf_t *cf)
{
    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_adcp_factory_capture_filter;

    return NGX_OK;
}


/*
 * Every body buffer passes here: a subrequest with a post_subrequest
 * handler may be the factory's or the validator's
 * (ngx_http_adcp_factory_capture()), anything else goes straight on
 */

static ngx_int_t
ngx_http_adcp_factory_capture_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    if (r->post_subrequest == NULL || r == r->main) {
        return ngx_http_next_body_filter(r, in);
    }

    return ngx_http_adcp_factory_capture(r, in);
}


/* the factory subrequest's body goes to the attempt's buffer, not out */

static ngx_int_t
ngx_http_adcp_factory_capture(ngx_http_request_t *r, ngx_chain_t *in)
{
    off_t                     size;
    ssize_t                   n;
    ngx_buf_t                *b;
    ngx_chain_t              *cl;
    ngx_http_adcp_attempt_t  *attempt;

    if (r->post_subrequest->handler == ngx_http_adcp_factory_validate_done) {

        /* the validator's body: nobody's */

        for (cl = in; cl; cl = cl->next) {
            cl->buf->pos = cl->buf->last;
            cl->buf->file_pos = cl->buf->file_last;
        }

        return NGX_OK;
    }

    if (r->post_subrequest->handler != ngx_http_adcp_factory_build_done) {
        return ngx_http_next_body_filter(r, in);
    }

    attempt = r->post_subrequest->data;

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        size = ngx_buf_size(b);

        if (size == 0 || attempt->oversize || attempt->read_error) {
            goto consumed;
        }

        if (attempt->len + size > NGX_HTTP_ADCP_DESCRIPTOR_MAX) {
            attempt->oversize = 1;
            goto consumed;
        }

        if (attempt->buf == NULL) {
            attempt->buf = ngx_pnalloc(r->pool,
                                       NGX_HTTP_ADCP_DESCRIPTOR_MAX + 1);
            if (attempt->buf == NULL) {
                return NGX_ERROR;
            }
        }

        if (ngx_buf_in_memory(b)) {
            ngx_memcpy(attempt->buf + attempt->len, b->pos, (size_t) size);
            attempt->len += size;

        } else if (b->in_file) {
            n = ngx_read_file(b->file, attempt->buf + attempt->len,
                              (size_t) size, b->file_pos);

            if (n != size) {
                attempt->read_error = 1;
            } else {
                attempt->len += size;
            }
        }

    consumed:

        if (ngx_buf_in_memory(b)) {
            b->pos = b->last;
        }

        if (b->in_file) {
            b->file_pos = b->file_last;
        }
    }

    return NGX_OK;
}
