
/*
 * Unit tests of the shared zones' rbtree (ngx_http_adcp_rbtree.c): ids
 * found and missed, ids whose crc32 collides ordered by the id, in both
 * node layouts the module uses (the zone's slot, the store's descriptor).
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_adcp_rbtree.h"
#include "ngx_stubs.h"
#include "tap.h"


/* the zone's layout: a fixed id array */

typedef struct {
    ngx_rbtree_node_t   node;
    ngx_uint_t          other;
    u_char              len;
    u_char              id[32];
} slot_t;


/* the store's layout: the id first in a flexible tail */

typedef struct {
    ngx_rbtree_node_t   node;
    size_t              size;
    u_char              tlen;
    u_char              data[1];
} stored_t;


static ngx_http_adcp_rbtree_key_t  slot_key = {
    offsetof(slot_t, len), offsetof(slot_t, id)
};

static ngx_http_adcp_rbtree_key_t  stored_key = {
    offsetof(stored_t, tlen), offsetof(stored_t, data)
};


static void
slot_insert(ngx_rbtree_node_t *temp, ngx_rbtree_node_t *node,
    ngx_rbtree_node_t *sentinel)
{
    ngx_http_adcp_rbtree_insert_value(temp, node, sentinel, &slot_key);
}


static void
stored_insert(ngx_rbtree_node_t *temp, ngx_rbtree_node_t *node,
    ngx_rbtree_node_t *sentinel)
{
    ngx_http_adcp_rbtree_insert_value(temp, node, sentinel, &stored_key);
}


static ngx_str_t
str(const char *s)
{
    ngx_str_t  r;

    r.data = (u_char *) s;
    r.len = strlen(s);

    return r;
}


/* a hash with few values, so that most ids collide */

static uint32_t
weak(ngx_str_t *id)
{
    size_t    i;
    uint32_t  h;

    h = 0;

    for (i = 0; i < id->len; i++) {
        h += id->data[i];
    }

    return h % 3;
}


static void
test_slots(void)
{
    char                name[32];
    ngx_str_t           id;
    ngx_uint_t          i, found, right, gone;
    ngx_rbtree_t        tree;
    ngx_rbtree_node_t   sentinel, *node;
    static slot_t       slots[200];

    ngx_rbtree_init(&tree, &sentinel, slot_insert);

    tap_ok(ngx_http_adcp_rbtree_lookup(&tree, &(ngx_str_t) ngx_string("a"),
                                       0, &slot_key)
           == NULL, "an empty tree: nothing found");

    for (i = 0; i < 200; i++) {
        snprintf(name, sizeof(name), "tenant-%lu", (unsigned long) i);
        id = str(name);

        slots[i].node.key = weak(&id);
        slots[i].len = (u_char) id.len;
        ngx_memcpy(slots[i].id, id.data, id.len);

        ngx_rbtree_insert(&tree, &slots[i].node);
    }

    found = 0;
    right = 0;

    for (i = 0; i < 200; i++) {
        snprintf(name, sizeof(name), "tenant-%lu", (unsigned long) i);
        id = str(name);

        node = ngx_http_adcp_rbtree_lookup(&tree, &id, weak(&id), &slot_key);

        found += (node != NULL);
        right += (node == &slots[i].node);
    }

    tap_ok(found == 200 && right == 200,
           "200 ids on 3 hash values: each finds its own slot (%lu, %lu)",
           (unsigned long) found, (unsigned long) right);

    id = str("tenant-200");
    tap_ok(ngx_http_adcp_rbtree_lookup(&tree, &id, weak(&id), &slot_key)
           == NULL, "an id never inserted, its hash shared: not found");

    id = str("tenant-1");
    tap_ok(ngx_http_adcp_rbtree_lookup(&tree, &id, weak(&id) + 1, &slot_key)
           == NULL, "an id under another hash: not found");

    id = str("tenant-");
    tap_ok(ngx_http_adcp_rbtree_lookup(&tree, &id, weak(&id), &slot_key)
           == NULL, "a prefix of ids: not found");

    /* deleted ones go, the others stay */

    for (i = 0; i < 200; i += 2) {
        ngx_rbtree_delete(&tree, &slots[i].node);
    }

    gone = 0;
    right = 0;

    for (i = 0; i < 200; i++) {
        snprintf(name, sizeof(name), "tenant-%lu", (unsigned long) i);
        id = str(name);

        node = ngx_http_adcp_rbtree_lookup(&tree, &id, weak(&id), &slot_key);

        if (i % 2 == 0) {
            gone += (node == NULL);

        } else {
            right += (node == &slots[i].node);
        }
    }

    tap_ok(gone == 100 && right == 100,
           "100 deleted: gone; the other 100 found (%lu, %lu)",
           (unsigned long) gone, (unsigned long) right);
}


static void
test_stored(void)
{
    ngx_str_t           id;
    ngx_uint_t          i;
    ngx_rbtree_t        tree;
    ngx_rbtree_node_t   sentinel;
    stored_t           *sn[3];
    static const char  *ids[] = { "b", "a", "ab" };

    ngx_rbtree_init(&tree, &sentinel, stored_insert);

    for (i = 0; i < 3; i++) {
        id = str(ids[i]);

        sn[i] = calloc(1, sizeof(stored_t) + id.len + 16);
        sn[i]->node.key = 7;
        sn[i]->tlen = (u_char) id.len;
        ngx_memcpy(sn[i]->data, id.data, id.len);
        ngx_memcpy(sn[i]->data + id.len, "{\"descriptor\"}", 14);

        ngx_rbtree_insert(&tree, &sn[i]->node);
    }

    for (i = 0; i < 3; i++) {
        id = str(ids[i]);
        tap_ok(ngx_http_adcp_rbtree_lookup(&tree, &id, 7, &stored_key)
               == &sn[i]->node,
               "the store's layout, one hash: \"%s\" found, not what follows "
               "its id", ids[i]);
    }

    /* in order: the id decides on a tie, shorter first on a common prefix */

    tap_ok(ngx_rbtree_min(tree.root, tree.sentinel) == &sn[1]->node
           && ngx_rbtree_next(&tree, &sn[1]->node) == &sn[2]->node
           && ngx_rbtree_next(&tree, &sn[2]->node) == &sn[0]->node,
           "a tie ordered by the id: a, ab, b");

    for (i = 0; i < 3; i++) {
        free(sn[i]);
    }
}


int
main(void)
{
    test_slots();
    test_stored();

    return tap_done();
}
