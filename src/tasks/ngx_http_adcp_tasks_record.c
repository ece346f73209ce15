
/*
 * ngx_http_adcp_tasks_module: the task record adcp:task:<id> (a Redis
 * hash), its fields and statuses named once, and AdCP's protocol of a
 * task type.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_adcp_tasks_private.h"


typedef struct {
    char                        *task;
    char                        *protocol;
} ngx_http_adcp_task_protocol_t;


static ngx_int_t ngx_http_adcp_task_lookup(ngx_str_t *table, ngx_int_t from,
    ngx_int_t n, ngx_str_t *name);


/* in the order of ngx_http_adcp_task_field_e */

ngx_str_t  ngx_http_adcp_task_fields[] = {
    ngx_string("status"),
    ngx_string("attempts"),
    ngx_string("tenant"),
    ngx_string("principal"),
    ngx_string("task_type"),
    ngx_string("protocol"),
    ngx_string("transport"),
    ngx_string("rpc_method"),
    ngx_string("created_at"),
    ngx_string("updated_at"),
    ngx_string("completed_at"),
    ngx_string("idempotency_key"),
    ngx_string("payload_hash"),
    ngx_string("uri"),
    ngx_string("host"),
    ngx_string("port"),
    ngx_string("headers"),
    ngx_string("body"),
    ngx_string("has_webhook"),
    ngx_string("webhook_sent"),
    ngx_string("webhook_url"),
    ngx_string("webhook_token"),
    ngx_string("webhook_auth"),
    ngx_string("operation_id"),
    ngx_string("webhook_scheme"),
    ngx_string("webhook_idempotency_key"),
    ngx_string("webhook_form"),
    ngx_string("context"),
    ngx_string("context_id"),
    ngx_string("result"),
    ngx_string("error"),
    ngx_string("webhook_attempts"),
    ngx_string("webhook_first"),
    ngx_string("webhook_due"),
    ngx_string("webhook_status"),
    ngx_string("webhook_code"),
    ngx_null_string
};


/* in the order of ngx_http_adcp_task_status_e */

ngx_str_t  ngx_http_adcp_task_statuses[] = {
    ngx_null_string,
    ngx_string("submitted"),
    ngx_string("working"),
    ngx_string("completed"),
    ngx_string("failed"),
    ngx_null_string
};


/* AdCP's protocol of a task type (enums/adcp-protocol.json) */

static ngx_http_adcp_task_protocol_t  ngx_http_adcp_task_protocols[] = {
    { "build_creative", "creative" },
    { "preview_creative", "creative" },
    { "get_creative_delivery", "creative" },
    { "list_creative_formats", "creative" },
    { "activate_signal", "signals" },
    { "get_signals", "signals" },
    { "create_property_list", "governance" },
    { "update_property_list", "governance" },
    { "get_property_list", "governance" },
    { "list_property_lists", "governance" },
    { "delete_property_list", "governance" },
    { "get_brand_identity", "brand" },
    { "search_brands", "brand" },
    { "get_rights", "brand" },
    { "acquire_rights", "brand" },
    { "update_rights", "brand" },
    { NULL, NULL }
};


/* a field's index, or NGX_ERROR */

ngx_int_t
ngx_http_adcp_task_field(ngx_str_t *name)
{
    return ngx_http_adcp_task_lookup(ngx_http_adcp_task_fields, 0,
                                     NGX_HTTP_ADCP_TF_N, name);
}


ngx_http_adcp_task_status_e
ngx_http_adcp_task_status(ngx_str_t *name)
{
    ngx_int_t  i;

    i = ngx_http_adcp_task_lookup(ngx_http_adcp_task_statuses, 1,
                                  NGX_HTTP_ADCP_TS_N, name);

    return i == NGX_ERROR ? NGX_HTTP_ADCP_TS_UNKNOWN
                          : (ngx_http_adcp_task_status_e) i;
}


/* name's index in table[from, n), or NGX_ERROR */

static ngx_int_t
ngx_http_adcp_task_lookup(ngx_str_t *table, ngx_int_t from, ngx_int_t n,
    ngx_str_t *name)
{
    ngx_int_t  i;

    for (i = from; i < n; i++) {
        if (table[i].len == name->len
            && ngx_strncmp(table[i].data, name->data, name->len) == 0)
        {
            return i;
        }
    }

    return NGX_ERROR;
}


char *
ngx_http_adcp_task_protocol(ngx_str_t *task)
{
    ngx_http_adcp_task_protocol_t  *p;

    for (p = ngx_http_adcp_task_protocols; p->task; p++) {
        if (ngx_strlen(p->task) == task->len
            && ngx_strncmp(p->task, task->data, task->len) == 0)
        {
            return p->protocol;
        }
    }

    return "media-buy";
}


/* a stored flag: "1" */

ngx_uint_t
ngx_http_adcp_task_flag(ngx_str_t *v)
{
    return v->len == 1 && v->data[0] == '1';
}


/* the record's field names, in the enum's order: a script's arguments */

void
ngx_http_adcp_task_arg_fields(ngx_http_adcp_redis_args_t *a)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_ADCP_TF_N; i++) {
        ngx_http_adcp_redis_arg_str(a, &ngx_http_adcp_task_fields[i]);
    }
}
