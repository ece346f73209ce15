
/*
 * ngx_http_adcp_module: the shared zones' rbtree, looked up and inserted
 * into by tenant id (its crc32 first, the id on a tie).
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_adcp_rbtree.h"


#define ngx_http_adcp_rbtree_len(node, key)                                  \
    ((size_t) *((u_char *) (node) + (key)->len))

#define ngx_http_adcp_rbtree_id(node, key)                                   \
    ((u_char *) (node) + (key)->id)


/* the node of this id, or NULL; with the zone's mutex held */

ngx_rbtree_node_t *
ngx_http_adcp_rbtree_lookup(ngx_rbtree_t *tree, ngx_str_t *id, uint32_t hash,
    ngx_http_adcp_rbtree_key_t *key)
{
    ngx_int_t           rc;
    ngx_rbtree_node_t  *node, *sentinel;

    node = tree->root;
    sentinel = tree->sentinel;

    while (node != sentinel) {

        if (hash < node->key) {
            node = node->left;
            continue;
        }

        if (hash > node->key) {
            node = node->right;
            continue;
        }

        rc = ngx_memn2cmp(id->data, ngx_http_adcp_rbtree_id(node, key),
                          id->len, ngx_http_adcp_rbtree_len(node, key));

        if (rc == 0) {
            return node;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


/* a zone's ngx_rbtree_insert_pt calls this with where its nodes keep ids */

void
ngx_http_adcp_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel,
    ngx_http_adcp_rbtree_key_t *key)
{
    ngx_rbtree_node_t  **p;

    for ( ;; ) {

        if (node->key < temp->key) {
            p = &temp->left;

        } else if (node->key > temp->key) {
            p = &temp->right;

        } else {
            p = (ngx_memn2cmp(ngx_http_adcp_rbtree_id(node, key),
                              ngx_http_adcp_rbtree_id(temp, key),
                              ngx_http_adcp_rbtree_len(node, key),
                              ngx_http_adcp_rbtree_len(temp, key))
                 < 0) ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}
