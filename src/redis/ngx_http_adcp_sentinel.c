
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
#include "ngx_http_adcp_sentinel_private.h"


static ngx_int_t ngx_http_adcp_sentinel_node(ngx_conf_t *cf,
    ngx_http_adcp_sentinel_t *s, ngx_str_t *hp, ngx_str_t *password);
static ngx_int_t ngx_http_adcp_sentinel_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_http_adcp_sentinel_watch(ngx_event_t *ev);
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
