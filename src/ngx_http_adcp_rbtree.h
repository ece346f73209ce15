
/*
 * ngx_http_adcp_module: the rbtree of the shared zones (the tenants' slots,
 * the store's descriptors): a node per tenant, keyed by the crc32 of its
 * id, ties broken by the id itself (as limit_req's are by its key).
 */


#ifndef _NGX_HTTP_ADCP_RBTREE_H_INCLUDED_
#define _NGX_HTTP_ADCP_RBTREE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/* where a node holds its id: a length byte and the id's bytes */

typedef struct {
    size_t                     len;        /* offsetof the u_char length */
    size_t                     id;         /* offsetof the bytes */
} ngx_http_adcp_rbtree_key_t;


ngx_rbtree_node_t *ngx_http_adcp_rbtree_lookup(ngx_rbtree_t *tree,
    ngx_str_t *id, uint32_t hash, ngx_http_adcp_rbtree_key_t *key);
void ngx_http_adcp_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel,
    ngx_http_adcp_rbtree_key_t *key);


#endif /* _NGX_HTTP_ADCP_RBTREE_H_INCLUDED_ */
