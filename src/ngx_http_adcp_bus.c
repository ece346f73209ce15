
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


#define NGX_HTTP_ADCP_BUS_PAGE  1000     /* log entries a read */


typedef struct {
    ngx_http_adcp_main_conf_t    *amcf;
    ngx_http_adcp_redis_call_t   *call;         /* XINFO or XRANGE */
    u_char                        observed[NGX_HTTP_ADCP_LOG_ID_LEN];
    u_char                        confirming[NGX_HTTP_ADCP_LOG_ID_LEN];
    unsigned                      syncing:1;    /* the log not read yet */
} ngx_http_adcp_bus_t;


static void ngx_http_adcp_bus_message(ngx_str_t *message, void *data);
static void ngx_http_adcp_bus_apply(ngx_http_adcp_bus_t *bus,
    ngx_str_t *message, ngx_uint_t replayed);
static void ngx_http_adcp_bus_state(ngx_uint_t state, void *data);
static void ngx_http_adcp_bus_renew(void *data);
static void ngx_http_adcp_bus_renewed(void *data);
static void ngx_http_adcp_bus_sync(ngx_http_adcp_bus_t *bus);
static void ngx_http_adcp_bus_on_info(redisReply *reply, void *data);
static void ngx_http_adcp_bus_on_observe(redisReply *reply, void *data);
static void ngx_http_adcp_bus_read(ngx_http_adcp_bus_t *bus);
static void ngx_http_adcp_bus_on_range(redisReply *reply, void *data);
static void ngx_http_adcp_bus_resync(ngx_http_adcp_bus_t *bus,
    const char *why, redisReply *last);
static void ngx_http_adcp_bus_position(ngx_http_adcp_bus_t *bus,
    u_char *id, size_t len);
static redisReply *ngx_http_adcp_bus_field(redisReply *map, char *name);
static ngx_int_t ngx_http_adcp_bus_idcmp(u_char *a, size_t alen, u_char *b,
    size_t blen);
static ngx_http_adcp_redis_call_t *ngx_http_adcp_bus_command(
    ngx_http_adcp_bus_t *bus, ngx_http_adcp_redis_reply_pt handler,
    int argc, const char **argv);


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

    const char             *argv[3] = { "XINFO", "STREAM", NULL };
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
        bus->call = ngx_http_adcp_bus_command(bus,
                                              ngx_http_adcp_bus_on_observe,
                                              3, argv);
    }
}


static void
ngx_http_adcp_bus_sync(ngx_http_adcp_bus_t *bus)
{
    const char  *argv[3] = { "XINFO", "STREAM", NULL };

    bus->call = ngx_http_adcp_bus_command(bus, ngx_http_adcp_bus_on_info,
                                          3, argv);
}


/*
 * After a (re)subscription: where the log stands against the position.
 */

static void
ngx_http_adcp_bus_on_info(redisReply *reply, void *data)
{
    ngx_http_adcp_bus_t *bus = data;

    size_t                  len;
    u_char                 *last;
    ngx_uint_t              i, built;
    redisReply             *gen, *first, *added, *length;
    ngx_http_adcp_shctx_t  *sh;

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

    if (reply->type == REDIS_REPLY_ERROR
        && ngx_strncmp(reply->str, "ERR no such key", 15) != 0)
    {
        /* LOADING, NOPERM, ...: not an answer; the next renewal retries */

        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "adcp: redis: cannot read \"%V\": %*s",
                      &bus->amcf->redis.log, (size_t) reply->len, reply->str);
        return;
    }

    if (reply->type == REDIS_REPLY_ERROR) {

        /* no log: lost, unless there never was one since we last saw */

        if (len && ngx_strcmp(last, "0-0") != 0) {
            ngx_http_adcp_bus_resync(bus, "the log is gone", NULL);
        }

        ngx_http_adcp_bus_position(bus, (u_char *) "0-0", 3);
        bus->syncing = 0;
        return;
    }

    gen = ngx_http_adcp_bus_field(reply, "last-generated-id");
    first = ngx_http_adcp_bus_field(reply, "first-entry");
    added = ngx_http_adcp_bus_field(reply, "entries-added");
    length = ngx_http_adcp_bus_field(reply, "length");

    if (gen == NULL || gen->type != REDIS_REPLY_STRING) {
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
                                     "the first subscription", gen);
        }

        ngx_http_adcp_bus_position(bus, (u_char *) gen->str, gen->len);
        bus->syncing = 0;
        return;
    }

    if (ngx_http_adcp_bus_idcmp((u_char *) gen->str, gen->len, last, len)
        < 0)
    {
        ngx_http_adcp_bus_resync(bus, "the log was made anew", gen);
        bus->syncing = 0;
        return;
    }

    if (ngx_strcmp(last, "0-0") == 0) {

        /* entries were added since the log was seen empty: all there? */

        if (added && length && added->type == REDIS_REPLY_INTEGER
            && length->type == REDIS_REPLY_INTEGER
            && added->integer > length->integer)
        {
            ngx_http_adcp_bus_resync(bus, "entries were trimmed", gen);
            bus->syncing = 0;
            return;
        }

    } else if (first && first->type == REDIS_REPLY_ARRAY
               && first->elements == 2
               && first->element[0]->type == REDIS_REPLY_STRING
               && ngx_http_adcp_bus_idcmp((u_char *) first->element[0]->str,
                                          first->element[0]->len, last, len)
                  > 0)
    {
        ngx_http_adcp_bus_resync(bus, "the last entry applied was trimmed",
                                 gen);
        bus->syncing = 0;
        return;
    }

    if (ngx_http_adcp_bus_idcmp((u_char *) gen->str, gen->len, last, len)
        == 0)
    {
        bus->syncing = 0;
        return;
    }

    ngx_http_adcp_bus_read(bus);
}


/* while subscribed: the log's last id, confirmed by the next renewal */

static void
ngx_http_adcp_bus_on_observe(redisReply *reply, void *data)
{
    ngx_http_adcp_bus_t *bus = data;

    redisReply  *gen;

    bus->call = NULL;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        return;
    }

    gen = ngx_http_adcp_bus_field(reply, "last-generated-id");

    if (gen && gen->type == REDIS_REPLY_STRING
        && gen->len < NGX_HTTP_ADCP_LOG_ID_LEN)
    {
        ngx_memcpy(bus->observed, gen->str, gen->len);
        bus->observed[gen->len] = '\0';
    }
}


static void
ngx_http_adcp_bus_read(ngx_http_adcp_bus_t *bus)
{
    u_char       from[NGX_HTTP_ADCP_LOG_ID_LEN + 1];
    u_char       count[NGX_INT_T_LEN + 1];
    const char  *argv[6];

    ngx_sprintf(from, "(%s%Z", bus->amcf->zone.sh->redis_log_id);
    ngx_sprintf(count, "%d%Z", NGX_HTTP_ADCP_BUS_PAGE);

    argv[0] = "XRANGE";
    argv[1] = NULL;
    argv[2] = (char *) from;
    argv[3] = "+";
    argv[4] = "COUNT";
    argv[5] = (char *) count;

    bus->call = ngx_http_adcp_bus_command(bus, ngx_http_adcp_bus_on_range,
                                          6, argv);
}


/* a page of log entries: [[id, [field, value, ...]], ...] */

static void
ngx_http_adcp_bus_on_range(redisReply *reply, void *data)
{
    ngx_http_adcp_bus_t *bus = data;

    size_t       i, k;
    ngx_str_t    message;
    redisReply  *entry, *fields;

    bus->call = NULL;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "adcp: redis: cannot read \"%V\", trying again",
                      &bus->amcf->redis.log);
        return;
    }

    for (i = 0; i < reply->elements; i++) {
        entry = reply->element[i];

        if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2
            || entry->element[0]->type != REDIS_REPLY_STRING
            || entry->element[1]->type != REDIS_REPLY_ARRAY)
        {
            continue;
        }

        fields = entry->element[1];

        for (k = 0; k + 1 < fields->elements; k += 2) {
            if (fields->element[k]->type == REDIS_REPLY_STRING
                && fields->element[k]->len == 1
                && fields->element[k]->str[0] == 'm'
                && fields->element[k + 1]->type == REDIS_REPLY_STRING)
            {
                message.data = (u_char *) fields->element[k + 1]->str;
                message.len = fields->element[k + 1]->len;

                ngx_http_adcp_bus_apply(bus, &message, 1);
            }
        }

        ngx_http_adcp_bus_position(bus, (u_char *) entry->element[0]->str,
                                   entry->element[0]->len);
    }

    if (reply->elements == NGX_HTTP_ADCP_BUS_PAGE) {
        ngx_http_adcp_bus_read(bus);
        return;
    }

    bus->syncing = 0;
}


/* what was missed cannot be known: every platform expires */

static void
ngx_http_adcp_bus_resync(ngx_http_adcp_bus_t *bus, const char *why,
    redisReply *last)
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
        ngx_http_adcp_bus_position(bus, (u_char *) last->str, last->len);
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


/* XINFO STREAM's reply is a flat array of names and values */

static redisReply *
ngx_http_adcp_bus_field(redisReply *map, char *name)
{
    size_t  i, len;

    if (map->type != REDIS_REPLY_ARRAY) {
        return NULL;
    }

    len = ngx_strlen(name);

    for (i = 0; i + 1 < map->elements; i += 2) {
        if (map->element[i]->type == REDIS_REPLY_STRING
            && map->element[i]->len == len
            && ngx_strncmp(map->element[i]->str, name, len) == 0)
        {
            return map->element[i + 1];
        }
    }

    return NULL;
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


/* a command on the log: a NULL in argv stands for the log's name */

static ngx_http_adcp_redis_call_t *
ngx_http_adcp_bus_command(ngx_http_adcp_bus_t *bus,
    ngx_http_adcp_redis_reply_pt handler, int argc, const char **argv)
{
    int     i;
    size_t  argvlen[8];

    for (i = 0; i < argc && i < 8; i++) {
        if (argv[i] == NULL) {
            argv[i] = (char *) bus->amcf->redis.log.data;
            argvlen[i] = bus->amcf->redis.log.len;

        } else {
            argvlen[i] = ngx_strlen(argv[i]);
        }
    }

    return ngx_http_adcp_redis_command(&bus->amcf->redis, handler, bus,
                                       i, argv, argvlen);
}
