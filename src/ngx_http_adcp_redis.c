
/*
 * ngx_http_adcp_module: the Redis link.
 *
 * hiredis 0.14's async context on nginx's event loop: its socket gets an
 * ngx_connection_t, and hiredis' add/del read/write hooks become
 * level-triggered epoll registrations (flags 0, so nothing is lost when
 * hiredis reads only 16 KiB a call: the event fires again while data is
 * left).  hiredis 0.14 has no timers: the connect deadline, the liveness
 * probe and the reconnect backoff are one nginx timer.
 *
 * Liveness: every adcp_redis_ping the subscription is renewed on the same
 * connection; its confirmation must arrive before the next tick.  (A PING
 * on a subscribed connection is answered ["pong",""], which hiredis 0.14
 * dispatches as a pattern message with no callback.)
 *
 * Reconnects back off from 0.5 s by 1.5x up to 10 s, with jitter.
 * Nothing reconnects while the worker exits.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "ngx_http_adcp_redis.h"


#define NGX_HTTP_ADCP_REDIS_BACKOFF_MIN  500
#define NGX_HTTP_ADCP_REDIS_BACKOFF_MAX  10000


typedef struct {
    ngx_http_adcp_redis_conf_t      *conf;
    redisAsyncContext               *ac;
    ngx_connection_t                *c;
    ngx_event_t                      timer;
    ngx_uint_t                       state;
    ngx_msec_t                       backoff;
    ngx_http_adcp_redis_message_pt   message;
    ngx_http_adcp_redis_state_pt     state_handler;
    void                            *data;
    ngx_log_t                       *log;
    unsigned                         probe:1;     /* a renewal unanswered */
    unsigned                         exiting:1;
} ngx_http_adcp_redis_link_t;


static void ngx_http_adcp_redis_connect(ngx_http_adcp_redis_link_t *link);
static void ngx_http_adcp_redis_close(ngx_http_adcp_redis_link_t *link);
static void ngx_http_adcp_redis_backoff(ngx_http_adcp_redis_link_t *link);
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
static void ngx_http_adcp_redis_on_reply(redisAsyncContext *ac, void *r,
    void *privdata);
static void ngx_http_adcp_redis_on_subscribe(redisAsyncContext *ac, void *r,
    void *privdata);


static ngx_http_adcp_redis_link_t  ngx_http_adcp_redis_link;


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

        rcf->host.data = ngx_pnalloc(cf->pool, NGX_SOCKADDR_STRLEN + 1);
        if (rcf->host.data == NULL) {
            return NGX_CONF_ERROR;
        }

        rcf->host.len = ngx_sock_ntop(u.addrs[0].sockaddr,
                                      u.addrs[0].socklen, rcf->host.data,
                                      NGX_SOCKADDR_STRLEN, 0);
        rcf->host.data[rcf->host.len] = '\0';
        rcf->port = u.port;
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


ngx_int_t
ngx_http_adcp_redis_start(ngx_cycle_t *cycle, ngx_http_adcp_redis_conf_t *rcf,
    ngx_http_adcp_redis_message_pt message, ngx_http_adcp_redis_state_pt state,
    void *data)
{
    ngx_http_adcp_redis_link_t  *link;

    link = &ngx_http_adcp_redis_link;

    ngx_memzero(link, sizeof(ngx_http_adcp_redis_link_t));

    link->conf = rcf;
    link->message = message;
    link->state_handler = state;
    link->data = data;
    link->log = cycle->log;
    link->backoff = NGX_HTTP_ADCP_REDIS_BACKOFF_MIN;

    link->timer.handler = ngx_http_adcp_redis_timer;
    link->timer.data = link;
    link->timer.log = cycle->log;
    link->timer.cancelable = 1;

    ngx_http_adcp_redis_connect(link);

    return NGX_OK;
}


/* the worker exits: close, cancel, and never reconnect */

void
ngx_http_adcp_redis_stop(void)
{
    ngx_http_adcp_redis_link_t  *link;

    link = &ngx_http_adcp_redis_link;

    if (link->conf == NULL) {
        return;
    }

    link->exiting = 1;

    if (link->timer.timer_set) {
        ngx_del_timer(&link->timer);
    }

    ngx_http_adcp_redis_close(link);
    link->conf = NULL;
}


static void
ngx_http_adcp_redis_connect(ngx_http_adcp_redis_link_t *link)
{
    redisAsyncContext           *ac;
    ngx_connection_t            *c;
    ngx_http_adcp_redis_conf_t  *rcf;

    rcf = link->conf;

    ngx_http_adcp_redis_set_state(link, NGX_HTTP_ADCP_REDIS_CONNECTING);

    if (rcf->path.len) {
        ac = redisAsyncConnectUnix((char *) rcf->path.data);

    } else {
        ac = redisAsyncConnect((char *) rcf->host.data, (int) rcf->port);
    }

    if (ac == NULL || ac->err) {
        ngx_log_error(NGX_LOG_ERR, link->log, 0,
                      "adcp: redis \"%V\": cannot connect: %s", &rcf->name,
                      ac ? ac->errstr : "out of memory");

        if (ac) {
            redisAsyncFree(ac);
        }

        ngx_http_adcp_redis_backoff(link);
        return;
    }

    c = ngx_get_connection(ac->c.fd, link->log);
    if (c == NULL) {
        redisAsyncFree(ac);
        ngx_http_adcp_redis_backoff(link);
        return;
    }

    c->data = link;
    c->read->handler = ngx_http_adcp_redis_read;
    c->write->handler = ngx_http_adcp_redis_write;
    c->read->log = link->log;
    c->write->log = link->log;

    link->ac = ac;
    link->c = c;
    link->probe = 0;

    ac->data = link;
    ac->ev.data = link;
    ac->ev.addRead = ngx_http_adcp_redis_add_read;
    ac->ev.delRead = ngx_http_adcp_redis_del_read;
    ac->ev.addWrite = ngx_http_adcp_redis_add_write;
    ac->ev.delWrite = ngx_http_adcp_redis_del_write;
    ac->ev.cleanup = ngx_http_adcp_redis_cleanup;

    redisAsyncSetConnectCallback(ac, ngx_http_adcp_redis_on_connect);
    redisAsyncSetDisconnectCallback(ac, ngx_http_adcp_redis_on_disconnect);

    /* queued now, written once connected */

    if (rcf->password.len && rcf->user.len) {
        redisAsyncCommand(ac, ngx_http_adcp_redis_on_reply, "AUTH",
                          "AUTH %b %b", rcf->user.data, rcf->user.len,
                          rcf->password.data, rcf->password.len);

    } else if (rcf->password.len) {
        redisAsyncCommand(ac, ngx_http_adcp_redis_on_reply, "AUTH",
                          "AUTH %b", rcf->password.data, rcf->password.len);
    }

    if (rcf->db >= 0) {
        redisAsyncCommand(ac, ngx_http_adcp_redis_on_reply, "SELECT",
                          "SELECT %d", (int) rcf->db);
    }

    redisAsyncCommand(ac, ngx_http_adcp_redis_on_subscribe, NULL,
                      "SUBSCRIBE %b", rcf->channel.data, rcf->channel.len);

    /* the connect deadline */

    ngx_add_timer(&link->timer, rcf->ping);
}


/* frees the context; hiredis calls our cleanup hook from inside */

static void
ngx_http_adcp_redis_close(ngx_http_adcp_redis_link_t *link)
{
    redisAsyncContext  *ac;

    ac = link->ac;

    if (ac) {
        link->ac = NULL;
        redisAsyncFree(ac);
    }
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

    if (link->state_handler) {
        link->state_handler(state, link->data);
    }
}


static void
ngx_http_adcp_redis_timer(ngx_event_t *ev)
{
    ngx_http_adcp_redis_link_t *link = ev->data;

    switch (link->state) {

    case NGX_HTTP_ADCP_REDIS_BACKOFF:
        ngx_http_adcp_redis_connect(link);
        return;

    case NGX_HTTP_ADCP_REDIS_CONNECTING:
        ngx_log_error(NGX_LOG_ERR, link->log, 0,
                      "adcp: redis \"%V\": no subscription within %M ms",
                      &link->conf->name, link->conf->ping);
        break;

    case NGX_HTTP_ADCP_REDIS_SUBSCRIBED:

        if (!link->probe) {
            link->probe = 1;

            if (redisAsyncCommand(link->ac, ngx_http_adcp_redis_on_subscribe,
                                  NULL, "SUBSCRIBE %b",
                                  link->conf->channel.data,
                                  link->conf->channel.len)
                == REDIS_OK)
            {
                ngx_add_timer(ev, link->conf->ping);
                return;
            }
        }

        ngx_log_error(NGX_LOG_ERR, link->log, 0,
                      "adcp: redis \"%V\": no answer within %M ms",
                      &link->conf->name, link->conf->ping);
        break;

    default:
        return;
    }

    ngx_http_adcp_redis_close(link);

    if (link->state != NGX_HTTP_ADCP_REDIS_BACKOFF) {
        ngx_http_adcp_redis_backoff(link);
    }
}


static void
ngx_http_adcp_redis_read(ngx_event_t *ev)
{
    ngx_connection_t            *c;
    ngx_http_adcp_redis_link_t  *link;

    c = ev->data;
    link = c->data;

    if (link->ac) {
        redisAsyncHandleRead(link->ac);
    }
}


static void
ngx_http_adcp_redis_write(ngx_event_t *ev)
{
    ngx_connection_t            *c;
    ngx_http_adcp_redis_link_t  *link;

    c = ev->data;
    link = c->data;

    if (link->ac) {
        redisAsyncHandleWrite(link->ac);
    }
}


/* hiredis' hooks: level-triggered registrations (flags 0) */

static void
ngx_http_adcp_redis_add_read(void *data)
{
    ngx_http_adcp_redis_link_t *link = data;

    if (link->c && !link->c->read->active) {
        (void) ngx_add_event(link->c->read, NGX_READ_EVENT, 0);
    }
}


static void
ngx_http_adcp_redis_del_read(void *data)
{
    ngx_http_adcp_redis_link_t *link = data;

    if (link->c && link->c->read->active) {
        (void) ngx_del_event(link->c->read, NGX_READ_EVENT, 0);
    }
}


static void
ngx_http_adcp_redis_add_write(void *data)
{
    ngx_http_adcp_redis_link_t *link = data;

    if (link->c && !link->c->write->active) {
        (void) ngx_add_event(link->c->write, NGX_WRITE_EVENT, 0);
    }
}


static void
ngx_http_adcp_redis_del_write(void *data)
{
    ngx_http_adcp_redis_link_t *link = data;

    if (link->c && link->c->write->active) {
        (void) ngx_del_event(link->c->write, NGX_WRITE_EVENT, 0);
    }
}


/* the context goes (hiredis closes the socket right after) */

static void
ngx_http_adcp_redis_cleanup(void *data)
{
    ngx_http_adcp_redis_link_t *link = data;

    ngx_connection_t  *c;

    c = link->c;

    if (c == NULL) {
        return;
    }

    ngx_http_adcp_redis_del_read(link);
    ngx_http_adcp_redis_del_write(link);

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    c->fd = (ngx_socket_t) -1;
    ngx_free_connection(c);

    link->c = NULL;
    link->ac = NULL;
}


static void
ngx_http_adcp_redis_on_connect(const redisAsyncContext *ac, int status)
{
    ngx_http_adcp_redis_link_t *link = ac->data;

    if (status == REDIS_OK) {
        ngx_log_error(NGX_LOG_INFO, link->log, 0,
                      "adcp: redis \"%V\": connected", &link->conf->name);
        return;
    }

    /* hiredis frees the context after this */

    ngx_log_error(NGX_LOG_ERR, link->log, 0,
                  "adcp: redis \"%V\": connect failed: %s",
                  &link->conf->name, ac->errstr);

    link->ac = NULL;

    ngx_http_adcp_redis_backoff(link);
}


static void
ngx_http_adcp_redis_on_disconnect(const redisAsyncContext *ac, int status)
{
    ngx_http_adcp_redis_link_t *link = ac->data;

    if (link->conf == NULL) {
        return;
    }

    if (status != REDIS_OK) {
        ngx_log_error(NGX_LOG_ERR, link->log, 0,
                      "adcp: redis \"%V\": connection lost: %s",
                      &link->conf->name, ac->errstr);
    }

    link->ac = NULL;

    if (link->state != NGX_HTTP_ADCP_REDIS_BACKOFF) {
        ngx_http_adcp_redis_backoff(link);
    }
}


/* AUTH and SELECT: an error reply is logged (never the password) */

static void
ngx_http_adcp_redis_on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    redisReply                  *reply = r;
    ngx_http_adcp_redis_link_t  *link = ac->data;

    if (reply && reply->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, link->log, 0,
                      "adcp: redis \"%V\": %s failed: %*s",
                      &link->conf->name, (char *) privdata,
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

    if (reply == NULL || link->conf == NULL) {
        return;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, link->log, 0,
                      "adcp: redis \"%V\": SUBSCRIBE failed: %*s",
                      &link->conf->name, (size_t) reply->len, reply->str);
        return;
    }

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 3
        || reply->element[0]->type != REDIS_REPLY_STRING)
    {
        return;
    }

    if (ngx_strcmp(reply->element[0]->str, "subscribe") == 0) {
        link->probe = 0;

        if (link->state != NGX_HTTP_ADCP_REDIS_SUBSCRIBED) {
            ngx_log_error(NGX_LOG_NOTICE, link->log, 0,
                          "adcp: redis \"%V\": subscribed to \"%V\"",
                          &link->conf->name, &link->conf->channel);

            link->backoff = NGX_HTTP_ADCP_REDIS_BACKOFF_MIN;
            ngx_http_adcp_redis_set_state(link,
                                          NGX_HTTP_ADCP_REDIS_SUBSCRIBED);

            if (link->timer.timer_set) {
                ngx_del_timer(&link->timer);
            }

            ngx_add_timer(&link->timer, link->conf->ping);
        }

        return;
    }

    if (ngx_strcmp(reply->element[0]->str, "message") == 0
        && reply->element[2]->type == REDIS_REPLY_STRING)
    {
        message.data = (u_char *) reply->element[2]->str;
        message.len = reply->element[2]->len;

        link->message(&message, link->data);
    }
}
