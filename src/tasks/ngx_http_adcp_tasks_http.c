
/*
 * ngx_http_adcp_tasks_module: the one outbound HTTP client (the loopback
 * request, webhooks): e->out written to an address, the reply read to its
 * end (Connection: close, at most NGX_HTTP_ADCP_EXEC_REPLY_MAX) into
 * e->in within a deadline, then e->done(e, rc): NGX_OK, NGX_DECLINED (too
 * large) or NGX_ERROR.
 *
 * With e->ssl (an https webhook) the exchange goes through nginx's
 * OpenSSL layer, as proxy_ssl's: once connected, a TLS client connection
 * (SNI: e->ssl_name when it is a host name), the handshake, then the
 * peer's certificate checked, always: a chain to a trusted CA
 * (adcp_task_webhook_trusted_certificate) and e->ssl_name among its
 * names (its addresses, for an IP literal).  Only then is a byte of the
 * request sent, through c->send and c->recv as in plain HTTP.  The
 * deadline covers the connect, the handshake and the exchange.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_event_connect.h>
#include <ngx_http.h>

#include "ngx_http_adcp_tasks_private.h"


#define NGX_HTTP_ADCP_EXEC_SSL_POOL  512


static void ngx_http_adcp_exec_http_write(ngx_event_t *ev);
static void ngx_http_adcp_exec_http_sent(ngx_event_t *ev);
static void ngx_http_adcp_exec_http_read(ngx_event_t *ev);
static void ngx_http_adcp_exec_http_timer(ngx_event_t *ev);
static void ngx_http_adcp_exec_http_end(ngx_http_adcp_exec_t *e,
    ngx_int_t rc);
static void ngx_http_adcp_exec_http_connected(ngx_event_t *ev);
static void ngx_http_adcp_exec_http_handshake(ngx_http_adcp_exec_t *e,
    ngx_connection_t *c);
static void ngx_http_adcp_exec_http_handshaked(ngx_connection_t *c);
static ngx_int_t ngx_http_adcp_exec_http_verify(ngx_http_adcp_exec_t *e,
    ngx_connection_t *c);
static void ngx_http_adcp_exec_http_shutdown(ngx_http_adcp_exec_t *e,
    ngx_uint_t graceful);
static void ngx_http_adcp_exec_http_closed(ngx_connection_t *c);


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

    if (e->ssl) {
        /* the TLS connection's state is allocated in c->pool */

        c->pool = ngx_create_pool(NGX_HTTP_ADCP_EXEC_SSL_POOL, e->log);
        if (c->pool == NULL) {
            ngx_close_connection(c);
            e->peer.connection = NULL;
            return NGX_ERROR;
        }

        /* nothing is written before the handshake, whichever event is first */

        c->read->handler = ngx_http_adcp_exec_http_connected;
        c->write->handler = ngx_http_adcp_exec_http_connected;

    } else {
        c->read->handler = ngx_http_adcp_exec_http_read;
        c->write->handler = ngx_http_adcp_exec_http_write;
    }

    e->timer.handler = ngx_http_adcp_exec_http_timer;
    ngx_add_timer(&e->timer, timeout);

    if (rc == NGX_OK) {
        c->write->handler(c->write);
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
    /* the peer closed after its answer: a TLS one gets our close_notify */

    ngx_http_adcp_exec_http_shutdown(e, rc == NGX_OK);

    if (e->timer.timer_set) {
        ngx_del_timer(&e->timer);
    }

    e->done(e, rc);
}


void
ngx_http_adcp_exec_http_close(ngx_http_adcp_exec_t *e)
{
    ngx_http_adcp_exec_http_shutdown(e, 0);
}


/* TLS: the connect done (or failed), the handshake next */

static void
ngx_http_adcp_exec_http_connected(ngx_event_t *ev)
{
    int                    err;
    socklen_t              len;
    ngx_connection_t      *c;
    ngx_http_adcp_exec_t  *e;

    c = ev->data;
    e = c->data;

    err = 0;
    len = sizeof(int);

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, (void *) &err, &len) == -1) {
        err = ngx_socket_errno;
    }

    if (err) {
        (void) ngx_connection_error(c, err, "adcp: connect() failed");
        ngx_http_adcp_exec_http_end(e, NGX_ERROR);
        return;
    }

    ngx_http_adcp_exec_http_handshake(e, c);
}


static void
ngx_http_adcp_exec_http_handshake(ngx_http_adcp_exec_t *e,
    ngx_connection_t *c)
{
    ngx_int_t  rc;

    if (ngx_ssl_create_connection(e->ssl, c, NGX_SSL_CLIENT) != NGX_OK) {
        ngx_http_adcp_exec_http_end(e, NGX_ERROR);
        return;
    }

    /* SNI: a host name only, never an address (RFC 6066) */

    if (!e->ssl_addr
        && SSL_set_tlsext_host_name(c->ssl->connection,
                                    (char *) e->ssl_name.data)
           == 0)
    {
        ngx_ssl_error(NGX_LOG_ERR, e->log, 0,
                      "adcp: SSL_set_tlsext_host_name(\"%V\") failed",
                      &e->ssl_name);
        ngx_http_adcp_exec_http_end(e, NGX_ERROR);
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, e->log, 0,
                   "adcp webhook TLS handshake, name \"%V\"", &e->ssl_name);

    rc = ngx_ssl_handshake(c);

    if (rc == NGX_AGAIN) {
        c->ssl->handler = ngx_http_adcp_exec_http_handshaked;
        return;
    }

    ngx_http_adcp_exec_http_handshaked(c);
}


static void
ngx_http_adcp_exec_http_handshaked(ngx_connection_t *c)
{
    ngx_http_adcp_exec_t  *e;

    e = c->data;

    if (!c->ssl->handshaked) {
        ngx_log_error(NGX_LOG_ERR, e->log, 0,
                      "adcp: no TLS handshake with the webhook \"%V\"",
                      &e->ssl_name);
        ngx_http_adcp_exec_http_end(e, NGX_ERROR);
        return;
    }

    if (ngx_http_adcp_exec_http_verify(e, c) != NGX_OK) {
        ngx_http_adcp_exec_http_end(e, NGX_ERROR);
        return;
    }

    c->read->handler = ngx_http_adcp_exec_http_read;
    c->write->handler = ngx_http_adcp_exec_http_write;

    ngx_http_adcp_exec_http_write(c->write);
}


/*
 * The peer's certificate: a chain to a trusted CA, and for the url's host
 * (a name: ngx_ssl_check_host(); an address: among its IP addresses)
 */

static ngx_int_t
ngx_http_adcp_exec_http_verify(ngx_http_adcp_exec_t *e, ngx_connection_t *c)
{
    long   rc;
    X509  *cert;

    rc = SSL_get_verify_result(c->ssl->connection);

    if (rc != X509_V_OK) {
        ngx_log_error(NGX_LOG_ERR, e->log, 0,
                      "adcp: the webhook \"%V\" presented a certificate that "
                      "is not trusted (%l: %s), not delivered",
                      &e->ssl_name, rc, X509_verify_cert_error_string(rc));
        return NGX_ERROR;
    }

    if (e->ssl_addr) {
        cert = SSL_get_peer_certificate(c->ssl->connection);

        rc = (cert && X509_check_ip_asc(cert, (char *) e->ssl_name.data, 0)
                      == 1);

        if (cert) {
            X509_free(cert);
        }

    } else {
        rc = (ngx_ssl_check_host(c, &e->ssl_name) == NGX_OK);
    }

    if (!rc) {
        ngx_log_error(NGX_LOG_ERR, e->log, 0,
                      "adcp: the webhook's certificate is not for \"%V\", "
                      "not delivered", &e->ssl_name);
        return NGX_ERROR;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, e->log, 0,
                   "adcp webhook TLS: %s, certificate for \"%V\" verified",
                   SSL_get_version(c->ssl->connection), &e->ssl_name);

    return NGX_OK;
}


/*
 * The connection closed, a TLS one through ngx_ssl_shutdown(): after a
 * complete answer our close_notify is sent (not waiting for the peer's);
 * on an error, a timeout or an exiting worker, quietly
 */

static void
ngx_http_adcp_exec_http_shutdown(ngx_http_adcp_exec_t *e,
    ngx_uint_t graceful)
{
    ngx_connection_t  *c;

    c = e->peer.connection;

    if (c == NULL) {
        return;
    }

    e->peer.connection = NULL;

    if (c->ssl) {
        c->ssl->no_wait_shutdown = 1;
        c->ssl->no_send_shutdown = !graceful;

        if (ngx_ssl_shutdown(c) == NGX_AGAIN) {

            /*
             * the close_notify waits for room in the socket (3 s at
             * most): the connection ends by itself, without e
             */

            c->log = ngx_cycle->log;
            c->read->log = ngx_cycle->log;
            c->write->log = ngx_cycle->log;
            c->pool->log = ngx_cycle->log;
            c->data = NULL;
            c->ssl->handler = ngx_http_adcp_exec_http_closed;
            return;
        }
    }

    ngx_http_adcp_exec_http_closed(c);
}


static void
ngx_http_adcp_exec_http_closed(ngx_connection_t *c)
{
    ngx_pool_t  *pool;

    pool = c->pool;

    ngx_close_connection(c);

    if (pool) {
        ngx_destroy_pool(pool);
    }
}
