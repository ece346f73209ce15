
/*
 * ngx_http_adcp_module: hiredis on nginx's event loop.
 *
 * hiredis 0.14's async context: its socket gets an ngx_connection_t, and
 * hiredis' add/del read/write hooks become level-triggered epoll
 * registrations (flags 0, so nothing is lost when hiredis reads only
 * 16 KiB a call: the event fires again while data is left).  hiredis 0.14
 * has no timers: deadlines and backoff are nginx timers (the link's and
 * the command connections', ngx_http_adcp_redis.c).
 *
 * A host name is resolved once, at start (adcp_redis), to every address
 * it has; a connection tries them in order from the one that last worked.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_http_adcp_redis_private.h"


static ngx_int_t ngx_http_adcp_redis_addrs(ngx_conf_t *cf,
    ngx_http_adcp_redis_conf_t *rcf, ngx_url_t *u);
static void ngx_http_adcp_redis_read(ngx_event_t *ev);
static void ngx_http_adcp_redis_write(ngx_event_t *ev);
static void ngx_http_adcp_redis_add_read(void *data);
static void ngx_http_adcp_redis_del_read(void *data);
static void ngx_http_adcp_redis_add_write(void *data);
static void ngx_http_adcp_redis_del_write(void *data);
static void ngx_http_adcp_redis_cleanup(void *data);
static void ngx_http_adcp_redis_on_auth(redisAsyncContext *ac, void *r,
    void *privdata);


/*
 * adcp_redis host:port | unix:/path [user=...] [password=...] [db=N];
 * the host is resolved here, once.
 */

char *
ngx_http_adcp_redis_parse(ngx_conf_t *cf, ngx_http_adcp_redis_conf_t *rcf)
{
    ngx_str_t  *value;
    ngx_url_t   u;
    ngx_uint_t  i;

    if (rcf->name.len) {
        return "is duplicate";
    }

    value = cf->args->elts;

    rcf->name = value[1];
    rcf->db = -1;

    if (ngx_strncmp(value[1].data, "unix:", 5) == 0) {
        rcf->path.data = value[1].data + 5;
        rcf->path.len = value[1].len - 5;

        if (rcf->path.len == 0) {
            return "has no unix socket path";
        }

    } else {
        ngx_memzero(&u, sizeof(ngx_url_t));

        u.url = value[1];
        u.default_port = 6379;
        u.no_resolve = 0;

        if (ngx_parse_url(cf->pool, &u) != NGX_OK || u.naddrs == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "adcp_redis \"%V\": %s", &value[1],
                               u.err ? u.err : "host not found");
            return NGX_CONF_ERROR;
        }

        if (ngx_http_adcp_redis_addrs(cf, rcf, &u) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    for (i = 2; i < cf->args->nelts; i++) {
        if (ngx_http_adcp_redis_param(cf, rcf, &value[i]) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/*
 * user=, password=, db= of an adcp_redis line (its Sentinel form too);
 * any other parameter is an error, logged without what follows its "="
 */

ngx_int_t
ngx_http_adcp_redis_param(ngx_conf_t *cf, ngx_http_adcp_redis_conf_t *rcf,
    ngx_str_t *value)
{
    u_char  *p;

    if (ngx_strncmp(value->data, "user=", 5) == 0) {
        rcf->user.data = value->data + 5;
        rcf->user.len = value->len - 5;
        return NGX_OK;
    }

    if (ngx_strncmp(value->data, "password=", 9) == 0) {
        rcf->password.data = value->data + 9;
        rcf->password.len = value->len - 9;
        return NGX_OK;
    }

    if (ngx_strncmp(value->data, "db=", 3) == 0) {
        rcf->db = ngx_atoi(value->data + 3, value->len - 3);

        if (rcf->db == NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "adcp_redis: invalid \"%V\"", value);
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    /* never echo what could be a password */

    for (p = value->data; p < value->data + value->len; p++) {
        if (*p == '=') {
            break;
        }
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "adcp_redis: unknown parameter \"%*s\"",
                       p - value->data, value->data);
    return NGX_ERROR;
}


/* every address the name resolved to, in getaddrinfo()'s order */

static ngx_int_t
ngx_http_adcp_redis_addrs(ngx_conf_t *cf, ngx_http_adcp_redis_conf_t *rcf,
    ngx_url_t *u)
{
    ngx_uint_t                   i;
    ngx_http_adcp_redis_addr_t  *a;

    rcf->addrs = ngx_palloc(cf->pool,
                            u->naddrs * sizeof(ngx_http_adcp_redis_addr_t));
    if (rcf->addrs == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < u->naddrs; i++) {
        a = &rcf->addrs[i];

        a->host.data = ngx_pnalloc(cf->pool, NGX_SOCKADDR_STRLEN + 1);
        if (a->host.data == NULL) {
            return NGX_ERROR;
        }

        a->host.len = ngx_sock_ntop(u->addrs[i].sockaddr,
                                    u->addrs[i].socklen, a->host.data,
                                    NGX_SOCKADDR_STRLEN, 0);
        a->host.data[a->host.len] = '\0';

        a->text.data = ngx_pnalloc(cf->pool, NGX_SOCKADDR_STRLEN);
        if (a->text.data == NULL) {
            return NGX_ERROR;
        }

        a->text.len = ngx_sock_ntop(u->addrs[i].sockaddr,
                                    u->addrs[i].socklen, a->text.data,
                                    NGX_SOCKADDR_STRLEN, 1);
    }

    rcf->naddrs = u->naddrs;
    rcf->port = u->port;

    return NGX_OK;
}


/* a context for io, its socket on nginx's loop, AUTH and SELECT queued */

ngx_int_t
ngx_http_adcp_redis_open(ngx_http_adcp_redis_io_t *io, void *owner,
    redisConnectCallback *on_connect, redisDisconnectCallback *on_disconnect)
{
    redisAsyncContext           *ac;
    ngx_connection_t            *c;
    ngx_http_adcp_redis_sock_t  *sock;
    ngx_http_adcp_redis_conf_t  *rcf;

    rcf = io->conf;

    if (rcf->source && rcf->source->sync(rcf, &io->gen) != NGX_OK) {
        return NGX_ERROR;
    }

    for ( ;; ) {

        if (rcf->path.len) {
            ac = redisAsyncConnectUnix((char *) rcf->path.data);

        } else {
            ac = redisAsyncConnect((char *) rcf->addrs[io->addr].host.data,
                                   (int) rcf->port);
        }

        if (ac && ac->err == 0) {
            break;
        }

        if (ac == NULL) {
            ngx_log_error(NGX_LOG_ERR, io->log, 0,
                          "adcp: redis \"%V\": cannot connect: "
                          "out of memory", &rcf->name);
            return NGX_ERROR;
        }

        /* refused at once (no route, no such family): the next address */

        if (!ngx_http_adcp_redis_next(io, ac->errstr)) {
            redisAsyncFree(ac);
            return NGX_ERROR;
        }

        redisAsyncFree(ac);
    }

    sock = ngx_alloc(sizeof(ngx_http_adcp_redis_sock_t), io->log);
    if (sock == NULL) {
        redisAsyncFree(ac);
        return NGX_ERROR;
    }

    c = ngx_get_connection(ac->c.fd, io->log);
    if (c == NULL) {
        ngx_free(sock);
        redisAsyncFree(ac);
        return NGX_ERROR;
    }

    sock->io = io;
    sock->ac = ac;
    sock->c = c;
    sock->next = 0;

    c->data = sock;
    c->read->handler = ngx_http_adcp_redis_read;
    c->write->handler = ngx_http_adcp_redis_write;
    c->read->log = io->log;
    c->write->log = io->log;

    io->ac = ac;

    ac->data = owner;
    ac->ev.data = sock;
    ac->ev.addRead = ngx_http_adcp_redis_add_read;
    ac->ev.delRead = ngx_http_adcp_redis_del_read;
    ac->ev.addWrite = ngx_http_adcp_redis_add_write;
    ac->ev.delWrite = ngx_http_adcp_redis_del_write;
    ac->ev.cleanup = ngx_http_adcp_redis_cleanup;

    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);

    /* queued now, written once connected */

    if (rcf->password.len && rcf->user.len) {
        redisAsyncCommand(ac, ngx_http_adcp_redis_on_auth, "AUTH",
                          "AUTH %b %b", rcf->user.data, rcf->user.len,
                          rcf->password.data, rcf->password.len);

    } else if (rcf->password.len) {
        redisAsyncCommand(ac, ngx_http_adcp_redis_on_auth, "AUTH",
                          "AUTH %b", rcf->password.data, rcf->password.len);
    }

    if (rcf->db >= 0) {
        redisAsyncCommand(ac, ngx_http_adcp_redis_on_auth, "SELECT",
                          "SELECT %d", (int) rcf->db);
    }

    return NGX_OK;
}


/*
 * A connection to io's address failed (err: why): logged, and on to the
 * next address (1) unless every one failed in a row (0: the next attempt
 * starts over from the one tried first)
 */

ngx_uint_t
ngx_http_adcp_redis_next(ngx_http_adcp_redis_io_t *io, const char *err)
{
    ngx_str_t                   *addr;
    ngx_http_adcp_redis_conf_t  *rcf;

    rcf = io->conf;

    if (rcf->naddrs < 2) {
        ngx_log_error(NGX_LOG_ERR, io->log, 0,
                      "adcp: redis \"%V\": connect failed: %s",
                      &rcf->name, err);
        return 0;
    }

    addr = &rcf->addrs[io->addr].text;
    io->addr = (io->addr + 1) % rcf->naddrs;

    if (++io->failed < rcf->naddrs) {
        ngx_log_error(NGX_LOG_WARN, io->log, 0,
                      "adcp: redis \"%V\": connect to %V failed: %s, "
                      "trying %V", &rcf->name, addr, err,
                      &rcf->addrs[io->addr].text);
        return 1;
    }

    ngx_log_error(NGX_LOG_ERR, io->log, 0,
                  "adcp: redis \"%V\": connect to %V failed: %s "
                  "(every address failed)", &rcf->name, addr, err);

    io->failed = 0;

    return 0;
}


/* frees the context; hiredis calls our cleanup hook from inside */

void
ngx_http_adcp_redis_close(ngx_http_adcp_redis_io_t *io)
{
    redisAsyncContext  *ac;

    ac = io->ac;

    if (ac) {
        io->ac = NULL;
        redisAsyncFree(ac);
    }
}


static void
ngx_http_adcp_redis_read(ngx_event_t *ev)
{
    ngx_connection_t            *c;
    ngx_http_adcp_redis_sock_t  *sock;

    c = ev->data;
    sock = c->data;

    redisAsyncHandleRead(sock->ac);
}


static void
ngx_http_adcp_redis_write(ngx_event_t *ev)
{
    ngx_connection_t            *c;
    ngx_http_adcp_redis_sock_t  *sock;

    c = ev->data;
    sock = c->data;

    redisAsyncHandleWrite(sock->ac);
}


/* hiredis' hooks: level-triggered registrations (flags 0) */

static void
ngx_http_adcp_redis_add_read(void *data)
{
    ngx_http_adcp_redis_sock_t *sock = data;

    if (!sock->c->read->active) {
        (void) ngx_add_event(sock->c->read, NGX_READ_EVENT, 0);
    }
}


static void
ngx_http_adcp_redis_del_read(void *data)
{
    ngx_http_adcp_redis_sock_t *sock = data;

    if (sock->c->read->active) {
        (void) ngx_del_event(sock->c->read, NGX_READ_EVENT, 0);
    }
}


static void
ngx_http_adcp_redis_add_write(void *data)
{
    ngx_http_adcp_redis_sock_t *sock = data;

    if (!sock->c->write->active) {
        (void) ngx_add_event(sock->c->write, NGX_WRITE_EVENT, 0);
    }
}


static void
ngx_http_adcp_redis_del_write(void *data)
{
    ngx_http_adcp_redis_sock_t *sock = data;

    if (sock->c->write->active) {
        (void) ngx_del_event(sock->c->write, NGX_WRITE_EVENT, 0);
    }
}


/* the context goes (hiredis closes the socket right after) */

static void
ngx_http_adcp_redis_cleanup(void *data)
{
    ngx_http_adcp_redis_sock_t *sock = data;

    ngx_connection_t          *c;
    ngx_http_adcp_redis_io_t  *io;

    c = sock->c;
    io = sock->io;

    ngx_http_adcp_redis_del_read(sock);
    ngx_http_adcp_redis_del_write(sock);

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    ngx_free_connection(c);
    c->fd = (ngx_socket_t) -1;

    if (io->ac == sock->ac) {
        io->ac = NULL;
    }

    ngx_free(sock);
}


/* the address a connection uses, for logs */

ngx_str_t *
ngx_http_adcp_redis_addr(ngx_http_adcp_redis_io_t *io)
{
    ngx_http_adcp_redis_conf_t  *rcf;

    rcf = io->conf;

    return rcf->naddrs ? &rcf->addrs[io->addr].text : &rcf->path;
}


/* AUTH and SELECT: an error reply is logged (never the password) */

static void
ngx_http_adcp_redis_on_auth(redisAsyncContext *ac, void *r, void *privdata)
{
    redisReply                  *reply = r;
    ngx_http_adcp_redis_sock_t  *sock = ac->ev.data;

    ngx_http_adcp_redis_io_t  *io;

    io = sock->io;

    if (reply && reply->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, io->log, 0,
                      "adcp: redis \"%V\": %s failed: %*s",
                      &io->conf->name, (char *) privdata,
                      (size_t) reply->len, reply->str);
    }
}
