
/*
 * libFuzzer target: a webhook url's canonicalization (never out of
 * bounds; its output canonical again, unchanged: idempotent), and the
 * verifier's parsing of Signature-Input / Signature / Content-Digest
 * (a rejection with a code, never a crash).
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_adcp_tasks_sign.h"
#include "ngx_stubs.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static int
same(ngx_str_t *a, ngx_str_t *b)
{
    return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                         *copy;
    size_t                          n;
    ngx_int_t                       rc;
    ngx_str_t                       url, again;
    const char                     *code;
    ngx_pool_t                     *pool;
    ngx_http_adcp_sign_uri_t        u, u2;
    ngx_http_adcp_sign_received_t   r;
    ngx_http_adcp_sign_verifier_t   v;

    pool = test_pool_create();

    /* a copy of exactly size bytes: ASan sees any read past it */

    copy = malloc(size ? size : 1);
    memcpy(copy, data, size);

    url.data = copy;
    url.len = size;

    rc = ngx_http_adcp_sign_uri(pool, &url, &u);

    if (rc == NGX_OK) {
        n = u.request_target.len;

        if (u.target_uri.len < n || n == 0 || u.request_target.data[0] != '/'
            || memcmp(u.target_uri.data + u.target_uri.len - n,
                      u.request_target.data, n) != 0)
        {
            abort();
        }

        again = u.target_uri;

        if (ngx_http_adcp_sign_uri(pool, &again, &u2) != NGX_OK
            || !same(&u.target_uri, &u2.target_uri)
            || !same(&u.authority, &u2.authority))
        {
            abort();
        }

    } else if (rc != NGX_DECLINED) {
        abort();
    }

    /* the same bytes as each header the verifier parses */

    memset(&v, 0, sizeof(v));
    v.now = 1776520800;

    memset(&r, 0, sizeof(r));
    r.method.data = (u_char *) "POST";
    r.method.len = 4;
    r.url.data = (u_char *) "https://buyer.example/hook";
    r.url.len = sizeof("https://buyer.example/hook") - 1;
    r.content_type = r.method;
    r.body = r.method;

    r.signature_input = url;
    r.signature.data = (u_char *) "sig1=:AAAA:";
    r.signature.len = sizeof("sig1=:AAAA:") - 1;
    r.content_digest = url;

    if (ngx_http_adcp_sign_verify(pool, &v, &r, &code) != NGX_DECLINED
        || code == NULL)
    {
        abort();
    }

    r.signature_input.data = (u_char *)
        "sig1=(\"@method\" \"@target-uri\" \"@authority\" \"content-type\" "
        "\"content-digest\");created=1776520800;expires=1776521100;"
        "nonce=\"KXYnfEfJ0PBRZXQyVXfVQA\";keyid=\"k\";alg=\"ed25519\";"
        "tag=\"adcp/webhook-signing/v1\"";
    r.signature_input.len = ngx_strlen(r.signature_input.data);
    r.signature = url;

    if (ngx_http_adcp_sign_verify(pool, &v, &r, &code) != NGX_DECLINED
        || code == NULL)
    {
        abort();
    }

    free(copy);
    test_pool_destroy(pool);

    return 0;
}
