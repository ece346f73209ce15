
/*
 * ngx_http_adcp_module: the Redis master as Redis Sentinel names it.
 *
 * The worker that holds the link (worker 0) runs rounds, every
 * NGX_HTTP_ADCP_SENTINEL_ROUND ms once the last ended, and at once when
 * a sentinel announces +switch-master (a subscription to one sentinel
 * that answered, on a connection of its own, renewed by the next round
 * once lost):
 *
 *   ask      SENTINEL get-master-addr-by-name <name> to every sentinel
 *            at once, each on its own connection (redis.c's command
 *            connections: nginx's loop, a deadline, never blocking); a
 *            sentinel that does not answer is asked again after a
 *            backoff (1 s x2, cap 10 s)
 *   decide   the first sentinel, in configuration order, whose answer is
 *            a numeric address: the master in use, unless checking was
 *            asked for (a lost connection, a READONLY), is kept; another
 *            one is checked
 *   check    ROLE on that address (the data node's credentials): "master"
 *            is published; a replica, garbage or no answer: the next
 *            sentinel's answer
 *
 * Published: the address and a generation, in the "adcp_sentinel" shared
 * zone, under its mutex.  Every worker compares the generation with its
 * own every NGX_HTTP_ADCP_SENTINEL_WATCH ms (cancelable: never keeps a
 * worker from exiting): a new one closes its connections (the link, the
 * command connections, the task consumers' connections) so that the next
 * ones go to the new master.  A checked master that says it is a replica
 * is withdrawn: nothing is written to a replica.
 *
 * Passwords are never logged.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_http_adcp_redis_private.h"
#include "ngx_http_adcp_sentinel.h"


#define NGX_HTTP_ADCP_SENTINEL_ROUND     1000
#define NGX_HTTP_ADCP_SENTINEL_WATCH     100
#define NGX_HTTP_ADCP_SENTINEL_ASK       1000
#define NGX_HTTP_ADCP_SENTINEL_RETRY     1000
#define NGX_HTTP_ADCP_SENTINEL_RETRY_MAX 10000

#define NGX_HTTP_ADCP_SENTINEL_IDLE      0
#define NGX_HTTP_ADCP_SENTINEL_ASKING    1
#define NGX_HTTP_ADCP_SENTINEL_DECIDE    2
#define NGX_HTTP_ADCP_SENTINEL_CHECKING  3
#define NGX_HTTP_ADCP_SENTINEL_CHECKED   4

#define NGX_HTTP_ADCP_SENTINEL_HOST_LEN  (NGX_SOCKADDR_STRLEN + 1)


/* the host's view, in shared memory */

typedef struct {
    ngx_atomic_t                 gen;        /* master changes; 0: none */
    ngx_atomic_t                 failovers;
    ngx_atomic_t                 check;      /* a connection asks: check
                                                the master again */
    ngx_atomic_t                 up[NGX_HTTP_ADCP_SENTINELS_MAX];
    ngx_int_t                    port;
    u_char                       host[NGX_HTTP_ADCP_SENTINEL_HOST_LEN];
    u_char                       last[NGX_HTTP_ADCP_SENTINEL_HOST_LEN + 8];
                                             /* the last master ever:
                                                failovers */
} ngx_http_adcp_sentinel_sh_t;


typedef struct {
    ngx_http_adcp_redis_conf_t   rcf;        /* its address(es) */
    void                        *owner;      /* the _sentinel_t */
    ngx_http_adcp_redis_conn_t  *conn;
    ngx_http_adcp_redis_call_t  *call;
    ngx_msec_t                   retry_at;   /* down: asked again then */
    ngx_msec_t                   backoff;
    ngx_int_t                    port;       /* its answer; 0: none */
    u_char                       host[NGX_HTTP_ADCP_SENTINEL_HOST_LEN];
    unsigned                     bad:1;      /* its answer was logged */
    unsigned                     down:1;     /* ... its silence */
} ngx_http_adcp_sentinel_node_t;


typedef struct {
    ngx_array_t                  nodes;      /* _node_t */
    ngx_str_t                   *names;      /* each "host:port" */
    ngx_str_t                    master;     /* the name sentinels know */
    ngx_shm_zone_t              *shm_zone;
    ngx_http_adcp_redis_conf_t  *data;       /* the data nodes' conf */

    /* this worker's copy of the master in use */
    ngx_http_adcp_redis_addr_t   addr;
    ngx_uint_t                   gen;
    ngx_event_t                  watch;

    /* the rounds (the link's worker) */
    ngx_event_t                  round;
    ngx_uint_t                   state;
    ngx_uint_t                   waiting;    /* answers to come */
    ngx_uint_t                   candidate;  /* the node being checked */
    ngx_uint_t                   check;      /* this round checks again */
    ngx_uint_t                   role;       /* 1 master, 0 not, -1 no
                                                answer */
    ngx_http_adcp_redis_conf_t   probe;      /* ROLE on a candidate */
    ngx_http_adcp_redis_addr_t   probe_addr;
    u_char                       current[NGX_HTTP_ADCP_SENTINEL_HOST_LEN];
    ngx_http_adcp_redis_conn_t  *probe_conn;
    ngx_http_adcp_redis_call_t  *probe_call;
    ngx_log_t                   *log;

    /* +switch-master */
    ngx_http_adcp_redis_conn_t  *sub_conn;
    ngx_http_adcp_redis_call_t  *sub_call;   /* NULL: none */
    ngx_uint_t                   sub_node;

    unsigned                     running:1;
    unsigned                     stopping:1;
    unsigned                     again:1;    /* a round right after this */
} ngx_http_adcp_sentinel_t;


static ngx_int_t ngx_http_adcp_sentinel_node(ngx_conf_t *cf,
    ngx_http_adcp_sentinel_t *s, ngx_str_t *hp, ngx_str_t *password);
static ngx_int_t ngx_http_adcp_sentinel_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_http_adcp_sentinel_sh_t *ngx_http_adcp_sentinel_sh(
    ngx_http_adcp_sentinel_t *s);
static void ngx_http_adcp_sentinel_watch(ngx_event_t *ev);
static void ngx_http_adcp_sentinel_step(ngx_event_t *ev);
static void ngx_http_adcp_sentinel_ask(ngx_http_adcp_sentinel_t *s);
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
static void ngx_http_adcp_sentinel_set_addr(ngx_http_adcp_redis_addr_t *a,
    u_char *host, ngx_int_t port);
static ngx_int_t ngx_http_adcp_sentinel_addr_alloc(ngx_pool_t *pool,
    ngx_http_adcp_redis_addr_t *a);


static ngx_str_t  ngx_http_adcp_sentinel_zone_name =
    ngx_string("adcp_sentinel");


/* how the connections call Sentinel (ngx_http_adcp_redis_private.h) */

static ngx_http_adcp_redis_source_t  ngx_http_adcp_sentinel_source = {
    ngx_http_adcp_sentinel_start,
    ngx_http_adcp_sentinel_stop,
    ngx_http_adcp_sentinel_sync,
    ngx_http_adcp_sentinel_lost
};


/*
 * adcp_redis sentinel=h:p[,h:p...] master=<name> [user= password= db=
 * sentinel_password=]; value[1] starts with "sentinel="
 */

char *
ngx_http_adcp_sentinel_parse(ngx_conf_t *cf, ngx_http_adcp_redis_conf_t *rcf)
{
    u_char                         *p, *last, *comma;
    ngx_str_t                      *value, list, hp, password;
    ngx_uint_t                      i;
    ngx_http_adcp_sentinel_t       *s;
    ngx_http_adcp_sentinel_node_t  *node;

    if (rcf->name.len) {
        return "is duplicate";
    }

    value = cf->args->elts;

    s = ngx_pcalloc(cf->pool, sizeof(ngx_http_adcp_sentinel_t));
    if (s == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_array_init(&s->nodes, cf->pool, 3,
                       sizeof(ngx_http_adcp_sentinel_node_t))
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    rcf->db = -1;
    ngx_str_null(&password);

    list.data = value[1].data + 9;
    list.len = value[1].len - 9;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "master=", 7) == 0) {
            s->master.data = value[i].data + 7;
            s->master.len = value[i].len - 7;
            continue;
        }

        if (ngx_strncmp(value[i].data, "sentinel_password=", 18) == 0) {
            password.data = value[i].data + 18;
            password.len = value[i].len - 18;
            continue;
        }

        if (ngx_http_adcp_redis_param(cf, rcf, &value[i]) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    if (s->master.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "adcp_redis \"%V\" has no \"master=\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    for (p = s->master.data; p < s->master.data + s->master.len; p++) {
        if (*p <= ' ' || *p >= 0x7f) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "adcp_redis: invalid \"master=%V\"",
                               &s->master);
            return NGX_CONF_ERROR;
        }
    }

    p = list.data;
    last = list.data + list.len;

    do {
        comma = ngx_strlchr(p, last, ',');

        hp.data = p;
        hp.len = (comma ? comma : last) - p;

        if (s->nodes.nelts == NGX_HTTP_ADCP_SENTINELS_MAX) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "adcp_redis: more than %d sentinels in "
                               "\"%V\"", NGX_HTTP_ADCP_SENTINELS_MAX,
                               &value[1]);
            return NGX_CONF_ERROR;
        }

        if (ngx_http_adcp_sentinel_node(cf, s, &hp, &password) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        p = comma ? comma + 1 : last;

    } while (comma);

    s->names = ngx_palloc(cf->pool, s->nodes.nelts * sizeof(ngx_str_t));
    if (s->names == NULL) {
        return NGX_CONF_ERROR;
    }

    node = s->nodes.elts;

    for (i = 0; i < s->nodes.nelts; i++) {
        s->names[i] = node[i].rcf.name;
        node[i].owner = s;
    }

    if (ngx_http_adcp_sentinel_addr_alloc(cf->pool, &s->addr) != NGX_OK
        || ngx_http_adcp_sentinel_addr_alloc(cf->pool, &s->probe_addr)
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    s->shm_zone = ngx_shared_memory_add(cf, &ngx_http_adcp_sentinel_zone_name,
                                        8 * ngx_pagesize,
                                        &ngx_http_adcp_sentinel_zone_name);
    if (s->shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    s->shm_zone->init = ngx_http_adcp_sentinel_init_zone;
    s->shm_zone->data = s;

    s->data = rcf;

    /* the data nodes: no address until a sentinel names one */

    rcf->name = s->master;
    rcf->addrs = &s->addr;
    rcf->naddrs = 0;
    rcf->sentinel = s;
    rcf->source = &ngx_http_adcp_sentinel_source;

    /* the probe: the data nodes' credentials, the candidate's address */

    s->probe = *rcf;
    s->probe.addrs = &s->probe_addr;
    s->probe.naddrs = 1;
    s->probe.sentinel = NULL;
    s->probe.source = NULL;            /* the probe asks no sentinel */

    return NGX_CONF_OK;
}


/* one sentinel "host:port" (the port is required: 26379 is a habit) */

static ngx_int_t
ngx_http_adcp_sentinel_node(ngx_conf_t *cf, ngx_http_adcp_sentinel_t *s,
    ngx_str_t *hp, ngx_str_t *password)
{
    char                           *rv;
    ngx_url_t                       u;
    ngx_conf_t                      pcf;
    ngx_array_t                     args;
    ngx_str_t                      *arg;
    ngx_http_adcp_sentinel_node_t  *node;

    if (hp->len == 0 || ngx_strlchr(hp->data, hp->data + hp->len, ':')
                        == NULL)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "adcp_redis: invalid sentinel \"%V\" "
                           "(host:port)", hp);
        return NGX_ERROR;
    }

    ngx_memzero(&u, sizeof(ngx_url_t));
    u.url = *hp;
    u.no_resolve = 1;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK || u.no_port) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "adcp_redis: invalid sentinel \"%V\"%s%s", hp,
                           u.err ? ": " : "", u.err ? u.err : "");
        return NGX_ERROR;
    }

    node = ngx_array_push(&s->nodes);
    if (node == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(node, sizeof(ngx_http_adcp_sentinel_node_t));

    /* its address(es) through redis.c's own parser: "adcp_redis h:p" */

    if (ngx_array_init(&args, cf->pool, 2, sizeof(ngx_str_t)) != NGX_OK) {
        return NGX_ERROR;
    }

    arg = ngx_array_push_n(&args, 2);
    if (arg == NULL) {
        return NGX_ERROR;
    }

    ngx_str_set(&arg[0], "adcp_redis");
    arg[1] = *hp;

    pcf = *cf;
    pcf.args = &args;

    rv = ngx_http_adcp_redis_parse(&pcf, &node->rcf);
    if (rv != NGX_CONF_OK) {
        if (rv != NGX_CONF_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "adcp_redis: sentinel \"%V\" %s", hp, rv);
        }

        return NGX_ERROR;
    }

    node->rcf.password = *password;
    node->rcf.ping = NGX_HTTP_ADCP_SENTINEL_ASK;
    node->backoff = NGX_HTTP_ADCP_SENTINEL_RETRY;

    return NGX_OK;
}


static ngx_int_t
ngx_http_adcp_sentinel_addr_alloc(ngx_pool_t *pool,
    ngx_http_adcp_redis_addr_t *a)
{
    a->host.data = ngx_pnalloc(pool, NGX_HTTP_ADCP_SENTINEL_HOST_LEN);
    a->text.data = ngx_pnalloc(pool, NGX_HTTP_ADCP_SENTINEL_HOST_LEN + 8);

    if (a->host.data == NULL || a->text.data == NULL) {
        return NGX_ERROR;
    }

    a->host.len = 0;
    a->text.len = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_adcp_sentinel_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_slab_pool_t              *shpool;
    ngx_http_adcp_sentinel_sh_t  *sh;

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (data || shm_zone->shm.exists) {
        /* kept across reloads: the master in use, the failovers */
        return NGX_OK;
    }

    sh = ngx_slab_calloc(shpool, sizeof(ngx_http_adcp_sentinel_sh_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    shpool->data = sh;
    shpool->log_ctx = (u_char *) " in adcp_sentinel zone";

    return NGX_OK;
}


static ngx_http_adcp_sentinel_sh_t *
ngx_http_adcp_sentinel_sh(ngx_http_adcp_sentinel_t *s)
{
    return ((ngx_slab_pool_t *) s->shm_zone->shm.addr)->data;
}


/* the link's worker: rounds from now on */

void
ngx_http_adcp_sentinel_start(ngx_cycle_t *cycle,
    ngx_http_adcp_redis_conf_t *rcf)
{
    ngx_http_adcp_sentinel_t  *s;

    s = rcf->sentinel;

    s->log = cycle->log;
    s->running = 1;
    s->stopping = 0;
    s->check = 1;
    s->state = NGX_HTTP_ADCP_SENTINEL_IDLE;

    s->round.handler = ngx_http_adcp_sentinel_step;
    s->round.data = s;
    s->round.log = cycle->log;
    s->round.cancelable = 1;

    ngx_http_adcp_sentinel_ask(s);
}


/* the worker exits */

void
ngx_http_adcp_sentinel_stop(ngx_http_adcp_redis_conf_t *rcf)
{
    ngx_uint_t                      i;
    ngx_http_adcp_sentinel_t       *s;
    ngx_http_adcp_sentinel_node_t  *node;

    s = rcf->sentinel;

    if (s == NULL) {
        return;
    }

    s->stopping = 1;

    if (s->watch.timer_set) {
        ngx_del_timer(&s->watch);
    }

    if (s->round.timer_set) {
        ngx_del_timer(&s->round);
    }

    if (!s->running) {
        return;
    }

    s->running = 0;

    node = s->nodes.elts;

    for (i = 0; i < s->nodes.nelts; i++) {
        if (node[i].conn) {
            ngx_http_adcp_redis_conn_destroy(node[i].conn);
            node[i].conn = NULL;
        }
    }

    if (s->probe_conn) {
        ngx_http_adcp_redis_conn_destroy(s->probe_conn);
        s->probe_conn = NULL;
    }

    if (s->sub_conn) {
        ngx_http_adcp_redis_conn_destroy(s->sub_conn);
        s->sub_conn = NULL;
    }
}


/*
 * A connection is about to open: this worker's copy of the master
 * refreshed (NGX_DECLINED: none known), its generation in *gen
 */

ngx_int_t
ngx_http_adcp_sentinel_sync(ngx_http_adcp_redis_conf_t *rcf, ngx_uint_t *gen)
{
    ngx_slab_pool_t              *shpool;
    ngx_http_adcp_sentinel_t     *s;
    ngx_http_adcp_sentinel_sh_t  *sh;

    s = rcf->sentinel;
    shpool = (ngx_slab_pool_t *) s->shm_zone->shm.addr;
    sh = shpool->data;

    if (!s->watch.timer_set && !s->stopping) {
        s->watch.handler = ngx_http_adcp_sentinel_watch;
        s->watch.data = s;
        s->watch.log = ngx_cycle->log;
        s->watch.cancelable = 1;
        ngx_add_timer(&s->watch, NGX_HTTP_ADCP_SENTINEL_WATCH);
    }

    if (s->gen != sh->gen) {
        ngx_shmtx_lock(&shpool->mutex);

        s->gen = sh->gen;

        if (sh->host[0]) {
            ngx_http_adcp_sentinel_set_addr(&s->addr, sh->host, sh->port);
            rcf->port = sh->port;
            rcf->naddrs = 1;

        } else {
            rcf->naddrs = 0;
        }

        ngx_shmtx_unlock(&shpool->mutex);
    }

    *gen = s->gen;

    if (rcf->naddrs == 0) {
        ngx_log_debug0(NGX_LOG_DEBUG_EVENT, ngx_cycle->log, 0,
                       "adcp sentinel: no master known yet");
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* the master was lost, or answered READONLY: a round checks it again */

void
ngx_http_adcp_sentinel_lost(ngx_http_adcp_redis_conf_t *rcf, const char *why)
{
    ngx_http_adcp_sentinel_t     *s;
    ngx_http_adcp_sentinel_sh_t  *sh;

    s = rcf->sentinel;

    if (s == NULL) {
        return;
    }

    sh = ngx_http_adcp_sentinel_sh(s);

    /* none known yet: the rounds are looking for one anyway */

    if (sh->host[0] && !sh->check) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "adcp: redis \"%V\": %s: asking the sentinels again",
                      &s->master, why);
        sh->check = 1;
    }
}


/* every worker: a new master closes the connections to the old one */

static void
ngx_http_adcp_sentinel_watch(ngx_event_t *ev)
{
    ngx_http_adcp_sentinel_t *s = ev->data;

    if (s->stopping || ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    if (ngx_http_adcp_sentinel_sh(s)->gen != s->gen) {
        ngx_http_adcp_redis_moved(s->data);
    }

    if (!s->watch.timer_set && !s->stopping) {
        ngx_add_timer(&s->watch, NGX_HTTP_ADCP_SENTINEL_WATCH);
    }
}


/* the rounds' steps, each from a timer: never inside a reply callback */

static void
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


static void
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


static void
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


/* for status: buf holds the master's text */

ngx_int_t
ngx_http_adcp_sentinel_info(ngx_http_adcp_redis_conf_t *rcf,
    ngx_http_adcp_sentinel_info_t *info, u_char *buf, size_t size)
{
    ngx_uint_t                    i;
    ngx_slab_pool_t              *shpool;
    ngx_http_adcp_sentinel_t     *s;
    ngx_http_adcp_sentinel_sh_t  *sh;

    s = rcf->sentinel;

    if (s == NULL) {
        return NGX_DECLINED;
    }

    shpool = (ngx_slab_pool_t *) s->shm_zone->shm.addr;
    sh = shpool->data;

    ngx_shmtx_lock(&shpool->mutex);

    info->master.data = buf;
    info->master.len = 0;

    if (sh->host[0]) {
        info->master.len = ngx_snprintf(buf, size,
                               ngx_strlchr(sh->host,
                                           sh->host + ngx_strlen(sh->host),
                                           ':')
                               ? "[%s]:%i" : "%s:%i", sh->host, sh->port)
                           - buf;
    }

    info->failovers = sh->failovers;
    info->n = s->nodes.nelts;
    info->names = s->names;

    for (i = 0; i < info->n; i++) {
        info->up[i] = sh->up[i];
    }

    ngx_shmtx_unlock(&shpool->mutex);

    return NGX_OK;
}
