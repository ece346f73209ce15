
/*
 * ngx_http_adcp_tasks_module: what identifies a task and its caller.
 *
 *   principal   lowercase hex MD5 of the Authorization header ("" without
 *               one): a poll must come from the caller that submitted
 *   hash        the payload's: MD5 of the task name and its arguments in
 *               a canonical form (keys sorted, numbers by value), so that
 *               a retry with another JSON-RPC id or another key order is
 *               the same payload (idempotency)
 *   id          adcp_task_ + 24 hex
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <ngx_md5.h>

#include "ngx_http_adcp_tasks_private.h"


typedef struct {
    const char                  *key;
    yajl_val                     value;
} ngx_http_adcp_task_kv_t;


static void ngx_http_adcp_tasks_hash_val(ngx_md5_t *md5, yajl_val v,
    ngx_log_t *log);
static void ngx_http_adcp_tasks_hash_str(ngx_md5_t *md5, char tag,
    const char *s);
static int ngx_libc_cdecl ngx_http_adcp_tasks_kv_cmp(const void *one,
    const void *two);


void
ngx_http_adcp_tasks_principal(ngx_http_request_t *r, ngx_http_adcp_task_t *t)
{
    u_char      md[16];
    ngx_md5_t   md5;

    if (r->headers_in.authorization == NULL) {
        return;
    }

    ngx_md5_init(&md5);
    ngx_md5_update(&md5, r->headers_in.authorization->value.data,
                   r->headers_in.authorization->value.len);
    ngx_md5_final(md, &md5);

    ngx_hex_dump(t->principal, md, 16);
}


/* 32 hex digits into hash */

void
ngx_http_adcp_tasks_hash(u_char *hash, ngx_str_t *task, yajl_val args,
    ngx_log_t *log)
{
    u_char      md[16];
    ngx_md5_t   md5;

    ngx_md5_init(&md5);
    ngx_md5_update(&md5, task->data, task->len);
    ngx_md5_update(&md5, "\0", 1);

    if (args) {
        ngx_http_adcp_tasks_hash_val(&md5, args, log);
    }

    ngx_md5_final(md, &md5);

    ngx_hex_dump(hash, md, 16);
}


static void
ngx_http_adcp_tasks_hash_val(ngx_md5_t *md5, yajl_val v, ngx_log_t *log)
{
    double                    d;
    size_t                    i, n;
    ngx_http_adcp_task_kv_t  *kv;

    switch (v->type) {

    case yajl_t_string:
        ngx_http_adcp_tasks_hash_str(md5, 's', v->u.string);
        return;

    case yajl_t_number:

        /* by value: 1500.5, 1500.50 and 1.5005e3 are one number */

        if ((v->u.number.flags & YAJL_NUMBER_INT_VALID)
            && (v->u.number.i > (1LL << 53) || v->u.number.i < -(1LL << 53)))
        {
            ngx_md5_update(md5, "i", 1);
            ngx_md5_update(md5, &v->u.number.i, sizeof(v->u.number.i));
            return;
        }

        if (v->u.number.flags & YAJL_NUMBER_DOUBLE_VALID) {
            d = (v->u.number.d == 0) ? 0 : v->u.number.d;
            ngx_md5_update(md5, "d", 1);
            ngx_md5_update(md5, &d, sizeof(double));
            return;
        }

        ngx_http_adcp_tasks_hash_str(md5, 'n', v->u.number.r);
        return;

    case yajl_t_true:
        ngx_md5_update(md5, "t", 1);
        return;

    case yajl_t_false:
        ngx_md5_update(md5, "f", 1);
        return;

    case yajl_t_array:
        ngx_md5_update(md5, "[", 1);

        for (i = 0; i < v->u.array.len; i++) {
            ngx_http_adcp_tasks_hash_val(md5, v->u.array.values[i], log);
        }

        ngx_md5_update(md5, "]", 1);
        return;

    case yajl_t_object:

        /* keys in byte order */

        n = v->u.object.len;
        ngx_md5_update(md5, "{", 1);

        if (n) {
            kv = ngx_alloc(n * sizeof(ngx_http_adcp_task_kv_t), log);
            if (kv == NULL) {
                ngx_md5_update(md5, "!", 1);
                return;
            }

            for (i = 0; i < n; i++) {
                kv[i].key = v->u.object.keys[i];
                kv[i].value = v->u.object.values[i];
            }

            ngx_qsort(kv, n, sizeof(ngx_http_adcp_task_kv_t),
                      ngx_http_adcp_tasks_kv_cmp);

            for (i = 0; i < n; i++) {
                ngx_http_adcp_tasks_hash_str(md5, 'k', kv[i].key);
                ngx_http_adcp_tasks_hash_val(md5, kv[i].value, log);
            }

            ngx_free(kv);
        }

        ngx_md5_update(md5, "}", 1);
        return;

    default:
        ngx_md5_update(md5, "z", 1);
        return;
    }
}


/* <tag><length>:<bytes>, so that pieces never run together */

static void
ngx_http_adcp_tasks_hash_str(ngx_md5_t *md5, char tag, const char *s)
{
    u_char  buf[NGX_SIZE_T_LEN + 2], *p;
    size_t  len;

    len = ngx_strlen(s);
    p = ngx_sprintf(buf, "%c%uz:", tag, len);

    ngx_md5_update(md5, buf, p - buf);
    ngx_md5_update(md5, s, len);
}


static int ngx_libc_cdecl
ngx_http_adcp_tasks_kv_cmp(const void *one, const void *two)
{
    const ngx_http_adcp_task_kv_t  *a = one;
    const ngx_http_adcp_task_kv_t  *b = two;

    return ngx_strcmp(a->key, b->key);
}


/* adcp_task_ + 24 hex: MD5 of randomness, the pid, the time, a counter */

ngx_int_t
ngx_http_adcp_tasks_id(ngx_http_request_t *r, ngx_http_adcp_task_t *t)
{
    u_char            md[16], *p;
    long              rnd[4];
    ngx_md5_t         md5;
    ngx_time_t       *tp;

    static ngx_uint_t  seq;

    rnd[0] = ngx_random();
    rnd[1] = ngx_random();
    rnd[2] = ngx_random();
    rnd[3] = (long) seq++;

    tp = ngx_timeofday();

    ngx_md5_init(&md5);
    ngx_md5_update(&md5, rnd, sizeof(rnd));
    ngx_md5_update(&md5, &ngx_pid, sizeof(ngx_pid));
    ngx_md5_update(&md5, &tp->sec, sizeof(tp->sec));
    ngx_md5_update(&md5, &tp->msec, sizeof(tp->msec));
    ngx_md5_update(&md5, &r, sizeof(r));
    ngx_md5_update(&md5, t->hash, sizeof(t->hash));
    ngx_md5_final(md, &md5);

    t->task_id.len = NGX_HTTP_ADCP_TASK_ID_LEN;
    t->task_id.data = ngx_pnalloc(r->pool, t->task_id.len);
    if (t->task_id.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(t->task_id.data, NGX_HTTP_ADCP_TASK_PREFIX,
                   sizeof(NGX_HTTP_ADCP_TASK_PREFIX) - 1);
    ngx_hex_dump(p, md, 12);

    return NGX_OK;
}
