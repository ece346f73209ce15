
/*
 * ngx_http_adcp_module: the invalidation bus.
 *
 * One worker of the host (worker 0) holds the Redis subscription, so that
 * each message is applied once per host: it moves the zone's generations,
 * which every worker reads on its next request.  Messages, as text:
 *
 *     <tenant>            drop that tenant's platform
 *     *                   drop every platform
 *     recheck <tenant>    rebuild it, serving the old one if that fails
 *
 * anything else is logged and ignored.
 *
 * Admin endpoints publish them (ngx_http_adcp_bus_publish(), the writer
 * beside ngx_http_adcp_bus_parse(), the reader).
 *
 * Lossless: publishers also append each message to the capped stream
 * <channel>:log (in the same MULTI).  The zone keeps the id of the last
 * log entry the host applied.  After each (re)subscription the host reads
 * the log from there (XINFO STREAM, then XRANGE); when that entry is gone
 * (trimmed away, or the log lost with a Redis that restarted without its
 * data), it cannot know what it missed and expires every platform.
 *
 * While subscribed, the position moves without reading any entry: the
 * log's last id is observed on the command connection, and it becomes the
 * position when the next renewal of the subscription is confirmed, since
 * every message published before that observation was delivered on the
 * subscribed connection ahead of the confirmation.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_adcp.h"
#include "ngx_http_adcp_bus.h"
#include "ngx_http_adcp_redis.h"


#define NGX_HTTP_ADCP_BUS_PAGE    1000     /* log entries a read */
#define NGX_HTTP_ADCP_LOG_MAXLEN  "10000"  /* entries kept, about */


typedef struct {
    ngx_http_adcp_main_conf_t    *amcf;
    ngx_http_adcp_redis_call_t   *call;         /* XINFO or XRANGE */
    u_char                        observed[NGX_HTTP_ADCP_LOG_ID_LEN];
    u_char                        confirming[NGX_HTTP_ADCP_LOG_ID_LEN];
    unsigned                      syncing:1;    /* the log not read yet */
} ngx_http_adcp_bus_t;


/* a message being published (the request pool's) */

struct ngx_http_adcp_bus_publish_s {
    ngx_http_adcp_main_conf_t    *amcf;
    ngx_http_adcp_redis_call_t   *call;         /* EXEC, until answered */
    ngx_str_t                     message;
    ngx_http_adcp_bus_published_pt  done;
    void                         *data;
};


static void ngx_http_adcp_bus_message(ngx_str_t *message, void *data);
static void ngx_http_adcp_bus_apply(ngx_http_adcp_bus_t *bus,
    ngx_str_t *message, ngx_uint_t replayed);
static void ngx_http_adcp_bus_state(ngx_uint_t state, void *data);
static void ngx_http_adcp_bus_renew(void *data);
static void ngx_http_adcp_bus_renewed(void *data);
static void ngx_http_adcp_bus_sync(ngx_http_adcp_bus_t *bus);
static void ngx_http_adcp_bus_on_info(ngx_http_adcp_redis_reply_t *reply,
    void *data);
static void ngx_http_adcp_bus_on_observe(ngx_http_adcp_redis_reply_t *reply,
    void *data);
static void ngx_http_adcp_bus_read(ngx_http_adcp_bus_t *bus);
static void ngx_http_adcp_bus_on_range(ngx_http_adcp_redis_reply_t *reply,
    void *data);
static void ngx_http_adcp_bus_resync(ngx_http_adcp_bus_t *bus,
    const char *why, ngx_str_t *last);
static void ngx_http_adcp_bus_position(ngx_http_adcp_bus_t *bus,
    u_char *id, size_t len);
static ngx_int_t ngx_http_adcp_bus_idcmp(u_char *a, size_t alen, u_char *b,
    size_t blen);
static ngx_http_adcp_redis_call_t *ngx_http_adcp_bus_info(
    ngx_http_adcp_bus_t *bus, ngx_http_adcp_redis_reply_pt handler);
static void ngx_http_adcp_bus_on_exec(ngx_http_adcp_redis_reply_t *reply,
    void *data);


static ngx_http_adcp_bus_t  ngx_http_adcp_bus;


ngx_int_t
ngx_http_adcp_bus_init_worker(ngx_cycle_t *cycle,
    ngx_http_adcp_main_conf_t *amcf)
{
    ngx_http_adcp_redis_handlers_t  h;

    if (amcf->redis.name.len == 0) {
        return NGX_OK;
    }

    if (ngx_process == NGX_PROCESS_WORKER && ngx_worker != 0) {
        return NGX_OK;
    }

    ngx_memzero(&ngx_http_adcp_bus, sizeof(ngx_http_adcp_bus_t));
    ngx_http_adcp_bus.amcf = amcf;

    h.message = ngx_http_adcp_bus_message;
    h.state = ngx_http_adcp_bus_state;
    h.renew = ngx_http_adcp_bus_renew;
    h.renewed = ngx_http_adcp_bus_renewed;
    h.data = &ngx_http_adcp_bus;

    return ngx_http_adcp_redis_start(cycle, &amcf->redis, &h);
}


void
ngx_http_adcp_bus_exit_worker(void)
{
    ngx_http_adcp_redis_stop();
}


/*
 * The message for a tenant ("*": all), appended to <channel>:log and
 * published in one MULTI (XADD <log> MAXLEN ~ N * m <message>, PUBLISH,
 * EXEC); done() has EXEC's answer: the log entry's id and the number of
 * subscribers, or an empty id: Redis did not take it.  NULL: not sent.
 */

ngx_http_adcp_bus_publish_t *
ngx_http_adcp_bus_publish(ngx_pool_t *pool, ngx_http_adcp_main_conf_t *amcf,
    ngx_str_t *tenant, ngx_uint_t recheck,
    ngx_http_adcp_bus_published_pt done, void *data)
{
    size_t                        len[8];
    const char                   *argv[8];
    ngx_http_adcp_redis_args_t    a;
    ngx_http_adcp_redis_conf_t   *rcf;
    ngx_http_adcp_bus_publish_t  *pub;

    rcf = &amcf->redis;

    pub = ngx_pcalloc(pool, sizeof(ngx_http_adcp_bus_publish_t));
    if (pub == NULL) {
        return NULL;
    }

    pub->amcf = amcf;
    pub->done = done;
    pub->data = data;

    pub->message.len = (recheck ? sizeof("recheck ") - 1 : 0) + tenant->len;
    pub->message.data = ngx_pnalloc(pool, pub->message.len);
    if (pub->message.data == NULL) {
        return NULL;
    }

    ngx_memcpy(ngx_cpymem(pub->message.data, "recheck ",
                          recheck ? sizeof("recheck ") - 1 : 0),
               tenant->data, tenant->len);

    ngx_http_adcp_redis_args_local(&a, argv, len);
    ngx_http_adcp_redis_arg_lit(&a, "MULTI");

    if (ngx_http_adcp_redis_send(rcf, NULL, NULL, NULL, &a) == NULL) {
        return NULL;
    }

    ngx_http_adcp_redis_args_local(&a, argv, len);
    ngx_http_adcp_redis_arg_lit(&a, "XADD");
    ngx_http_adcp_redis_arg_str(&a, &rcf->log);
    ngx_http_adcp_redis_arg_lit(&a, "MAXLEN");
    ngx_http_adcp_redis_arg_lit(&a, "~");
    ngx_http_adcp_redis_arg_lit(&a, NGX_HTTP_ADCP_LOG_MAXLEN);
    ngx_http_adcp_redis_arg_lit(&a, "*");
    ngx_http_adcp_redis_arg_lit(&a, "m");
    ngx_http_adcp_redis_arg_str(&a, &pub->message);

    if (ngx_http_adcp_redis_send(rcf, NULL, NULL, NULL, &a) == NULL) {
        goto failed;
    }

    ngx_http_adcp_redis_args_local(&a, argv, len);
    ngx_http_adcp_redis_arg_lit(&a, "PUBLISH");
    ngx_http_adcp_redis_arg_str(&a, &rcf->channel);
    ngx_http_adcp_redis_arg_str(&a, &pub->message);

    if (ngx_http_adcp_redis_send(rcf, NULL, NULL, NULL, &a) == NULL) {
        goto failed;
    }

    /* this host's link will hear it back: applied already */

    ngx_http_adcp_zone_echo_add(&amcf->zone, &pub->message, 2 * rcf->ping);

    ngx_http_adcp_redis_args_local(&a, argv, len);
    ngx_http_adcp_redis_arg_lit(&a, "EXEC");

    pub->call = ngx_http_adcp_redis_send(rcf, NULL, ngx_http_adcp_bus_on_exec,
                                         pub, &a);

    if (pub->call) {
        return pub;
    }

    (void) ngx_http_adcp_zone_echo_take(&amcf->zone, &pub->message);

failed:

    /* never leave the connection inside a MULTI */

    ngx_http_adcp_redis_reset();

    return NULL;
}


void
ngx_http_adcp_bus_publish_cancel(ngx_http_adcp_bus_publish_t *pub)
{
    if (pub->call) {
        ngx_http_adcp_redis_cancel(pub->call);
        pub->call = NULL;
    }
}


/* EXEC's reply: [<log entry id>, <subscribers>], or NULL: no answer */

static void
ngx_http_adcp_bus_on_exec(ngx_http_adcp_redis_reply_t *reply, void *data)
{
    ngx_http_adcp_bus_publish_t *pub = data;

    size_t     n;
    int64_t    subscribers;
    ngx_str_t  id;

    pub->call = NULL;

    if (ngx_http_adcp_redis_array(reply, &n) == NGX_OK) {
        (void) ngx_atomic_fetch_add(&pub->amcf->zone.sh->redis_published, 1);

    } else {

        /* not published: an identical message from another host is not
           this one's echo */

        (void) ngx_http_adcp_zone_echo_take(&pub->amcf->zone, &pub->message);
        n = 0;
    }

    if (n != 2
        || ngx_http_adcp_redis_string(ngx_http_adcp_redis_element(reply, 0),
                                      &id)
           != NGX_OK
        || id.len >= NGX_HTTP_ADCP_LOG_ID_LEN
        || ngx_http_adcp_redis_integer(ngx_http_adcp_redis_element(reply, 1),
                                       &subscribers)
           != NGX_OK)
    {
        ngx_str_null(&id);
        subscribers = -1;
    }

    pub->done(pub->data, &id, subscribers);
}


/* NGX_OK and the tenant ("*" for all), or NGX_DECLINED: malformed */

ngx_int_t
ngx_http_adcp_bus_parse(ngx_str_t *message, ngx_str_t *tenant,
    ngx_uint_t *recheck)
{
    u_char  *p, *last;

    p = message->data;
    last = p + message->len;

    while (p < last && (*p == ' ' || *p == '\t' || *p == '\r'
                        || *p == '\n'))
    {
        p++;
    }

    while (last > p && (last[-1] == ' ' || last[-1] == '\t'
                        || last[-1] == '\r' || last[-1] == '\n'))
    {
        last--;
    }

    *recheck = 0;

    if (last - p > 8 && ngx_strncmp(p, "recheck ", 8) == 0) {
        *recheck = 1;
        p += 8;
    }

    tenant->data = p;
    tenant->len = last - p;

    if (tenant->len == 1 && *p == '*' && !*recheck) {
        return NGX_OK;
    }

    return ngx_http_adcp_tenant_id_valid(tenant->data, tenant->len)
           ? NGX_OK : NGX_DECLINED;
}


static void
ngx_http_adcp_bus_message(ngx_str_t *message, void *data)
{
    ngx_http_adcp_bus_apply(data, message, 0);
}


static void
ngx_http_adcp_bus_apply(ngx_http_adcp_bus_t *bus, ngx_str_t *message,
    ngx_uint_t replayed)
{
    ngx_str_t               tenant;
    ngx_uint_t              recheck;
    ngx_http_adcp_zone_t   *zone;
    ngx_http_adcp_shctx_t  *sh;

    zone = &bus->amcf->zone;
    sh = zone->sh;

    if (ngx_http_adcp_bus_parse(message, &tenant, &recheck) != NGX_OK) {
        sh->redis_ignored++;
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "adcp: redis: ignored a malformed message of %uz "
                      "bytes", message->len);
        return;
    }

    sh->redis_messages++;
    sh->redis_last = ngx_time();

    if (replayed) {
        sh->redis_replayed++;
    }

    if (ngx_http_adcp_zone_echo_take(zone, message)) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "adcp: redis: \"%V\" was applied when published",
                       message);
        return;
    }

    ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                  "adcp: redis: %s%s \"%V\"", replayed ? "replayed " : "",
                  recheck ? "recheck" : "invalidate", &tenant);

    ngx_http_adcp_zone_invalidate(zone,
                                  (tenant.len == 1 && tenant.data[0] == '*')
                                  ? NULL : &tenant, recheck);
}


static void
ngx_http_adcp_bus_state(ngx_uint_t state, void *data)
{
    ngx_http_adcp_bus_t *bus = data;

    ngx_http_adcp_shctx_t  *sh;

    sh = bus->amcf->zone.sh;

    if (bus->call) {
        ngx_http_adcp_redis_cancel(bus->call);
        bus->call = NULL;
    }

    bus->observed[0] = '\0';
    bus->confirming[0] = '\0';

    /* a worker on its way out: the link is its successor's to report */

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    if (state == NGX_HTTP_ADCP_REDIS_CONNECTING
        && sh->redis_state != NGX_HTTP_ADCP_REDIS_OFF)
    {
        sh->redis_reconnects++;
    }

    sh->redis_state = state;

    if (state == NGX_HTTP_ADCP_REDIS_SUBSCRIBED) {
        bus->syncing = 1;
        ngx_http_adcp_bus_sync(bus);
    }
}


/* the link renews its subscription: what was observed may be confirmed */

static void
ngx_http_adcp_bus_renew(void *data)
{
    ngx_http_adcp_bus_t *bus = data;

    if (!bus->syncing) {
        ngx_memcpy(bus->confirming, bus->observed, NGX_HTTP_ADCP_LOG_ID_LEN);
    }
}


static void
ngx_http_adcp_bus_renewed(void *data)
{
    ngx_http_adcp_bus_t *bus = data;

    ngx_http_adcp_shctx_t  *sh;

    if (bus->syncing) {

        /* the log could not be read after the subscription: again */

        if (bus->call == NULL) {
            ngx_http_adcp_bus_sync(bus);
        }

        return;
    }

    sh = bus->amcf->zone.sh;

    if (bus->confirming[0]
        && ngx_http_adcp_bus_idcmp(bus->confirming,
                                   ngx_strlen(bus->confirming),
                                   sh->redis_log_id,
                                   ngx_strlen(sh->redis_log_id))
           > 0)
    {
        ngx_http_adcp_bus_position(bus, bus->confirming,
                                   ngx_strlen(bus->confirming));
    }

    bus->confirming[0] = '\0';

    if (bus->call == NULL) {
        bus->call = ngx_http_adcp_bus_info(bus, ngx_http_adcp_bus_on_observe);
    }
}


static void
ngx_http_adcp_bus_sync(ngx_http_adcp_bus_t *bus)
{
    bus->call = ngx_http_adcp_bus_info(bus, ngx_http_adcp_bus_on_info);
}


/*
 * After a (re)subscription: where the log stands against the position.
 */

static void
ngx_http_adcp_bus_on_info(ngx_http_adcp_redis_reply_t *reply, void *data)
{
    ngx_http_adcp_bus_t *bus = data;

    size_t                  len, n;
    u_char                 *last;
    int64_t                 added, length;
    ngx_str_t               err, gen, first;
    ngx_uint_t              i, built;
    ngx_http_adcp_shctx_t  *sh;
    ngx_http_adcp_redis_reply_t  *entry;

    bus->call = NULL;
    built = 0;
    sh = bus->amcf->zone.sh;
    last = sh->redis_log_id;
    len = ngx_strlen(last);

    if (reply == NULL) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "adcp: redis: cannot read \"%V\", trying again",
                      &bus->amcf->redis.log);
        return;
    }

    if (ngx_http_adcp_redis_error(reply, &err) == NGX_OK
        && !(err.len >= 15
             && ngx_strncmp(err.data, "ERR no such key", 15) == 0))
    {
        /* LOADING, NOPERM, ...: not an answer; the next renewal retries */

        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "adcp: redis: cannot read \"%V\": %V",
                      &bus->amcf->redis.log, &err);
        return;
    }

    if (ngx_http_adcp_redis_error(reply, &err) == NGX_OK) {

        /* no log: lost, unless there never was one since we last saw */

        if (len && ngx_strcmp(last, "0-0") != 0) {
            ngx_http_adcp_bus_resync(bus, "the log is gone", NULL);
        }

        ngx_http_adcp_bus_position(bus, (u_char *) "0-0", 3);
        bus->syncing = 0;
        return;
    }

    if (ngx_http_adcp_redis_string(
            ngx_http_adcp_redis_field(reply, "last-generated-id"), &gen)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "adcp: redis: unexpected XINFO STREAM reply");
        return;
    }

    if (len == 0) {

        /* the first subscription since the zone was made */

        for (i = 0; i < NGX_HTTP_ADCP_MAX_WORKERS; i++) {
            built += sh->rows[i].counters[NGX_HTTP_ADCP_C_BUILDS_OK];
        }

        if (built) {
            ngx_http_adcp_bus_resync(bus, "platforms were built before "
                                     "the first subscription", &gen);
        }

        ngx_http_adcp_bus_position(bus, gen.data, gen.len);
        bus->syncing = 0;
        return;
    }

    if (ngx_http_adcp_bus_idcmp(gen.data, gen.len, last, len) < 0) {
        ngx_http_adcp_bus_resync(bus, "the log was made anew", &gen);
        bus->syncing = 0;
        return;
    }

    if (ngx_strcmp(last, "0-0") == 0) {

        /* entries were added since the log was seen empty: all there? */

        if (ngx_http_adcp_redis_integer(
                ngx_http_adcp_redis_field(reply, "entries-added"), &added)
            == NGX_OK
            && ngx_http_adcp_redis_integer(
                   ngx_http_adcp_redis_field(reply, "length"), &length)
               == NGX_OK
            && added > length)
        {
            ngx_http_adcp_bus_resync(bus, "entries were trimmed", &gen);
            bus->syncing = 0;
            return;
        }

    } else {
        entry = ngx_http_adcp_redis_field(reply, "first-entry");

        if (ngx_http_adcp_redis_array(entry, &n) == NGX_OK && n == 2
            && ngx_http_adcp_redis_string(
                   ngx_http_adcp_redis_element(entry, 0), &first)
               == NGX_OK
            && ngx_http_adcp_bus_idcmp(first.data, first.len, last, len) > 0)
        {
            ngx_http_adcp_bus_resync(bus, "the last entry applied was "
                                     "trimmed", &gen);
            bus->syncing = 0;
            return;
        }
    }

    if (ngx_http_adcp_bus_idcmp(gen.data, gen.len, last, len) == 0) {
        bus->syncing = 0;
        return;
    }

    ngx_http_adcp_bus_read(bus);
}


/* while subscribed: the log's last id, confirmed by the next renewal */

static void
ngx_http_adcp_bus_on_observe(ngx_http_adcp_redis_reply_t *reply, void *data)
{
    ngx_http_adcp_bus_t *bus = data;

    ngx_str_t  gen;

    bus->call = NULL;

    if (ngx_http_adcp_redis_string(
            ngx_http_adcp_redis_field(reply, "last-generated-id"), &gen)
        == NGX_OK
        && gen.len < NGX_HTTP_ADCP_LOG_ID_LEN)
    {
        ngx_memcpy(bus->observed, gen.data, gen.len);
        bus->observed[gen.len] = '\0';
    }
}


static void
ngx_http_adcp_bus_read(ngx_http_adcp_bus_t *bus)
{
    u_char                      from[NGX_HTTP_ADCP_LOG_ID_LEN + 1], *p;
    size_t                      len[6];
    const char                 *argv[6];
    ngx_http_adcp_redis_args_t  a;

    p = ngx_sprintf(from, "(%s", bus->amcf->zone.sh->redis_log_id);

    ngx_http_adcp_redis_args_local(&a, argv, len);
    ngx_http_adcp_redis_arg_lit(&a, "XRANGE");
    ngx_http_adcp_redis_arg_str(&a, &bus->amcf->redis.log);
    ngx_http_adcp_redis_arg(&a, from, p - from);
    ngx_http_adcp_redis_arg_lit(&a, "+");
    ngx_http_adcp_redis_arg_lit(&a, "COUNT");
    ngx_http_adcp_redis_arg_lit(&a, ngx_value(NGX_HTTP_ADCP_BUS_PAGE));

    bus->call = ngx_http_adcp_redis_send(&bus->amcf->redis, NULL,
                                         ngx_http_adcp_bus_on_range, bus, &a);
}


/* a page of log entries: [[id, [field, value, ...]], ...] */

static void
ngx_http_adcp_bus_on_range(ngx_http_adcp_redis_reply_t *reply, void *data)
{
    ngx_http_adcp_bus_t *bus = data;

    size_t                        i, k, n, m, f;
    ngx_str_t                     id, name, message;
    ngx_http_adcp_redis_reply_t  *entry, *fields;

    bus->call = NULL;

    if (ngx_http_adcp_redis_array(reply, &n) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "adcp: redis: cannot read \"%V\", trying again",
                      &bus->amcf->redis.log);
        return;
    }

    for (i = 0; i < n; i++) {
        entry = ngx_http_adcp_redis_element(reply, i);
        fields = ngx_http_adcp_redis_element(entry, 1);

        if (ngx_http_adcp_redis_array(entry, &m) != NGX_OK || m != 2
            || ngx_http_adcp_redis_string(
                   ngx_http_adcp_redis_element(entry, 0), &id)
               != NGX_OK
            || ngx_http_adcp_redis_array(fields, &f) != NGX_OK)
        {
            continue;
        }

        for (k = 0; k + 1 < f; k += 2) {
            if (ngx_http_adcp_redis_string(
                    ngx_http_adcp_redis_element(fields, k), &name)
                == NGX_OK
                && name.len == 1 && name.data[0] == 'm'
                && ngx_http_adcp_redis_string(
                       ngx_http_adcp_redis_element(fields, k + 1), &message)
                   == NGX_OK)
            {
                ngx_http_adcp_bus_apply(bus, &message, 1);
            }
        }

        ngx_http_adcp_bus_position(bus, id.data, id.len);
    }

    if (n == NGX_HTTP_ADCP_BUS_PAGE) {
        ngx_http_adcp_bus_read(bus);
        return;
    }

    bus->syncing = 0;
}


/* what was missed cannot be known: every platform expires */

static void
ngx_http_adcp_bus_resync(ngx_http_adcp_bus_t *bus, const char *why,
    ngx_str_t *last)
{
    ngx_http_adcp_zone_t  *zone;

    zone = &bus->amcf->zone;

    ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                  "adcp: redis: \"%V\": %s since entry \"%s\", every "
                  "platform expires", &bus->amcf->redis.log, why,
                  zone->sh->redis_log_id);

    zone->sh->redis_resyncs++;

    ngx_http_adcp_zone_invalidate(zone, NULL, 0);

    if (last) {
        ngx_http_adcp_bus_position(bus, last->data, last->len);
    }
}


static void
ngx_http_adcp_bus_position(ngx_http_adcp_bus_t *bus, u_char *id, size_t len)
{
    ngx_http_adcp_zone_t  *zone;

    if (len >= NGX_HTTP_ADCP_LOG_ID_LEN) {
        return;
    }

    zone = &bus->amcf->zone;

    ngx_shmtx_lock(&zone->shpool->mutex);

    ngx_memcpy(zone->sh->redis_log_id, id, len);
    zone->sh->redis_log_id[len] = '\0';

    ngx_shmtx_unlock(&zone->shpool->mutex);
}


/* stream ids "<ms>-<seq>", compared as two numbers */

static ngx_int_t
ngx_http_adcp_bus_idcmp(u_char *a, size_t alen, u_char *b, size_t blen)
{
    u_char      *p, *last;
    size_t       len;
    uint64_t     n[2][2];
    ngx_uint_t   i, k;

    for (i = 0; i < 2; i++) {
        p = i ? b : a;
        len = i ? blen : alen;
        last = p + len;

        n[i][0] = 0;
        n[i][1] = 0;
        k = 0;

        for ( /* void */ ; p < last; p++) {
            if (*p == '-' && k == 0) {
                k = 1;
                continue;
            }

            if (*p < '0' || *p > '9') {
                break;
            }

            n[i][k] = n[i][k] * 10 + (*p - '0');
        }
    }

    for (k = 0; k < 2; k++) {
        if (n[0][k] != n[1][k]) {
            return n[0][k] < n[1][k] ? -1 : 1;
        }
    }

    return 0;
}


/* XINFO STREAM <log> */

static ngx_http_adcp_redis_call_t *
ngx_http_adcp_bus_info(ngx_http_adcp_bus_t *bus,
    ngx_http_adcp_redis_reply_pt handler)
{
    size_t                      len[3];
    const char                 *argv[3];
    ngx_http_adcp_redis_args_t  a;

    ngx_http_adcp_redis_args_local(&a, argv, len);
    ngx_http_adcp_redis_arg_lit(&a, "XINFO");
    ngx_http_adcp_redis_arg_lit(&a, "STREAM");
    ngx_http_adcp_redis_arg_str(&a, &bus->amcf->redis.log);

    return ngx_http_adcp_redis_send(&bus->amcf->redis, NULL, handler, bus, &a);
}
