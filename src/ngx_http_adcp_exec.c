
/*
 * ngx_http_adcp_module: long-running tasks (SPEC section 7), part B.
 *
 * The consumer (every worker): on a Redis connection of its own, since a
 * blocking read cannot share the command connection's deadline, the
 * group "adcp" of the stream adcp:tasks is created from 0 (the stream
 * holds only unfinished tasks; BUSYGROUP is fine)
 * and read with XREADGROUP ... COUNT <free slots> BLOCK 2000 as consumer
 * <hostname>:<pid>, while fewer than adcp_task_concurrency tasks run.
 *
 * An execution: one EVAL claims the record (status working, attempts+1,
 * and what the request needs), or finds it finished (only its webhook or
 * acknowledgement left), gone (expired: acknowledged), or attempted
 * NGX_HTTP_ADCP_EXEC_ATTEMPTS times already (failed).  Then a loopback
 * connection to this nginx's listening socket of the port the buyer used
 * (a wildcard address: 127.0.0.1 or ::1) sends the stored request as
 * HTTP/1.0 with Connection: close, the stored headers, an Accept that
 * lists application/json and text/event-stream, and last the header
 * Adcp-Task-Exec: <host secret> <task id> <tenant>; the module proxies
 * such a
 * request at once (ngx_http_adcp_exec_marked()).  The reply is read to
 * its end (at most 1 MB), its JSON or last SSE event interpreted, and a
 * second EVAL stores completed/failed with the result or error and
 * acknowledges (XACK, XDEL) the entry, unless a webhook is due: it is
 * POSTed first (backoff 1, 2, 4, 8, 16 s), then the entry acknowledged.
 *
 * Recovery: every adcp_task_claim_after / 3 a worker refreshes the
 * entries it runs (XCLAIM ... JUSTID, idle 0) and claims others idle for
 * adcp_task_claim_after (XAUTOCLAIM), which it runs like new ones.
 *
 * Every execution owns a pool; an exiting worker reads no more, finishes
 * what it runs (the deadline timers are not cancelable), and frees what is
 * left at exit (those tasks are reclaimed).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_event_connect.h>
#include <ngx_http.h>

#include <yajl/yajl_tree.h>
#include <yajl/yajl_gen.h>

#include "ngx_http_adcp.h"
#include "ngx_http_adcp_exec.h"
#include "ngx_http_adcp_tasks.h"
#include "ngx_http_adcp_json.h"


#define NGX_HTTP_ADCP_EXEC_BLOCK       2000
#define NGX_HTTP_ADCP_EXEC_RETRY       1000     /* doubling to 10 s */
#define NGX_HTTP_ADCP_EXEC_RETRY_MAX   10000
#define NGX_HTTP_ADCP_EXEC_MAX_DEPTH   512

#define NGX_HTTP_ADCP_PH_CLAIM         0
#define NGX_HTTP_ADCP_PH_RUN           1
#define NGX_HTTP_ADCP_PH_FINISH        2
#define NGX_HTTP_ADCP_PH_HOOK          3
#define NGX_HTTP_ADCP_PH_ACK           4

/* the fields the claim script returns after its tag */
#define NGX_HTTP_ADCP_F_STATUS         0
#define NGX_HTTP_ADCP_F_URI            2
#define NGX_HTTP_ADCP_F_HOST           3
#define NGX_HTTP_ADCP_F_HEADERS        4
#define NGX_HTTP_ADCP_F_BODY           5
#define NGX_HTTP_ADCP_F_PORT           6
#define NGX_HTTP_ADCP_F_TENANT         7
#define NGX_HTTP_ADCP_F_TRANSPORT      8
#define NGX_HTTP_ADCP_F_HAS_WEBHOOK    9
#define NGX_HTTP_ADCP_F_WEBHOOK_SENT   10
#define NGX_HTTP_ADCP_F_WEBHOOK_URL    11
#define NGX_HTTP_ADCP_F_WEBHOOK_TOKEN  12
#define NGX_HTTP_ADCP_F_WEBHOOK_AUTH   13
#define NGX_HTTP_ADCP_F_OPERATION_ID   14
#define NGX_HTTP_ADCP_F_TASK_TYPE      15
#define NGX_HTTP_ADCP_F_PROTOCOL       16
#define NGX_HTTP_ADCP_F_RESULT         17
#define NGX_HTTP_ADCP_F_ERROR          18
#define NGX_HTTP_ADCP_F_COMPLETED_AT   19
#define NGX_HTTP_ADCP_F_RPC_METHOD     20
#define NGX_HTTP_ADCP_NFIELDS          21


typedef struct ngx_http_adcp_exec_s  ngx_http_adcp_exec_t;

typedef void (*ngx_http_adcp_exec_done_pt)(ngx_http_adcp_exec_t *e,
    ngx_int_t rc);


typedef struct {
    ngx_http_adcp_main_conf_t      *amcf;
    ngx_http_adcp_redis_conn_t     *stream;     /* XGROUP, XREADGROUP */
    ngx_http_adcp_redis_call_t     *read;
    ngx_http_adcp_redis_call_t     *claim;      /* XAUTOCLAIM */
    ngx_event_t                     retry;      /* read again */
    ngx_event_t                     tick;       /* refresh, reclaim */
    ngx_queue_t                     execs;
    ngx_uint_t                      running;
    ngx_uint_t                      ticks;
    ngx_msec_t                      backoff;    /* 0: reading fine */
    ngx_str_t                       consumer;   /* <hostname>:<pid> */
    ngx_resolver_t                 *resolver;   /* webhook host names */
    ngx_msec_t                      resolver_timeout;
    unsigned                        group:1;
    unsigned                        exiting:1;
} ngx_http_adcp_consumer_t;


struct ngx_http_adcp_exec_s {
    ngx_queue_t                     queue;
    ngx_pool_t                     *pool;
    ngx_log_t                      *log;
    ngx_http_adcp_redis_call_t     *call;
    ngx_peer_connection_t           peer;
    ngx_event_t                     timer;      /* deadline, backoff */
    ngx_http_adcp_exec_done_pt      done;       /* the HTTP exchange's */
    ngx_uint_t                      phase;      /* NGX_HTTP_ADCP_PH_* */

    ngx_str_t                       entry;      /* the stream entry id */
    ngx_str_t                       task_id;
    ngx_str_t                       f[NGX_HTTP_ADCP_NFIELDS];

    ngx_str_t                       status;     /* completed, failed */
    ngx_str_t                       value;      /* result or error */
    ngx_str_t                       now;

    ngx_buf_t                      *out;
    u_char                         *in;         /* the reply so far */
    size_t                          in_len;
    size_t                          in_size;

    ngx_uint_t                      hooks;      /* webhook attempts */
    ngx_resolver_ctx_t             *resolving;
    in_port_t                       hook_port;
    ngx_addr_t                     *hook_addrs; /* allowed, in order */
    ngx_uint_t                      hook_naddrs;
    ngx_uint_t                      hook_next;  /* the next one to try */
    ngx_int_t                       code;       /* HTTP status */
    unsigned                        counted:1;  /* in "running" */
    unsigned                        reclaimed:1;
};


static void ngx_http_adcp_exec_read(ngx_http_adcp_consumer_t *cs);
static void ngx_http_adcp_exec_on_group(redisReply *reply, void *data);
static void ngx_http_adcp_exec_on_read(redisReply *reply, void *data);
static void ngx_http_adcp_exec_backoff(ngx_http_adcp_consumer_t *cs);
static void ngx_http_adcp_exec_retry(ngx_event_t *ev);
static void ngx_http_adcp_exec_tick(ngx_event_t *ev);
static void ngx_http_adcp_exec_on_claim(redisReply *reply, void *data);
static void ngx_http_adcp_exec_entries(ngx_http_adcp_consumer_t *cs,
    redisReply *entries, ngx_uint_t reclaimed);
static void ngx_http_adcp_exec_start(ngx_http_adcp_consumer_t *cs,
    redisReply *entry, ngx_uint_t reclaimed);
static void ngx_http_adcp_exec_free(ngx_http_adcp_exec_t *e);
static void ngx_http_adcp_exec_abandon(ngx_http_adcp_exec_t *e);
static ngx_int_t ngx_http_adcp_exec_command(ngx_http_adcp_exec_t *e,
    ngx_http_adcp_redis_reply_pt handler, int argc, const char **argv,
    const size_t *argvlen);
static void ngx_http_adcp_exec_on_claimed(redisReply *reply, void *data);
static void ngx_http_adcp_exec_run(ngx_http_adcp_exec_t *e);
static ngx_int_t ngx_http_adcp_exec_target(ngx_http_adcp_exec_t *e,
    struct sockaddr_storage *ss, socklen_t *len);
static ngx_uint_t ngx_http_adcp_exec_unusable(ngx_listening_t *ls);
static ngx_int_t ngx_http_adcp_exec_request(ngx_http_adcp_exec_t *e);
static ngx_int_t ngx_http_adcp_exec_unstream(ngx_http_adcp_exec_t *e,
    ngx_str_t *body);
static ngx_uint_t ngx_http_adcp_exec_header_skip(const char *name);
static ngx_uint_t ngx_http_adcp_exec_clean(const char *s);
static ngx_int_t ngx_http_adcp_exec_http(ngx_http_adcp_exec_t *e,
    struct sockaddr *sa, socklen_t len, ngx_msec_t timeout,
    ngx_http_adcp_exec_done_pt done);
static void ngx_http_adcp_exec_http_write(ngx_event_t *ev);
static void ngx_http_adcp_exec_http_sent(ngx_event_t *ev);
static void ngx_http_adcp_exec_http_read(ngx_event_t *ev);
static void ngx_http_adcp_exec_http_timer(ngx_event_t *ev);
static void ngx_http_adcp_exec_http_end(ngx_http_adcp_exec_t *e,
    ngx_int_t rc);
static void ngx_http_adcp_exec_http_close(ngx_http_adcp_exec_t *e);
static ngx_int_t ngx_http_adcp_exec_parse(ngx_http_adcp_exec_t *e,
    ngx_str_t *ct, ngx_str_t *body);
static void ngx_http_adcp_exec_on_reply(ngx_http_adcp_exec_t *e,
    ngx_int_t rc);
static void ngx_http_adcp_exec_sse(ngx_str_t *body, ngx_str_t *json);
static u_char *ngx_http_adcp_exec_sse_data(u_char *d, u_char *ev, u_char *p,
    size_t n);
static ngx_uint_t ngx_http_adcp_exec_sse_response(u_char *p, size_t len);
static void ngx_http_adcp_exec_interpret(ngx_http_adcp_exec_t *e,
    yajl_val root);
static void ngx_http_adcp_exec_mcp_error(ngx_http_adcp_exec_t *e,
    yajl_val res);
static ngx_int_t ngx_http_adcp_exec_gen(yajl_gen g, yajl_val v);
static void ngx_http_adcp_exec_complete(ngx_http_adcp_exec_t *e,
    yajl_val v);
static void ngx_http_adcp_exec_fail(ngx_http_adcp_exec_t *e, char *code,
    ngx_str_t *message);
static void ngx_http_adcp_exec_finish(ngx_http_adcp_exec_t *e);
static void ngx_http_adcp_exec_on_finish(redisReply *reply, void *data);
static void ngx_http_adcp_exec_hook(ngx_http_adcp_exec_t *e);
static void ngx_http_adcp_exec_hook_resolved(ngx_resolver_ctx_t *ctx);
static void ngx_http_adcp_exec_hook_connect(ngx_http_adcp_exec_t *e);
static void ngx_http_adcp_exec_on_hook_addr(ngx_http_adcp_exec_t *e,
    ngx_int_t rc);
static void ngx_http_adcp_exec_hook_timer(ngx_event_t *ev);
static void ngx_http_adcp_exec_on_hook(ngx_http_adcp_exec_t *e,
    ngx_int_t rc);
static void ngx_http_adcp_exec_ack(ngx_http_adcp_exec_t *e,
    ngx_uint_t hooked);
static void ngx_http_adcp_exec_on_ack(redisReply *reply, void *data);
static void ngx_http_adcp_exec_queue(redisReply *reply);
static ngx_http_adcp_row_t *ngx_http_adcp_exec_row(void);


/*
 * KEYS: the record.  ARGV: the attempts allowed, now, the error of a task
 * attempted that many times.  -> {tag, the 20 fields}, tag: "run" (status
 * now working), "done" (finished before), "exhausted" (failed now: too
 * many attempts), "gone".
 */

static char  ngx_http_adcp_exec_claim_script[] =
    "local f = redis.call('HMGET', KEYS[1], 'status', 'attempts', 'uri',\n"
    "  'host', 'headers', 'body', 'port', 'tenant', 'transport',\n"
    "  'has_webhook', 'webhook_sent', 'webhook_url', 'webhook_token',\n"
    "  'webhook_auth', 'operation_id', 'task_type', 'protocol', 'result',\n"
    "  'error', 'completed_at', 'rpc_method')\n"
    "if not f[1] then return {'gone'} end\n"
    "for i = 1, 21 do if not f[i] then f[i] = '' end end\n"
    "if f[1] == 'completed' or f[1] == 'failed' then\n"
    "  return {'done', unpack(f)}\n"
    "end\n"
    "local n = tonumber(f[2]) or 0\n"
    "if n >= tonumber(ARGV[1]) then\n"
    "  redis.call('HSET', KEYS[1], 'status', 'failed', 'updated_at',\n"
    "    ARGV[2], 'completed_at', ARGV[2], 'error', ARGV[3])\n"
    "  f[1] = 'failed'; f[19] = ARGV[3]; f[20] = ARGV[2]\n"
    "  return {'exhausted', unpack(f)}\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'status', 'working', 'updated_at',\n"
    "  ARGV[2], 'attempts', n + 1)\n"
    "f[1] = 'working'\n"
    "return {'run', unpack(f)}\n";


/*
 * KEYS: the record, the stream.  ARGV: status, now, the field to set
 * (result|error), its value, the other field, the entry, "1" to
 * acknowledge.  -> the stream's length
 */

static char  ngx_http_adcp_exec_finish_script[] =
    "if redis.call('EXISTS', KEYS[1]) == 1 then\n"
    "  redis.call('HSET', KEYS[1], 'status', ARGV[1], 'updated_at',\n"
    "    ARGV[2], 'completed_at', ARGV[2], ARGV[3], ARGV[4])\n"
    "  redis.call('HDEL', KEYS[1], ARGV[5], 'headers')\n"
    "end\n"
    "if ARGV[7] == '1' then\n"
    "  redis.call('XACK', KEYS[2], 'adcp', ARGV[6])\n"
    "  redis.call('XDEL', KEYS[2], ARGV[6])\n"
    "end\n"
    "return redis.call('XLEN', KEYS[2])\n";


/*
 * KEYS: the record, the stream.  ARGV: the entry, "1": webhook sent.
 * The webhook's credentials go with it; the buyer's (the replayed
 * headers) went when the task ended.
 */

static char  ngx_http_adcp_exec_ack_script[] =
    "if redis.call('EXISTS', KEYS[1]) == 1 then\n"
    "  if ARGV[2] == '1' then\n"
    "    redis.call('HSET', KEYS[1], 'webhook_sent', '1')\n"
    "  end\n"
    "  redis.call('HDEL', KEYS[1], 'webhook_auth')\n"
    "end\n"
    "redis.call('XACK', KEYS[2], 'adcp', ARGV[1])\n"
    "redis.call('XDEL', KEYS[2], ARGV[1])\n"
    "return redis.call('XLEN', KEYS[2])\n";


/*
 * KEYS: the stream.  ARGV: idle ms.  Consumers of dead workers: none
 * pending and idle that long (a live one reads every 2 s, and one
 * removed by mistake is made again by its next XREADGROUP).
 */

static char  ngx_http_adcp_exec_consumers_script[] =
    "local n = 0\n"
    "for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], 'adcp'))"
    " do\n"
    "  local h = {}\n"
    "  for i = 1, #c, 2 do h[c[i]] = c[i + 1] end\n"
    "  if h['pending'] == 0 and h['idle'] > tonumber(ARGV[1]) then\n"
    "    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], 'adcp', h['name'])\n"
    "    n = n + 1\n"
    "  end\n"
    "end\n"
    "return n\n";


static ngx_http_adcp_consumer_t  ngx_http_adcp_consumer;


ngx_int_t
ngx_http_adcp_exec_init_worker(ngx_cycle_t *cycle,
    ngx_http_adcp_main_conf_t *amcf)
{
    ngx_msec_t                  tick;
    ngx_http_adcp_consumer_t   *cs;
    ngx_http_core_loc_conf_t   *clcf;
    ngx_http_core_srv_conf_t  **cscfp;
    ngx_http_core_main_conf_t  *cmcf;

    cs = &ngx_http_adcp_consumer;

    ngx_memzero(cs, sizeof(ngx_http_adcp_consumer_t));
    ngx_queue_init(&cs->execs);

    /* adcp_task_concurrency 0: a host that accepts, and runs nothing */

    if (!amcf->tasks || amcf->redis.name.len == 0
        || amcf->task_concurrency == 0)
    {
        return NGX_OK;
    }

    cs->amcf = amcf;

    /* webhook host names: the resolver of the http{} level */

    cmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_core_module);

    if (cmcf && cmcf->servers.nelts) {
        cscfp = cmcf->servers.elts;
        clcf = cscfp[0]->ctx->loc_conf[ngx_http_core_module.ctx_index];
        cs->resolver = clcf->resolver;
        cs->resolver_timeout = clcf->resolver_timeout;
    }

    cs->consumer.data = ngx_alloc(cycle->hostname.len + NGX_INT_T_LEN + 2,
                                  cycle->log);
    if (cs->consumer.data == NULL) {
        return NGX_ERROR;
    }

    cs->consumer.len = ngx_sprintf(cs->consumer.data, "%V:%P",
                                   &cycle->hostname, ngx_pid)
                       - cs->consumer.data;

    cs->stream = ngx_http_adcp_redis_conn_create(&amcf->redis,
                                     NGX_HTTP_ADCP_EXEC_BLOCK
                                     + amcf->redis.ping, 1, cycle->log);
    if (cs->stream == NULL) {
        ngx_free(cs->consumer.data);
        cs->consumer.data = NULL;
        return NGX_ERROR;
    }

    cs->retry.handler = ngx_http_adcp_exec_retry;
    cs->retry.data = cs;
    cs->retry.log = cycle->log;
    cs->retry.cancelable = 1;

    cs->tick.handler = ngx_http_adcp_exec_tick;
    cs->tick.data = cs;
    cs->tick.log = cycle->log;
    cs->tick.cancelable = 1;

    tick = ngx_max(amcf->task_claim_after / 3, 100);

    /* spread the workers' ticks */
    ngx_add_timer(&cs->tick, tick / 2 + ngx_random() % (tick / 2 + 1));

    /* the first read once the event loop runs */
    ngx_add_timer(&cs->retry, 1);

    return NGX_OK;
}


void
ngx_http_adcp_exec_exit_worker(void)
{
    ngx_queue_t               *q;
    ngx_http_adcp_exec_t      *e;
    ngx_http_adcp_consumer_t  *cs;

    cs = &ngx_http_adcp_consumer;

    if (cs->amcf == NULL) {
        return;
    }

    cs->exiting = 1;

    while (!ngx_queue_empty(&cs->execs)) {
        q = ngx_queue_head(&cs->execs);
        e = ngx_queue_data(q, ngx_http_adcp_exec_t, queue);

        ngx_http_adcp_exec_abandon(e);
    }

    if (cs->retry.timer_set) {
        ngx_del_timer(&cs->retry);
    }

    if (cs->tick.timer_set) {
        ngx_del_timer(&cs->tick);
    }

    if (cs->read) {
        ngx_http_adcp_redis_cancel(cs->read);
        cs->read = NULL;
    }

    if (cs->claim) {
        ngx_http_adcp_redis_cancel(cs->claim);
        cs->claim = NULL;
    }

    if (cs->stream) {
        ngx_http_adcp_redis_conn_destroy(cs->stream);
        cs->stream = NULL;
    }

    if (cs->consumer.data) {
        ngx_free(cs->consumer.data);
        cs->consumer.data = NULL;
    }

    cs->amcf = NULL;
}


/*
 * Whether a webhook may go to this address: not loopback, private,
 * link-local, shared (CGNAT), unspecified, multicast or reserved, unless
 * adcp_task_webhook_private is on (a buyer must not reach the gateway's
 * own network: its admin endpoint, a metadata service).
 */

ngx_uint_t
ngx_http_adcp_exec_public(struct sockaddr *sa)
{
    u_char               *a;
    in_addr_t             ip;
    struct sockaddr_in   *sin;
#if (NGX_HAVE_INET6)
    struct in6_addr      *a6;
    struct sockaddr_in6  *sin6;
#endif

    switch (sa->sa_family) {

#if (NGX_HAVE_INET6)
    case AF_INET6:
        sin6 = (struct sockaddr_in6 *) sa;
        a6 = &sin6->sin6_addr;

        if (IN6_IS_ADDR_V4MAPPED(a6)) {
            a = &a6->s6_addr[12];
            ip = (in_addr_t) a[0] << 24 | a[1] << 16 | a[2] << 8 | a[3];
            goto ipv4;
        }

        if (IN6_IS_ADDR_UNSPECIFIED(a6) || IN6_IS_ADDR_LOOPBACK(a6)
            || IN6_IS_ADDR_LINKLOCAL(a6) || IN6_IS_ADDR_SITELOCAL(a6)
            || IN6_IS_ADDR_MULTICAST(a6)
            || (a6->s6_addr[0] & 0xfe) == 0xfc)       /* fc00::/7 */
        {
            return 0;
        }

        return 1;
#endif

    case AF_INET:
        sin = (struct sockaddr_in *) sa;
        ip = ntohl(sin->sin_addr.s_addr);
        break;

    default:
        return 0;
    }

#if (NGX_HAVE_INET6)
ipv4:
#endif

    if ((ip >> 24) == 0                             /* 0.0.0.0/8 */
        || (ip >> 24) == 10                         /* 10.0.0.0/8 */
        || (ip >> 24) == 127                        /* 127.0.0.0/8 */
        || (ip >> 22) == (100 << 2 | 64 >> 6)       /* 100.64.0.0/10 */
        || (ip >> 16) == (169 << 8 | 254)           /* 169.254.0.0/16 */
        || (ip >> 20) == (172 << 4 | 16 >> 4)       /* 172.16.0.0/12 */
        || (ip >> 16) == (192 << 8 | 168)           /* 192.168.0.0/16 */
        || (ip >> 28) >= 14)                        /* 224.0.0.0/3 */
    {
        return 0;
    }

    return 1;
}



/*
 * A request this host's worker sent for a task: the last request header
 * is "Adcp-Task-Exec: <secret> <task id> <tenant>", the secret compared
 * in constant time; it is removed from the request (the adapter never
 * sees it).  A header of that name anywhere else, or with another secret,
 * marks nothing.  NGX_OK: marked; NGX_DECLINED: not; NGX_ABORT: marked,
 * but the request resolved another tenant than the task's.
 */

ngx_int_t
ngx_http_adcp_exec_marked(ngx_http_request_t *r,
    ngx_http_adcp_main_conf_t *amcf, ngx_str_t *tenant)
{
    u_char            diff, *secret, *p, *last, *sp;
    ngx_str_t         task, owner;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    if (!amcf->tasks || amcf->zone.sh == NULL) {
        return NGX_DECLINED;
    }

    part = &r->headers_in.headers.part;

    while (part->next) {
        part = part->next;
    }

    if (part->nelts == 0) {
        return NGX_DECLINED;
    }

    h = part->elts;
    h = &h[part->nelts - 1];

    if (h->key.len != sizeof(NGX_HTTP_ADCP_EXEC_HEADER) - 1
        || ngx_strncasecmp(h->key.data, (u_char *) NGX_HTTP_ADCP_EXEC_HEADER,
                           h->key.len) != 0
        || h->value.len < NGX_HTTP_ADCP_SECRET_LEN + 1
        || h->value.data[NGX_HTTP_ADCP_SECRET_LEN] != ' ')
    {
        return NGX_DECLINED;
    }

    secret = amcf->zone.sh->task_secret;
    diff = 0;

    for (i = 0; i < NGX_HTTP_ADCP_SECRET_LEN; i++) {
        diff |= h->value.data[i] ^ secret[i];
    }

    if (diff) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "adcp: a request with a wrong \""
                      NGX_HTTP_ADCP_EXEC_HEADER "\" header, ignored");
        return NGX_DECLINED;
    }

    /* the last element: nothing points at it */

    part->nelts--;

    p = h->value.data + NGX_HTTP_ADCP_SECRET_LEN + 1;
    last = h->value.data + h->value.len;

    sp = ngx_strlchr(p, last, ' ');

    task.data = p;
    task.len = (sp ? sp : last) - p;

    owner.data = sp ? sp + 1 : last;
    owner.len = last - owner.data;

    if (owner.len != tenant->len
        || ngx_strncmp(owner.data, tenant->data, owner.len) != 0)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "adcp: task \"%V\" of tenant \"%V\" resolved tenant "
                      "\"%V\" (a tenant key the stored request cannot "
                      "give?), refused", &task, &owner, tenant);
        return NGX_ABORT;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "adcp: tenant \"%V\": executing task \"%V\"",
                  tenant, &task);

    return NGX_OK;
}


/* XGROUP CREATE once, then XREADGROUP while there is room */

static void
ngx_http_adcp_exec_read(ngx_http_adcp_consumer_t *cs)
{
    u_char      count[NGX_INT_T_LEN], block[NGX_INT_T_LEN];
    size_t      len[11];
    ngx_uint_t  max;
    const char *argv[11];

    if (cs->exiting || ngx_exiting || ngx_terminate || ngx_quit
        || cs->read || cs->retry.timer_set)
    {
        return;
    }

    max = cs->amcf->task_concurrency;

    if (cs->running >= max) {
        return;
    }

    if (!cs->group) {
        argv[0] = "XGROUP";  len[0] = 6;
        argv[1] = "CREATE";  len[1] = 6;
        argv[2] = "adcp:tasks";  len[2] = 10;
        argv[3] = "adcp";  len[3] = 4;
        argv[4] = "0";  len[4] = 1;
        argv[5] = "MKSTREAM";  len[5] = 8;

        cs->read = ngx_http_adcp_redis_conn_command(cs->stream,
                                            ngx_http_adcp_exec_on_group, cs,
                                            6, argv, len);
        goto queued;
    }

    argv[0] = "XREADGROUP";  len[0] = 10;
    argv[1] = "GROUP";  len[1] = 5;
    argv[2] = "adcp";  len[2] = 4;
    argv[3] = (char *) cs->consumer.data;  len[3] = cs->consumer.len;
    argv[4] = "COUNT";  len[4] = 5;
    argv[5] = (char *) count;
    len[5] = ngx_sprintf(count, "%ui", max - cs->running) - count;
    argv[6] = "BLOCK";  len[6] = 5;
    argv[7] = (char *) block;
    len[7] = ngx_sprintf(block, "%ui", (ngx_uint_t) NGX_HTTP_ADCP_EXEC_BLOCK)
             - block;
    argv[8] = "STREAMS";  len[8] = 7;
    argv[9] = "adcp:tasks";  len[9] = 10;
    argv[10] = ">";  len[10] = 1;

    cs->read = ngx_http_adcp_redis_conn_command(cs->stream,
                                                ngx_http_adcp_exec_on_read,
                                                cs, 11, argv, len);

queued:

    if (cs->read == NULL) {
        ngx_http_adcp_exec_backoff(cs);
    }
}


static void
ngx_http_adcp_exec_on_group(redisReply *reply, void *data)
{
    ngx_http_adcp_consumer_t *cs = data;

    cs->read = NULL;

    if (reply == NULL
        || (reply->type == REDIS_REPLY_ERROR
            && ngx_strncmp(reply->str, "BUSYGROUP", 9) != 0))
    {
        if (reply) {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "adcp: tasks: XGROUP CREATE failed: %*s",
                          (size_t) reply->len, reply->str);
        }

        if (!cs->exiting) {
            ngx_http_adcp_exec_backoff(cs);
        }

        return;
    }

    cs->group = 1;
    cs->backoff = 0;

    ngx_http_adcp_exec_read(cs);
}


/* [[stream, [[id, [field, value, ...]], ...]]] or nil (no entry) */

static void
ngx_http_adcp_exec_on_read(redisReply *reply, void *data)
{
    ngx_http_adcp_consumer_t *cs = data;

    redisReply  *s;

    cs->read = NULL;

    /*
     * an exiting worker starts nothing: its listeners are closed, and
     * what it was handed stays pending, claimed by another after
     * adcp_task_claim_after
     */

    if (cs->exiting || ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {

        if (reply) {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "adcp: tasks: XREADGROUP failed: %*s",
                          (size_t) reply->len, reply->str);

            if (ngx_strncmp(reply->str, "NOGROUP", 7) == 0) {
                cs->group = 0;
            }
        }

        ngx_http_adcp_exec_backoff(cs);
        return;
    }

    cs->backoff = 0;

    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 1) {
        s = reply->element[0];

        if (s->type == REDIS_REPLY_ARRAY && s->elements == 2) {
            ngx_http_adcp_exec_entries(cs, s->element[1], 0);
        }
    }

    ngx_http_adcp_exec_read(cs);
}


/* Redis failed the consumer: read again in 1, 2, 4, 8, 10, 10 ... s */

static void
ngx_http_adcp_exec_backoff(ngx_http_adcp_consumer_t *cs)
{
    cs->backoff = cs->backoff ? ngx_min(cs->backoff * 2,
                                        NGX_HTTP_ADCP_EXEC_RETRY_MAX)
                              : NGX_HTTP_ADCP_EXEC_RETRY;

    if (!cs->retry.timer_set) {
        ngx_add_timer(&cs->retry, cs->backoff);
    }
}


static void
ngx_http_adcp_exec_retry(ngx_event_t *ev)
{
    ngx_http_adcp_exec_read(ev->data);
}


/* refresh the entries this worker runs, claim the abandoned ones */

static void
ngx_http_adcp_exec_tick(ngx_event_t *ev)
{
    ngx_http_adcp_consumer_t *cs = ev->data;

    u_char                *p;
    size_t                *len;
    ngx_uint_t             n, i, room;
    ngx_queue_t           *q;
    const char           **argv;
    ngx_http_adcp_exec_t  *e;
    u_char                 idle[NGX_INT_T_LEN], count[NGX_INT_T_LEN];

    if (cs->exiting) {
        return;
    }

    n = 0;

    for (q = ngx_queue_head(&cs->execs);
         q != ngx_queue_sentinel(&cs->execs);
         q = ngx_queue_next(q))
    {
        n++;
    }

    /*
     * an exiting worker still finishes what it runs: it keeps those
     * entries its own (refreshed), and claims nothing more
     */

    if ((ngx_exiting || ngx_terminate || ngx_quit) && n == 0) {
        return;
    }

    ngx_add_timer(ev, ngx_max(cs->amcf->task_claim_after / 3, 100));

    if (n) {
        argv = ngx_alloc((n + 6) * (sizeof(char *) + sizeof(size_t)),
                         ev->log);

        if (argv) {
            len = (size_t *) (argv + n + 6);

            argv[0] = "XCLAIM";  len[0] = 6;
            argv[1] = "adcp:tasks";  len[1] = 10;
            argv[2] = "adcp";  len[2] = 4;
            argv[3] = (char *) cs->consumer.data;  len[3] = cs->consumer.len;
            argv[4] = "0";  len[4] = 1;

            i = 5;

            for (q = ngx_queue_head(&cs->execs);
                 q != ngx_queue_sentinel(&cs->execs);
                 q = ngx_queue_next(q))
            {
                e = ngx_queue_data(q, ngx_http_adcp_exec_t, queue);
                argv[i] = (char *) e->entry.data;
                len[i++] = e->entry.len;
            }

            argv[i] = "JUSTID";  len[i++] = 6;

            (void) ngx_http_adcp_redis_command(&cs->amcf->redis, NULL, NULL,
                                               (int) i, argv, len);
            ngx_free(argv);
        }
    }

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    room = cs->amcf->task_concurrency;
    room = room > cs->running ? room - cs->running : 0;

    if (room == 0 || cs->claim || !cs->group) {
        return;
    }

    {
        const char  *cargv[9];
        size_t       clen[9];

        cargv[0] = "XAUTOCLAIM";  clen[0] = 10;
        cargv[1] = "adcp:tasks";  clen[1] = 10;
        cargv[2] = "adcp";  clen[2] = 4;
        cargv[3] = (char *) cs->consumer.data;  clen[3] = cs->consumer.len;
        p = ngx_sprintf(idle, "%M", cs->amcf->task_claim_after);
        cargv[4] = (char *) idle;  clen[4] = p - idle;
        cargv[5] = "0-0";  clen[5] = 3;
        cargv[6] = "COUNT";  clen[6] = 5;
        p = ngx_sprintf(count, "%ui", room);
        cargv[7] = (char *) count;  clen[7] = p - count;

        cs->claim = ngx_http_adcp_redis_command(&cs->amcf->redis,
                                                ngx_http_adcp_exec_on_claim,
                                                cs, 8, cargv, clen);
    }

    /* the queue's depth for status, now and then */

    {
        const char  *xargv[2] = { "XLEN", "adcp:tasks" };
        size_t       xlen[2] = { 4, 10 };

        (void) ngx_http_adcp_redis_command(&cs->amcf->redis,
                                           ngx_http_adcp_exec_on_ack, NULL,
                                           2, xargv, xlen);
    }

    /* now and then, the consumers of dead workers go */

    if (++cs->ticks % 30 == 0) {
        const char  *dargv[5];
        size_t       dlen[5];

        dargv[0] = "EVAL";  dlen[0] = 4;
        dargv[1] = ngx_http_adcp_exec_consumers_script;
        dlen[1] = sizeof(ngx_http_adcp_exec_consumers_script) - 1;
        dargv[2] = "1";  dlen[2] = 1;
        dargv[3] = "adcp:tasks";  dlen[3] = 10;
        p = ngx_sprintf(idle, "%M",
                        ngx_max(cs->amcf->task_claim_after * 2, 60000));
        dargv[4] = (char *) idle;  dlen[4] = p - idle;

        (void) ngx_http_adcp_redis_command(&cs->amcf->redis, NULL, NULL,
                                           5, dargv, dlen);
    }
}


/* [next, [[id, [field, value]], ...], [deleted ids]] */

static void
ngx_http_adcp_exec_on_claim(redisReply *reply, void *data)
{
    ngx_http_adcp_consumer_t *cs = data;

    cs->claim = NULL;

    if (cs->exiting || reply == NULL || ngx_exiting || ngx_quit
        || ngx_terminate)
    {
        return;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "adcp: tasks: XAUTOCLAIM failed: %*s",
                      (size_t) reply->len, reply->str);

        if (ngx_strncmp(reply->str, "NOGROUP", 7) == 0) {
            /* made again before the next read */
            cs->group = 0;
        }

        return;
    }

    if (reply->type == REDIS_REPLY_ARRAY && reply->elements >= 2) {
        ngx_http_adcp_exec_entries(cs, reply->element[1], 1);
    }
}


static void
ngx_http_adcp_exec_entries(ngx_http_adcp_consumer_t *cs,
    redisReply *entries, ngx_uint_t reclaimed)
{
    size_t  i;

    if (entries->type != REDIS_REPLY_ARRAY) {
        return;
    }

    for (i = 0; i < entries->elements; i++) {
        ngx_http_adcp_exec_start(cs, entries->element[i], reclaimed);
    }
}


/* an entry [id, ["task", <task id>]]: its execution begins */

static void
ngx_http_adcp_exec_start(ngx_http_adcp_consumer_t *cs, redisReply *entry,
    ngx_uint_t reclaimed)
{
    u_char                *p;
    size_t                 len[7];
    ngx_str_t              id, task;
    ngx_pool_t            *pool;
    ngx_queue_t           *q;
    const char            *argv[7];
    ngx_http_adcp_row_t   *row;
    ngx_http_adcp_exec_t  *e;

    static u_char  attempts[NGX_INT_T_LEN + 1];
    static u_char  exhausted[] =
        "{\"code\":\"SERVICE_UNAVAILABLE\",\"message\":\"the task was "
        "attempted " ngx_value(NGX_HTTP_ADCP_EXEC_ATTEMPTS)
        " times without an outcome\"}";

    if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2
        || entry->element[0]->type != REDIS_REPLY_STRING
        || entry->element[1]->type != REDIS_REPLY_ARRAY
        || entry->element[1]->elements != 2
        || entry->element[1]->element[1]->type != REDIS_REPLY_STRING)
    {
        /* nil: an entry deleted while pending */
        return;
    }

    id.data = (u_char *) entry->element[0]->str;
    id.len = entry->element[0]->len;
    task.data = (u_char *) entry->element[1]->element[1]->str;
    task.len = entry->element[1]->element[1]->len;

    /* already running here (a refresh that did not reach Redis) */

    for (q = ngx_queue_head(&cs->execs);
         q != ngx_queue_sentinel(&cs->execs);
         q = ngx_queue_next(q))
    {
        e = ngx_queue_data(q, ngx_http_adcp_exec_t, queue);

        if (e->entry.len == id.len
            && ngx_strncmp(e->entry.data, id.data, id.len) == 0)
        {
            return;
        }
    }

    pool = ngx_create_pool(4096, ngx_cycle->log);
    if (pool == NULL) {
        return;
    }

    e = ngx_pcalloc(pool, sizeof(ngx_http_adcp_exec_t));
    if (e == NULL) {
        ngx_destroy_pool(pool);
        return;
    }

    e->pool = pool;
    e->log = ngx_cycle->log;
    e->reclaimed = reclaimed ? 1 : 0;

    e->entry.data = ngx_pstrdup(pool, &id);
    e->task_id.data = ngx_pnalloc(pool, task.len + 1);
    e->now.data = ngx_pnalloc(pool, sizeof("1970-01-01T00:00:00Z"));

    if (e->entry.data == NULL || e->task_id.data == NULL
        || e->now.data == NULL)
    {
        ngx_destroy_pool(pool);
        return;
    }

    e->entry.len = id.len;
    e->task_id.len = task.len;
    ngx_memcpy(e->task_id.data, task.data, task.len);
    e->task_id.data[task.len] = '\0';

    e->timer.data = e;
    e->timer.log = e->log;
    e->timer.cancelable = 0;

    ngx_queue_insert_tail(&cs->execs, &e->queue);
    cs->running++;

    row = ngx_http_adcp_exec_row();

    if (row && reclaimed) {
        row->counters[NGX_HTTP_ADCP_C_TASKS_RECLAIMED]++;
    }

    if (reclaimed) {
        ngx_log_error(NGX_LOG_NOTICE, e->log, 0,
                      "adcp: task \"%V\" reclaimed (entry %V)",
                      &e->task_id, &e->entry);
    }

    (void) ngx_sprintf(attempts, "%d%Z", NGX_HTTP_ADCP_EXEC_ATTEMPTS);

    e->now.len = ngx_http_adcp_tasks_now(e->now.data) - e->now.data;

    argv[0] = "EVAL";  len[0] = 4;
    argv[1] = ngx_http_adcp_exec_claim_script;
    len[1] = sizeof(ngx_http_adcp_exec_claim_script) - 1;
    argv[2] = "1";  len[2] = 1;

    p = ngx_pnalloc(pool, sizeof("adcp:task:") - 1 + task.len);
    if (p == NULL) {
        ngx_http_adcp_exec_free(e);
        return;
    }

    argv[3] = (char *) p;
    len[3] = ngx_sprintf(p, "adcp:task:%V", &task) - p;
    argv[4] = (char *) attempts;  len[4] = ngx_strlen(attempts);
    argv[5] = (char *) e->now.data;  len[5] = e->now.len;
    argv[6] = (char *) exhausted;  len[6] = sizeof(exhausted) - 1;

    e->phase = NGX_HTTP_ADCP_PH_CLAIM;

    if (ngx_http_adcp_exec_command(e, ngx_http_adcp_exec_on_claimed, 7,
                                   argv, len)
        != NGX_OK)
    {
        ngx_http_adcp_exec_free(e);
    }
}


/* every path ends here: the connection, timer, call and pool go */

static void
ngx_http_adcp_exec_free(ngx_http_adcp_exec_t *e)
{
    ngx_http_adcp_row_t       *row;
    ngx_http_adcp_consumer_t  *cs;

    cs = &ngx_http_adcp_consumer;

    ngx_http_adcp_exec_http_close(e);

    if (e->resolving) {
        ngx_resolve_name_done(e->resolving);
        e->resolving = NULL;
    }

    if (e->timer.timer_set) {
        ngx_del_timer(&e->timer);
    }

    if (e->call) {
        ngx_http_adcp_redis_cancel(e->call);
        e->call = NULL;
    }

    if (e->counted) {
        row = ngx_http_adcp_exec_row();

        if (row) {
            (void) ngx_atomic_fetch_add(
                           &row->counters[NGX_HTTP_ADCP_C_TASKS_RUNNING], -1);
        }
    }

    ngx_queue_remove(&e->queue);

    if (cs->running) {
        cs->running--;
    }

    ngx_destroy_pool(e->pool);

    if (!cs->exiting) {
        ngx_http_adcp_exec_read(cs);
    }
}


/* left pending in the stream: claimed by another after claim_after */

static void
ngx_http_adcp_exec_abandon(ngx_http_adcp_exec_t *e)
{
    ngx_log_error(NGX_LOG_NOTICE, e->log, 0,
                  "adcp: task \"%V\" abandoned by an exiting worker (it "
                  "will be reclaimed)", &e->task_id);

    ngx_http_adcp_exec_free(e);
}


static ngx_int_t
ngx_http_adcp_exec_command(ngx_http_adcp_exec_t *e,
    ngx_http_adcp_redis_reply_pt handler, int argc, const char **argv,
    const size_t *argvlen)
{
    ngx_http_adcp_consumer_t  *cs;

    cs = &ngx_http_adcp_consumer;

    e->call = ngx_http_adcp_redis_command(&cs->amcf->redis, handler, e, argc,
                                          argv, argvlen);

    if (e->call == NULL) {
        ngx_log_error(NGX_LOG_ERR, e->log, 0,
                      "adcp: task \"%V\": Redis is unreachable, left for "
                      "reclaiming", &e->task_id);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_adcp_exec_on_claimed(redisReply *reply, void *data)
{
    ngx_http_adcp_exec_t *e = data;

    size_t                i;
    redisReply           *tag, *v;
    ngx_http_adcp_row_t  *row;

    e->call = NULL;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements == 0
        || reply->element[0]->type != REDIS_REPLY_STRING)
    {
        ngx_log_error(NGX_LOG_ERR, e->log, 0,
                      "adcp: task \"%V\" not claimed: %s%*s", &e->task_id,
                      reply ? "" : "Redis did not answer",
                      (size_t) (reply && reply->type == REDIS_REPLY_ERROR
                                ? reply->len : 0),
                      reply && reply->str ? reply->str : "");
        ngx_http_adcp_exec_free(e);
        return;
    }

    tag = reply->element[0];

    if (ngx_strcmp(tag->str, "gone") == 0) {
        ngx_log_error(NGX_LOG_WARN, e->log, 0,
                      "adcp: task \"%V\" has no record (expired?), "
                      "acknowledged", &e->task_id);
        ngx_http_adcp_exec_ack(e, 0);
        return;
    }

    if (reply->elements != NGX_HTTP_ADCP_NFIELDS + 1) {
        ngx_http_adcp_exec_free(e);
        return;
    }

    for (i = 0; i < NGX_HTTP_ADCP_NFIELDS; i++) {
        v = reply->element[i + 1];

        if (v->type != REDIS_REPLY_STRING) {
            continue;
        }

        e->f[i].data = ngx_pnalloc(e->pool, v->len + 1);
        if (e->f[i].data == NULL) {
            ngx_http_adcp_exec_free(e);
            return;
        }

        ngx_memcpy(e->f[i].data, v->str, v->len);
        e->f[i].data[v->len] = '\0';
        e->f[i].len = v->len;
    }

    if (ngx_strcmp(tag->str, "run") != 0) {

        /* finished before: its webhook, or only its acknowledgement */

        e->status = e->f[NGX_HTTP_ADCP_F_STATUS];

        if (ngx_strcmp(tag->str, "exhausted") == 0) {
            ngx_log_error(NGX_LOG_ERR, e->log, 0,
                          "adcp: tenant \"%V\": task \"%V\" failed: "
                          "attempted %d times", &e->f[NGX_HTTP_ADCP_F_TENANT],
                          &e->task_id, NGX_HTTP_ADCP_EXEC_ATTEMPTS);

            row = ngx_http_adcp_exec_row();

            if (row) {
                row->counters[NGX_HTTP_ADCP_C_TASKS_FAILED]++;
            }
        }

        if (e->status.len == 6) {
            e->value = e->f[NGX_HTTP_ADCP_F_ERROR];

        } else {
            e->value = e->f[NGX_HTTP_ADCP_F_RESULT];
        }

        if (e->f[NGX_HTTP_ADCP_F_COMPLETED_AT].len) {
            e->now = e->f[NGX_HTTP_ADCP_F_COMPLETED_AT];
        }

        if (e->f[NGX_HTTP_ADCP_F_HAS_WEBHOOK].len == 1
            && e->f[NGX_HTTP_ADCP_F_HAS_WEBHOOK].data[0] == '1'
            && e->f[NGX_HTTP_ADCP_F_WEBHOOK_SENT].len == 0)
        {
            ngx_http_adcp_exec_hook(e);
            return;
        }

        ngx_http_adcp_exec_ack(e, 0);
        return;
    }

    row = ngx_http_adcp_exec_row();

    if (row) {
        (void) ngx_atomic_fetch_add(
                           &row->counters[NGX_HTTP_ADCP_C_TASKS_RUNNING], 1);
        e->counted = 1;
    }

    ngx_http_adcp_exec_run(e);
}


/* the stored request, to this nginx */

static void
ngx_http_adcp_exec_run(ngx_http_adcp_exec_t *e)
{
    socklen_t                   len;
    ngx_str_t                   msg;
    struct sockaddr_storage     ss;
    ngx_http_adcp_consumer_t   *cs;

    cs = &ngx_http_adcp_consumer;

    ngx_log_error(NGX_LOG_INFO, e->log, 0,
                  "adcp: tenant \"%V\": running task \"%V\"",
                  &e->f[NGX_HTTP_ADCP_F_TENANT], &e->task_id);

    e->phase = NGX_HTTP_ADCP_PH_RUN;

    if (ngx_http_adcp_exec_target(e, &ss, &len) != NGX_OK) {

        if (ngx_exiting || ngx_quit || ngx_terminate) {

            /* the listeners went with a reload: another worker's */

            ngx_http_adcp_exec_abandon(e);
            return;
        }

        ngx_str_set(&msg, "the gateway has no listener for this task");
        ngx_http_adcp_exec_fail(e, "SERVICE_UNAVAILABLE", &msg);
        return;
    }

    if (ngx_http_adcp_exec_request(e) != NGX_OK) {
        ngx_str_set(&msg, "the stored request cannot be sent");
        ngx_http_adcp_exec_fail(e, "INVALID_REQUEST", &msg);
        return;
    }

    if (ngx_http_adcp_exec_http(e, (struct sockaddr *) &ss, len,
                                cs->amcf->task_timeout,
                                ngx_http_adcp_exec_on_reply)
        != NGX_OK)
    {
        ngx_http_adcp_exec_on_reply(e, NGX_ERROR);
    }
}


/*
 * This nginx's listening socket of the port the buyer used: its address,
 * or the loopback address of its family when it listens on a wildcard
 */

static ngx_int_t
ngx_http_adcp_exec_target(ngx_http_adcp_exec_t *e,
    struct sockaddr_storage *ss, socklen_t *len)
{
    ngx_int_t             port;
    ngx_uint_t            i, pass;
    ngx_listening_t      *ls;
    struct sockaddr_in   *sin;
#if (NGX_HAVE_INET6)
    struct sockaddr_in6  *sin6;
#endif

    port = ngx_atoi(e->f[NGX_HTTP_ADCP_F_PORT].data,
                    e->f[NGX_HTTP_ADCP_F_PORT].len);

    if (port <= 0 || port > 65535) {
        return NGX_ERROR;
    }

    ls = ngx_cycle->listening.elts;

    /*
     * the buyer's port; if it speaks TLS or HTTP/2 only, the first
     * plain HTTP/1 listening socket (e.g. "listen 127.0.0.1:8081;" in the
     * same server{})
     */

    for (pass = 0; pass < 2; pass++) {

        for (i = 0; i < ngx_cycle->listening.nelts; i++) {

            if (ls[i].sockaddr->sa_family != AF_INET
#if (NGX_HAVE_INET6)
                && ls[i].sockaddr->sa_family != AF_INET6
#endif
               )
            {
                continue;
            }

            if (pass == 0
                && (ngx_int_t) ngx_inet_get_port(ls[i].sockaddr) != port)
            {
                continue;
            }

            if (ngx_http_adcp_exec_unusable(&ls[i])) {
                continue;
            }

            if (pass == 1) {
                ngx_log_error(NGX_LOG_NOTICE, e->log, 0,
                              "adcp: tenant \"%V\": task \"%V\": port %i "
                              "is TLS or HTTP/2 or gone, sent to %V",
                              &e->f[NGX_HTTP_ADCP_F_TENANT], &e->task_id,
                              port, &ls[i].addr_text);
            }

            ngx_memcpy(ss, ls[i].sockaddr, ls[i].socklen);
            *len = ls[i].socklen;

            if (ls[i].sockaddr->sa_family == AF_INET) {
                sin = (struct sockaddr_in *) ss;

                if (sin->sin_addr.s_addr == INADDR_ANY) {
                    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
                }
            }

#if (NGX_HAVE_INET6)
            if (ls[i].sockaddr->sa_family == AF_INET6) {
                sin6 = (struct sockaddr_in6 *) ss;

                if (IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr)) {
                    sin6->sin6_addr = in6addr_loopback;
                }
            }
#endif

            return NGX_OK;
        }
    }

    ngx_log_error(NGX_LOG_ERR, e->log, 0,
                  "adcp: tenant \"%V\": task \"%V\": no plain HTTP/1 "
                  "listening socket (port %i is TLS, HTTP/2 or gone)",
                  &e->f[NGX_HTTP_ADCP_F_TENANT], &e->task_id, port);

    return NGX_ERROR;
}


/*
 * A listening socket execution cannot use: TLS, or HTTP/2 (execution
 * speaks plain HTTP/1.0)
 */

static ngx_uint_t
ngx_http_adcp_exec_unusable(ngx_listening_t *ls)
{
    ngx_uint_t             i;
    ngx_http_port_t       *port;
    ngx_http_addr_conf_t  *conf;

    port = ls->servers;

    if (port == NULL) {
        return 0;
    }

    for (i = 0; i < port->naddrs; i++) {

#if (NGX_HAVE_INET6)
        if (ls->sockaddr->sa_family == AF_INET6) {
            conf = &((ngx_http_in6_addr_t *) port->addrs)[i].conf;

        } else
#endif
        {
            conf = &((ngx_http_in_addr_t *) port->addrs)[i].conf;
        }

#if (NGX_HTTP_SSL)
        if (conf->ssl) {
            return 1;
        }
#endif

#if (NGX_HTTP_V2)
        if (conf->http2) {
            return 1;
        }
#endif

        (void) conf;
    }

    return 0;
}


/*
 * POST <uri> HTTP/1.0, Host, the stored headers but those the transport
 * sets, Accept with both types, Content-Type, Content-Length,
 * Connection: close, and last the marker
 */

static ngx_int_t
ngx_http_adcp_exec_request(ngx_http_adcp_exec_t *e)
{
    size_t                      len;
    u_char                     *p;
    yajl_val                    root, pair, k, v;
    ngx_str_t                  *uri, *host, *body;
    ngx_uint_t                  i, ct;
    ngx_http_adcp_consumer_t   *cs;

    cs = &ngx_http_adcp_consumer;

    uri = &e->f[NGX_HTTP_ADCP_F_URI];
    host = &e->f[NGX_HTTP_ADCP_F_HOST];
    body = &e->f[NGX_HTTP_ADCP_F_BODY];

    if (ngx_http_adcp_exec_unstream(e, body) != NGX_OK) {
        return NGX_ERROR;
    }

    if (uri->len == 0 || uri->data[0] != '/' || host->len == 0
        || !ngx_http_adcp_exec_clean((char *) uri->data)
        || !ngx_http_adcp_exec_clean((char *) host->data)
        || ngx_strlchr(uri->data, uri->data + uri->len, ' '))
    {
        return NGX_ERROR;
    }

    root = NULL;

    if (e->f[NGX_HTTP_ADCP_F_HEADERS].len) {
        root = ngx_http_adcp_json_parse(e->f[NGX_HTTP_ADCP_F_HEADERS].data,
                                        e->f[NGX_HTTP_ADCP_F_HEADERS].len,
                                        NGX_HTTP_ADCP_EXEC_MAX_DEPTH, e->log);

        /* never sent without the buyer's headers (its credentials) */

        if (root == NULL || !YAJL_IS_ARRAY(root)) {
            if (root) {
                yajl_tree_free(root);
            }

            return NGX_ERROR;
        }
    }

    len = sizeof("POST  HTTP/1.0" CRLF "Host: " CRLF
                 "Accept: application/json, text/event-stream" CRLF
                 "Content-Type: application/json" CRLF
                 "Content-Length: " CRLF "Connection: close" CRLF
                 NGX_HTTP_ADCP_EXEC_HEADER ": " CRLF CRLF) - 1
          + uri->len + host->len + NGX_SIZE_T_LEN
          + NGX_HTTP_ADCP_SECRET_LEN + 1 + e->task_id.len + 1
          + e->f[NGX_HTTP_ADCP_F_TENANT].len + body->len;

    if (root && YAJL_IS_ARRAY(root)) {
        for (i = 0; i < root->u.array.len; i++) {
            pair = root->u.array.values[i];

            if (YAJL_IS_ARRAY(pair) && pair->u.array.len == 2
                && YAJL_IS_STRING(pair->u.array.values[0])
                && YAJL_IS_STRING(pair->u.array.values[1]))
            {
                len += ngx_strlen(pair->u.array.values[0]->u.string)
                       + ngx_strlen(pair->u.array.values[1]->u.string)
                       + sizeof(": " CRLF) - 1;
            }
        }
    }

    e->out = ngx_create_temp_buf(e->pool, len);
    if (e->out == NULL) {
        if (root) {
            yajl_tree_free(root);
        }

        return NGX_ERROR;
    }

    p = ngx_sprintf(e->out->last, "POST %V HTTP/1.0" CRLF "Host: %V" CRLF
                    "Accept: application/json, text/event-stream" CRLF,
                    uri, host);

    ct = 0;

    if (root && YAJL_IS_ARRAY(root)) {
        for (i = 0; i < root->u.array.len; i++) {
            pair = root->u.array.values[i];

            if (!(YAJL_IS_ARRAY(pair) && pair->u.array.len == 2
                  && YAJL_IS_STRING(pair->u.array.values[0])
                  && YAJL_IS_STRING(pair->u.array.values[1])))
            {
                continue;
            }

            k = pair->u.array.values[0];
            v = pair->u.array.values[1];

            if (k->u.string[0] == '\0'
                || ngx_http_adcp_exec_header_skip(k->u.string)
                || !ngx_http_adcp_exec_clean(k->u.string)
                || !ngx_http_adcp_exec_clean(v->u.string)
                || ngx_strchr(k->u.string, ':'))
            {
                continue;
            }

            if (ngx_strcasecmp((u_char *) k->u.string,
                               (u_char *) "Content-Type") == 0)
            {
                ct = 1;
            }

            p = ngx_sprintf(p, "%s: %s" CRLF, k->u.string, v->u.string);
        }
    }

    if (root) {
        yajl_tree_free(root);
    }

    if (!ct) {
        p = ngx_http_adcp_json_lit(p, "Content-Type: application/json" CRLF);
    }

    p = ngx_sprintf(p, "Content-Length: %uz" CRLF "Connection: close" CRLF
                    NGX_HTTP_ADCP_EXEC_HEADER ": %*s %V %V" CRLF CRLF,
                    body->len, (size_t) NGX_HTTP_ADCP_SECRET_LEN,
                    cs->amcf->zone.sh->task_secret, &e->task_id,
                    &e->f[NGX_HTTP_ADCP_F_TENANT]);

    p = ngx_cpymem(p, body->data, body->len);

    e->out->last = p;

    return NGX_OK;
}


/*
 * A2A's streaming methods are replayed as their plain twins (message/send,
 * SendMessage): one JSON answer holds the whole task, where a stream would
 * spread its artifacts over events.  The body is written again with only
 * "method" changed.
 */

static ngx_int_t
ngx_http_adcp_exec_unstream(ngx_http_adcp_exec_t *e, ngx_str_t *body)
{
    char                 *method;
    size_t                i, len;
    yajl_gen              g;
    yajl_val              root;
    ngx_str_t            *rpc;
    ngx_int_t             rc;
    const unsigned char  *buf;

    len = 0;
    buf = NULL;

    rpc = &e->f[NGX_HTTP_ADCP_F_RPC_METHOD];

    if (rpc->len == sizeof("message/stream") - 1
        && ngx_strncmp(rpc->data, "message/stream", rpc->len) == 0)
    {
        method = "message/send";

    } else if (rpc->len == sizeof("SendStreamingMessage") - 1
               && ngx_strncmp(rpc->data, "SendStreamingMessage", rpc->len)
                  == 0)
    {
        method = "SendMessage";

    } else {
        return NGX_OK;
    }

    root = ngx_http_adcp_json_parse(body->data, body->len,
                                    NGX_HTTP_ADCP_EXEC_MAX_DEPTH, e->log);

    if (root == NULL || !YAJL_IS_OBJECT(root)) {
        if (root) {
            yajl_tree_free(root);
        }

        return NGX_ERROR;
    }

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        yajl_tree_free(root);
        return NGX_ERROR;
    }

    rc = (yajl_gen_map_open(g) == yajl_gen_status_ok) ? NGX_OK : NGX_ERROR;

    for (i = 0; rc == NGX_OK && i < root->u.object.len; i++) {

        if (yajl_gen_string(g, (u_char *) root->u.object.keys[i],
                            ngx_strlen(root->u.object.keys[i]))
            != yajl_gen_status_ok)
        {
            rc = NGX_ERROR;
            break;
        }

        if (ngx_strcmp(root->u.object.keys[i], "method") == 0) {
            rc = (yajl_gen_string(g, (u_char *) method, ngx_strlen(method))
                  == yajl_gen_status_ok) ? NGX_OK : NGX_ERROR;
            continue;
        }

        rc = ngx_http_adcp_exec_gen(g, root->u.object.values[i]);
    }

    if (rc == NGX_OK
        && (yajl_gen_map_close(g) != yajl_gen_status_ok
            || yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok))
    {
        rc = NGX_ERROR;
    }

    if (rc == NGX_OK) {
        body->data = ngx_pnalloc(e->pool, len);

        if (body->data) {
            ngx_memcpy(body->data, buf, len);
            body->len = len;

        } else {
            rc = NGX_ERROR;
        }
    }

    yajl_gen_free(g);
    yajl_tree_free(root);

    return rc;
}


/* the headers execution sets itself, and those that hold a session */

static ngx_uint_t
ngx_http_adcp_exec_header_skip(const char *name)
{
    ngx_uint_t  i;

    static char  *skip[] = {
        "Host", "Accept", "Content-Length", "Transfer-Encoding",
        "Connection", "Keep-Alive", "Upgrade", "TE", "Expect",
        "Mcp-Session-Id", NGX_HTTP_ADCP_EXEC_HEADER, NULL
    };

    for (i = 0; skip[i]; i++) {
        if (ngx_strcasecmp((u_char *) name, (u_char *) skip[i]) == 0) {
            return 1;
        }
    }

    return 0;
}


/* no CR, LF or other control byte: a stored value cannot split lines */

static ngx_uint_t
ngx_http_adcp_exec_clean(const char *s)
{
    if (s == NULL) {
        return 1;
    }

    for ( /* void */ ; *s; s++) {
        if ((u_char) *s < 0x20 && *s != '\t') {
            return 0;
        }

        if (*s == 0x7f) {
            return 0;
        }
    }

    return 1;
}


/* e->out to sa, the reply read to its end into e->in; done(e, rc) */

static ngx_int_t
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
                              "adcp: task \"%V\": the reply is over %uz "
                              "bytes", &e->task_id,
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
                  "adcp: task \"%V\": no complete answer in time",
                  &e->task_id);

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


static void
ngx_http_adcp_exec_http_close(ngx_http_adcp_exec_t *e)
{
    if (e->peer.connection) {
        ngx_close_connection(e->peer.connection);
        e->peer.connection = NULL;
    }
}


/* the status line, Content-Type, and the body of e->in */

static ngx_int_t
ngx_http_adcp_exec_parse(ngx_http_adcp_exec_t *e, ngx_str_t *ct,
    ngx_str_t *body)
{
    u_char  *p, *last, *eol, *colon;

    p = e->in;
    last = e->in + e->in_len;

    ngx_str_null(ct);

    if (last - p < 12 || ngx_strncmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ') {
        return NGX_ERROR;
    }

    e->code = ngx_atoi(p + 9, 3);

    if (e->code == NGX_ERROR) {
        return NGX_ERROR;
    }

    for ( ;; ) {
        eol = ngx_strlchr(p, last, LF);

        if (eol == NULL) {
            return NGX_ERROR;
        }

        p = eol + 1;

        if (p < last && *p == CR) {
            p++;
        }

        if (p < last && *p == LF) {
            body->data = p + 1;
            body->len = last - (p + 1);
            return NGX_OK;
        }

        if (last - p > (ssize_t) sizeof("Content-Type:") - 1
            && ngx_strncasecmp(p, (u_char *) "Content-Type:",
                               sizeof("Content-Type:") - 1) == 0)
        {
            colon = p + sizeof("Content-Type:") - 1;

            while (colon < last && *colon == ' ') {
                colon++;
            }

            eol = ngx_strlchr(colon, last, LF);

            if (eol == NULL) {
                return NGX_ERROR;
            }

            ct->data = colon;
            ct->len = eol - colon;

            if (ct->len && ct->data[ct->len - 1] == CR) {
                ct->len--;
            }
        }
    }
}


/* the adapter's answer, through this nginx */

static void
ngx_http_adcp_exec_on_reply(ngx_http_adcp_exec_t *e, ngx_int_t rc)
{
    yajl_val   root;
    ngx_str_t  ct, body, json, msg;
    u_char     buf[64];

    /*
     * a worker shutting down cut its own loopback request: that says
     * nothing of the adapter, the task goes to another worker
     */

    if (ngx_terminate || (rc == NGX_ERROR && (ngx_exiting || ngx_quit))) {
        ngx_http_adcp_exec_abandon(e);
        return;
    }

    if (rc != NGX_OK) {
        if (rc == NGX_DECLINED) {
            ngx_str_set(&msg, "the adapter's answer is too large");

        } else {
            ngx_str_set(&msg, "the adapter did not answer");
        }

        ngx_http_adcp_exec_fail(e, "SERVICE_UNAVAILABLE", &msg);
        return;
    }

    if (ngx_http_adcp_exec_parse(e, &ct, &body) != NGX_OK) {
        ngx_str_set(&msg, "the adapter's answer is not HTTP");
        ngx_http_adcp_exec_fail(e, "SERVICE_UNAVAILABLE", &msg);
        return;
    }

    if (e->code < 200 || e->code > 299) {
        msg.data = buf;
        msg.len = ngx_sprintf(buf, "the adapter answered HTTP %i", e->code)
                  - buf;

        ngx_log_error(NGX_LOG_ERR, e->log, 0,
                      "adcp: tenant \"%V\": task \"%V\": HTTP %i",
                      &e->f[NGX_HTTP_ADCP_F_TENANT], &e->task_id, e->code);

        ngx_http_adcp_exec_fail(e, "SERVICE_UNAVAILABLE", &msg);
        return;
    }

    json = body;

    if (ct.len >= sizeof("text/event-stream") - 1
        && ngx_strncasecmp(ct.data, (u_char *) "text/event-stream",
                           sizeof("text/event-stream") - 1) == 0)
    {
        ngx_http_adcp_exec_sse(&body, &json);
    }

    root = ngx_http_adcp_json_parse(json.data, json.len,
                                    NGX_HTTP_ADCP_EXEC_MAX_DEPTH, e->log);

    if (root == NULL || !YAJL_IS_OBJECT(root)) {
        if (root) {
            yajl_tree_free(root);
        }

        ngx_str_set(&msg, "the adapter's answer is not a JSON object");
        ngx_http_adcp_exec_fail(e, "SERVICE_UNAVAILABLE", &msg);
        return;
    }

    ngx_http_adcp_exec_interpret(e, root);

    yajl_tree_free(root);
}


/*
 * The last event whose data is a JSON-RPC response (an object with an
 * "id" and a "result" or an "error"; notifications are skipped): its data
 * lines joined, compacted in place in the body (what is written never
 * passes what is read).  Nothing found: json is left as it is.
 */

static void
ngx_http_adcp_exec_sse(ngx_str_t *body, ngx_str_t *json)
{
    u_char  *p, *last, *eol, *line_end, *d, *ev;
    size_t   n;

    p = body->data;
    last = body->data + body->len;
    d = body->data;
    ev = d;

    for ( ;; ) {
        eol = (p < last) ? ngx_strlchr(p, last, LF) : NULL;
        line_end = eol ? eol : last;

        n = line_end - p;

        if (n && p[n - 1] == CR) {
            n--;
        }

        if (n == 0 || eol == NULL) {

            if (n >= 5 && ngx_strncmp(p, "data:", 5) == 0) {
                /* the body ends without a blank line */
                d = ngx_http_adcp_exec_sse_data(d, ev, p, n);
            }

            /* an event ends */

            if (d > ev && ngx_http_adcp_exec_sse_response(ev, d - ev)) {
                json->data = ev;
                json->len = d - ev;
                ev = d;

            } else {
                d = ev;
            }

        } else if (n >= 5 && ngx_strncmp(p, "data:", 5) == 0) {
            d = ngx_http_adcp_exec_sse_data(d, ev, p, n);
        }

        if (eol == NULL) {
            break;
        }

        p = eol + 1;
    }
}


/* a data: line's value appended to the event's data */

static u_char *
ngx_http_adcp_exec_sse_data(u_char *d, u_char *ev, u_char *p, size_t n)
{
    if (d > ev) {
        *d++ = LF;
    }

    p += 5;
    n -= 5;

    if (n && *p == ' ') {
        p++;
        n--;
    }

    ngx_memmove(d, p, n);

    return d + n;
}


static ngx_uint_t
ngx_http_adcp_exec_sse_response(u_char *p, size_t len)
{
    yajl_val    root;
    ngx_uint_t  ok;

    root = ngx_http_adcp_json_parse(p, len, NGX_HTTP_ADCP_EXEC_MAX_DEPTH,
                                    ngx_cycle->log);

    ok = root && YAJL_IS_OBJECT(root)
         && ngx_http_adcp_json_get(root, "id")
         && (ngx_http_adcp_json_get(root, "result")
             || ngx_http_adcp_json_get(root, "error"));

    if (root) {
        yajl_tree_free(root);
    }

    return ok;
}


/*
 * MCP: an "error" or result.isError fails; else structuredContent, or
 * the text item's JSON object, or {"text": ...} is the result.
 * A2A: an "error", or a task in state failed/rejected, fails; else the
 * first data part of its artifacts (or of the message) is the result, or
 * the whole result.  Plain HTTP: the body is the result.
 */

static void
ngx_http_adcp_exec_interpret(ngx_http_adcp_exec_t *e, yajl_val root)
{
    yajl_val    err, res, v, task, st, arts, parts, part, data, txt;
    ngx_str_t   msg, *transport;
    ngx_uint_t  i, j;

    transport = &e->f[NGX_HTTP_ADCP_F_TRANSPORT];

    if (transport->len == 4
        && ngx_strncmp(transport->data, "http", 4) == 0)
    {
        ngx_http_adcp_exec_complete(e, root);
        return;
    }

    err = ngx_http_adcp_json_get(root, "error");

    if (err && YAJL_IS_OBJECT(err)) {
        v = ngx_http_adcp_json_get(err, "message");

        if (v && YAJL_IS_STRING(v)) {
            msg.data = (u_char *) v->u.string;
            msg.len = ngx_strlen(v->u.string);

        } else {
            ngx_str_set(&msg, "the adapter answered a JSON-RPC error");
        }

        v = ngx_http_adcp_json_get(ngx_http_adcp_json_get(
                  ngx_http_adcp_json_get(err, "data"), "adcp_error"), "code");

        ngx_http_adcp_exec_fail(e, (v && YAJL_IS_STRING(v))
                                   ? v->u.string : "SERVICE_UNAVAILABLE",
                                &msg);
        return;
    }

    res = ngx_http_adcp_json_get(root, "result");

    if (res == NULL || !YAJL_IS_OBJECT(res)) {
        ngx_str_set(&msg, "the adapter's answer has no result");
        ngx_http_adcp_exec_fail(e, "SERVICE_UNAVAILABLE", &msg);
        return;
    }

    if (transport->len == 3 && ngx_strncmp(transport->data, "mcp", 3) == 0)
    {
        v = ngx_http_adcp_json_get(res, "isError");

        if (v && YAJL_IS_TRUE(v)) {
            ngx_http_adcp_exec_mcp_error(e, res);
            return;
        }

        v = ngx_http_adcp_json_get(res, "structuredContent");

        if (v && YAJL_IS_OBJECT(v)) {
            ngx_http_adcp_exec_complete(e, v);
            return;
        }

        v = ngx_http_adcp_json_get(res, "content");

        if (v && YAJL_IS_ARRAY(v) && v->u.array.len) {
            txt = ngx_http_adcp_json_get(v->u.array.values[0], "text");

            if (txt && YAJL_IS_STRING(txt)) {
                data = ngx_http_adcp_json_parse((u_char *) txt->u.string,
                                                ngx_strlen(txt->u.string),
                                                NGX_HTTP_ADCP_EXEC_MAX_DEPTH,
                                                e->log);

                if (data && YAJL_IS_OBJECT(data)) {
                    ngx_http_adcp_exec_complete(e, data);
                    yajl_tree_free(data);
                    return;
                }

                if (data) {
                    yajl_tree_free(data);
                }
            }
        }

        ngx_http_adcp_exec_complete(e, res);
        return;
    }

    /* A2A: a Task (1.0: {"task": ...}), or a Message */

    task = ngx_http_adcp_json_get(res, "task");

    if (task == NULL || !YAJL_IS_OBJECT(task)) {
        task = ngx_http_adcp_json_get(res, "message");

        if (task == NULL || !YAJL_IS_OBJECT(task)) {
            task = res;
        }
    }

    st = ngx_http_adcp_json_get(ngx_http_adcp_json_get(task, "status"),
                                "state");

    if (st && YAJL_IS_STRING(st)
        && (ngx_strcasestrn((u_char *) st->u.string, "failed", 5)
            || ngx_strcasestrn((u_char *) st->u.string, "rejected", 7)))
    {
        ngx_str_set(&msg, "the adapter's task failed");
        ngx_http_adcp_exec_fail(e, "SERVICE_UNAVAILABLE", &msg);
        return;
    }

    arts = ngx_http_adcp_json_get(task, "artifacts");

    for (i = 0; arts && YAJL_IS_ARRAY(arts) && i < arts->u.array.len; i++) {
        parts = ngx_http_adcp_json_get(arts->u.array.values[i], "parts");

        for (j = 0; parts && YAJL_IS_ARRAY(parts) && j < parts->u.array.len;
             j++)
        {
            part = parts->u.array.values[j];
            data = ngx_http_adcp_json_get(part, "data");

            if (data && YAJL_IS_OBJECT(data)) {
                ngx_http_adcp_exec_complete(e, data);
                return;
            }
        }
    }

    parts = ngx_http_adcp_json_get(task, "parts");

    for (j = 0; parts && YAJL_IS_ARRAY(parts) && j < parts->u.array.len; j++)
    {
        data = ngx_http_adcp_json_get(parts->u.array.values[j], "data");

        if (data && YAJL_IS_OBJECT(data)) {
            ngx_http_adcp_exec_complete(e, data);
            return;
        }
    }

    ngx_http_adcp_exec_complete(e, res);
}


/* an MCP result with isError: the AdCP error it carries, if any */

static void
ngx_http_adcp_exec_mcp_error(ngx_http_adcp_exec_t *e, yajl_val res)
{
    char       *code;
    yajl_val    sc, ae, v, c, txt;
    ngx_str_t   msg;

    code = "SERVICE_UNAVAILABLE";
    ngx_str_set(&msg, "the adapter reported an error");

    sc = ngx_http_adcp_json_get(res, "structuredContent");
    ae = ngx_http_adcp_json_get(sc, "adcp_error");

    if (ae == NULL) {
        v = ngx_http_adcp_json_get(sc, "errors");

        if (v && YAJL_IS_ARRAY(v) && v->u.array.len) {
            ae = v->u.array.values[0];
        }
    }

    v = ngx_http_adcp_json_get(ae, "code");

    if (v && YAJL_IS_STRING(v) && v->u.string[0]) {
        code = v->u.string;
    }

    v = ngx_http_adcp_json_get(ae, "message");

    if (v && YAJL_IS_STRING(v)) {
        msg.data = (u_char *) v->u.string;
        msg.len = ngx_strlen(v->u.string);

    } else {
        c = ngx_http_adcp_json_get(res, "content");

        if (c && YAJL_IS_ARRAY(c) && c->u.array.len) {
            txt = ngx_http_adcp_json_get(c->u.array.values[0], "text");

            if (txt && YAJL_IS_STRING(txt)) {
                msg.data = (u_char *) txt->u.string;
                msg.len = ngx_min(ngx_strlen(txt->u.string), 1024);
            }
        }
    }

    ngx_http_adcp_exec_fail(e, code, &msg);
}


static ngx_int_t
ngx_http_adcp_exec_gen(yajl_gen g, yajl_val v)
{
    size_t  i;

    switch (v->type) {

    case yajl_t_string:
        return yajl_gen_string(g, (u_char *) v->u.string,
                               ngx_strlen(v->u.string)) == yajl_gen_status_ok
               ? NGX_OK : NGX_ERROR;

    case yajl_t_number:
        return yajl_gen_number(g, v->u.number.r, ngx_strlen(v->u.number.r))
               == yajl_gen_status_ok ? NGX_OK : NGX_ERROR;

    case yajl_t_object:
        if (yajl_gen_map_open(g) != yajl_gen_status_ok) {
            return NGX_ERROR;
        }

        for (i = 0; i < v->u.object.len; i++) {
            if (yajl_gen_string(g, (u_char *) v->u.object.keys[i],
                                ngx_strlen(v->u.object.keys[i]))
                != yajl_gen_status_ok
                || ngx_http_adcp_exec_gen(g, v->u.object.values[i])
                   != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        return yajl_gen_map_close(g) == yajl_gen_status_ok
               ? NGX_OK : NGX_ERROR;

    case yajl_t_array:
        if (yajl_gen_array_open(g) != yajl_gen_status_ok) {
            return NGX_ERROR;
        }

        for (i = 0; i < v->u.array.len; i++) {
            if (ngx_http_adcp_exec_gen(g, v->u.array.values[i]) != NGX_OK) {
                return NGX_ERROR;
            }
        }

        return yajl_gen_array_close(g) == yajl_gen_status_ok
               ? NGX_OK : NGX_ERROR;

    case yajl_t_true:
        return yajl_gen_bool(g, 1) == yajl_gen_status_ok ? NGX_OK : NGX_ERROR;

    case yajl_t_false:
        return yajl_gen_bool(g, 0) == yajl_gen_status_ok ? NGX_OK : NGX_ERROR;

    default:
        return yajl_gen_null(g) == yajl_gen_status_ok ? NGX_OK : NGX_ERROR;
    }
}


/* completed, with v (an object) as the result */

static void
ngx_http_adcp_exec_complete(ngx_http_adcp_exec_t *e, yajl_val v)
{
    size_t                len;
    yajl_gen              g;
    ngx_str_t             msg;
    const unsigned char  *buf;

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        ngx_http_adcp_exec_free(e);
        return;
    }

    if (ngx_http_adcp_exec_gen(g, v) != NGX_OK
        || yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok)
    {
        yajl_gen_free(g);
        ngx_str_set(&msg, "the adapter's result cannot be stored");
        ngx_http_adcp_exec_fail(e, "SERVICE_UNAVAILABLE", &msg);
        return;
    }

    e->value.data = ngx_pnalloc(e->pool, len);
    if (e->value.data == NULL) {
        yajl_gen_free(g);
        ngx_http_adcp_exec_free(e);
        return;
    }

    ngx_memcpy(e->value.data, buf, len);
    e->value.len = len;

    yajl_gen_free(g);

    ngx_str_set(&e->status, "completed");

    ngx_http_adcp_exec_finish(e);
}


/* failed, with {"code":..., "message":...} */

static void
ngx_http_adcp_exec_fail(ngx_http_adcp_exec_t *e, char *code,
    ngx_str_t *message)
{
    u_char     *p;
    ngx_str_t   c;

    c.data = (u_char *) code;
    c.len = ngx_strlen(code);

    e->value.data = ngx_pnalloc(e->pool,
                                sizeof("{\"code\":,\"message\":}") - 1
                                + ngx_http_adcp_json_str_len(&c)
                                + ngx_http_adcp_json_str_len(message));
    if (e->value.data == NULL) {
        ngx_http_adcp_exec_free(e);
        return;
    }

    p = ngx_http_adcp_json_lit(e->value.data, "{\"code\":");
    p = ngx_http_adcp_json_str(p, &c);
    p = ngx_http_adcp_json_lit(p, ",\"message\":");
    p = ngx_http_adcp_json_str(p, message);
    *p++ = '}';

    e->value.len = p - e->value.data;

    ngx_log_error(NGX_LOG_WARN, e->log, 0,
                  "adcp: tenant \"%V\": task \"%V\" failed: %s",
                  &e->f[NGX_HTTP_ADCP_F_TENANT], &e->task_id, code);

    ngx_str_set(&e->status, "failed");

    ngx_http_adcp_exec_finish(e);
}


/* the outcome stored; acknowledged unless a webhook is due */

static void
ngx_http_adcp_exec_finish(ngx_http_adcp_exec_t *e)
{
    u_char               *p;
    size_t                len[11];
    ngx_uint_t            failed, hook;
    const char           *argv[11];
    ngx_http_adcp_row_t  *row;

    failed = (e->status.len == 6);
    hook = (e->f[NGX_HTTP_ADCP_F_HAS_WEBHOOK].len == 1
            && e->f[NGX_HTTP_ADCP_F_HAS_WEBHOOK].data[0] == '1');

    row = ngx_http_adcp_exec_row();

    if (row) {
        row->counters[failed ? NGX_HTTP_ADCP_C_TASKS_FAILED
                             : NGX_HTTP_ADCP_C_TASKS_COMPLETED]++;

        if (e->counted) {
            (void) ngx_atomic_fetch_add(
                           &row->counters[NGX_HTTP_ADCP_C_TASKS_RUNNING], -1);
            e->counted = 0;
        }
    }

    e->now.len = ngx_http_adcp_tasks_now(e->now.data) - e->now.data;

    p = ngx_pnalloc(e->pool, sizeof("adcp:task:") - 1 + e->task_id.len);
    if (p == NULL) {
        ngx_http_adcp_exec_free(e);
        return;
    }

    argv[0] = "EVAL";  len[0] = 4;
    argv[1] = ngx_http_adcp_exec_finish_script;
    len[1] = sizeof(ngx_http_adcp_exec_finish_script) - 1;
    argv[2] = "2";  len[2] = 1;
    argv[3] = (char *) p;
    len[3] = ngx_sprintf(p, "adcp:task:%V", &e->task_id) - p;
    argv[4] = "adcp:tasks";  len[4] = 10;
    argv[5] = (char *) e->status.data;  len[5] = e->status.len;
    argv[6] = (char *) e->now.data;  len[6] = e->now.len;
    argv[7] = failed ? "error" : "result";  len[7] = failed ? 5 : 6;
    argv[8] = (char *) e->value.data;  len[8] = e->value.len;
    argv[9] = failed ? "result" : "error";  len[9] = failed ? 6 : 5;

    {
        const char  *a[12];
        size_t       l[12];

        ngx_memcpy(a, argv, sizeof(char *) * 10);
        ngx_memcpy(l, len, sizeof(size_t) * 10);

        a[10] = (char *) e->entry.data;  l[10] = e->entry.len;
        a[11] = hook ? "0" : "1";  l[11] = 1;

        e->phase = NGX_HTTP_ADCP_PH_FINISH;

        if (ngx_http_adcp_exec_command(e, ngx_http_adcp_exec_on_finish, 12,
                                       a, l)
            != NGX_OK)
        {
            ngx_http_adcp_exec_free(e);
        }
    }
}


static void
ngx_http_adcp_exec_on_finish(redisReply *reply, void *data)
{
    ngx_http_adcp_exec_t *e = data;

    e->call = NULL;

    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, e->log, 0,
                      "adcp: tenant \"%V\": task \"%V\": its outcome was "
                      "not stored (%s), left for reclaiming",
                      &e->f[NGX_HTTP_ADCP_F_TENANT], &e->task_id,
                      reply ? reply->str : "Redis did not answer");
        ngx_http_adcp_exec_free(e);
        return;
    }

    ngx_log_error(NGX_LOG_INFO, e->log, 0,
                  "adcp: tenant \"%V\": task \"%V\" %V",
                  &e->f[NGX_HTTP_ADCP_F_TENANT], &e->task_id, &e->status);

    ngx_http_adcp_exec_queue(reply);

    if (e->f[NGX_HTTP_ADCP_F_HAS_WEBHOOK].len == 1
        && e->f[NGX_HTTP_ADCP_F_HAS_WEBHOOK].data[0] == '1')
    {
        ngx_http_adcp_exec_hook(e);
        return;
    }

    ngx_http_adcp_exec_free(e);
}


/*
 * The terminal status POSTed to the webhook (AdCP's mcp-webhook-payload),
 * http:// with an IP address or a host name (nginx's resolver); Bearer
 * credentials, the token echoed
 */

static void
ngx_http_adcp_exec_hook(ngx_http_adcp_exec_t *e)
{
    u_char                    *p, *body, *b;
    size_t                     len, blen;
    ngx_url_t                  u;
    ngx_str_t                  url, path, *tok, *auth, *op, idem;
    ngx_resolver_ctx_t        *ctx;
    ngx_http_adcp_consumer_t  *cs;

    url = e->f[NGX_HTTP_ADCP_F_WEBHOOK_URL];
    tok = &e->f[NGX_HTTP_ADCP_F_WEBHOOK_TOKEN];
    auth = &e->f[NGX_HTTP_ADCP_F_WEBHOOK_AUTH];
    op = &e->f[NGX_HTTP_ADCP_F_OPERATION_ID];

    e->phase = NGX_HTTP_ADCP_PH_HOOK;
    e->hooks++;

    if (url.len <= 7 || ngx_strncasecmp(url.data, (u_char *) "http://", 7)
                        != 0
        || !ngx_http_adcp_exec_clean((char *) url.data)
        || !ngx_http_adcp_exec_clean((char *) auth->data))
    {
        ngx_log_error(NGX_LOG_ERR, e->log, 0,
                      "adcp: task \"%V\": the webhook url is not http://, "
                      "not delivered", &e->task_id);
        ngx_http_adcp_exec_ack(e, 0);
        return;
    }

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url.data = url.data + 7;
    u.url.len = url.len - 7;
    u.default_port = 80;
    u.uri_part = 1;
    u.no_resolve = 1;

    if (ngx_parse_url(e->pool, &u) != NGX_OK || u.host.len == 0) {
        ngx_log_error(NGX_LOG_ERR, e->log, 0,
                      "adcp: task \"%V\": the webhook url is invalid (%s), "
                      "not delivered", &e->task_id,
                      u.err ? u.err : "no host");
        ngx_http_adcp_exec_ack(e, 0);
        return;
    }

    path = u.uri;

    if (path.len == 0) {
        ngx_str_set(&path, "/");
    }

    /* the delivery's key: the same for every retry of this status */

    idem.data = ngx_pnalloc(e->pool, e->task_id.len + e->status.len + 1);
    if (idem.data == NULL) {
        ngx_http_adcp_exec_free(e);
        return;
    }

    idem.len = ngx_sprintf(idem.data, "%V.%V", &e->task_id, &e->status)
               - idem.data;

    len = sizeof("{\"idempotency_key\":,\"operation_id\":,\"task_id\":,"
                 "\"task_type\":,\"protocol\":,\"status\":,\"timestamp\":,"
                 "\"token\":,\"result\":{\"errors\":[]}}") - 1
          + ngx_http_adcp_json_str_len(&idem)
          + ngx_http_adcp_json_str_len(op->len ? op : &e->task_id)
          + ngx_http_adcp_json_str_len(&e->task_id)
          + ngx_http_adcp_json_str_len(&e->f[NGX_HTTP_ADCP_F_TASK_TYPE])
          + ngx_http_adcp_json_str_len(&e->f[NGX_HTTP_ADCP_F_PROTOCOL])
          + ngx_http_adcp_json_str_len(&e->status)
          + ngx_http_adcp_json_str_len(&e->now)
          + ngx_http_adcp_json_str_len(tok)
          + e->value.len + 4;

    len += sizeof("POST  HTTP/1.0" CRLF "Host: " CRLF
                  "Content-Type: application/json" CRLF
                  "Content-Length: " CRLF "Connection: close" CRLF
                  "Authorization: Bearer " CRLF "Idempotency-Key: " CRLF
                  CRLF) - 1
           + path.len + u.host.len
           + NGX_SIZE_T_LEN + auth->len + idem.len;

    e->out = ngx_create_temp_buf(e->pool, len);
    if (e->out == NULL) {
        ngx_http_adcp_exec_free(e);
        return;
    }

    body = ngx_pnalloc(e->pool, len);
    if (body == NULL) {
        ngx_http_adcp_exec_free(e);
        return;
    }

    b = ngx_http_adcp_json_lit(body, "{\"idempotency_key\":");
    b = ngx_http_adcp_json_str(b, &idem);
    b = ngx_http_adcp_json_lit(b, ",\"operation_id\":");
    b = ngx_http_adcp_json_str(b, op->len ? op : &e->task_id);
    b = ngx_http_adcp_json_lit(b, ",\"task_id\":");
    b = ngx_http_adcp_json_str(b, &e->task_id);
    b = ngx_http_adcp_json_lit(b, ",\"task_type\":");
    b = ngx_http_adcp_json_str(b, &e->f[NGX_HTTP_ADCP_F_TASK_TYPE]);
    b = ngx_http_adcp_json_lit(b, ",\"protocol\":");
    b = ngx_http_adcp_json_str(b, &e->f[NGX_HTTP_ADCP_F_PROTOCOL]);
    b = ngx_http_adcp_json_lit(b, ",\"status\":");
    b = ngx_http_adcp_json_str(b, &e->status);
    b = ngx_http_adcp_json_lit(b, ",\"timestamp\":");
    b = ngx_http_adcp_json_str(b, &e->now);

    if (tok->len) {
        b = ngx_http_adcp_json_lit(b, ",\"token\":");
        b = ngx_http_adcp_json_str(b, tok);
    }

    if (e->value.len && e->value.data[0] == '{') {
        if (e->status.len == 6) {
            b = ngx_http_adcp_json_lit(b, ",\"result\":{\"errors\":[");
            b = ngx_cpymem(b, e->value.data, e->value.len);
            b = ngx_http_adcp_json_lit(b, "]}");

        } else {
            b = ngx_http_adcp_json_lit(b, ",\"result\":");
            b = ngx_cpymem(b, e->value.data, e->value.len);
        }
    }

    *b++ = '}';
    blen = b - body;

    p = ngx_sprintf(e->out->last, "POST %V HTTP/1.0" CRLF "Host: %V" CRLF
                    "Content-Type: application/json" CRLF
                    "Content-Length: %uz" CRLF "Connection: close" CRLF
                    "Idempotency-Key: %V" CRLF,
                    &path, &u.host, blen, &idem);

    if (auth->len) {
        p = ngx_sprintf(p, "Authorization: Bearer %V" CRLF, auth);
    }

    p = ngx_http_adcp_json_lit(p, CRLF);

    if ((size_t) (e->out->end - p) < blen) {
        ngx_http_adcp_exec_free(e);
        return;
    }

    p = ngx_cpymem(p, body, blen);
    ngx_pfree(e->pool, body);

    e->out->last = p;

    if (u.naddrs) {
        if (!ngx_http_adcp_exec_public(u.addrs[0].sockaddr)
            && !ngx_http_adcp_consumer.amcf->task_webhook_private)
        {
            ngx_log_error(NGX_LOG_ERR, e->log, 0,
                          "adcp: task \"%V\": the webhook address is not "
                          "public, not delivered", &e->task_id);
            ngx_http_adcp_exec_ack(e, 0);
            return;
        }

        e->hook_addrs = u.addrs;
        e->hook_naddrs = 1;
        e->hook_next = 0;

        ngx_http_adcp_exec_hook_connect(e);
        return;
    }

    /* a host name: nginx's resolver (the http{} level's "resolver") */

    cs = &ngx_http_adcp_consumer;

    ctx = cs->resolver ? ngx_resolve_start(cs->resolver, NULL) : NULL;

    if (ctx == NULL) {
        ngx_http_adcp_exec_on_hook(e, NGX_ERROR);
        return;
    }

    if (ctx == NGX_NO_RESOLVER) {
        ngx_log_error(NGX_LOG_ERR, e->log, 0,
                      "adcp: task \"%V\": the webhook host \"%V\" needs "
                      "a \"resolver\" at the http{} level, not delivered",
                      &e->task_id, &u.host);
        ngx_http_adcp_exec_ack(e, 0);
        return;
    }

    e->hook_port = u.port;

    ctx->name.data = ngx_pstrdup(e->pool, &u.host);
    ctx->name.len = u.host.len;
    ctx->handler = ngx_http_adcp_exec_hook_resolved;
    ctx->data = e;
    ctx->timeout = cs->resolver_timeout;

    if (ctx->name.data == NULL) {
        ngx_resolve_name_done(ctx);
        ngx_http_adcp_exec_on_hook(e, NGX_ERROR);
        return;
    }

    e->resolving = ctx;

    if (ngx_resolve_name(ctx) != NGX_OK) {
        /* the context was freed */
        e->resolving = NULL;
        ngx_http_adcp_exec_on_hook(e, NGX_ERROR);
    }
}


static void
ngx_http_adcp_exec_hook_resolved(ngx_resolver_ctx_t *ctx)
{
    ngx_http_adcp_exec_t *e = ctx->data;

    u_char           *p;
    socklen_t         len;
    ngx_uint_t        i, n;
    ngx_addr_t       *a;
    struct sockaddr  *sa;

    if (ctx->state) {
        ngx_log_error(NGX_LOG_ERR, e->log, 0,
                      "adcp: task \"%V\": the webhook host \"%V\" could "
                      "not be resolved (%i: %s)", &e->task_id, &ctx->name,
                      ctx->state, ngx_resolver_strerror(ctx->state));

        ngx_resolve_name_done(ctx);
        e->resolving = NULL;

        ngx_http_adcp_exec_on_hook(e, NGX_ERROR);
        return;
    }

    /* every address the policy allows, in the resolver's order */

    a = ngx_palloc(e->pool, ctx->naddrs * sizeof(ngx_addr_t));
    n = 0;

    for (i = 0; a && i < ctx->naddrs; i++) {
        sa = ctx->addrs[i].sockaddr;
        len = ctx->addrs[i].socklen;

        if (!ngx_http_adcp_exec_public(sa)
            && !ngx_http_adcp_consumer.amcf->task_webhook_private)
        {
            continue;
        }

        p = ngx_palloc(e->pool, len + NGX_SOCKADDR_STRLEN);
        if (p == NULL) {
            a = NULL;
            break;
        }

        ngx_memcpy(p, sa, len);
        a[n].sockaddr = (struct sockaddr *) p;
        a[n].socklen = len;
        ngx_inet_set_port(a[n].sockaddr, e->hook_port);
        a[n].name.data = p + len;
        a[n].name.len = ngx_sock_ntop(a[n].sockaddr, len, p + len,
                                      NGX_SOCKADDR_STRLEN, 1);
        n++;
    }

    ngx_resolve_name_done(ctx);
    e->resolving = NULL;

    if (a == NULL) {
        ngx_http_adcp_exec_on_hook(e, NGX_ERROR);
        return;
    }

    if (n == 0) {
        ngx_log_error(NGX_LOG_ERR, e->log, 0,
                      "adcp: task \"%V\": the webhook host resolves to an "
                      "address that is not public, not delivered",
                      &e->task_id);
        ngx_http_adcp_exec_ack(e, 0);
        return;
    }

    e->hook_addrs = a;
    e->hook_naddrs = n;
    e->hook_next = 0;

    ngx_http_adcp_exec_hook_connect(e);
}


/*
 * The attempt's next address, as nginx's upstreams go on to the next
 * server; none left: the attempt failed (retried on the schedule)
 */

static void
ngx_http_adcp_exec_hook_connect(ngx_http_adcp_exec_t *e)
{
    ngx_addr_t  *a;

    while (e->hook_next < e->hook_naddrs) {
        a = &e->hook_addrs[e->hook_next++];

        ngx_log_error(NGX_LOG_INFO, e->log, 0,
                      "adcp: task \"%V\": webhook attempt %ui to %V",
                      &e->task_id, e->hooks, &a->name);

        if (ngx_http_adcp_exec_http(e, a->sockaddr, a->socklen, 10000,
                                    ngx_http_adcp_exec_on_hook_addr)
            == NGX_OK)
        {
            return;
        }

        ngx_log_error(NGX_LOG_WARN, e->log, 0,
                      "adcp: task \"%V\": webhook address %V failed",
                      &e->task_id, &a->name);
    }

    ngx_http_adcp_exec_on_hook(e, NGX_ERROR);
}


/* no byte of the request sent (refused, no connect in time): the next */

static void
ngx_http_adcp_exec_on_hook_addr(ngx_http_adcp_exec_t *e, ngx_int_t rc)
{
    if (rc == NGX_ERROR && e->out->pos == e->out->start) {
        ngx_log_error(NGX_LOG_WARN, e->log, 0,
                      "adcp: task \"%V\": webhook address %V failed",
                      &e->task_id, &e->hook_addrs[e->hook_next - 1].name);

        ngx_http_adcp_exec_hook_connect(e);
        return;
    }

    ngx_http_adcp_exec_on_hook(e, rc);
}


static void
ngx_http_adcp_exec_hook_timer(ngx_event_t *ev)
{
    ngx_http_adcp_exec_hook(ev->data);
}


static void
ngx_http_adcp_exec_on_hook(ngx_http_adcp_exec_t *e, ngx_int_t rc)
{
    ngx_str_t  ct, body;

    if (rc == NGX_OK && ngx_http_adcp_exec_parse(e, &ct, &body) == NGX_OK
        && e->code >= 200 && e->code <= 299)
    {
        ngx_log_error(NGX_LOG_INFO, e->log, 0,
                      "adcp: task \"%V\": webhook delivered to %V "
                      "(HTTP %i)", &e->task_id,
                      &e->hook_addrs[e->hook_next - 1].name, e->code);
        ngx_http_adcp_exec_ack(e, 1);
        return;
    }

    ngx_log_error(NGX_LOG_WARN, e->log, 0,
                  "adcp: task \"%V\": webhook attempt %ui failed (HTTP %i)",
                  &e->task_id, e->hooks, e->code);

    if (e->hooks >= NGX_HTTP_ADCP_HOOK_ATTEMPTS) {
        ngx_log_error(NGX_LOG_ERR, e->log, 0,
                      "adcp: task \"%V\": webhook given up after %ui "
                      "attempts", &e->task_id, e->hooks);
        ngx_http_adcp_exec_ack(e, 0);
        return;
    }

    e->timer.handler = ngx_http_adcp_exec_hook_timer;
    ngx_add_timer(&e->timer, (ngx_msec_t) 1000 << (e->hooks - 1));
}


/* the entry acknowledged (and the webhook marked sent) */

static void
ngx_http_adcp_exec_ack(ngx_http_adcp_exec_t *e, ngx_uint_t hooked)
{
    u_char      *p;
    size_t       len[7];
    const char  *argv[7];

    p = ngx_pnalloc(e->pool, sizeof("adcp:task:") - 1 + e->task_id.len);
    if (p == NULL) {
        ngx_http_adcp_exec_free(e);
        return;
    }

    argv[0] = "EVAL";  len[0] = 4;
    argv[1] = ngx_http_adcp_exec_ack_script;
    len[1] = sizeof(ngx_http_adcp_exec_ack_script) - 1;
    argv[2] = "2";  len[2] = 1;
    argv[3] = (char *) p;
    len[3] = ngx_sprintf(p, "adcp:task:%V", &e->task_id) - p;
    argv[4] = "adcp:tasks";  len[4] = 10;
    argv[5] = (char *) e->entry.data;  len[5] = e->entry.len;
    argv[6] = hooked ? "1" : "0";  len[6] = 1;

    e->phase = NGX_HTTP_ADCP_PH_ACK;

    if (ngx_http_adcp_exec_command(e, ngx_http_adcp_exec_on_ack, 7, argv,
                                   len)
        != NGX_OK)
    {
        ngx_http_adcp_exec_free(e);
    }
}


/* also XLEN's reply (data NULL) */

static void
ngx_http_adcp_exec_on_ack(redisReply *reply, void *data)
{
    ngx_http_adcp_exec_t *e = data;

    ngx_http_adcp_exec_queue(reply);

    if (e) {
        e->call = NULL;
        ngx_http_adcp_exec_free(e);
    }
}


static void
ngx_http_adcp_exec_queue(redisReply *reply)
{
    ngx_http_adcp_consumer_t  *cs;

    cs = &ngx_http_adcp_consumer;

    if (reply == NULL || reply->type != REDIS_REPLY_INTEGER
        || cs->amcf == NULL || cs->amcf->zone.sh == NULL)
    {
        return;
    }

    cs->amcf->zone.sh->tasks_queue = (ngx_atomic_uint_t) reply->integer;
    cs->amcf->zone.sh->tasks_queue_time = ngx_time();
}


static ngx_http_adcp_row_t *
ngx_http_adcp_exec_row(void)
{
    return ngx_http_adcp_worker ? ngx_http_adcp_worker->row : NULL;
}
