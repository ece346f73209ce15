
/*
 * ngx_http_adcp_tasks_module: the loopback request.  An execution sends
 * the stored request to this nginx's listening socket of the port the
 * buyer used (a wildcard address: 127.0.0.1 or ::1) as HTTP/1.0 with
 * Connection: close, the stored headers, an Accept that lists
 * application/json and text/event-stream, and last the header
 * Adcp-Task-Exec: <host secret> <task id> <tenant>; the request path lets
 * such a request through at once (ngx_http_adcp_exec_marked(), the
 * marker's reader, here beside its writer).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_adcp_tasks_private.h"


static ngx_uint_t ngx_http_adcp_exec_unusable(ngx_listening_t *ls);
static ngx_int_t ngx_http_adcp_exec_unstream(ngx_http_adcp_exec_t *e,
    ngx_str_t *body);
static ngx_uint_t ngx_http_adcp_exec_header_skip(const char *name);


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

    if (amcf->zone.sh == NULL) {
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


/*
 * This nginx's listening socket of the port the buyer used: its address,
 * or the loopback address of its family when it listens on a wildcard
 */

ngx_int_t
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

    port = ngx_atoi(e->f[NGX_HTTP_ADCP_TF_PORT].data,
                    e->f[NGX_HTTP_ADCP_TF_PORT].len);

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
                              "adcp: port %i is TLS or HTTP/2 or gone, sent "
                              "to %V", port, &ls[i].addr_text);
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
                  "adcp: no plain HTTP/1 listening socket (port %i is TLS, "
                  "HTTP/2 or gone)", port);

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

ngx_int_t
ngx_http_adcp_exec_request(ngx_http_adcp_exec_t *e)
{
    size_t                      len;
    u_char                     *p;
    yajl_val                    root, pair, k, v;
    ngx_str_t                  *uri, *host, *body;
    ngx_uint_t                  i, ct;
    ngx_http_adcp_main_conf_t  *amcf;

    amcf = e->cs->amcf;

    uri = &e->f[NGX_HTTP_ADCP_TF_URI];
    host = &e->f[NGX_HTTP_ADCP_TF_HOST];
    body = &e->f[NGX_HTTP_ADCP_TF_BODY];

    if (ngx_http_adcp_exec_unstream(e, body) != NGX_OK) {
        return NGX_ERROR;
    }

    if (uri->len == 0 || uri->data[0] != '/' || host->len == 0
        || !ngx_http_adcp_tasks_clean(uri->data, uri->len)
        || !ngx_http_adcp_tasks_clean(host->data, host->len)
        || ngx_strlchr(uri->data, uri->data + uri->len, ' '))
    {
        return NGX_ERROR;
    }

    root = NULL;

    if (e->f[NGX_HTTP_ADCP_TF_HEADERS].len) {
        root = ngx_http_adcp_json_parse(e->pool,
                                        e->f[NGX_HTTP_ADCP_TF_HEADERS].data,
                                        e->f[NGX_HTTP_ADCP_TF_HEADERS].len,
                                        NGX_HTTP_ADCP_TASKS_MAX_DEPTH);

        /* never sent without the buyer's headers (its credentials) */

        if (root == NULL || !YAJL_IS_ARRAY(root)) {
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
          + e->f[NGX_HTTP_ADCP_TF_TENANT].len + body->len;

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
                || !ngx_http_adcp_tasks_clean((u_char *) k->u.string,
                                              ngx_strlen(k->u.string))
                || !ngx_http_adcp_tasks_clean((u_char *) v->u.string,
                                              ngx_strlen(v->u.string))
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

    if (!ct) {
        p = ngx_http_adcp_json_lit(p, "Content-Type: application/json" CRLF);
    }

    p = ngx_sprintf(p, "Content-Length: %uz" CRLF "Connection: close" CRLF
                    NGX_HTTP_ADCP_EXEC_HEADER ": %*s %V %V" CRLF CRLF,
                    body->len, (size_t) NGX_HTTP_ADCP_SECRET_LEN,
                    amcf->zone.sh->task_secret, &e->task_id,
                    &e->f[NGX_HTTP_ADCP_TF_TENANT]);

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

    rpc = &e->f[NGX_HTTP_ADCP_TF_RPC_METHOD];

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

    root = ngx_http_adcp_json_parse(e->pool, body->data, body->len,
                                    NGX_HTTP_ADCP_TASKS_MAX_DEPTH);

    if (root == NULL || !YAJL_IS_OBJECT(root)) {
        return NGX_ERROR;
    }

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
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

        rc = ngx_http_adcp_json_gen(g, root->u.object.values[i]);
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
