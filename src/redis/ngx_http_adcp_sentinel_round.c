
/*
 * ngx_http_adcp_module: Sentinel's rounds, in the link's worker (the
 * steps ask, decide, check described in ngx_http_adcp_sentinel.c), the
 * master published in the "adcp_sentinel" zone, and +switch-master.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_http_adcp_redis_private.h"
#include "ngx_http_adcp_sentinel.h"
#include "ngx_http_adcp_sentinel_private.h"


static void ngx_http_adcp_sentinel_on_addr(redisReply *reply, void *data);
static void ngx_http_adcp_sentinel_decide(ngx_http_adcp_sentinel_t *s);
static void ngx_http_adcp_sentinel_probe(ngx_http_adcp_sentinel_t *s,
    u_char *host, ngx_int_t port);
static void ngx_http_adcp_sentinel_on_role(redisReply *reply, void *data);
static void ngx_http_adcp_sentinel_checked(ngx_http_adcp_sentinel_t *s);
static void ngx_http_adcp_sentinel_publish(ngx_http_adcp_sentinel_t *s,
    u_char *host, ngx_int_t port);
static void ngx_http_adcp_sentinel_done(ngx_http_adcp_sentinel_t *s);
static void ngx_http_adcp_sentinel_subscribe(ngx_http_adcp_sentinel_t *s);
static void ngx_http_adcp_sentinel_on_switch(redisReply *reply,
    void *data);
static ngx_uint_t ngx_http_adcp_sentinel_numeric(u_char *host, size_t len);


ngx_http_adcp_sentinel_sh_t *
ngx_http_adcp_sentinel_sh(ngx_http_adcp_sentinel_t *s)
{
    return ((ngx_slab_pool_t *) s->shm_zone->shm.addr)->data;
}


/* the rounds' steps, each from a timer: never inside a reply callback */

void
ngx_http_adcp_sentinel_step(ngx_event_t *ev)
{
    ngx_http_adcp_sentinel_t *s = ev->data;

    if (s->stopping || !s->running) {
        return;
    }

    switch (s->state) {

    case NGX_HTTP_ADCP_SENTINEL_IDLE:
        ngx_http_adcp_sentinel_ask(s);
        return;

    case NGX_HTTP_ADCP_SENTINEL_DECIDE:
        ngx_http_adcp_sentinel_decide(s);
        return;

    case NGX_HTTP_ADCP_SENTINEL_CHECKED:
        ngx_http_adcp_sentinel_checked(s);
        return;

    default:
        /* an answer lost between redis.c and here: start over */
        ngx_log_error(NGX_LOG_WARN, s->log, 0,
                      "adcp: redis \"%V\": sentinel round stuck in "
                      "state %ui", &s->master, s->state);
        ngx_http_adcp_sentinel_done(s);
    }
}


void
ngx_http_adcp_sentinel_ask(ngx_http_adcp_sentinel_t *s)
{
    size_t                          len[3];
    ngx_uint_t                      i;
    const char                     *argv[3];
    ngx_http_adcp_sentinel_sh_t    *sh;
    ngx_http_adcp_sentinel_node_t  *node;

    sh = ngx_http_adcp_sentinel_sh(s);

    if (sh->check) {
        sh->check = 0;
        s->check = 1;
    }

    argv[0] = "SENTINEL";  len[0] = 8;
    argv[1] = "get-master-addr-by-name";  len[1] = 23;
    argv[2] = (char *) s->master.data;  len[2] = s->master.len;

    s->state = NGX_HTTP_ADCP_SENTINEL_ASKING;
    s->waiting = 1;   /* until every question is sent */

    node = s->nodes.elts;

    for (i = 0; i < s->nodes.nelts; i++) {
        node[i].port = 0;

        if (node[i].retry_at && (ngx_msec_int_t) (ngx_current_msec
                                                  - node[i].retry_at) < 0)
        {
            continue;
        }

        if (node[i].conn == NULL) {
            node[i].conn = ngx_http_adcp_redis_conn_create(&node[i].rcf,
                                           NGX_HTTP_ADCP_SENTINEL_ASK, 1,
                                           s->log);
            if (node[i].conn == NULL) {
                continue;
            }
        }

        node[i].call = ngx_http_adcp_redis_conn_command(node[i].conn,
                                          ngx_http_adcp_sentinel_on_addr,
                                          &node[i], 3, argv, len);
        if (node[i].call) {
            s->waiting++;

        } else {
            sh->up[i] = 0;
        }
    }

    if (--s->waiting == 0) {
        s->state = NGX_HTTP_ADCP_SENTINEL_DECIDE;
        ngx_add_timer(&s->round, 0);
    }
}


/* [host, port], nil (the sentinel knows no such master), or anything */

static void
ngx_http_adcp_sentinel_on_addr(redisReply *reply, void *data)
{
    ngx_http_adcp_sentinel_node_t *node = data;

    ngx_int_t                     port;
    ngx_uint_t                    i;
    redisReply                   *h, *p;
    ngx_http_adcp_sentinel_t     *s;
    ngx_http_adcp_sentinel_sh_t  *sh;

    s = node->owner;
    sh = ngx_http_adcp_sentinel_sh(s);
    i = node - (ngx_http_adcp_sentinel_node_t *) s->nodes.elts;

    node->call = NULL;

    if (reply == NULL) {
        sh->up[i] = 0;

        if (!node->down) {
            node->down = 1;
            ngx_log_error(NGX_LOG_WARN, s->log, 0,
                          "adcp: redis \"%V\": sentinel %V does not answer",
                          &s->master, &node->rcf.name);
        }

        node->retry_at = ngx_current_msec + node->backoff;
        node->backoff = ngx_min(node->backoff * 2,
                                NGX_HTTP_ADCP_SENTINEL_RETRY_MAX);
        goto next;
    }

    node->down = 0;
    node->retry_at = 0;
    node->backoff = NGX_HTTP_ADCP_SENTINEL_RETRY;

    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2
        && reply->element[0]->type == REDIS_REPLY_STRING
        && reply->element[1]->type == REDIS_REPLY_STRING)
    {
        h = reply->element[0];
        p = reply->element[1];
        port = ngx_atoi((u_char *) p->str, p->len);

        if (port > 0 && port < 65536
            && ngx_http_adcp_sentinel_numeric((u_char *) h->str, h->len))
        {
            ngx_memcpy(node->host, h->str, h->len);
            node->host[h->len] = '\0';
            node->port = port;
            node->bad = 0;
            sh->up[i] = 1;
            goto next;
        }
    }

    sh->up[i] = 0;

    if (!node->bad) {
        node->bad = 1;

        if (reply->type == REDIS_REPLY_ERROR
            || reply->type == REDIS_REPLY_STATUS)
        {
            ngx_log_error(NGX_LOG_WARN, s->log, 0,
                          "adcp: redis \"%V\": sentinel %V answered: %*s",
                          &s->master, &node->rcf.name,
                          ngx_min((size_t) reply->len, 200), reply->str);

        } else {
            ngx_log_error(NGX_LOG_WARN, s->log, 0,
                          "adcp: redis \"%V\": sentinel %V names no usable "
                          "master (reply type %d)", &s->master,
                          &node->rcf.name, reply->type);
        }
    }

next:

    if (s->state == NGX_HTTP_ADCP_SENTINEL_ASKING && --s->waiting == 0) {
        s->state = NGX_HTTP_ADCP_SENTINEL_DECIDE;
        s->candidate = 0;

        if (!s->stopping && !s->round.timer_set) {
            ngx_add_timer(&s->round, 0);
        }
    }
}


/* the first usable answer from s->candidate on */

static void
ngx_http_adcp_sentinel_decide(ngx_http_adcp_sentinel_t *s)
{
    ngx_uint_t                      i;
    ngx_http_adcp_sentinel_sh_t    *sh;
    ngx_http_adcp_sentinel_node_t  *node;

    sh = ngx_http_adcp_sentinel_sh(s);
    node = s->nodes.elts;

    for (i = s->candidate; i < s->nodes.nelts; i++) {

        if (node[i].port == 0) {
            continue;
        }

        s->candidate = i;

        if (!s->check && sh->host[0] && node[i].port == sh->port
            && ngx_strcmp(node[i].host, sh->host) == 0)
        {
            ngx_http_adcp_sentinel_done(s);
            return;
        }

        ngx_http_adcp_sentinel_probe(s, node[i].host, node[i].port);
        return;
    }

    /*
     * no sentinel names a master that is one: the master in use is kept,
     * checked itself when asked (a READONLY with every sentinel silent)
     */

    if (s->check && sh->host[0] && s->candidate < s->nodes.nelts) {
        s->candidate = s->nodes.nelts;
        ngx_cpystrn(s->current, sh->host, sizeof(s->current));
        ngx_http_adcp_sentinel_probe(s, s->current, sh->port);
        return;
    }

    ngx_http_adcp_sentinel_done(s);
}


static void
ngx_http_adcp_sentinel_probe(ngx_http_adcp_sentinel_t *s, u_char *host,
    ngx_int_t port)
{
    const char  *argv[1];
    size_t       len[1];

    if (s->probe_conn == NULL
        || s->probe.port != port
        || ngx_strcmp(s->probe_addr.host.data, host) != 0)
    {
        if (s->probe_conn) {
            ngx_http_adcp_redis_conn_destroy(s->probe_conn);
            s->probe_conn = NULL;
        }

        ngx_http_adcp_sentinel_set_addr(&s->probe_addr, host, port);
        s->probe.port = port;

        s->probe_conn = ngx_http_adcp_redis_conn_create(&s->probe,
                                            NGX_HTTP_ADCP_SENTINEL_ASK, 1,
                                            s->log);
        if (s->probe_conn == NULL) {
            ngx_http_adcp_sentinel_done(s);
            return;
        }
    }

    argv[0] = "ROLE";  len[0] = 4;

    s->state = NGX_HTTP_ADCP_SENTINEL_CHECKING;
    s->role = (ngx_uint_t) -1;

    s->probe_call = ngx_http_adcp_redis_conn_command(s->probe_conn,
                                            ngx_http_adcp_sentinel_on_role,
                                            s, 1, argv, len);
    if (s->probe_call == NULL) {
        s->state = NGX_HTTP_ADCP_SENTINEL_CHECKED;
        ngx_add_timer(&s->round, 0);
    }
}


/* ["master", offset, [...]] or ["slave", ...] */

static void
ngx_http_adcp_sentinel_on_role(redisReply *reply, void *data)
{
    ngx_http_adcp_sentinel_t *s = data;

    s->probe_call = NULL;

    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements > 0
        && reply->element[0]->type == REDIS_REPLY_STRING)
    {
        s->role = (reply->element[0]->len == 6
                   && ngx_strncmp(reply->element[0]->str, "master", 6) == 0);
    }

    if (s->state == NGX_HTTP_ADCP_SENTINEL_CHECKING) {
        s->state = NGX_HTTP_ADCP_SENTINEL_CHECKED;

        if (!s->stopping && !s->round.timer_set) {
            ngx_add_timer(&s->round, 0);
        }
    }
}


static void
ngx_http_adcp_sentinel_checked(ngx_http_adcp_sentinel_t *s)
{
    u_char                         *host;
    ngx_int_t                       port;
    ngx_slab_pool_t                *shpool;
    ngx_http_adcp_sentinel_sh_t    *sh;
    ngx_http_adcp_sentinel_node_t  *node;

    host = s->probe_addr.host.data;
    port = s->probe.port;

    if (s->role == 1) {
        ngx_http_adcp_sentinel_publish(s, host, port);
        ngx_http_adcp_sentinel_done(s);
        return;
    }

    if (s->candidate < s->nodes.nelts) {
        node = (ngx_http_adcp_sentinel_node_t *) s->nodes.elts
               + s->candidate;

        ngx_log_error(NGX_LOG_WARN, s->log, 0,
                      "adcp: redis \"%V\": %V named by sentinel %V %s",
                      &s->master, &s->probe_addr.text, &node->rcf.name,
                      s->role == 0 ? "is not a master"
                                   : "does not answer ROLE");

    } else {
        ngx_log_error(NGX_LOG_WARN, s->log, 0,
                      "adcp: redis \"%V\": the master in use, %V, %s",
                      &s->master, &s->probe_addr.text,
                      s->role == 0 ? "is not a master any more"
                                   : "does not answer ROLE");
    }

    /* the master in use says it is a replica: withdrawn */

    if (s->role == 0) {
        shpool = (ngx_slab_pool_t *) s->shm_zone->shm.addr;
        sh = shpool->data;

        ngx_shmtx_lock(&shpool->mutex);

        if (sh->host[0] && sh->port == port
            && ngx_strcmp(sh->host, host) == 0)
        {
            ngx_log_error(NGX_LOG_WARN, s->log, 0,
                          "adcp: redis \"%V\": %V withdrawn: no master "
                          "until a sentinel names one", &s->master,
                          &s->probe_addr.text);
            sh->host[0] = '\0';
            sh->gen++;
        }

        ngx_shmtx_unlock(&shpool->mutex);
    }

    s->candidate++;
    s->state = NGX_HTTP_ADCP_SENTINEL_DECIDE;
    ngx_http_adcp_sentinel_decide(s);
}


static void
ngx_http_adcp_sentinel_publish(ngx_http_adcp_sentinel_t *s, u_char *host,
    ngx_int_t port)
{
    u_char                        text[NGX_HTTP_ADCP_SENTINEL_HOST_LEN + 8];
    size_t                        len;
    ngx_uint_t                    failover;
    ngx_slab_pool_t              *shpool;
    ngx_http_adcp_sentinel_sh_t  *sh;

    shpool = (ngx_slab_pool_t *) s->shm_zone->shm.addr;
    sh = shpool->data;

    len = ngx_snprintf(text, sizeof(text) - 1, "%s:%i", host, port) - text;
    text[len] = '\0';

    ngx_shmtx_lock(&shpool->mutex);

    if (sh->host[0] && sh->port == port && ngx_strcmp(sh->host, host) == 0)
    {
        ngx_shmtx_unlock(&shpool->mutex);
        return;
    }

    failover = sh->last[0] && ngx_strcmp(sh->last, text) != 0;

    ngx_cpystrn(sh->host, host, sizeof(sh->host));
    sh->port = port;
    ngx_memcpy(sh->last, text, len + 1);
    sh->gen++;

    if (failover) {
        sh->failovers++;
    }

    ngx_shmtx_unlock(&shpool->mutex);

    ngx_log_error(NGX_LOG_NOTICE, s->log, 0,
                  "adcp: redis \"%V\": master is %s%s", &s->master, text,
                  failover ? " (failover followed)" : "");
}


static void
ngx_http_adcp_sentinel_done(ngx_http_adcp_sentinel_t *s)
{
    s->state = NGX_HTTP_ADCP_SENTINEL_IDLE;
    s->check = s->again;

    if (s->round.timer_set) {
        ngx_del_timer(&s->round);
    }

    if (s->stopping || ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    ngx_add_timer(&s->round, s->again ? 0 : NGX_HTTP_ADCP_SENTINEL_ROUND);
    s->again = 0;

    ngx_http_adcp_sentinel_subscribe(s);
}


/* SUBSCRIBE +switch-master on the first sentinel that answered */

static void
ngx_http_adcp_sentinel_subscribe(ngx_http_adcp_sentinel_t *s)
{
    size_t                          len[2];
    ngx_uint_t                      i;
    const char                     *argv[2];
    ngx_http_adcp_sentinel_node_t  *node;

    if (s->sub_call) {
        return;
    }

    node = s->nodes.elts;

    for (i = 0; i < s->nodes.nelts; i++) {
        if (node[i].port) {
            break;
        }
    }

    if (i == s->nodes.nelts) {
        return;
    }

    if (s->sub_conn && s->sub_node != i) {
        ngx_http_adcp_redis_conn_destroy(s->sub_conn);
        s->sub_conn = NULL;
    }

    if (s->sub_conn == NULL) {
        s->sub_conn = ngx_http_adcp_redis_conn_create(&node[i].rcf,
                                                NGX_HTTP_ADCP_SENTINEL_ASK, 1,
                                                s->log);
        if (s->sub_conn == NULL) {
            return;
        }

        s->sub_node = i;
    }

    argv[0] = "SUBSCRIBE";  len[0] = 9;
    argv[1] = "+switch-master";  len[1] = 14;

    s->sub_call = ngx_http_adcp_redis_conn_subscribe(s->sub_conn,
                                            ngx_http_adcp_sentinel_on_switch,
                                            s, 2, argv, len);
}


/* ["message", "+switch-master", "<name> <old ip> <old port> <ip> <port>"] */

static void
ngx_http_adcp_sentinel_on_switch(redisReply *reply, void *data)
{
    ngx_http_adcp_sentinel_t *s = data;

    redisReply                     *m;
    ngx_http_adcp_sentinel_node_t  *node;

    node = (ngx_http_adcp_sentinel_node_t *) s->nodes.elts + s->sub_node;

    if (reply == NULL) {
        s->sub_call = NULL;
        return;
    }

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3
        || reply->element[0]->type != REDIS_REPLY_STRING)
    {
        return;
    }

    if (ngx_strcmp(reply->element[0]->str, "subscribe") == 0) {
        ngx_log_error(NGX_LOG_INFO, s->log, 0,
                      "adcp: redis \"%V\": following +switch-master on "
                      "sentinel %V", &s->master, &node->rcf.name);
        return;
    }

    m = reply->element[2];

    if (ngx_strcmp(reply->element[0]->str, "message") != 0
        || m->type != REDIS_REPLY_STRING
        || m->len <= s->master.len
        || ngx_strncmp(m->str, s->master.data, s->master.len) != 0
        || m->str[s->master.len] != ' '
        || s->stopping)
    {
        return;
    }

    ngx_log_error(NGX_LOG_NOTICE, s->log, 0,
                  "adcp: redis \"%V\": sentinel %V: +switch-master %*s",
                  &s->master, &node->rcf.name, ngx_min((size_t) m->len, 200),
                  m->str);

    /* a round now, or right after the one running */

    if (s->state == NGX_HTTP_ADCP_SENTINEL_IDLE) {
        s->check = 1;

        if (s->round.timer_set) {
            ngx_del_timer(&s->round);
        }

        ngx_add_timer(&s->round, 0);

    } else {
        s->again = 1;
    }
}


/* an IPv4 or IPv6 literal: connecting never resolves (never blocks) */

static ngx_uint_t
ngx_http_adcp_sentinel_numeric(u_char *host, size_t len)
{
#if (NGX_HAVE_INET6)
    u_char  buf[16];
#endif

    if (len == 0 || len >= NGX_HTTP_ADCP_SENTINEL_HOST_LEN) {
        return 0;
    }

    if (ngx_inet_addr(host, len) != INADDR_NONE) {
        return 1;
    }

#if (NGX_HAVE_INET6)
    if (ngx_inet6_addr(host, len, buf) == NGX_OK) {
        return 1;
    }
#endif

    return 0;
}


void
ngx_http_adcp_sentinel_set_addr(ngx_http_adcp_redis_addr_t *a, u_char *host,
    ngx_int_t port)
{
    size_t  len;

    len = ngx_strlen(host);

    ngx_memcpy(a->host.data, host, len + 1);
    a->host.len = len;

    if (ngx_strlchr(host, host + len, ':')) {
        a->text.len = ngx_sprintf(a->text.data, "[%s]:%i", host, port)
                      - a->text.data;

    } else {
        a->text.len = ngx_sprintf(a->text.data, "%s:%i", host, port)
                      - a->text.data;
    }
}
