
/*
 * ngx_http_adcp_module: what the envelope's files share (nothing else
 * includes it): the members the module reads and the method's kind, for
 * the yajl parse and the fast path (ngx_http_adcp_envelope_fast.c, which
 * calls no yajl); the yajl parse of a chain; the yajl parser's state and
 * its callback table, set up and read at the end by
 * ngx_http_adcp_envelope.c, written token by token by
 * ngx_http_adcp_envelope_callbacks.c.
 */


#ifndef _NGX_HTTP_ADCP_ENVELOPE_PRIVATE_H_INCLUDED_
#define _NGX_HTTP_ADCP_ENVELOPE_PRIVATE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include <yajl/yajl_parse.h>

#include "ngx_http_adcp_envelope.h"


/* what the next value is */
#define NGX_HTTP_ADCP_K_NONE       0
#define NGX_HTTP_ADCP_K_TOP        1
#define NGX_HTTP_ADCP_K_ID         2
#define NGX_HTTP_ADCP_K_METHOD     3
#define NGX_HTTP_ADCP_K_PARAMS     4
#define NGX_HTTP_ADCP_K_NAME       5
#define NGX_HTTP_ADCP_K_MESSAGE    6
#define NGX_HTTP_ADCP_K_PARTS      7
#define NGX_HTTP_ADCP_K_PART       8
#define NGX_HTTP_ADCP_K_KIND       9
#define NGX_HTTP_ADCP_K_DATA       10
#define NGX_HTTP_ADCP_K_SKILL      11
#define NGX_HTTP_ADCP_K_JSONRPC    12       /* read for repeats only */
#define NGX_HTTP_ADCP_K_ARGUMENTS  13
#define NGX_HTTP_ADCP_K_CONTEXT    14
#define NGX_HTTP_ADCP_K_PARAMETERS 15
#define NGX_HTTP_ADCP_K_INPUT      16


#define ngx_http_adcp_env_is(s, l, lit)                                      \
    ((l) == sizeof(lit) - 1 && ngx_memcmp(s, lit, sizeof(lit) - 1) == 0)


/* the yajl parse's state */

#define NGX_HTTP_ADCP_ENV_FRAMES   8        /* levels whose meaning we keep */

struct ngx_http_adcp_envelope_parser_s {
    yajl_handle                  yajl;
    ngx_pool_t                  *pool;
    ngx_http_adcp_envelope_t    *env;

    ngx_uint_t                   depth;
    ngx_uint_t                   key;        /* role of the next map value */
    u_char                       frame[NGX_HTTP_ADCP_ENV_FRAMES + 1];
    uint32_t                     seen[NGX_HTTP_ADCP_ENV_FRAMES + 1];
                                             /* a bit per K_* member */

    /* an id that is an object or an array, re-serialized */
    u_char                      *id_pos;
    u_char                      *id_end;
    u_char                      *id_start;
    ngx_uint_t                   id_depth;
    uint64_t                     id_comma;   /* a bit per level: "," due */

    ngx_str_t                    mcp_name;   /* params.name */
    ngx_str_t                    skill;      /* first data part's skill */
    ngx_uint_t                   skills;     /* data parts naming a skill */
    ngx_str_t                    part_skill;

    unsigned                     part_skill_seen:1;
    unsigned                     id_after_key:1;
    unsigned                     id_invalid:1;
    unsigned                     dup_id:1;
    unsigned                     dup_method:1;
    unsigned                     batch:1;
    unsigned                     failed:1;
    unsigned                     nomem:1;
    unsigned                     finished:1;
};


ngx_uint_t ngx_http_adcp_env_method_kind(u_char *s, size_t len);
ngx_int_t ngx_http_adcp_envelope_parse_yajl(ngx_pool_t *pool,
    ngx_chain_t *in, ngx_http_adcp_envelope_t *env, ngx_log_t *log);

extern yajl_callbacks  ngx_http_adcp_env_callbacks;


#endif /* _NGX_HTTP_ADCP_ENVELOPE_PRIVATE_H_INCLUDED_ */
