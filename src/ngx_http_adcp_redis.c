
/*
 * ngx_http_adcp_module: Redis on nginx's event loop.
 *
 * hiredis 0.14's async context: its socket gets an ngx_connection_t, and
 * hiredis' add/del read/write hooks become level-triggered epoll
 * registrations (flags 0, so nothing is lost when hiredis reads only
 * 16 KiB a call: the event fires again while data is left).  hiredis 0.14
 * has no timers: deadlines and backoff are nginx timers.
 *
 * The link (worker 0) is subscribed to the channel.  Liveness: every
 * adcp_redis_ping the subscription is renewed on the same connection; its
 * confirmation must arrive before the next tick.  (A PING on a subscribed
 * connection is answered ["pong",""], which hiredis 0.14 dispatches as a
 * pattern message with no callback.)  Reconnects back off from 0.5 s by
 * 1.5x up to 10 s, with jitter.
 *
 * The command connection (any worker) is opened on first use; a command
 * unanswered after adcp_redis_ping closes it, and every command waiting
 * on it is told so (a NULL reply).  The next command opens it again.
 *
 * A host name is resolved once, at start, to every address it has.  A
 * connection tries them in order from the one that last worked, as
 * nginx's upstreams do: a failed connect (refused, unreachable, or past
 * the deadline) moves on to the next address at once, the commands
 * queued on it with it; only when every address failed does the link
 * back off and a command get its NULL reply.
 *
 * Nothing reconnects while the worker exits.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "ngx_http_adcp_redis.h"
#include "ngx_http_adcp_sentinel.h"


#define NGX_HTTP_ADCP_REDIS_BACKOFF_MIN  500
#define NGX_HTTP_ADCP_REDIS_BACKOFF_MAX  10000


/* a hiredis context on nginx's event loop */

typedef struct {
    redisAsyncContext               *ac;        /* the current one */
    ngx_http_adcp_redis_conf_t      *conf;
    ngx_log_t                       *log;
    ngx_uint_t                       addr;      /* the address to use */
    ngx_uint_t                       failed;    /* addresses failed in a
                                                   row */
    ngx_uint_t                       gen;       /* Sentinel: the master's
                                                   generation it uses */
} ngx_http_adcp_redis_io_t;


/* one hiredis context's socket; its own, so that a context being freed
   never touches the one that replaced it */

typedef struct {
    ngx_http_adcp_redis_io_t        *io;
    redisAsyncContext               *ac;
    ngx_connection_t                *c;
    unsigned                         next:1;    /* its connect failed and
                                                   another address is
                                                   tried: its commands go
                                                   there */
} ngx_http_adcp_redis_sock_t;


typedef struct {
    ngx_http_adcp_redis_io_t         io;
    ngx_event_t                      timer;
    ngx_uint_t                       state;
    ngx_msec_t                       backoff;
    ngx_http_adcp_redis_handlers_t   h;
    unsigned                         probe:1;     /* a renewal unanswered */
    unsigned                         closing:1;   /* by the connect
                                                     deadline */
    unsigned                         exiting:1;
} ngx_http_adcp_redis_link_t;


struct ngx_http_adcp_redis_conn_s {
    ngx_http_adcp_redis_io_t         io;
    ngx_event_t                      timer;       /* the reply deadline */
    ngx_msec_t                       deadline;    /* 0: adcp_redis_ping */
    ngx_uint_t                       pending;
    ngx_queue_t                      queue;       /* Sentinel: moved */
    unsigned                         exiting:1;
};

typedef ngx_http_adcp_redis_conn_t  ngx_http_adcp_redis_cmd_t;


struct ngx_http_adcp_redis_call_s {
    ngx_http_adcp_redis_reply_pt     handler;     /* NULL: cancelled */
    void                            *data;
    char                            *cmd;         /* formatted, kept for
                                                     the next address */
    int                              len;
    unsigned                         persist:1;   /* SUBSCRIBE: every
                                                     message, until the
                                                     connection goes */
    unsigned                         confirmed:1;
};


static ngx_int_t ngx_http_adcp_redis_addrs(ngx_conf_t *cf,
    ngx_http_adcp_redis_conf_t *rcf, ngx_url_t *u);
static ngx_int_t ngx_http_adcp_redis_open(ngx_http_adcp_redis_io_t *io,
    void *owner, redisConnectCallback *on_connect,
    redisDisconnectCallback *on_disconnect);
static void ngx_http_adcp_redis_close(ngx_http_adcp_redis_io_t *io);
static ngx_uint_t ngx_http_adcp_redis_next(ngx_http_adcp_redis_io_t *io,
    const char *err);
static void ngx_http_adcp_redis_connect(ngx_http_adcp_redis_link_t *link);
static void ngx_http_adcp_redis_backoff(ngx_http_adcp_redis_link_t *link);
static void ngx_http_adcp_redis_retry(ngx_http_adcp_redis_link_t *link,
    const char *err);
static ngx_str_t *ngx_http_adcp_redis_addr(ngx_http_adcp_redis_io_t *io);
static void ngx_http_adcp_redis_set_state(ngx_http_adcp_redis_link_t *link,
    ngx_uint_t state);
static void ngx_http_adcp_redis_timer(ngx_event_t *ev);
static void ngx_http_adcp_redis_read(ngx_event_t *ev);
static void ngx_http_adcp_redis_write(ngx_event_t *ev);
static void ngx_http_adcp_redis_add_read(void *data);
static void ngx_http_adcp_redis_del_read(void *data);
static void ngx_http_adcp_redis_add_write(void *data);
static void ngx_http_adcp_redis_del_write(void *data);
static void ngx_http_adcp_redis_cleanup(void *data);
static void ngx_http_adcp_redis_on_connect(const redisAsyncContext *ac,
    int status);
static void ngx_http_adcp_redis_on_disconnect(const redisAsyncContext *ac,
    int status);
static void ngx_http_adcp_redis_on_auth(redisAsyncContext *ac, void *r,
    void *privdata);
static void ngx_http_adcp_redis_on_subscribe(redisAsyncContext *ac, void *r,
    void *privdata);
static void ngx_http_adcp_redis_cmd_init(ngx_http_adcp_redis_cmd_t *cmd,
    ngx_http_adcp_redis_conf_t *rcf, ngx_msec_t deadline,
    ngx_uint_t cancelable);
static ngx_int_t ngx_http_adcp_redis_cmd_send(ngx_http_adcp_redis_cmd_t *cmd,
    ngx_http_adcp_redis_call_t *call);
static void ngx_http_adcp_redis_cmd_timer(ngx_event_t *ev);
static void ngx_http_adcp_redis_cmd_on_connect(const redisAsyncContext *ac,
    int status);
static void ngx_http_adcp_redis_cmd_on_disconnect(
    const redisAsyncContext *ac, int status);
static void ngx_http_adcp_redis_cmd_on_reply(redisAsyncContext *ac, void *r,
    void *privdata);


static ngx_http_adcp_redis_link_t  ngx_http_adcp_redis_link;
static ngx_http_adcp_redis_cmd_t   ngx_http_adcp_redis_cmd;
static ngx_queue_t                 ngx_http_adcp_redis_conns;


/*
 * adcp_redis host:port | unix:/path [user=...] [password=...] [db=N];
 * the host is resolved here, once.
 */

char *
ngx_http_adcp_redis_parse(ngx_conf_t *cf, ngx_http_adcp_redis_conf_t *rcf)
{
    u_char     *p;
    ngx_str_t  *value;
    ngx_url_t   u;
    ngx_uint_t  i;

    if (rcf->name.len) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strncmp(value[1].data, "sentinel=", 9) == 0) {
        return ngx_http_adcp_sentinel_parse(cf, rcf);
    }

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

        if (ngx_strncmp(value[i].data, "user=", 5) == 0) {
            rcf->user.data = value[i].data + 5;
            rcf->user.len = value[i].len - 5;
            continue;
        }

        if (ngx_strncmp(value[i].data, "password=", 9) == 0) {
            rcf->password.data = value[i].data + 9;
            rcf->password.len = value[i].len - 9;
            continue;
        }

        if (ngx_strncmp(value[i].data, "db=", 3) == 0) {
            rcf->db = ngx_atoi(value[i].data + 3, value[i].len - 3);

            if (rcf->db == NGX_ERROR) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "adcp_redis: invalid \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        /* never echo what could be a password */

        for (p = value[i].data; p < value[i].data + value[i].len; p++) {
            if (*p == '=') {
                break;
            }
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "adcp_redis: unknown parameter \"%*s\"",
                           p - value[i].data, value[i].data);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
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


ngx_int_t
ngx_http_adcp_redis_start(ngx_cycle_t *cycle, ngx_http_adcp_redis_conf_t *rcf,
    ngx_http_adcp_redis_handlers_t *h)
{
    ngx_http_adcp_redis_link_t  *link;

    link = &ngx_http_adcp_redis_link;

    ngx_memzero(link, sizeof(ngx_http_adcp_redis_link_t));

    link->io.conf = rcf;
    link->io.log = cycle->log;
    link->h = *h;
    link->backoff = NGX_HTTP_ADCP_REDIS_BACKOFF_MIN;

    link->timer.handler = ngx_http_adcp_redis_timer;
    link->timer.data = link;
    link->timer.log = cycle->log;
    link->timer.cancelable = 1;

    if (rcf->sentinel) {
        ngx_http_adcp_sentinel_start(cycle, rcf);
    }

    ngx_http_adcp_redis_connect(link);

    return NGX_OK;
}


/* the worker exits: close, cancel, and never reconnect */

void
ngx_http_adcp_redis_stop(void)
{
    ngx_http_adcp_redis_cmd_t   *cmd;
    ngx_http_adcp_redis_conf_t  *rcf;
    ngx_http_adcp_redis_link_t  *link;

    link = &ngx_http_adcp_redis_link;
    cmd = &ngx_http_adcp_redis_cmd;

    rcf = link->io.conf ? link->io.conf : cmd->io.conf;

    if (rcf && rcf->sentinel) {
        ngx_http_adcp_sentinel_stop(rcf);
    }

    cmd->exiting = 1;

    if (cmd->timer.timer_set) {
        ngx_del_timer(&cmd->timer);
    }

    ngx_http_adcp_redis_close(&cmd->io);

    if (link->io.conf == NULL) {
        return;
    }

    link->exiting = 1;

    if (link->timer.timer_set) {
        ngx_del_timer(&link->timer);
    }

    ngx_http_adcp_redis_close(&link->io);
    link->io.conf = NULL;
}


/* a context for io, its socket on nginx's loop, AUTH and SELECT queued */

static ngx_int_t
ngx_http_adcp_redis_open(ngx_http_adcp_redis_io_t *io, void *owner,
    redisConnectCallback *on_connect, redisDisconnectCallback *on_disconnect)
{
    redisAsyncContext           *ac;
    ngx_connection_t            *c;
    ngx_http_adcp_redis_sock_t  *sock;
    ngx_http_adcp_redis_conf_t  *rcf;

    rcf = io->conf;

    if (rcf->sentinel
        && ngx_http_adcp_sentinel_sync(rcf, &io->gen) != NGX_OK)
    {
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

static ngx_uint_t
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

static void
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
ngx_http_adcp_redis_connect(ngx_http_adcp_redis_link_t *link)
{
    ngx_http_adcp_redis_conf_t  *rcf;

    rcf = link->io.conf;

    ngx_http_adcp_redis_set_state(link, NGX_HTTP_ADCP_REDIS_CONNECTING);

    if (ngx_http_adcp_redis_open(&link->io, link,
                                 ngx_http_adcp_redis_on_connect,
                                 ngx_http_adcp_redis_on_disconnect)
        != NGX_OK)
    {
        ngx_http_adcp_redis_backoff(link);
        return;
    }

    link->probe = 0;

    redisAsyncCommand(link->io.ac, ngx_http_adcp_redis_on_subscribe, NULL,
                      "SUBSCRIBE %b", rcf->channel.data, rcf->channel.len);

    /* the connect deadline */

    ngx_add_timer(&link->timer, rcf->ping);
}


static void
ngx_http_adcp_redis_backoff(ngx_http_adcp_redis_link_t *link)
{
    ngx_msec_t  delay;

    if (link->exiting || ngx_exiting || ngx_terminate || ngx_quit) {
        ngx_http_adcp_redis_set_state(link, NGX_HTTP_ADCP_REDIS_OFF);
        return;
    }

    ngx_http_adcp_redis_set_state(link, NGX_HTTP_ADCP_REDIS_BACKOFF);

    if (link->io.conf->sentinel) {
        ngx_http_adcp_sentinel_lost(link->io.conf, "the link failed");
    }

    /* +/- 25 % of jitter */

    delay = link->backoff * 3 / 4 + ngx_random() % (link->backoff / 2 + 1);

    link->backoff = ngx_min(link->backoff * 3 / 2,
                            NGX_HTTP_ADCP_REDIS_BACKOFF_MAX);

    if (link->timer.timer_set) {
        ngx_del_timer(&link->timer);
    }

    ngx_add_timer(&link->timer, delay);
}


static void
ngx_http_adcp_redis_set_state(ngx_http_adcp_redis_link_t *link,
    ngx_uint_t state)
{
    link->state = state;

    if (link->h.state) {
        link->h.state(state, link->h.data);
    }
}


static void
ngx_http_adcp_redis_timer(ngx_event_t *ev)
{
    ngx_http_adcp_redis_link_t *link = ev->data;

    ngx_uint_t                   connected;
    ngx_http_adcp_redis_conf_t  *rcf;

    rcf = link->io.conf;

    switch (link->state) {

    case NGX_HTTP_ADCP_REDIS_BACKOFF:
        ngx_http_adcp_redis_connect(link);
        return;

    case NGX_HTTP_ADCP_REDIS_CONNECTING:

        /* SUBSCRIBE is safe to send again: the next address at once */

        connected = link->io.ac
                    && (link->io.ac->c.flags & REDIS_CONNECTED);

        link->closing = 1;
        ngx_http_adcp_redis_close(&link->io);
        link->closing = 0;

        ngx_http_adcp_redis_retry(link, connected
                                        ? "no subscription in time"
                                        : "connect timed out");
        return;

    case NGX_HTTP_ADCP_REDIS_SUBSCRIBED:

        if (!link->probe) {
            link->probe = 1;

            if (link->h.renew) {
                link->h.renew(link->h.data);
            }

            if (link->io.ac
                && redisAsyncCommand(link->io.ac,
                                     ngx_http_adcp_redis_on_subscribe, NULL,
                                     "SUBSCRIBE %b", rcf->channel.data,
                                     rcf->channel.len)
                   == REDIS_OK)
            {
                ngx_add_timer(ev, rcf->ping);
                return;
            }
        }

        ngx_log_error(NGX_LOG_ERR, link->io.log, 0,
                      "adcp: redis \"%V\": no answer within %M ms",
                      &rcf->name, rcf->ping);
        break;

    default:
        return;
    }

    ngx_http_adcp_redis_close(&link->io);

    if (link->state != NGX_HTTP_ADCP_REDIS_BACKOFF) {
        ngx_http_adcp_redis_backoff(link);
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


static void
ngx_http_adcp_redis_on_connect(const redisAsyncContext *ac, int status)
{
    ngx_http_adcp_redis_link_t *link = ac->data;

    if (status == REDIS_OK) {
        link->io.failed = 0;
        ngx_log_error(NGX_LOG_INFO, link->io.log, 0,
                      "adcp: redis \"%V\": connected to %V",
                      &link->io.conf->name,
                      ngx_http_adcp_redis_addr(&link->io));
        return;
    }

    /* hiredis frees the context after this */

    if (link->io.ac == ac) {
        link->io.ac = NULL;
    }

    ngx_http_adcp_redis_retry(link, ac->errstr);
}


/* the link's connect failed: the next address at once, or back off */

static void
ngx_http_adcp_redis_retry(ngx_http_adcp_redis_link_t *link, const char *err)
{
    if (ngx_http_adcp_redis_next(&link->io, err)
        && !link->exiting && !ngx_exiting && !ngx_terminate && !ngx_quit)
    {
        ngx_http_adcp_redis_connect(link);
        return;
    }

    ngx_http_adcp_redis_backoff(link);
}


/* the address a connection uses, for logs */

static ngx_str_t *
ngx_http_adcp_redis_addr(ngx_http_adcp_redis_io_t *io)
{
    ngx_http_adcp_redis_conf_t  *rcf;

    rcf = io->conf;

    return rcf->naddrs ? &rcf->addrs[io->addr].text : &rcf->path;
}


static void
ngx_http_adcp_redis_on_disconnect(const redisAsyncContext *ac, int status)
{
    ngx_http_adcp_redis_link_t *link = ac->data;

    if (link->io.conf == NULL) {
        return;
    }

    if (status != REDIS_OK) {
        ngx_log_error(NGX_LOG_ERR, link->io.log, 0,
                      "adcp: redis \"%V\": connection lost: %s",
                      &link->io.conf->name, ac->errstr);
    }

    if (link->io.ac == ac) {
        link->io.ac = NULL;
    }

    if (link->state != NGX_HTTP_ADCP_REDIS_BACKOFF && !link->closing) {
        ngx_http_adcp_redis_backoff(link);
    }
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


static void
ngx_http_adcp_redis_on_subscribe(redisAsyncContext *ac, void *r,
    void *privdata)
{
    redisReply                  *reply = r;
    ngx_str_t                    message;
    ngx_http_adcp_redis_link_t  *link = ac->data;

    if (reply == NULL || link->io.conf == NULL) {
        return;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, link->io.log, 0,
                      "adcp: redis \"%V\": SUBSCRIBE failed: %*s",
                      &link->io.conf->name, (size_t) reply->len, reply->str);
        return;
    }

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 3
        || reply->element[0]->type != REDIS_REPLY_STRING)
    {
        return;
    }

    if (ngx_strcmp(reply->element[0]->str, "subscribe") == 0) {

        if (link->state == NGX_HTTP_ADCP_REDIS_SUBSCRIBED) {
            if (link->probe) {
                link->probe = 0;

                if (link->h.renewed) {
                    link->h.renewed(link->h.data);
                }
            }

            return;
        }

        ngx_log_error(NGX_LOG_NOTICE, link->io.log, 0,
                      "adcp: redis \"%V\": subscribed to \"%V\" on %V",
                      &link->io.conf->name, &link->io.conf->channel,
                      ngx_http_adcp_redis_addr(&link->io));

        link->probe = 0;
        link->backoff = NGX_HTTP_ADCP_REDIS_BACKOFF_MIN;

        if (link->timer.timer_set) {
            ngx_del_timer(&link->timer);
        }

        ngx_add_timer(&link->timer, link->io.conf->ping);

        ngx_http_adcp_redis_set_state(link, NGX_HTTP_ADCP_REDIS_SUBSCRIBED);

        return;
    }

    if (ngx_strcmp(reply->element[0]->str, "message") == 0
        && reply->element[2]->type == REDIS_REPLY_STRING)
    {
        message.data = (u_char *) reply->element[2]->str;
        message.len = reply->element[2]->len;

        link->h.message(&message, link->h.data);
    }
}


/*
 * A command on this worker's command connection, opened on first use.
 * The handler gets the reply, or NULL; a cancelled call is answered to
 * nobody.  NULL: the command could not be queued.
 */

ngx_http_adcp_redis_call_t *
ngx_http_adcp_redis_command(ngx_http_adcp_redis_conf_t *rcf,
    ngx_http_adcp_redis_reply_pt handler, void *data, int argc,
    const char **argv, const size_t *argvlen)
{
    ngx_http_adcp_redis_cmd_t  *cmd;

    cmd = &ngx_http_adcp_redis_cmd;

    if (rcf->name.len == 0) {
        return NULL;
    }

    if (cmd->io.conf == NULL) {
        /* an exiting worker waits for its answers (admin replies) */
        ngx_http_adcp_redis_cmd_init(cmd, rcf, 0, 0);
    }

    return ngx_http_adcp_redis_conn_command(cmd, handler, data, argc, argv,
                                            argvlen);
}


/*
 * Another command-style connection of this worker (e.g. one that blocks
 * in XREADGROUP): its replies are due within deadline (0: adcp_redis_ping);
 * a cancelable deadline does not keep an exiting worker alive.
 */

ngx_http_adcp_redis_conn_t *
ngx_http_adcp_redis_conn_create(ngx_http_adcp_redis_conf_t *rcf,
    ngx_msec_t deadline, ngx_uint_t cancelable, ngx_log_t *log)
{
    ngx_http_adcp_redis_conn_t  *conn;

    if (rcf->name.len == 0) {
        return NULL;
    }

    conn = ngx_calloc(sizeof(ngx_http_adcp_redis_conn_t), log);
    if (conn == NULL) {
        return NULL;
    }

    ngx_http_adcp_redis_cmd_init(conn, rcf, deadline, cancelable);

    if (ngx_http_adcp_redis_conns.next == NULL) {
        ngx_queue_init(&ngx_http_adcp_redis_conns);
    }

    ngx_queue_insert_tail(&ngx_http_adcp_redis_conns, &conn->queue);

    return conn;
}


/* closed: every call waiting is answered NULL, then it is freed */

void
ngx_http_adcp_redis_conn_destroy(ngx_http_adcp_redis_conn_t *conn)
{
    conn->exiting = 1;

    if (conn->timer.timer_set) {
        ngx_del_timer(&conn->timer);
    }

    ngx_http_adcp_redis_close(&conn->io);

    ngx_queue_remove(&conn->queue);

    ngx_free(conn);
}


ngx_http_adcp_redis_call_t *
ngx_http_adcp_redis_conn_command(ngx_http_adcp_redis_conn_t *cmd,
    ngx_http_adcp_redis_reply_pt handler, void *data, int argc,
    const char **argv, const size_t *argvlen)
{
    ngx_http_adcp_redis_call_t  *call;

    if (cmd->exiting) {
        return NULL;
    }

    if (cmd->io.ac == NULL) {
        cmd->pending = 0;
    }

    call = ngx_alloc(sizeof(ngx_http_adcp_redis_call_t), cmd->io.log);
    if (call == NULL) {
        return NULL;
    }

    call->handler = handler;
    call->data = data;
    call->persist = 0;
    call->confirmed = 0;
    call->len = redisFormatCommandArgv(&call->cmd, argc, argv, argvlen);

    if (call->len < 0) {
        ngx_free(call);
        return NULL;
    }

    if (ngx_http_adcp_redis_cmd_send(cmd, call) != NGX_OK) {
        redisFreeCommand(call->cmd);
        ngx_free(call);
        return NULL;
    }

    cmd->pending++;

    return call;
}


/*
 * SUBSCRIBE (or PSUBSCRIBE) on a connection of its own: the handler gets
 * the confirmation and every message, then NULL once the connection goes
 */

ngx_http_adcp_redis_call_t *
ngx_http_adcp_redis_conn_subscribe(ngx_http_adcp_redis_conn_t *cmd,
    ngx_http_adcp_redis_reply_pt handler, void *data, int argc,
    const char **argv, const size_t *argvlen)
{
    ngx_http_adcp_redis_call_t  *call;

    call = ngx_http_adcp_redis_conn_command(cmd, handler, data, argc, argv,
                                            argvlen);
    if (call) {
        call->persist = 1;
    }

    return call;
}


/* on the connection, opened first when there is none */

static ngx_int_t
ngx_http_adcp_redis_cmd_send(ngx_http_adcp_redis_cmd_t *cmd,
    ngx_http_adcp_redis_call_t *call)
{
    if (cmd->exiting) {
        return NGX_ERROR;
    }

    if (cmd->io.ac == NULL
        && ngx_http_adcp_redis_open(&cmd->io, cmd,
                                    ngx_http_adcp_redis_cmd_on_connect,
                                    ngx_http_adcp_redis_cmd_on_disconnect)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (redisAsyncFormattedCommand(cmd->io.ac,
                                   ngx_http_adcp_redis_cmd_on_reply, call,
                                   call->cmd, call->len)
        != REDIS_OK)
    {
        return NGX_ERROR;
    }

    if (!cmd->timer.timer_set) {
        ngx_add_timer(&cmd->timer, cmd->deadline);
    }

    return NGX_OK;
}


static void
ngx_http_adcp_redis_cmd_init(ngx_http_adcp_redis_cmd_t *cmd,
    ngx_http_adcp_redis_conf_t *rcf, ngx_msec_t deadline,
    ngx_uint_t cancelable)
{
    cmd->io.conf = rcf;
    cmd->io.log = ngx_cycle->log;
    cmd->deadline = deadline ? deadline : rcf->ping;
    cmd->timer.handler = ngx_http_adcp_redis_cmd_timer;
    cmd->timer.data = cmd;
    cmd->timer.log = ngx_cycle->log;
    cmd->timer.cancelable = cancelable ? 1 : 0;
}


void
ngx_http_adcp_redis_cancel(ngx_http_adcp_redis_call_t *call)
{
    call->handler = NULL;
}


/* a command sequence went wrong half way (a MULTI left open): start over */

void
ngx_http_adcp_redis_reset(void)
{
    ngx_http_adcp_redis_close(&ngx_http_adcp_redis_cmd.io);
}


static void
ngx_http_adcp_redis_cmd_timer(ngx_event_t *ev)
{
    ngx_http_adcp_redis_cmd_t *cmd = ev->data;

    ngx_http_adcp_redis_sock_t  *sock;

    /* not even connected: the commands go on to the next address */

    if (cmd->io.ac && !(cmd->io.ac->c.flags & REDIS_CONNECTED)) {
        sock = cmd->io.ac->ev.data;
        sock->next = ngx_http_adcp_redis_next(&cmd->io, "timed out");
        ngx_http_adcp_redis_close(&cmd->io);
        return;
    }

    ngx_log_error(NGX_LOG_ERR, cmd->io.log, 0,
                  "adcp: redis \"%V\": no answer to a command within %M ms "
                  "from %V", &cmd->io.conf->name, cmd->deadline,
                  ngx_http_adcp_redis_addr(&cmd->io));

    /*
     * what was sent may have run: answered NULL, never sent again; the
     * next connection tries the next address
     */

    if (cmd->io.conf->naddrs > 1) {
        cmd->io.addr = (cmd->io.addr + 1) % cmd->io.conf->naddrs;
    }

    ngx_http_adcp_redis_close(&cmd->io);
}


static void
ngx_http_adcp_redis_cmd_on_connect(const redisAsyncContext *ac, int status)
{
    ngx_http_adcp_redis_cmd_t *cmd = ac->data;

    ngx_http_adcp_redis_sock_t  *sock;

    if (status == REDIS_OK) {
        cmd->io.failed = 0;
        ngx_log_debug2(NGX_LOG_DEBUG_EVENT, cmd->io.log, 0,
                       "adcp: redis \"%V\": connected to %V",
                       &cmd->io.conf->name,
                       ngx_http_adcp_redis_addr(&cmd->io));
        return;
    }

    /* hiredis frees the context after this, its commands answered NULL */

    sock = ac->ev.data;
    sock->next = ngx_http_adcp_redis_next(&cmd->io, ac->errstr);

    if (cmd->io.ac == ac) {
        cmd->io.ac = NULL;
    }
}


static void
ngx_http_adcp_redis_cmd_on_disconnect(const redisAsyncContext *ac,
    int status)
{
    ngx_http_adcp_redis_cmd_t *cmd = ac->data;

    if (status != REDIS_OK && !cmd->exiting) {
        ngx_log_error(NGX_LOG_ERR, cmd->io.log, 0,
                      "adcp: redis \"%V\": connection lost: %s",
                      &cmd->io.conf->name, ac->errstr);
    }

    if (cmd->io.ac == ac) {
        cmd->io.ac = NULL;
    }
}


static void
ngx_http_adcp_redis_cmd_on_reply(redisAsyncContext *ac, void *r,
    void *privdata)
{
    ngx_http_adcp_redis_cmd_t   *cmd = ac->data;
    ngx_http_adcp_redis_call_t  *call = privdata;

    ngx_http_adcp_redis_sock_t  *sock;

    sock = ac->ev.data;

    if (r && cmd->io.conf->sentinel
        && ((redisReply *) r)->type == REDIS_REPLY_ERROR
        && ngx_strncmp(((redisReply *) r)->str, "READONLY", 8) == 0)
    {
        ngx_http_adcp_sentinel_lost(cmd->io.conf, "a READONLY reply");
    }

    /* a subscription: its confirmation counts as the reply, then each
       message goes to the handler too */

    if (r && call->persist && call->confirmed) {
        if (call->handler) {
            call->handler(r, call->data);
        }

        return;
    }

    if (r && call->persist) {
        call->confirmed = 1;

        if (cmd->pending) {
            cmd->pending--;
        }

        if (cmd->pending == 0 && cmd->timer.timer_set) {
            ngx_del_timer(&cmd->timer);
        }

        if (call->handler) {
            call->handler(r, call->data);
        }

        return;
    }

    /*
     * its connection failed to connect: the same command (answered or
     * not: a MULTI's commands go on together), on the next address
     */

    if (r == NULL && sock->next) {

        if (ngx_http_adcp_redis_cmd_send(cmd, call) == NGX_OK) {
            return;
        }

        sock->next = 0;
    }

    /* a subscription's end: its confirmation was counted already */

    if (!call->confirmed) {

        if (cmd->pending) {
            cmd->pending--;
        }

        if (cmd->pending == 0) {
            if (cmd->timer.timer_set) {
                ngx_del_timer(&cmd->timer);
            }

        } else if (r) {
            ngx_add_timer(&cmd->timer, cmd->deadline);
        }
    }

    if (call->handler) {
        call->handler(r, call->data);
    }

    redisFreeCommand(call->cmd);
    ngx_free(call);
}


/*
 * Sentinel named another master: every connection of this worker to the
 * old one closed (their commands answered NULL), the link reconnected now
 */

void
ngx_http_adcp_redis_moved(ngx_http_adcp_redis_conf_t *rcf)
{
    ngx_uint_t                   gen;
    ngx_queue_t                 *q;
    ngx_http_adcp_redis_cmd_t   *cmd;
    ngx_http_adcp_redis_conn_t  *conn;
    ngx_http_adcp_redis_link_t  *link;

    link = &ngx_http_adcp_redis_link;
    cmd = &ngx_http_adcp_redis_cmd;

    (void) ngx_http_adcp_sentinel_sync(rcf, &gen);

    if (cmd->io.conf == rcf && cmd->io.ac && cmd->io.gen != gen) {
        ngx_http_adcp_redis_close(&cmd->io);
    }

    if (ngx_http_adcp_redis_conns.next) {

    again:

        for (q = ngx_queue_head(&ngx_http_adcp_redis_conns);
             q != ngx_queue_sentinel(&ngx_http_adcp_redis_conns);
             q = ngx_queue_next(q))
        {
            conn = ngx_queue_data(q, ngx_http_adcp_redis_conn_t, queue);

            if (conn->io.conf == rcf && conn->io.ac && conn->io.gen != gen) {
                ngx_http_adcp_redis_close(&conn->io);
                goto again;
            }
        }
    }

    if (link->io.conf != rcf || link->exiting
        || (link->io.ac && link->io.gen == gen))
    {
        return;
    }

    link->closing = 1;
    ngx_http_adcp_redis_close(&link->io);
    link->closing = 0;

    if (link->timer.timer_set) {
        ngx_del_timer(&link->timer);
    }

    link->backoff = NGX_HTTP_ADCP_REDIS_BACKOFF_MIN;

    if (rcf->naddrs) {
        ngx_http_adcp_redis_connect(link);

    } else {
        ngx_http_adcp_redis_backoff(link);
    }
}
