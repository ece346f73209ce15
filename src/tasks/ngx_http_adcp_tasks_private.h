
/*
 * ngx_http_adcp_tasks_module: long-running tasks (SPEC section 7), the
 * header its files share.  Nothing outside src/tasks/ includes it (its
 * unit tests and fuzz target aside).
 *
 * The request side (what a buyer's request meets):
 *   ngx_http_adcp_tasks_module.c   directives, conf, worker init/exit, the
 *                                  two calls the main handler makes
 *   ngx_http_adcp_tasks_body.c     the task read from the buyer's body
 *   ngx_http_adcp_tasks_accept.c   accept: stored, answered "submitted"
 *   ngx_http_adcp_tasks_hash.c     principal, payload hash, task id
 *   ngx_http_adcp_tasks_poll.c     get_task_status / tasks/get
 *   ngx_http_adcp_tasks_answer.c   answers in the request's transport form
 * The background (every worker's consumer):
 *   ngx_http_adcp_tasks_consumer.c the stream read (XREADGROUP)
 *   ngx_http_adcp_tasks_claim.c    refresh and reclaim (XCLAIM, XAUTOCLAIM)
 *   ngx_http_adcp_tasks_job.c      an execution's life: pool, log, Redis
 *                                  calls, freed; the wall clock
 *   ngx_http_adcp_tasks_exec.c     one execution: claim, finish, ack
 *   ngx_http_adcp_tasks_call.c     its call of the adapter, retried when
 *                                  transient
 *   ngx_http_adcp_tasks_loopback.c the request to this nginx, its marker
 *   ngx_http_adcp_tasks_http.c     the outbound HTTP/1.0 client (and TLS)
 *   ngx_http_adcp_tasks_response.c its reply read by nginx's parsers
 *   ngx_http_adcp_tasks_reply.c    the adapter's reply interpreted
 *   ngx_http_adcp_tasks_payload.c  the webhook's request written (body,
 *                                  signature or legacy credentials)
 *   ngx_http_adcp_tasks_webhook.c  one webhook attempt, its outcome
 *   ngx_http_adcp_tasks_deliveries.c the webhooks' schedule in Redis
 *                                  (adcp:hooks): due ones claimed,
 *                                  retried with backoff, given up
 * Shared by both:
 *   ngx_http_adcp_tasks_record.c   the task record's fields and statuses
 *   ngx_http_adcp_tasks_url.c      the webhook URL policy
 *   ngx_http_adcp_tasks_retry.c    the retry policy: outcomes, backoff
 *
 * Calls go one way (module -> accept/poll -> body, hash, answer, url;
 * module -> consumer -> claim -> exec -> call -> loopback, http, reply;
 * exec, consumer -> deliveries -> webhook -> payload, http; all -> job);
 * what must go back up is a callback (e->done, e->ran, e->hooked,
 * cs->wake).
 */


#ifndef _NGX_HTTP_ADCP_TASKS_PRIVATE_H_INCLUDED_
#define _NGX_HTTP_ADCP_TASKS_PRIVATE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_event_connect.h>
#include <ngx_http.h>

#include <yajl/yajl_tree.h>

#include "ngx_http_adcp.h"
#include "ngx_http_adcp_json.h"
#include "ngx_http_adcp_time.h"
#include "ngx_http_adcp_redis.h"
#include "ngx_http_adcp_jwks.h"


#define NGX_HTTP_ADCP_TASK_PREFIX      "adcp_task_"
#define NGX_HTTP_ADCP_TASK_ID_LEN      (sizeof(NGX_HTTP_ADCP_TASK_PREFIX) - 1 \
                                        + 24)
#define NGX_HTTP_ADCP_TASK_TTL_MIN     3600000     /* 1h */
#define NGX_HTTP_ADCP_IDEM_KEY_MAX     255
#define NGX_HTTP_ADCP_TASKS_MAX_DEPTH  512

#define NGX_HTTP_ADCP_EXEC_HEADER      "Adcp-Task-Exec"
#define NGX_HTTP_ADCP_EXEC_ATTEMPTS    3        /* then failed */
#define NGX_HTTP_ADCP_EXEC_REPLY_MAX   (1024 * 1024)
#define NGX_HTTP_ADCP_EXEC_TRIES       4        /* adapter calls of one
                                                   execution: transient
                                                   failures retried */
#define NGX_HTTP_ADCP_HOOK_TIMEOUT     10000    /* one address */
#define NGX_HTTP_ADCP_HOOK_LEASE       60000    /* an attempt's claim */
#define NGX_HTTP_ADCP_HOOK_BUDGET      30000    /* one attempt, all of its
                                                   addresses: ends well
                                                   within its lease */
#define NGX_HTTP_ADCP_HOOK_POLL        1000     /* the due ones looked for */
#define NGX_HTTP_ADCP_BACKOFF          1000     /* doubling, */
#define NGX_HTTP_ADCP_BACKOFF_MAX      60000    /*   to 60 s */

#define NGX_HTTP_ADCP_EXEC_BLOCK       2000
#define NGX_HTTP_ADCP_EXEC_RETRY       1000     /* doubling to 10 s */
#define NGX_HTTP_ADCP_EXEC_RETRY_MAX   10000

/* which A2A a request speaks */
#define NGX_HTTP_ADCP_A2A_NONE         0
#define NGX_HTTP_ADCP_A2A_03           1
#define NGX_HTTP_ADCP_A2A_10           2

/* where an execution is */
#define NGX_HTTP_ADCP_PH_CLAIM         0
#define NGX_HTTP_ADCP_PH_RUN           1
#define NGX_HTTP_ADCP_PH_FINISH        2
#define NGX_HTTP_ADCP_PH_HOOK          3
#define NGX_HTTP_ADCP_PH_ACK           4


/*
 * The task record adcp:task:<id>, a Redis hash: its fields, named once in
 * ngx_http_adcp_task_fields[] (the writer at accept, the claim script's
 * HMGET, the poll's reader and the execution all index by this enum)
 */

typedef enum {
    NGX_HTTP_ADCP_TF_STATUS = 0,
    NGX_HTTP_ADCP_TF_ATTEMPTS,
    NGX_HTTP_ADCP_TF_TENANT,
    NGX_HTTP_ADCP_TF_PRINCIPAL,
    NGX_HTTP_ADCP_TF_TASK_TYPE,
    NGX_HTTP_ADCP_TF_PROTOCOL,
    NGX_HTTP_ADCP_TF_TRANSPORT,
    NGX_HTTP_ADCP_TF_RPC_METHOD,
    NGX_HTTP_ADCP_TF_CREATED_AT,
    NGX_HTTP_ADCP_TF_UPDATED_AT,
    NGX_HTTP_ADCP_TF_COMPLETED_AT,
    NGX_HTTP_ADCP_TF_IDEMPOTENCY_KEY,
    NGX_HTTP_ADCP_TF_PAYLOAD_HASH,
    NGX_HTTP_ADCP_TF_URI,
    NGX_HTTP_ADCP_TF_HOST,
    NGX_HTTP_ADCP_TF_PORT,
    NGX_HTTP_ADCP_TF_HEADERS,
    NGX_HTTP_ADCP_TF_BODY,
    NGX_HTTP_ADCP_TF_HAS_WEBHOOK,
    NGX_HTTP_ADCP_TF_WEBHOOK_SENT,
    NGX_HTTP_ADCP_TF_WEBHOOK_URL,
    NGX_HTTP_ADCP_TF_WEBHOOK_TOKEN,
    NGX_HTTP_ADCP_TF_WEBHOOK_AUTH,
    NGX_HTTP_ADCP_TF_OPERATION_ID,
    NGX_HTTP_ADCP_TF_WEBHOOK_SCHEME,
    NGX_HTTP_ADCP_TF_WEBHOOK_IDEM,
    NGX_HTTP_ADCP_TF_WEBHOOK_FORM,
    NGX_HTTP_ADCP_TF_CONTEXT,
    NGX_HTTP_ADCP_TF_CONTEXT_ID,
    NGX_HTTP_ADCP_TF_RESULT,
    NGX_HTTP_ADCP_TF_ERROR,
    NGX_HTTP_ADCP_TF_WEBHOOK_ATTEMPTS,  /* made or begun */
    NGX_HTTP_ADCP_TF_WEBHOOK_FIRST,     /* the first's, ms since 1970 */
    NGX_HTTP_ADCP_TF_WEBHOOK_DUE,       /* the next's, ms since 1970 */
    NGX_HTTP_ADCP_TF_WEBHOOK_STATUS,    /* scheduled, delivered, failed,
                                           gave_up */
    NGX_HTTP_ADCP_TF_WEBHOOK_CODE,      /* the last answer: an HTTP status,
                                           or "network" */
    NGX_HTTP_ADCP_TF_N
} ngx_http_adcp_task_field_e;


/* how a webhook is authenticated (webhook_scheme) and written
   (webhook_form): the values stored */

#define NGX_HTTP_ADCP_HOOK_SIGNED      "rfc9421"
#define NGX_HTTP_ADCP_HOOK_HMAC        "hmac-sha256"
#define NGX_HTTP_ADCP_HOOK_BEARER      "bearer"

#define NGX_HTTP_ADCP_HOOK_FORM_ADCP   "adcp"
#define NGX_HTTP_ADCP_HOOK_FORM_A2A03  "a2a-0.3"
#define NGX_HTTP_ADCP_HOOK_FORM_A2A10  "a2a-1.0"

/* the webhook idempotency_key: "whk_" and 32 hex digits (16 random bytes) */
#define NGX_HTTP_ADCP_HOOK_IDEM_LEN    (sizeof("whk_") - 1 + 32)


/* a task's status, named in ngx_http_adcp_task_statuses[] */

typedef enum {
    NGX_HTTP_ADCP_TS_UNKNOWN = 0,
    NGX_HTTP_ADCP_TS_SUBMITTED,
    NGX_HTTP_ADCP_TS_WORKING,
    NGX_HTTP_ADCP_TS_COMPLETED,
    NGX_HTTP_ADCP_TS_FAILED,
    NGX_HTTP_ADCP_TS_N
} ngx_http_adcp_task_status_e;


/* the transport a task was submitted in */

typedef enum {
    NGX_HTTP_ADCP_TT_HTTP = 0,
    NGX_HTTP_ADCP_TT_MCP,
    NGX_HTTP_ADCP_TT_A2A
} ngx_http_adcp_task_transport_e;


typedef ngx_int_t (*ngx_http_adcp_tasks_check_pt)(ngx_conf_t *cf);


typedef struct {
    ngx_msec_t                      claim_after;  /* adcp_task_claim_after */
    ngx_msec_t                      timeout;      /* adcp_task_timeout */
    ngx_uint_t                      concurrency;  /* adcp_task_concurrency */
    ngx_flag_t                      webhook_private;
                                           /* adcp_task_webhook_private */
    ngx_msec_t                      hook_horizon;
                                   /* adcp_task_webhook_retry_horizon */
    ngx_flag_t                      webhook_http; /* adcp_task_webhook_http */
    ngx_str_t                       webhook_trusted;
                               /* adcp_task_webhook_trusted_certificate */
    ngx_uint_t                      webhook_policy;
                                           /* NGX_HTTP_ADCP_URL_ALLOW_* */
    ngx_ssl_t                      *ssl;          /* https webhooks; NULL:
                                                     no adcp_task_webhooks */
    ngx_flag_t                      enabled;      /* some adcp_async */
    ngx_array_t                     checks;       /* of ..._tasks_check_t */
    ngx_http_adcp_jwks_conf_t       jwks;         /* the signing keys,
                                                     their JWKS */
} ngx_http_adcp_tasks_main_conf_t;


typedef struct {
    ngx_array_t                    *async;        /* adcp_async: ngx_str_t */
    ngx_str_t                       async_file;   /* where adcp_async is */
    ngx_uint_t                      async_line;
    ngx_msec_t                      ttl;          /* adcp_task_ttl */
    ngx_flag_t                      webhooks;     /* adcp_task_webhooks */
    ngx_array_t                    *headers;      /* adcp_task_headers */
} ngx_http_adcp_tasks_loc_conf_t;


/* a location with adcp_async, checked once the main module is merged */

typedef struct {
    ngx_http_adcp_tasks_loc_conf_t *conf;
    ngx_http_adcp_loc_conf_t       *alcf;         /* the main module's */
} ngx_http_adcp_tasks_check_t;


/* a buyer's request that is a task's (accept) or asks for one (poll) */

typedef struct {
    ngx_http_request_t             *request;
    ngx_http_adcp_ctx_t            *ctx;
    ngx_http_adcp_redis_call_t     *call;         /* until answered */
    yajl_val                        root;         /* the parsed body */
    yajl_val                        args;         /* the task's arguments */
    ngx_str_t                       body;
    ngx_str_t                       rpc;          /* the JSON-RPC method */
    ngx_str_t                       context_id;   /* A2A, "" = the task id */
    ngx_str_t                       task_id;
    ngx_str_t                       idem;         /* idempotency_key */
    ngx_str_t                       hook_url;     /* push_notification_ */
    ngx_str_t                       hook_token;   /*   config */
    ngx_str_t                       hook_auth;    /* legacy credentials */
    ngx_str_t                       operation_id;
    ngx_str_t                       hook_context; /* "context", as JSON */
    yajl_val                        a2a_hook;     /* A2A's configuration.
                                                     pushNotificationConfig */
    char                           *hook_scheme;  /* NGX_HTTP_ADCP_HOOK_* */
    char                           *hook_form;
    u_char                          hook_idem[NGX_HTTP_ADCP_HOOK_IDEM_LEN];
    u_char                          principal[32];
    u_char                          hash[32];
    ngx_uint_t                      a2a;          /* NGX_HTTP_ADCP_A2A_* */
    unsigned                        stream:1;     /* answer in SSE */
    unsigned                        webhook:1;
    unsigned                        replayed:1;   /* adcp_task_durability */
} ngx_http_adcp_task_t;


/* what the webhook URL policy allows beyond public https:// urls */

#define NGX_HTTP_ADCP_URL_ALLOW_PRIVATE  0x01    /* ..._webhook_private */
#define NGX_HTTP_ADCP_URL_ALLOW_HTTP     0x02    /* ..._webhook_http */


/* what the webhook URL policy says of a url */

typedef enum {
    NGX_HTTP_ADCP_URL_OK = 0,
    NGX_HTTP_ADCP_URL_PLAIN,           /* http://, not allowed */
    NGX_HTTP_ADCP_URL_NOT_HTTP,        /* neither https:// nor http:// */
    NGX_HTTP_ADCP_URL_INVALID,
    NGX_HTTP_ADCP_URL_PRIVATE          /* the gateway's own network */
} ngx_http_adcp_tasks_url_e;


/* a webhook url, as the policy reads it */

typedef struct {
    ngx_str_t                       host;         /* an IPv6 one in [] */
    ngx_str_t                       authority;    /* host[:port]: Host */
    ngx_str_t                       path;         /* "/" at least */
    in_port_t                       port;
    ngx_addr_t                     *addr;         /* NULL: a host name */
    unsigned                        ssl:1;        /* https:// */
} ngx_http_adcp_tasks_url_t;


/* what the adapter's reply says (ngx_http_adcp_tasks_reply.c) */

typedef struct {
    ngx_uint_t                      failed;
    char                           *code;         /* failed: AdCP's code */
    ngx_str_t                       message;      /* failed */
    yajl_val                        result;       /* completed: an object */
} ngx_http_adcp_tasks_outcome_t;


typedef struct ngx_http_adcp_exec_s      ngx_http_adcp_exec_t;
typedef struct ngx_http_adcp_consumer_s  ngx_http_adcp_consumer_t;

typedef void (*ngx_http_adcp_exec_done_pt)(ngx_http_adcp_exec_t *e,
    ngx_int_t rc);


/* per worker: the stream's reader and what it runs */

struct ngx_http_adcp_consumer_s {
    ngx_http_adcp_main_conf_t      *amcf;
    ngx_http_adcp_tasks_main_conf_t *tmcf;
    ngx_http_adcp_redis_conn_t     *stream;       /* XGROUP, XREADGROUP */
    ngx_http_adcp_redis_call_t     *read;
    ngx_http_adcp_redis_call_t     *claim;        /* XAUTOCLAIM */
    ngx_http_adcp_redis_call_t     *due;          /* deliveries claimed */
    ngx_event_t                     hooks;        /* look for due ones */
    ngx_event_t                     retry;        /* read again */
    ngx_event_t                     tick;         /* refresh, reclaim */
    ngx_queue_t                     execs;
    ngx_uint_t                      running;
    ngx_uint_t                      delivering;   /* webhooks, apart */
    ngx_uint_t                      ticks;
    ngx_msec_t                      backoff;      /* 0: reading fine */
    ngx_str_t                       consumer;     /* <hostname>:<pid> */
    ngx_log_t                       log;          /* names the consumer */
    ngx_resolver_t                 *resolver;     /* webhook host names */
    ngx_msec_t                      resolver_timeout;
    void                          (*wake)(ngx_http_adcp_consumer_t *cs);
                                                  /* a slot is free */
    unsigned                        group:1;
    unsigned                        exiting:1;
};


/* one execution; everything in its own pool */

struct ngx_http_adcp_exec_s {
    ngx_queue_t                     queue;        /* in cs->execs */
    ngx_http_adcp_consumer_t       *cs;
    ngx_pool_t                     *pool;
    ngx_log_t                      *log;
    ngx_http_adcp_redis_call_t     *call;
    ngx_peer_connection_t           peer;
    ngx_event_t                     timer;        /* deadline, backoff */
    ngx_http_adcp_exec_done_pt      done;         /* the HTTP exchange's */
    ngx_http_adcp_exec_done_pt      hooked;       /* the webhook's */
    ngx_http_adcp_exec_done_pt      ran;          /* the adapter's call's */
    ngx_ssl_t                      *ssl;          /* the exchange in TLS */
    ngx_str_t                       ssl_name;     /* its host, null-ended,
                                                     an IPv6 one without [] */
    ngx_uint_t                      phase;        /* NGX_HTTP_ADCP_PH_* */

    ngx_str_t                       entry;        /* the stream entry id */
    ngx_str_t                       task_id;
    ngx_str_t                       f[NGX_HTTP_ADCP_TF_N];

    ngx_http_adcp_task_status_e     status;       /* completed, failed */
    ngx_str_t                       value;        /* result or error */
    ngx_str_t                       now;

    ngx_buf_t                      *out;
    u_char                         *in;           /* the reply so far */
    size_t                          in_len;
    size_t                          in_size;

    ngx_uint_t                      hooks;        /* webhook attempts */
    uint64_t                        hook_first;   /* ms since 1970 */
    ngx_uint_t                      tries;        /* adapter calls */
    ngx_msec_t                      deadline;     /* adcp_task_timeout,
                                                     then a webhook
                                                     attempt's budget */
    ngx_resolver_ctx_t             *resolving;
    in_port_t                       hook_port;
    ngx_addr_t                     *hook_addrs;   /* allowed, in order */
    ngx_uint_t                      hook_naddrs;
    ngx_uint_t                      hook_next;    /* the next one to try */
    ngx_int_t                       code;         /* HTTP status */
    unsigned                        counted:1;    /* in "running" */
    unsigned                        reclaimed:1;
    unsigned                        delivery:1;   /* only a webhook */
    unsigned                        ssl_addr:1;   /* ssl_name an address */
};


extern ngx_module_t     ngx_http_adcp_tasks_module;

extern ngx_str_t        ngx_http_adcp_task_fields[];
extern ngx_str_t        ngx_http_adcp_task_statuses[];


/* the record */
ngx_int_t ngx_http_adcp_task_field(ngx_str_t *name);
ngx_http_adcp_task_status_e ngx_http_adcp_task_status(ngx_str_t *name);
#define ngx_http_adcp_task_key(pool, id, key)                                 \
    ngx_http_adcp_redis_key(pool, NGX_HTTP_ADCP_KEY_TASK, key, 1, id)
char *ngx_http_adcp_task_protocol(ngx_str_t *task);
void ngx_http_adcp_task_arg_fields(ngx_http_adcp_redis_args_t *a);
ngx_uint_t ngx_http_adcp_task_flag(ngx_str_t *v);

/* the request side */
ngx_int_t ngx_http_adcp_tasks_accept(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx);
ngx_int_t ngx_http_adcp_tasks_poll(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx);
ngx_http_adcp_task_t *ngx_http_adcp_tasks_create(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx);
ngx_int_t ngx_http_adcp_tasks_parse(ngx_http_request_t *r,
    ngx_http_adcp_task_t *t);
void ngx_http_adcp_tasks_principal(ngx_http_request_t *r,
    ngx_http_adcp_task_t *t);
void ngx_http_adcp_tasks_hash(u_char *hash, ngx_str_t *task, yajl_val args,
    ngx_log_t *log);
ngx_int_t ngx_http_adcp_tasks_id(ngx_http_request_t *r,
    ngx_http_adcp_task_t *t);
ngx_int_t ngx_http_adcp_tasks_send(ngx_http_request_t *r,
    ngx_http_adcp_task_t *t, ngx_str_t *obj, ngx_uint_t status);
ngx_int_t ngx_http_adcp_tasks_submitted(ngx_http_request_t *r,
    ngx_http_adcp_task_t *t, ngx_uint_t replayed);
ngx_int_t ngx_http_adcp_tasks_error(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx, ngx_uint_t code, char *message, char *field);
ngx_int_t ngx_http_adcp_tasks_wait(ngx_http_request_t *r,
    ngx_http_adcp_task_t *t, ngx_http_adcp_redis_script_t *script,
    ngx_http_adcp_redis_reply_pt handler, ngx_http_adcp_redis_args_t *args);
void ngx_http_adcp_tasks_finalize(ngx_http_request_t *r, ngx_int_t rc);
void ngx_http_adcp_tasks_unavailable(ngx_http_request_t *r,
    ngx_http_adcp_task_t *t, char *message);

/* the webhook url policy */
ngx_http_adcp_tasks_url_e ngx_http_adcp_tasks_url(ngx_pool_t *pool,
    ngx_str_t *url, ngx_uint_t allow, ngx_http_adcp_tasks_url_t *u);
ngx_uint_t ngx_http_adcp_tasks_url_public(struct sockaddr *sa);
ngx_uint_t ngx_http_adcp_tasks_clean(u_char *s, size_t len);

/* the background */
ngx_int_t ngx_http_adcp_tasks_consumer_init(ngx_cycle_t *cycle,
    ngx_http_adcp_main_conf_t *amcf, ngx_http_adcp_tasks_main_conf_t *tmcf);
void ngx_http_adcp_tasks_consumer_exit(void);
void ngx_http_adcp_tasks_tick(ngx_event_t *ev);
void ngx_http_adcp_exec_entries(ngx_http_adcp_consumer_t *cs,
    ngx_http_adcp_redis_reply_t *entries, ngx_uint_t reclaimed);
void ngx_http_adcp_exec_abandon(ngx_http_adcp_exec_t *e);
ngx_http_adcp_exec_t *ngx_http_adcp_exec_create(ngx_http_adcp_consumer_t *cs,
    ngx_str_t *task, ngx_uint_t delivery);
void ngx_http_adcp_exec_free(ngx_http_adcp_exec_t *e);
void ngx_http_adcp_exec_run(ngx_http_adcp_exec_t *e,
    ngx_http_adcp_exec_done_pt ran);
void ngx_http_adcp_exec_command(ngx_http_adcp_exec_t *e, ngx_uint_t phase,
    ngx_http_adcp_redis_script_t *script,
    ngx_http_adcp_redis_reply_pt handler, ngx_http_adcp_redis_args_t *a);
ngx_int_t ngx_http_adcp_exec_fields(ngx_http_adcp_exec_t *e,
    ngx_http_adcp_redis_reply_t *reply);
void ngx_http_adcp_exec_queue(ngx_http_adcp_consumer_t *cs,
    ngx_http_adcp_redis_reply_t *reply);
ngx_http_adcp_row_t *ngx_http_adcp_exec_row(void);
ngx_int_t ngx_http_adcp_exec_hook_request(ngx_http_adcp_exec_t *e,
    ngx_http_adcp_tasks_url_t *u);
ngx_int_t ngx_http_adcp_exec_marked(ngx_http_request_t *r,
    ngx_http_adcp_main_conf_t *amcf, ngx_str_t *tenant);
ngx_int_t ngx_http_adcp_exec_target(ngx_http_adcp_exec_t *e,
    struct sockaddr_storage *ss, socklen_t *len);
ngx_int_t ngx_http_adcp_exec_request(ngx_http_adcp_exec_t *e);
ngx_int_t ngx_http_adcp_exec_http(ngx_http_adcp_exec_t *e,
    struct sockaddr *sa, socklen_t len, ngx_msec_t timeout,
    ngx_http_adcp_exec_done_pt done);
void ngx_http_adcp_exec_http_close(ngx_http_adcp_exec_t *e);
ngx_int_t ngx_http_adcp_tasks_response(ngx_pool_t *pool, ngx_log_t *log,
    u_char *in, size_t len, ngx_int_t *code, ngx_str_t *ct, ngx_str_t *body);
ngx_int_t ngx_http_adcp_tasks_reply(ngx_pool_t *pool,
    ngx_http_adcp_task_transport_e transport, ngx_str_t *ct,
    ngx_str_t *body, ngx_http_adcp_tasks_outcome_t *out);
void ngx_http_adcp_exec_hook(ngx_http_adcp_exec_t *e,
    ngx_http_adcp_exec_done_pt hooked);

/* the webhooks' schedule */
ngx_int_t ngx_http_adcp_tasks_hook_outcome(ngx_int_t code);
uint64_t ngx_http_adcp_tasks_ms(void);
void ngx_http_adcp_tasks_arg_ms(ngx_http_adcp_redis_args_t *a, uint64_t ms);
ngx_msec_t ngx_http_adcp_tasks_backoff_ms(ngx_uint_t n);
void ngx_http_adcp_deliveries_poll(ngx_event_t *ev);
void ngx_http_adcp_deliveries_hooked(ngx_http_adcp_exec_t *e, ngx_int_t rc);


#endif /* _NGX_HTTP_ADCP_TASKS_PRIVATE_H_INCLUDED_ */
