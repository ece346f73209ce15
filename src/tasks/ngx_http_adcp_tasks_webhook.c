
/*
 * ngx_http_adcp_tasks_module: webhooks.  A task's terminal status is
 * POSTed (AdCP's mcp-webhook-payload) to the url the buyer gave, if the
 * policy allows it (tasks_url.c: at accept, and again here, the resolved
 * address too), with Bearer credentials, the token echoed, and an
 * Idempotency-Key the same for every retry.  One attempt: its end goes to
 * e->hooked(e, rc): NGX_OK delivered (2xx), NGX_DECLINED not to be
 * retried (3xx, 4xx but 429, or not allowed), NGX_AGAIN to be retried
 * (5xx, 429, a network error, no valid status line), NGX_ERROR (out of
 * memory).  When and whether it is retried is tasks_deliveries.c's.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_http_adcp_tasks_private.h"


static void ngx_http_adcp_exec_hook_send(ngx_http_adcp_exec_t *e);
static ngx_int_t ngx_http_adcp_exec_hook_tls(ngx_http_adcp_exec_t *e,
    ngx_http_adcp_tasks_url_t *u);
static void ngx_http_adcp_exec_hook_resolved(ngx_resolver_ctx_t *ctx);
static void ngx_http_adcp_exec_hook_connect(ngx_http_adcp_exec_t *e);
static void ngx_http_adcp_exec_on_hook_addr(ngx_http_adcp_exec_t *e,
    ngx_int_t rc);
static void ngx_http_adcp_exec_on_hook(ngx_http_adcp_exec_t *e,
    ngx_int_t rc);


/*
 * The terminal status POSTed to the webhook (AdCP's mcp-webhook-payload),
 * https:// (http:// where the policy allows it) with an IP address or a
 * host name (nginx's resolver); Bearer credentials, the token echoed
 */

void
ngx_http_adcp_exec_hook(ngx_http_adcp_exec_t *e,
    ngx_http_adcp_exec_done_pt hooked)
{
    e->hooked = hooked;

    ngx_http_adcp_exec_hook_send(e);
}


static void
ngx_http_adcp_exec_hook_send(ngx_http_adcp_exec_t *e)
{
    ngx_int_t                   rc;
    ngx_str_t                   url;
    ngx_resolver_ctx_t         *ctx;
    ngx_http_adcp_tasks_url_t   u;
    ngx_http_adcp_consumer_t   *cs;
    ngx_http_adcp_tasks_url_e   why;

    cs = e->cs;

    url = e->f[NGX_HTTP_ADCP_TF_WEBHOOK_URL];

    e->phase = NGX_HTTP_ADCP_PH_HOOK;
    e->log->action = "delivering the webhook";
    e->code = 0;

    /*
     * the attempt, its resolution and every address, ends within its
     * budget: past its lease, another worker would make it a second time
     */

    e->deadline = ngx_current_msec + NGX_HTTP_ADCP_HOOK_BUDGET;

    why = ngx_http_adcp_tasks_url(e->pool, &url, cs->tmcf->webhook_policy,
                                  &u);

    if (why != NGX_HTTP_ADCP_URL_OK) {
        if (why == NGX_HTTP_ADCP_URL_PRIVATE) {
            ngx_log_error(NGX_LOG_ERR, e->log, 0,
                          "adcp: the webhook address is not public, not "
                          "delivered");

        } else if (why == NGX_HTTP_ADCP_URL_INVALID) {
            ngx_log_error(NGX_LOG_ERR, e->log, 0,
                          "adcp: the webhook url is invalid, not "
                          "delivered");

        } else if (why == NGX_HTTP_ADCP_URL_PLAIN) {
            ngx_log_error(NGX_LOG_ERR, e->log, 0,
                          "adcp: the webhook url is http:// and neither "
                          "adcp_task_webhook_http nor "
                          "adcp_task_webhook_private is on, not delivered");

        } else {
            ngx_log_error(NGX_LOG_ERR, e->log, 0,
                          "adcp: the webhook url is not https:// or "
                          "http://, not delivered");
        }

        e->hooked(e, NGX_DECLINED);
        return;
    }

    rc = ngx_http_adcp_exec_hook_tls(e, &u);

    if (rc != NGX_OK) {
        e->hooked(e, rc);
        return;
    }

    switch (ngx_http_adcp_exec_hook_request(e, &u)) {
    case NGX_OK:
        break;
    case NGX_DECLINED:          /* cannot be written (logged): given up */
        e->hooked(e, NGX_DECLINED);
        return;
    default:
        e->hooked(e, NGX_ERROR);
        return;
    }

    if (u.addr) {
        e->hook_addrs = u.addr;
        e->hook_naddrs = 1;
        e->hook_next = 0;

        ngx_http_adcp_exec_hook_connect(e);
        return;
    }

    /* a host name: nginx's resolver (the http{} level's "resolver") */

    ctx = cs->resolver ? ngx_resolve_start(cs->resolver, NULL) : NULL;

    if (ctx == NULL) {
        ngx_http_adcp_exec_on_hook(e, NGX_ERROR);
        return;
    }

    if (ctx == NGX_NO_RESOLVER) {
        ngx_log_error(NGX_LOG_ERR, e->log, 0,
                      "adcp: the webhook host \"%V\" needs a \"resolver\" "
                      "at the http{} level, not delivered", &u.host);
        e->hooked(e, NGX_DECLINED);
        return;
    }

    e->hook_port = u.port;

    ctx->name.data = ngx_pstrdup(e->pool, &u.host);
    ctx->name.len = u.host.len;
    ctx->handler = ngx_http_adcp_exec_hook_resolved;
    ctx->data = e;
    ctx->timeout = ngx_min(cs->resolver_timeout, NGX_HTTP_ADCP_HOOK_BUDGET);

    if (ctx->name.data == NULL) {
        ngx_resolve_name_done(ctx);
        ngx_http_adcp_exec_on_hook(e, NGX_ERROR);
        return;
    }

    e->resolving = ctx;

    if (ngx_resolve_name(ctx) != NGX_OK) {
        /* the context was freed */
        e->resolving = NULL;
        ngx_http_adcp_exec_on_hook(e, NGX_ERROR);
    }
}


/*
 * An https url: the exchange in TLS, for the url's host (SNI, the
 * certificate's name), whichever address it goes to.  NGX_DECLINED: not
 * deliverable here
 */

static ngx_int_t
ngx_http_adcp_exec_hook_tls(ngx_http_adcp_exec_t *e,
    ngx_http_adcp_tasks_url_t *u)
{
    ngx_str_t  host;

    e->ssl = NULL;

    if (!u->ssl) {
        return NGX_OK;
    }

    e->ssl = e->cs->tmcf->ssl;

    if (e->ssl == NULL) {
        /* a task accepted before a reload turned adcp_task_webhooks off */
        ngx_log_error(NGX_LOG_ERR, e->log, 0,
                      "adcp: an https webhook needs \"adcp_task_webhooks "
                      "on\" in some adcp_async location, not delivered");
        return NGX_DECLINED;
    }

    host = u->host;

    if (host.len > 2 && host.data[0] == '[') {
        host.data++;
        host.len -= 2;

    } else if (host.len > 1 && host.data[host.len - 1] == '.') {

        /*
         * a fully qualified name: SNI (RFC 6066) and the certificate's
         * names have no root dot
         */

        host.len--;
    }

    e->ssl_name.data = ngx_pnalloc(e->pool, host.len + 1);
    if (e->ssl_name.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(e->ssl_name.data, host.data, host.len);
    e->ssl_name.data[host.len] = '\0';
    e->ssl_name.len = host.len;
    e->ssl_addr = (u->addr != NULL);

    return NGX_OK;
}


static void
ngx_http_adcp_exec_hook_resolved(ngx_resolver_ctx_t *ctx)
{
    ngx_http_adcp_exec_t *e = ctx->data;

    u_char           *p;
    socklen_t         len;
    ngx_uint_t        i, n;
    ngx_addr_t       *a;
    struct sockaddr  *sa;

    if (ctx->state) {
        ngx_log_error(NGX_LOG_ERR, e->log, 0,
                      "adcp: the webhook host \"%V\" could not be "
                      "resolved (%i: %s)", &ctx->name,
                      ctx->state, ngx_resolver_strerror(ctx->state));

        ngx_resolve_name_done(ctx);
        e->resolving = NULL;

        ngx_http_adcp_exec_on_hook(e, NGX_ERROR);
        return;
    }

    /* every address the policy allows, in the resolver's order */

    a = ngx_palloc(e->pool, ctx->naddrs * sizeof(ngx_addr_t));
    n = 0;

    for (i = 0; a && i < ctx->naddrs; i++) {
        sa = ctx->addrs[i].sockaddr;
        len = ctx->addrs[i].socklen;

        if (!ngx_http_adcp_tasks_url_public(sa)
            && !e->cs->tmcf->webhook_private)
        {
            continue;
        }

        p = ngx_palloc(e->pool, len + NGX_SOCKADDR_STRLEN);
        if (p == NULL) {
            a = NULL;
            break;
        }

        ngx_memcpy(p, sa, len);
        a[n].sockaddr = (struct sockaddr *) p;
        a[n].socklen = len;
        ngx_inet_set_port(a[n].sockaddr, e->hook_port);
        a[n].name.data = p + len;
        a[n].name.len = ngx_sock_ntop(a[n].sockaddr, len, p + len,
                                      NGX_SOCKADDR_STRLEN, 1);
        n++;
    }

    ngx_resolve_name_done(ctx);
    e->resolving = NULL;

    if (a == NULL) {
        ngx_http_adcp_exec_on_hook(e, NGX_ERROR);
        return;
    }

    if (n == 0) {
        ngx_log_error(NGX_LOG_ERR, e->log, 0,
                      "adcp: the webhook host resolves to an address that "
                      "is not public, not delivered");
        e->hooked(e, NGX_DECLINED);
        return;
    }

    e->hook_addrs = a;
    e->hook_naddrs = n;
    e->hook_next = 0;

    ngx_http_adcp_exec_hook_connect(e);
}


/*
 * The attempt's next address, as nginx's upstreams go on to the next
 * server, within what is left of the attempt's budget (as
 * proxy_next_upstream_timeout); none left, or no time: the attempt failed
 * (a network error)
 */

static void
ngx_http_adcp_exec_hook_connect(ngx_http_adcp_exec_t *e)
{
    ngx_addr_t      *a;
    ngx_msec_int_t   left;

    while (e->hook_next < e->hook_naddrs) {
        left = (ngx_msec_int_t) (e->deadline - ngx_current_msec);

        if (left <= 0) {
            ngx_log_error(NGX_LOG_WARN, e->log, 0,
                          "adcp: webhook attempt %ui ran out of time "
                          "(%M ms), %ui of %ui addresses not tried",
                          e->hooks, (ngx_msec_t) NGX_HTTP_ADCP_HOOK_BUDGET,
                          e->hook_naddrs - e->hook_next, e->hook_naddrs);
            break;
        }

        a = &e->hook_addrs[e->hook_next++];

        ngx_log_error(NGX_LOG_INFO, e->log, 0,
                      "adcp: webhook attempt %ui to %V", e->hooks, &a->name);

        if (ngx_http_adcp_exec_http(e, a->sockaddr, a->socklen,
                                    ngx_min((ngx_msec_t) left,
                                            NGX_HTTP_ADCP_HOOK_TIMEOUT),
                                    ngx_http_adcp_exec_on_hook_addr)
            == NGX_OK)
        {
            return;
        }

        ngx_log_error(NGX_LOG_WARN, e->log, 0,
                      "adcp: webhook address %V failed", &a->name);
    }

    ngx_http_adcp_exec_on_hook(e, NGX_ERROR);
}


/* no byte of the request sent (refused, no connect in time): the next */

static void
ngx_http_adcp_exec_on_hook_addr(ngx_http_adcp_exec_t *e, ngx_int_t rc)
{
    if (rc == NGX_ERROR && e->out->pos == e->out->start) {
        ngx_log_error(NGX_LOG_WARN, e->log, 0,
                      "adcp: webhook address %V failed",
                      &e->hook_addrs[e->hook_next - 1].name);

        ngx_http_adcp_exec_hook_connect(e);
        return;
    }

    ngx_http_adcp_exec_on_hook(e, rc);
}


/* one attempt's outcome, classified */

static void
ngx_http_adcp_exec_on_hook(ngx_http_adcp_exec_t *e, ngx_int_t rc)
{
    ngx_str_t    ct, body;
    ngx_str_t   *to;
    ngx_uint_t   level;

    to = e->hook_next ? &e->hook_addrs[e->hook_next - 1].name : NULL;

    /*
     * The receiver's verdict is its final status line: a reply cut short
     * after it (timed out, reset, over the cap) is judged by it too, so a
     * receiver that took the webhook and then stalled or answered at
     * length is not sent it again.  The reply's body is never read.
     */

    e->code = 0;

    if (e->in_len) {
        (void) ngx_http_adcp_tasks_response(e->pool, e->log, e->in,
                                            e->in_len, &e->code, &ct, &body);
    }

    if (e->code < 200) {
        /* refused, reset, timed out, or no final status line */

        e->code = 0;

        if (to) {
            ngx_log_error(NGX_LOG_WARN, e->log, 0,
                          "adcp: webhook attempt %ui failed (no valid "
                          "answer from %V), to be retried", e->hooks, to);

        } else {
            ngx_log_error(NGX_LOG_WARN, e->log, 0,
                          "adcp: webhook attempt %ui failed (no address "
                          "reached), to be retried", e->hooks);
        }

        e->hooked(e, NGX_AGAIN);
        return;
    }

    rc = ngx_http_adcp_tasks_hook_outcome(e->code);

    if (rc == NGX_OK) {
        ngx_log_error(NGX_LOG_INFO, e->log, 0,
                      "adcp: webhook delivered to %V (HTTP %i)", to,
                      e->code);
        e->hooked(e, NGX_OK);
        return;
    }

    if (rc == NGX_AGAIN) {
        ngx_log_error(NGX_LOG_WARN, e->log, 0,
                      "adcp: webhook attempt %ui failed (HTTP %i from %V), "
                      "to be retried", e->hooks, e->code, to);
        e->hooked(e, NGX_AGAIN);
        return;
    }

    /* 409: the receiver has it already (its idempotency); 3xx, 4xx: no */

    level = (e->code == 409) ? NGX_LOG_WARN : NGX_LOG_ERR;

    ngx_log_error(level, e->log, 0,
                  "adcp: webhook refused (HTTP %i from %V), not retried",
                  e->code, to);

    e->hooked(e, NGX_DECLINED);
}
