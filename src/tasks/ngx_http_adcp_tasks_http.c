
/*
 * ngx_http_adcp_tasks_module: the one outbound HTTP client (the loopback
 * request, webhooks): e->out written to an address, the reply read to its
 * end (Connection: close, at most NGX_HTTP_ADCP_EXEC_REPLY_MAX) into
 * e->in within a deadline, then e->done(e, rc): NGX_OK, NGX_DECLINED (too
 * large) or NGX_ERROR.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_event_connect.h>
#include <ngx_http.h>

#include "ngx_http_adcp_tasks_private.h"


static void ngx_http_adcp_exec_http_write(ngx_event_t *ev);
static void ngx_http_adcp_exec_http_sent(ngx_event_t *ev);
static void ngx_http_adcp_exec_http_read(ngx_event_t *ev);
static void ngx_http_adcp_exec_http_timer(ngx_event_t *ev);
static void ngx_http_adcp_exec_http_end(ngx_http_adcp_exec_t *e,
    ngx_int_t rc);


/* e->out to sa, the reply read to its end into e->in; done(e, rc) */

ngx_int_t
ngx_http_adcp_exec_http(ngx_http_adcp_exec_t *e, struct sockaddr *sa,
    socklen_t len, ngx_msec_t timeout, ngx_http_adcp_exec_done_pt done)
{
    ngx_int_t          rc;
    ngx_connection_t  *c;

    static ngx_str_t  name = ngx_string("adcp task");

    ngx_memzero(&e->peer, sizeof(ngx_peer_connection_t));

    e->peer.sockaddr = ngx_palloc(e->pool, len);
    if (e->peer.sockaddr == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(e->peer.sockaddr, sa, len);
    e->peer.socklen = len;
    e->peer.name = &name;
    e->peer.get = ngx_event_get_peer;
    e->peer.log = e->log;
    e->peer.log_error = NGX_ERROR_ERR;

    e->done = done;
    e->in_len = 0;
    e->code = 0;

    rc = ngx_event_connect_peer(&e->peer);

    if (rc == NGX_ERROR || rc == NGX_BUSY || rc == NGX_DECLINED) {
        e->peer.connection = NULL;
        return NGX_ERROR;
    }

    c = e->peer.connection;

    c->data = e;
    c->pool = NULL;
    c->read->handler = ngx_http_adcp_exec_http_read;
    c->write->handler = ngx_http_adcp_exec_http_write;

    e->timer.handler = ngx_http_adcp_exec_http_timer;
    ngx_add_timer(&e->timer, timeout);

    if (rc == NGX_OK) {
        ngx_http_adcp_exec_http_write(c->write);
    }

    return NGX_OK;
}


static void
ngx_http_adcp_exec_http_write(ngx_event_t *ev)
{
    ssize_t                n;
    ngx_buf_t             *b;
    ngx_connection_t      *c;
    ngx_http_adcp_exec_t  *e;

    c = ev->data;
    e = c->data;
    b = e->out;

    while (b->pos < b->last) {
        n = c->send(c, b->pos, b->last - b->pos);

        if (n == NGX_AGAIN) {
            if (ngx_handle_write_event(ev, 0) != NGX_OK) {
                ngx_http_adcp_exec_http_end(e, NGX_ERROR);
            }

            return;
        }

        if (n <= 0) {
            ngx_http_adcp_exec_http_end(e, NGX_ERROR);
            return;
        }

        b->pos += n;
    }

    /* all sent: read */

    ev->handler = ngx_http_adcp_exec_http_sent;

    if (c->read->ready) {
        ngx_http_adcp_exec_http_read(c->read);
        return;
    }

    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        ngx_http_adcp_exec_http_end(e, NGX_ERROR);
    }
}


static void
ngx_http_adcp_exec_http_sent(ngx_event_t *ev)
{
    /* nothing more to write */
}


static void
ngx_http_adcp_exec_http_read(ngx_event_t *ev)
{
    u_char                *p;
    size_t                 size;
    ssize_t                n;
    ngx_connection_t      *c;
    ngx_http_adcp_exec_t  *e;

    c = ev->data;
    e = c->data;

    if (e->out->pos < e->out->last) {
        /* the write handler runs for a read event until all is sent */
        ngx_http_adcp_exec_http_write(c->write);
        return;
    }

    for ( ;; ) {

        if (e->in_len == e->in_size) {

            if (e->in_size >= NGX_HTTP_ADCP_EXEC_REPLY_MAX) {
                ngx_log_error(NGX_LOG_ERR, e->log, 0,
                              "adcp: the reply is over %uz bytes",
                              (size_t) NGX_HTTP_ADCP_EXEC_REPLY_MAX);
                ngx_http_adcp_exec_http_end(e, NGX_DECLINED);
                return;
            }

            size = e->in_size ? e->in_size * 2 : 16384;
            size = ngx_min(size, NGX_HTTP_ADCP_EXEC_REPLY_MAX);

            p = ngx_pnalloc(e->pool, size + 1);
            if (p == NULL) {
                ngx_http_adcp_exec_http_end(e, NGX_ERROR);
                return;
            }

            if (e->in_len) {
                ngx_memcpy(p, e->in, e->in_len);
                ngx_pfree(e->pool, e->in);
            }

            e->in = p;
            e->in_size = size;
        }

        n = c->recv(c, e->in + e->in_len, e->in_size - e->in_len);

        if (n == NGX_AGAIN) {
            if (ngx_handle_read_event(ev, 0) != NGX_OK) {
                ngx_http_adcp_exec_http_end(e, NGX_ERROR);
            }

            return;
        }

        if (n == NGX_ERROR) {
            ngx_http_adcp_exec_http_end(e, NGX_ERROR);
            return;
        }

        if (n == 0) {
            e->in[e->in_len] = '\0';
            ngx_http_adcp_exec_http_end(e, NGX_OK);
            return;
        }

        e->in_len += n;
    }
}


static void
ngx_http_adcp_exec_http_timer(ngx_event_t *ev)
{
    ngx_http_adcp_exec_t *e = ev->data;

    ngx_log_error(NGX_LOG_ERR, e->log, NGX_ETIMEDOUT,
                  "adcp: no complete answer in time");

    ngx_http_adcp_exec_http_end(e, NGX_ERROR);
}


static void
ngx_http_adcp_exec_http_end(ngx_http_adcp_exec_t *e, ngx_int_t rc)
{
    ngx_http_adcp_exec_http_close(e);

    if (e->timer.timer_set) {
        ngx_del_timer(&e->timer);
    }

    e->done(e, rc);
}


void
ngx_http_adcp_exec_http_close(ngx_http_adcp_exec_t *e)
{
    if (e->peer.connection) {
        ngx_close_connection(e->peer.connection);
        e->peer.connection = NULL;
    }
}
