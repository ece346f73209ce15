
/*
 * ngx_http_adcp_module: the refresh's loopback request.
 *
 * A worker whose platform passed its refresh point connects to the local
 * address the buyer's request came in on (so that the same server{} and
 * location answer) and sends
 *
 *     GET <the buyer's path> HTTP/1.0
 *     Host: <the buyer's host>
 *     Adcp-Refresh: <host secret> <tenant> <built>
 *
 * (the marker last).  The worker that receives it claims the tenant's
 * build for the host and answers 204 when the build has ended, or at once
 * when another worker builds or the store holds a later descriptor.  The
 * sender reads the reply to its end and closes; nothing waits on it, the
 * buyer's request least.  A connection over TLS, HTTP/2 or PROXY protocol
 * is not copied (NGX_DECLINED: the caller refreshes another way).
 *
 * Every request in flight owns a pool, freed when it ends or the worker
 * exits.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_event_connect.h>
#include <ngx_http.h>

#include "ngx_http_adcp_refresh.h"
#include "ngx_http_adcp_tenant.h"
#include "ngx_http_adcp_zone.h"


#define NGX_HTTP_ADCP_REFRESH_STATUS  16      /* "HTTP/1.1 204 " */


typedef struct {
    ngx_pool_t                 *pool;
    ngx_peer_connection_t       peer;
    ngx_buf_t                  *out;
    ngx_event_t                 timer;
    ngx_queue_t                 queue;        /* in flight */
    ngx_str_t                   tenant;
    size_t                      in_len;
    u_char                      in[NGX_HTTP_ADCP_REFRESH_STATUS];
} ngx_http_adcp_refresh_t;


static void ngx_http_adcp_refresh_write(ngx_event_t *ev);
static void ngx_http_adcp_refresh_read(ngx_event_t *ev);
static void ngx_http_adcp_refresh_timeout(ngx_event_t *ev);
static void ngx_http_adcp_refresh_end(ngx_http_adcp_refresh_t *rf,
    ngx_uint_t failed);


static ngx_queue_t  ngx_http_adcp_refreshes;
static ngx_uint_t   ngx_http_adcp_refreshes_init;


/*
 * NGX_OK: sent; NGX_DECLINED: the buyer's connection cannot be copied;
 * NGX_ERROR: failed (logged)
 */

ngx_int_t
ngx_http_adcp_refresh_send(ngx_http_request_t *r, ngx_str_t *tenant,
    ngx_msec_t built, u_char *secret, ngx_msec_t timeout)
{
    u_char                   *p, *q;
    size_t                    len;
    ngx_int_t                 rc;
    ngx_str_t                 path, host;
    ngx_pool_t               *pool;
    ngx_connection_t         *c;
    ngx_http_adcp_refresh_t  *rf;

    static ngx_str_t  name = ngx_string("adcp refresh");

    c = r->connection;

#if (NGX_HTTP_SSL)
    if (c->ssl) {
        return NGX_DECLINED;
    }
#endif

#if (NGX_HTTP_V2)
    if (r->stream) {
        return NGX_DECLINED;
    }
#endif

    if (r->http_connection->addr_conf->proxy_protocol) {
        return NGX_DECLINED;
    }

    if (ngx_connection_local_sockaddr(c, NULL, 0) != NGX_OK) {
        return NGX_ERROR;
    }

    path = r->unparsed_uri;
    q = ngx_strlchr(path.data, path.data + path.len, '?');

    if (q) {
        path.len = q - path.data;
    }

    host = r->headers_in.server;

    if (host.len == 0) {
        ngx_str_set(&host, "localhost");
    }

    pool = ngx_create_pool(1024, ngx_cycle->log);
    if (pool == NULL) {
        return NGX_ERROR;
    }

    rf = ngx_pcalloc(pool, sizeof(ngx_http_adcp_refresh_t));
    if (rf == NULL) {
        goto failed;
    }

    rf->pool = pool;

    len = sizeof("GET  HTTP/1.0" CRLF "Host: " CRLF
                 NGX_HTTP_ADCP_REFRESH_HEADER ": " CRLF CRLF) - 1
          + path.len + host.len + NGX_HTTP_ADCP_SECRET_LEN
          + 2 + tenant->len + NGX_INT_T_LEN;

    rf->out = ngx_create_temp_buf(pool, len);
    rf->tenant.data = ngx_pstrdup(pool, tenant);
    rf->peer.sockaddr = ngx_palloc(pool, c->local_socklen);

    if (rf->out == NULL || rf->tenant.data == NULL
        || rf->peer.sockaddr == NULL)
    {
        goto failed;
    }

    rf->tenant.len = tenant->len;

    p = ngx_sprintf(rf->out->last, "GET %V HTTP/1.0" CRLF "Host: %V" CRLF
                    NGX_HTTP_ADCP_REFRESH_HEADER ": ", &path, &host);
    p = ngx_cpymem(p, secret, NGX_HTTP_ADCP_SECRET_LEN);
    rf->out->last = ngx_sprintf(p, " %V %M" CRLF CRLF, tenant, built);

    ngx_memcpy(rf->peer.sockaddr, c->local_sockaddr, c->local_socklen);
    rf->peer.socklen = c->local_socklen;
    rf->peer.name = &name;
    rf->peer.get = ngx_event_get_peer;
    rf->peer.log = ngx_cycle->log;
    rf->peer.log_error = NGX_ERROR_ERR;

    rc = ngx_event_connect_peer(&rf->peer);

    if (rc == NGX_ERROR || rc == NGX_BUSY || rc == NGX_DECLINED) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "adcp: tenant \"%V\": could not connect the refresh "
                      "request", tenant);
        rf->peer.connection = NULL;
        goto failed;
    }

    if (!ngx_http_adcp_refreshes_init) {
        ngx_queue_init(&ngx_http_adcp_refreshes);
        ngx_http_adcp_refreshes_init = 1;
    }

    ngx_queue_insert_tail(&ngx_http_adcp_refreshes, &rf->queue);

    c = rf->peer.connection;
    c->data = rf;
    c->pool = pool;
    c->read->handler = ngx_http_adcp_refresh_read;
    c->write->handler = ngx_http_adcp_refresh_write;

    rf->timer.handler = ngx_http_adcp_refresh_timeout;
    rf->timer.data = rf;
    rf->timer.log = ngx_cycle->log;
    rf->timer.cancelable = 1;
    ngx_add_timer(&rf->timer, timeout);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "adcp: tenant \"%V\": refresh request sent", tenant);

    if (rc == NGX_OK) {
        ngx_http_adcp_refresh_write(c->write);
    }

    return NGX_OK;

failed:

    ngx_destroy_pool(pool);

    return NGX_ERROR;
}


static void
ngx_http_adcp_refresh_write(ngx_event_t *ev)
{
    ssize_t                   n;
    ngx_buf_t                *b;
    ngx_connection_t         *c;
    ngx_http_adcp_refresh_t  *rf;

    c = ev->data;
    rf = c->data;
    b = rf->out;

    while (b->pos < b->last) {
        n = c->send(c, b->pos, b->last - b->pos);

        if (n == NGX_AGAIN) {
            if (ngx_handle_write_event(ev, 0) != NGX_OK) {
                ngx_http_adcp_refresh_end(rf, 1);
            }

            return;
        }

        if (n <= 0) {
            ngx_http_adcp_refresh_end(rf, 1);
            return;
        }

        b->pos += n;
    }

    if (c->read->ready) {
        ngx_http_adcp_refresh_read(c->read);
        return;
    }

    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        ngx_http_adcp_refresh_end(rf, 1);
    }
}


/* the reply, read to its end: its status line is kept */

static void
ngx_http_adcp_refresh_read(ngx_event_t *ev)
{
    u_char                    buf[256];
    size_t                    n;
    ssize_t                   got;
    ngx_connection_t         *c;
    ngx_http_adcp_refresh_t  *rf;

    c = ev->data;
    rf = c->data;

    if (rf->out->pos < rf->out->last) {
        ngx_http_adcp_refresh_write(c->write);
        return;
    }

    for ( ;; ) {
        got = c->recv(c, buf, sizeof(buf));

        if (got == NGX_AGAIN) {
            if (ngx_handle_read_event(ev, 0) != NGX_OK) {
                ngx_http_adcp_refresh_end(rf, 1);
            }

            return;
        }

        if (got <= 0) {
            ngx_http_adcp_refresh_end(rf, got < 0);
            return;
        }

        n = ngx_min((size_t) got, sizeof(rf->in) - rf->in_len);
        rf->in_len += n;
        ngx_memcpy(rf->in + rf->in_len - n, buf, n);
    }
}


static void
ngx_http_adcp_refresh_timeout(ngx_event_t *ev)
{
    ngx_http_adcp_refresh_t *rf = ev->data;

    ngx_http_adcp_refresh_end(rf, 1);
}


static void
ngx_http_adcp_refresh_end(ngx_http_adcp_refresh_t *rf, ngx_uint_t failed)
{
    ngx_int_t  status;

    status = 0;

    if (!failed && rf->in_len == sizeof(rf->in)
        && ngx_strncmp(rf->in, "HTTP/1.", 7) == 0)
    {
        status = ngx_atoi(rf->in + 9, 3);
    }

    if (status > 0 && status != NGX_HTTP_NO_CONTENT) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "adcp: tenant \"%V\": the refresh request was "
                      "answered %i, the platform is rebuilt when it expires "
                      "(is its location behind allow/deny or "
                      "auth_request?)", &rf->tenant, status);

    } else if (status <= 0) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "adcp: tenant \"%V\": the refresh request failed, "
                      "the platform is rebuilt when it expires",
                      &rf->tenant);
    }

    if (rf->timer.timer_set) {
        ngx_del_timer(&rf->timer);
    }

    ngx_queue_remove(&rf->queue);

    if (rf->peer.connection) {
        ngx_close_connection(rf->peer.connection);
    }

    ngx_destroy_pool(rf->pool);
}


/*
 * A request of this host asking for a refresh: the marker, the last
 * header, with the host's secret.  It is taken out of the headers.
 * NGX_OK: *tenant and *built are set; NGX_DECLINED: a buyer's request.
 */

ngx_int_t
ngx_http_adcp_refresh_marked(ngx_http_request_t *r, u_char *secret,
    ngx_str_t *tenant, ngx_msec_t *built)
{
    u_char           diff, *p, *last, *sp;
    ngx_int_t        n;
    ngx_uint_t       i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    if (r->http_version != NGX_HTTP_VERSION_10) {
        return NGX_DECLINED;
    }

    part = r->headers_in.headers.last;

    if (part->nelts == 0) {
        return NGX_DECLINED;
    }

    h = part->elts;
    h = &h[part->nelts - 1];

    if (h->key.len != sizeof(NGX_HTTP_ADCP_REFRESH_HEADER) - 1
        || (h->key.data[0] | 0x20) != 'a'
        || ngx_strncasecmp(h->key.data,
                           (u_char *) NGX_HTTP_ADCP_REFRESH_HEADER,
                           h->key.len) != 0
        || h->value.len < NGX_HTTP_ADCP_SECRET_LEN + 1
        || h->value.data[NGX_HTTP_ADCP_SECRET_LEN] != ' ')
    {
        return NGX_DECLINED;
    }

    diff = 0;

    for (i = 0; i < NGX_HTTP_ADCP_SECRET_LEN; i++) {
        diff |= h->value.data[i] ^ secret[i];
    }

    p = h->value.data + NGX_HTTP_ADCP_SECRET_LEN + 1;
    last = h->value.data + h->value.len;
    sp = ngx_strlchr(p, last, ' ');

    if (diff || sp == NULL
        || !ngx_http_adcp_tenant_id_valid(p, sp - p))
    {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "adcp: a request with a wrong \""
                      NGX_HTTP_ADCP_REFRESH_HEADER "\" header, ignored");
        return NGX_DECLINED;
    }

    n = ngx_atoi(sp + 1, last - sp - 1);

    if (n == NGX_ERROR) {
        return NGX_DECLINED;
    }

    tenant->data = p;
    tenant->len = sp - p;
    *built = (ngx_msec_t) n;

    /* the last element: nothing points at it */

    part->nelts--;

    return NGX_OK;
}


/* the worker exits: what is in flight goes */

void
ngx_http_adcp_refresh_exit(void)
{
    ngx_queue_t              *q;
    ngx_http_adcp_refresh_t  *rf;

    if (!ngx_http_adcp_refreshes_init) {
        return;
    }

    while (!ngx_queue_empty(&ngx_http_adcp_refreshes)) {
        q = ngx_queue_head(&ngx_http_adcp_refreshes);
        rf = ngx_queue_data(q, ngx_http_adcp_refresh_t, queue);

        ngx_queue_remove(q);

        if (rf->timer.timer_set) {
            ngx_del_timer(&rf->timer);
        }

        if (rf->peer.connection) {
            ngx_close_connection(rf->peer.connection);
        }

        ngx_destroy_pool(rf->pool);
    }
}
