
/*
 * Unit tests of webhook signing: AdCP's URL canonicalization, the RFC 9421
 * signature base of a fixed request (derived by hand), sign-then-verify
 * round trips with keys made here (Ed25519, P-256), tampered requests
 * rejected, a second implementation (Python's cryptography, through
 * t/lib/adcp_verify_webhook.py) verifying what this code signed against
 * the JWKS it built, legacy HMAC-SHA256, PEM key loading, the
 * push_notification_config checks.
 *
 * AdCP's conformance vectors cannot be committed: they are read from
 * $ADCP_WEBHOOK_VECTORS (AdCP's static/compliance/source/test-vectors/
 * webhook-signing), else ../shared/adcp-test-vectors/webhook-signing, and
 * skipped when absent; next to that directory, webhook-hmac-sha256.json
 * and request-signing/canonicalization.json (or $ADCP_WEBHOOK_HMAC_VECTORS,
 * $ADCP_URL_CANON_VECTORS).
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <yajl/yajl_parse.h>
#include <yajl/yajl_tree.h>
#include <dirent.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ec.h>

#include "ngx_http_adcp_tasks_sign.h"
#include "ngx_stubs.h"
#include "tap.h"


/* a JSON tree that keeps strings' lengths (a NUL in a body included) */

#define J_NULL  0
#define J_BOOL  1
#define J_NUM   2
#define J_STR   3
#define J_OBJ   4
#define J_ARR   5

typedef struct jnode_s  jnode_t;

struct jnode_s {
    int         type;
    ngx_str_t   s;
    ngx_str_t  *keys;
    jnode_t   **kids;
    size_t      n;
    size_t      cap;
};

typedef struct {
    jnode_t    *stack[64];
    int         depth;
    jnode_t    *root;
    ngx_str_t   key;
} jbuild_t;


static ngx_pool_t  *pool;


static ngx_str_t
str(const char *s)
{
    ngx_str_t  r;

    r.data = (u_char *) s;
    r.len = strlen(s);

    return r;
}


static int
eq(ngx_str_t *a, const char *b)
{
    return a->len == strlen(b) && memcmp(a->data, b, a->len) == 0;
}


static int
eqs(ngx_str_t *a, ngx_str_t *b)
{
    return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}


static jnode_t *
jnew(jbuild_t *b, int type, const unsigned char *s, size_t len)
{
    jnode_t  *n, *parent;

    n = calloc(1, sizeof(jnode_t));
    n->type = type;

    if (s) {
        n->s.data = malloc(len + 1);
        memcpy(n->s.data, s, len);
        n->s.data[len] = '\0';
        n->s.len = len;
    }

    if (b->depth == 0) {
        b->root = n;
        return n;
    }

    parent = b->stack[b->depth - 1];

    if (parent->n == parent->cap) {
        parent->cap = parent->cap ? parent->cap * 2 : 8;
        parent->kids = realloc(parent->kids, parent->cap * sizeof(jnode_t *));
        parent->keys = realloc(parent->keys, parent->cap * sizeof(ngx_str_t));
    }

    parent->kids[parent->n] = n;
    parent->keys[parent->n] = b->key;
    parent->n++;
    b->key.data = NULL;
    b->key.len = 0;

    return n;
}


static int
j_null(void *ctx)
{
    jnew(ctx, J_NULL, NULL, 0);
    return 1;
}


static int
j_bool(void *ctx, int v)
{
    jnew(ctx, J_BOOL, (u_char *) (v ? "true" : "false"), v ? 4 : 5);
    return 1;
}


static int
j_num(void *ctx, const char *s, size_t len)
{
    jnew(ctx, J_NUM, (u_char *) s, len);
    return 1;
}


static int
j_str(void *ctx, const unsigned char *s, size_t len)
{
    jnew(ctx, J_STR, s, len);
    return 1;
}


static int
j_key(void *ctx, const unsigned char *s, size_t len)
{
    jbuild_t  *b = ctx;

    b->key.data = malloc(len + 1);
    memcpy(b->key.data, s, len);
    b->key.data[len] = '\0';
    b->key.len = len;

    return 1;
}


static int
j_open(jbuild_t *b, int type)
{
    b->stack[b->depth] = jnew(b, type, NULL, 0);
    b->depth++;
    return b->depth < 63;
}


static int
j_start_map(void *ctx)
{
    return j_open(ctx, J_OBJ);
}


static int
j_start_arr(void *ctx)
{
    return j_open(ctx, J_ARR);
}


static int
j_end(void *ctx)
{
    jbuild_t  *b = ctx;

    b->depth--;
    return 1;
}


static yajl_callbacks  jcallbacks = {
    j_null, j_bool, NULL, NULL, j_num, j_str,
    j_start_map, j_key, j_end, j_start_arr, j_end
};


static void
jfree(jnode_t *n)
{
    size_t  i;

    if (n == NULL) {
        return;
    }

    for (i = 0; i < n->n; i++) {
        free(n->keys[i].data);
        jfree(n->kids[i]);
    }

    free(n->keys);
    free(n->kids);
    free(n->s.data);
    free(n);
}


static jnode_t *
jparse(const char *path)
{
    FILE         *f;
    char          buf[65536];
    size_t        n;
    jbuild_t      b;
    yajl_handle   h;
    yajl_status   st;

    f = fopen(path, "r");
    if (f == NULL) {
        return NULL;
    }

    memset(&b, 0, sizeof(jbuild_t));
    h = yajl_alloc(&jcallbacks, NULL, &b);
    st = yajl_status_ok;

    while ((n = fread(buf, 1, sizeof(buf), f)) > 0 && st == yajl_status_ok) {
        st = yajl_parse(h, (u_char *) buf, n);
    }

    if (st == yajl_status_ok) {
        st = yajl_complete_parse(h);
    }

    yajl_free(h);
    fclose(f);

    if (st != yajl_status_ok) {
        jfree(b.root);
        return NULL;
    }

    return b.root;
}


static jnode_t *
jget(jnode_t *o, const char *key)
{
    size_t  i;

    if (o == NULL || o->type != J_OBJ) {
        return NULL;
    }

    for (i = 0; i < o->n; i++) {
        if (strcmp((char *) o->keys[i].data, key) == 0) {
            return o->kids[i];
        }
    }

    return NULL;
}


/* a header of a vector's request, case-insensitively; NULL data: absent */

static ngx_str_t
jheader(jnode_t *headers, const char *name)
{
    size_t     i;
    ngx_str_t  r;

    r.data = NULL;
    r.len = 0;

    for (i = 0; headers && i < headers->n; i++) {
        if (strcasecmp((char *) headers->keys[i].data, name) == 0
            && headers->kids[i]->type == J_STR)
        {
            return headers->kids[i]->s;
        }
    }

    return r;
}


static char *
vectors_dir(char *buf, size_t size)
{
    char        *d;
    struct stat  st;

    d = getenv("ADCP_WEBHOOK_VECTORS");

    if (d == NULL || *d == '\0') {
        d = "../shared/adcp-test-vectors/webhook-signing";
    }

    snprintf(buf, size, "%s/keys.json", d);

    if (stat(buf, &st) != 0) {
        return NULL;
    }

    snprintf(buf, size, "%s", d);

    return buf;
}


/* a verifier's key from a signing key, as its JWKS publishes it */

static ngx_http_adcp_sign_jwk_t
jwk_of(ngx_http_adcp_sign_key_t *key)
{
    ngx_http_adcp_sign_jwk_t  j;

    memset(&j, 0, sizeof(j));

    j.kid = key->kid;
    j.pkey = ngx_http_adcp_sign_public_key(key->alg, &key->x, &key->y);
    j.alg = str(key->alg == NGX_HTTP_ADCP_SIGN_ED25519 ? "EdDSA" : "ES256");
    j.adcp_use = str("request-signing");
    j.use_sig = 1;
    j.key_ops_verify = 1;

    return j;
}


static EVP_PKEY *
genkey(ngx_uint_t alg)
{
    if (alg == NGX_HTTP_ADCP_SIGN_ED25519) {
        return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    }

    return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}


static void
received_of(ngx_http_adcp_sign_received_t *r, ngx_http_adcp_sign_req_t *req,
    ngx_http_adcp_sign_out_t *out)
{
    r->method = req->method;
    r->url = req->url;
    r->content_type = req->content_type;
    r->content_digest = out->content_digest;
    r->signature_input = out->signature_input;
    r->signature = out->signature;
    r->body = req->body;
}


/* a verifier's state for the vectors: a replay cache and a full cap */

typedef struct {
    ngx_str_t   seen_kid[4];
    ngx_str_t   seen_nonce[4];
    ngx_uint_t  nseen;
    ngx_str_t   cap_kid;
} state_t;


static ngx_int_t
state_at_cap(void *data, ngx_str_t *kid)
{
    state_t  *s = data;

    return (s->cap_kid.len && eqs(&s->cap_kid, kid)) ? NGX_DECLINED : NGX_OK;
}


static ngx_int_t
state_nonce(void *data, ngx_str_t *kid, ngx_str_t *nonce, time_t ttl)
{
    state_t     *s = data;
    ngx_uint_t   i;

    for (i = 0; i < s->nseen; i++) {
        if (eqs(&s->seen_kid[i], kid) && eqs(&s->seen_nonce[i], nonce)) {
            return NGX_DECLINED;
        }
    }

    if (s->nseen < 4 && ttl > 0) {
        s->seen_kid[s->nseen] = *kid;
        s->seen_nonce[s->nseen] = *nonce;
        s->nseen++;
    }

    return NGX_OK;
}


static void
test_uri(void)
{
    ngx_int_t                 rc;
    ngx_str_t                 url;
    ngx_uint_t                i;
    ngx_http_adcp_sign_uri_t  u;

    static const char  *ok[][4] = {
        { "https://Buyer.Example.COM/hooks", "https://buyer.example.com/hooks",
          "buyer.example.com", "/hooks" },
        { "HTTPS://buyer.example:443/a", "https://buyer.example/a",
          "buyer.example", "/a" },
        { "http://buyer.example:80/a", "http://buyer.example/a",
          "buyer.example", "/a" },
        { "https://buyer.example:8443/a", "https://buyer.example:8443/a",
          "buyer.example:8443", "/a" },
        { "https://buyer.example", "https://buyer.example/",
          "buyer.example", "/" },
        { "https://buyer.example?x=1", "https://buyer.example/?x=1",
          "buyer.example", "/?x=1" },
        { "https://u:p@buyer.example/p", "https://buyer.example/p",
          "buyer.example", "/p" },
        { "https://buyer.example./p", "https://buyer.example/p",
          "buyer.example", "/p" },
        { "https://[2001:DB8::1]:8443/p", "https://[2001:db8::1]:8443/p",
          "[2001:db8::1]:8443", "/p" },
        { "https://[::1]:443/p", "https://[::1]/p", "[::1]", "/p" },
        { "https://h.example/a/./b/../c", "https://h.example/a/c",
          "h.example", "/a/c" },
        { "https://h.example/a//../b", "https://h.example/a/b",
          "h.example", "/a/b" },
        { "https://h.example/a//b", "https://h.example/a//b",
          "h.example", "/a//b" },
        { "https://h.example/%7e%41%2f%3a", "https://h.example/~A%2F%3A",
          "h.example", "/~A%2F%3A" },
        { "https://h.example/p?b=2&a=%2f+1", "https://h.example/p?b=2&a=%2F+1",
          "h.example", "/p?b=2&a=%2F+1" },
        { "https://h.example/p?q=%7e%2D", "https://h.example/p?q=~-",
          "h.example", "/p?q=~-" },
        { "https://h.example/a/%2E%2e/b", "https://h.example/b",
          "h.example", "/b" },
        { "https://h.example/it's", "https://h.example/it's",
          "h.example", "/it's" },
        { "https://h.example/p?", "https://h.example/p?", "h.example",
          "/p?" },
        { "https://h.example/p#frag?x", "https://h.example/p", "h.example",
          "/p" },
        { "https://h.example/p?x#f", "https://h.example/p?x", "h.example",
          "/p?x" },
        { "https://10.0.0.1:9443/p", "https://10.0.0.1:9443/p",
          "10.0.0.1:9443", "/p" },
        { "https://h.example:/p", "https://h.example/p", "h.example", "/p" }
    };

    static const char  *bad[] = {
        "ftp://h.example/p", "https:/h.example/p", "https:///p",
        "https://:443/p", "https://user@/p", "https://[::1/p",
        "https://fe80::1/p", "https://[fe80::1%25eth0]/p",
        "https://example.com../p", "https://example..com/p",
        "https://.example.com/p", "https://h.example:0/p",
        "https://h.example:65536/p", "https://h.example:12a/p",
        "https://b\xc3\xbc" "cher.example/p", "https://h.example/a b",
        "https://h.example/%zz", "https://h.example/%4", "h.example/p",
        "https://h.example/p?a b", "https://[::1]x/p", "",
        "https://h.example/{x}", "https://h.example/a\"b",
        "https://h.example/a<b>", "https://h.example/a\\b",
        "https://h.example/a|b", "https://h.example/p?q='x'",
        "https://h.example/p?q=%zz", "https://h.example/p?q=`x`"
    };

    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        url = str(ok[i][0]);
        rc = ngx_http_adcp_sign_uri(pool, &url, &u);

        tap_ok(rc == NGX_OK && eq(&u.target_uri, ok[i][1])
               && eq(&u.authority, ok[i][2])
               && eq(&u.request_target, ok[i][3]),
               "uri %s -> %s (%.*s, %.*s)", ok[i][0], ok[i][1],
               (int) u.target_uri.len, u.target_uri.data,
               (int) u.authority.len, u.authority.data);
    }

    url = str("https://[::1]:8443/p");
    ngx_http_adcp_sign_uri(pool, &url, &u);
    tap_ok(eq(&u.host, "::1") && u.port == 8443 && u.https,
           "uri: host without brackets, the port, the scheme");

    url = str("http://h.example/p");
    ngx_http_adcp_sign_uri(pool, &url, &u);
    tap_ok(eq(&u.host, "h.example") && u.port == 80 && !u.https,
           "uri: http's default port");

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        url = str(bad[i]);
        tap_ok(ngx_http_adcp_sign_uri(pool, &url, &u) == NGX_DECLINED,
               "uri refused: \"%s\"", bad[i]);
    }
}


/* the signature base of a fixed request, derived by hand */

static void
test_base_fixed(void)
{
    EVP_PKEY                  *pkey;
    ngx_int_t                  rc;
    ngx_str_t                  kid;
    ngx_http_adcp_sign_key_t   key;
    ngx_http_adcp_sign_req_t   req;
    ngx_http_adcp_sign_out_t   out;
    char                      *err;

    static const char  expected[] =
        "\"@method\": POST\n"
        "\"@target-uri\": https://buyer.example:8443/hooks/b~?x=1&y=%2F\n"
        "\"@authority\": buyer.example:8443\n"
        "\"content-type\": application/json\n"
        "\"content-digest\": "
        "sha-256=:RBNvo1WzZ4oRRq0W9+hknpT7T8If536DEMBg9hyq/4o=:\n"
        "\"@signature-params\": (\"@method\" \"@target-uri\" \"@authority\" "
        "\"content-type\" \"content-digest\");created=1700000000;"
        "expires=1700000300;nonce=\"AAECAwQFBgcICQoLDA0ODw\";keyid=\"kid-1\";"
        "alg=\"ed25519\";tag=\"adcp/webhook-signing/v1\"";

    pkey = genkey(NGX_HTTP_ADCP_SIGN_ED25519);
    kid = str("kid-1");
    rc = ngx_http_adcp_sign_key_set(pool, pkey, &kid, &key, &err);
    tap_ok(rc == NGX_OK && key.alg == NGX_HTTP_ADCP_SIGN_ED25519
           && key.x.len == 43 && key.y.len == 0,
           "an Ed25519 key: its x, 43 base64url characters");

    memset(&req, 0, sizeof(req));
    req.method = str("POST");
    req.url = str("https://Buyer.Example:8443/hooks/./a/../b%7e?x=1&y=%2f"
                  "#frag");
    req.content_type = str("application/json");
    req.body = str("{}");
    req.created = 1700000000;
    req.nonce = str("AAECAwQFBgcICQoLDA0ODw");

    rc = ngx_http_adcp_sign_webhook(pool, &key, &req, &out);

    tap_ok(rc == NGX_OK && eq(&out.base, expected),
           "the signature base of a fixed request, byte for byte");
    tap_ok(eq(&out.content_digest,
              "sha-256=:RBNvo1WzZ4oRRq0W9+hknpT7T8If536DEMBg9hyq/4o=:"),
           "Content-Digest: SHA-256 of the body, base64 in an sf-binary");
    tap_ok(out.signature_input.len > 5
           && memcmp(out.signature_input.data, "sig1=", 5) == 0
           && out.signature_input.len - 5
              == sizeof(expected) - 1 - (strchr(expected, '(') - expected)
           && memcmp(out.signature_input.data + 5, strchr(expected, '('),
                     out.signature_input.len - 5) == 0,
           "Signature-Input: sig1= and the base's @signature-params");
    tap_ok(out.signature.len == 6 + 86 + 1
           && memcmp(out.signature.data, "sig1=:", 6) == 0
           && out.signature.data[out.signature.len - 1] == ':',
           "Signature: sig1=:<86 base64url characters>:");
    tap_ok(eq(&out.uri.request_target, "/hooks/b~?x=1&y=%2F")
           && eq(&out.uri.authority, "buyer.example:8443"),
           "the request target and Host to send");

    req.method = str("post");
    tap_ok(ngx_http_adcp_sign_webhook(pool, &key, &req, &out)
           == NGX_DECLINED, "a lower-case method is refused");

    req.method = str("POST");
    req.content_type = str("application/json\r\nX: y");
    tap_ok(ngx_http_adcp_sign_webhook(pool, &key, &req, &out)
           == NGX_DECLINED, "a content type with CR LF is refused");

    req.content_type = str("application/json");
    req.nonce = str("AAEC\"AwQFBgcICQoLDA0ODw");
    tap_ok(ngx_http_adcp_sign_webhook(pool, &key, &req, &out)
           == NGX_DECLINED, "a nonce not base64url is refused");

    req.nonce = str("");
    req.url = str("https://h.example/p");
    rc = ngx_http_adcp_sign_webhook(pool, &key, &req, &out);
    tap_ok(rc == NGX_OK && out.signature_input.len > 0
           && strstr((char *) out.base.data, ";nonce=\"") != NULL,
           "a fresh nonce when none is given");

    EVP_PKEY_free(pkey);
}


static void
test_roundtrip(ngx_uint_t alg)
{
    const char                     *code, *name;
    EVP_PKEY                       *pkey, *other;
    ngx_int_t                       rc;
    ngx_str_t                       kid, first, rev;
    state_t                         st;
    ngx_uint_t                      i;
    ngx_http_adcp_sign_jwk_t        jwk, jwk2;
    ngx_http_adcp_sign_key_t        key, key2;
    ngx_http_adcp_sign_req_t        req;
    ngx_http_adcp_sign_out_t        out, out2;
    ngx_http_adcp_sign_received_t   r;
    ngx_http_adcp_sign_verifier_t   v;
    char                           *err;

    name = (alg == NGX_HTTP_ADCP_SIGN_ED25519) ? "Ed25519" : "ES256";

    pkey = genkey(alg);
    kid = str("gw-2026-12");
    ngx_http_adcp_sign_key_set(pool, pkey, &kid, &key, &err);
    tap_ok(key.alg == alg && key.x.len == 43
           && key.y.len == (alg == NGX_HTTP_ADCP_SIGN_ES256 ? 43 : 0),
           "%s: the key's JWK coordinates", name);

    memset(&req, 0, sizeof(req));
    req.method = str("POST");
    req.url = str("https://hooks.buyer.example:9443/adcp/webhook?op=1");
    req.content_type = str("application/json");
    req.body = str("{\"idempotency_key\":\"whk_0123456789abcdef\","
                   "\"status\":\"completed\"}");
    req.created = 1800000000;

    rc = ngx_http_adcp_sign_webhook(pool, &key, &req, &out);
    tap_ok(rc == NGX_OK, "%s: signed", name);

    jwk = jwk_of(&key);

    memset(&v, 0, sizeof(v));
    memset(&st, 0, sizeof(st));
    v.keys = &jwk;
    v.nkeys = 1;
    v.now = 1800000010;
    v.nonce = state_nonce;
    v.at_cap = state_at_cap;
    v.data = &st;

    received_of(&r, &req, &out);
    rc = ngx_http_adcp_sign_verify(pool, &v, &r, &code);
    tap_ok(rc == NGX_OK && code == NULL, "%s: verified (%s)", name,
           code ? code : "ok");

    rc = ngx_http_adcp_sign_verify(pool, &v, &r, &code);
    tap_ok(rc == NGX_DECLINED && strcmp(code, "webhook_signature_replayed")
           == 0, "%s: the same nonce twice: replayed", name);

    /* a second signature of the same request: another nonce, verifies */

    rc = ngx_http_adcp_sign_webhook(pool, &key, &req, &out2);
    first = out.signature_input;
    tap_ok(rc == NGX_OK && !eqs(&first, &out2.signature_input),
           "%s: a fresh nonce per attempt", name);

    received_of(&r, &req, &out2);
    rc = ngx_http_adcp_sign_verify(pool, &v, &r, &code);
    tap_ok(rc == NGX_OK, "%s: the second attempt verifies", name);

#define REJECT(what, expect)                                                  \
    rc = ngx_http_adcp_sign_verify(pool, &v, &r, &code);                     \
    tap_ok(rc == NGX_DECLINED && code && strcmp(code, expect) == 0,          \
           "%s: %s: %s (%s)", name, what, expect, code ? code : "accepted"); \
    received_of(&r, &req, &out2);

    st.nseen = 0;

    r.body = str("{\"idempotency_key\":\"whk_0123456789abcdef\","
                 "\"status\":\"failed\"}");
    REJECT("a tampered body", "webhook_signature_digest_mismatch");

    r.content_type = str("text/plain");
    REJECT("a tampered content type", "webhook_signature_invalid");

    r.url = str("https://hooks.buyer.example:9443/adcp/other?op=1");
    REJECT("another path", "webhook_signature_invalid");

    r.url = str("https://hooks.buyer.example/adcp/webhook?op=1");
    REJECT("another port", "webhook_signature_invalid");

    r.url = str("https://hooks.buyer.example:9443/adcp/webhook?op=2");
    REJECT("another query", "webhook_signature_invalid");

    r.method = str("PUT");
    REJECT("another method", "webhook_signature_invalid");

    r.url = str("https://hooks.buyer.example:9443/adcp/webhook/../webhook"
                "?op=1#x");
    rc = ngx_http_adcp_sign_verify(pool, &v, &r, &code);
    tap_ok(rc == NGX_OK, "%s: an equivalent URL (dot segments, fragment) "
           "verifies", name);
    received_of(&r, &req, &out2);
    st.nseen = 0;

    r.url = str("https://[::1/p");
    REJECT("a malformed URL", "webhook_target_uri_malformed");

    v.now = 1800000000 + 300 + 61;
    REJECT("expired", "webhook_signature_window_invalid");

    v.now = 1800000000 - 61;
    REJECT("created in the future", "webhook_signature_window_invalid");

    v.now = 1800000010;

    r.signature = out.signature;
    REJECT("another attempt's signature", "webhook_signature_invalid");

    r.signature.data = ngx_pstrdup(pool, &out2.signature);
    r.signature.data[10] = (r.signature.data[10] == 'A') ? 'B' : 'A';
    REJECT("a signature byte changed", "webhook_signature_invalid");

    r.signature = str("sig1=:AAAA:");
    REJECT("a short signature", "webhook_signature_invalid");

    r.signature = str("sig2=:AAAA:");
    REJECT("no sig1 signature", "webhook_signature_header_malformed");

    r.signature.data = NULL;
    REJECT("no Signature", "webhook_signature_header_malformed");

    r.signature_input.data = NULL;
    REJECT("no Signature-Input", "webhook_signature_header_malformed");

    r.content_digest.data = NULL;
    REJECT("no Content-Digest", "webhook_signature_invalid");

    r.content_digest = str("sha-512=:AAAA:");
    REJECT("no sha-256 digest", "webhook_signature_invalid");

    /* another key, same kid: invalid; unknown kid: key unknown */

    other = genkey(alg);
    ngx_http_adcp_sign_key_set(pool, other, &kid, &key2, &err);
    jwk2 = jwk_of(&key2);
    v.keys = &jwk2;
    REJECT("another key under the kid", "webhook_signature_invalid");

    jwk2.kid = str("someone-else");
    REJECT("an unknown kid", "webhook_signature_key_unknown");

    v.keys = &jwk;
    jwk.adcp_use = str("governance-signing");
    REJECT("a governance key", "webhook_signature_key_purpose_invalid");

    jwk.adcp_use = str("webhook-signing");
    st.nseen = 0;
    rc = ngx_http_adcp_sign_verify(pool, &v, &r, &code);
    tap_ok(rc == NGX_OK, "%s: the deprecated webhook-signing purpose "
           "verifies", name);
    st.nseen = 0;

    jwk.alg = str(alg == NGX_HTTP_ADCP_SIGN_ED25519 ? "ES256" : "EdDSA");
    REJECT("a JWK alg not the signature's",
           "webhook_signature_key_purpose_invalid");
    jwk.alg = str(alg == NGX_HTTP_ADCP_SIGN_ED25519 ? "EdDSA" : "ES256");

    jwk.key_ops_verify = 0;
    REJECT("key_ops without verify", "webhook_signature_key_purpose_invalid");
    jwk.key_ops_verify = 1;

    rev = kid;
    v.revoked = &rev;
    v.nrevoked = 1;
    REJECT("a revoked key", "webhook_signature_key_revoked");
    v.nrevoked = 0;

    v.revocation_stale = 1;
    REJECT("a stale revocation list", "webhook_signature_revocation_stale");
    v.revocation_stale = 0;

    st.cap_kid = kid;
    REJECT("the key's cache full", "webhook_signature_rate_abuse");
    st.cap_kid.len = 0;

    /* Signature-Input edited: each parameter's check */

    for (i = 0; i < 9; i++) {
        static const char  *edits[][3] = {
            { ";tag=\"adcp/webhook-signing/v1\"",
              ";tag=\"adcp/request-signing/v1\"",
              "webhook_signature_tag_invalid" },
            { ";alg=\"ed25519\"", ";alg=\"rsa-pss-sha512\"",
              "webhook_signature_alg_not_allowed" },
            { ";alg=\"ecdsa-p256-sha256\"", ";alg=\"hmac-sha256\"",
              "webhook_signature_alg_not_allowed" },
            { ";expires=1800000300", ";expires=1800000301",
              "webhook_signature_window_invalid" },
            { ";expires=1800000300", ";expires=1800000000",
              "webhook_signature_window_invalid" },
            { " \"content-digest\")", ")",
              "webhook_signature_components_incomplete" },
            { ";keyid=\"gw-2026-12\"", ";keyid=gw",
              "webhook_signature_header_malformed" },
            { ";created=1800000000", "",
              "webhook_signature_params_incomplete" },
            { ";created=1800000000", ";created=1800000000;created=1",
              "webhook_signature_header_malformed" }
        };

        u_char     *p, *s;
        ngx_str_t   in;

        in = out2.signature_input;
        p = ngx_pnalloc(pool, in.len + 64);
        memcpy(p, in.data, in.len);
        p[in.len] = '\0';

        s = (u_char *) strstr((char *) p, edits[i][0]);
        if (s == NULL) {
            continue;      /* the other algorithm's edit */
        }

        memmove(s + strlen(edits[i][1]), s + strlen(edits[i][0]),
                strlen((char *) s + strlen(edits[i][0])) + 1);
        memcpy(s, edits[i][1], strlen(edits[i][1]));

        r.signature_input = str((char *) p);
        REJECT(edits[i][1], edits[i][2]);
    }

#undef REJECT

    EVP_PKEY_free(jwk.pkey);
    EVP_PKEY_free(jwk2.pkey);
    EVP_PKEY_free(pkey);
    EVP_PKEY_free(other);
}


/* Python's cryptography verifies what this code signed, against its JWKS */

static int
python_ok(char *python, size_t size)
{
    const char  *cands[] = { "/usr/bin/python3", "python3" };
    char         cmd[256];
    ngx_uint_t   i;

    for (i = 0; i < 2; i++) {
        snprintf(cmd, sizeof(cmd),
                 "%s -c 'import cryptography' >/dev/null 2>&1", cands[i]);

        if (system(cmd) == 0) {
            snprintf(python, size, "%s", cands[i]);
            return 1;
        }
    }

    return 0;
}


static void
json_str(FILE *f, const char *name, ngx_str_t *s, int last)
{
    size_t  i;

    fprintf(f, "\"%s\":\"", name);

    for (i = 0; i < s->len; i++) {
        if (s->data[i] == '"' || s->data[i] == '\\') {
            fputc('\\', f);
        }

        fputc(s->data[i], f);
    }

    fprintf(f, "\"%s", last ? "}" : ",");
}


static void
test_python(void)
{
    int                        rc;
    FILE                      *f;
    char                       python[64], cmd[512], path[64], *err;
    EVP_PKEY                  *k1, *k2;
    ngx_str_t                  kid1, kid2, jwks, bad;
    ngx_uint_t                 i;
    ngx_http_adcp_sign_key_t   keys[2];
    ngx_http_adcp_sign_req_t   req;
    ngx_http_adcp_sign_out_t   out;

    if (!python_ok(python, sizeof(python))) {
        for (i = 0; i < 5; i++) {
            tap_skip("python3 with cryptography (python3-cryptography) "
                     "is not installed");
        }

        return;
    }

    k1 = genkey(NGX_HTTP_ADCP_SIGN_ED25519);
    k2 = genkey(NGX_HTTP_ADCP_SIGN_ES256);
    kid1 = str("gw-ed-1");
    kid2 = str("gw-es-1");
    ngx_http_adcp_sign_key_set(pool, k1, &kid1, &keys[0], &err);
    ngx_http_adcp_sign_key_set(pool, k2, &kid2, &keys[1], &err);
    ngx_http_adcp_sign_jwks(pool, keys, 2, &jwks);

    memset(&req, 0, sizeof(req));
    req.method = str("POST");
    req.url = str("https://Hooks.Buyer.Example:9443/adcp/webhook?op=a:b");
    req.content_type = str("application/json");
    req.body = str("{\"task_id\":\"t1\",\"status\":\"completed\","
                   "\"result\":{\"name\":\"caf\xc3\xa9\"}}");
    req.created = time(NULL);

    snprintf(path, sizeof(path), "/tmp/adcp-sign-test-%d.json",
             (int) getpid());

    for (i = 0; i < 3; i++) {
        if (ngx_http_adcp_sign_webhook(pool, &keys[i % 2], &req, &out)
            != NGX_OK)
        {
            tap_ok(0, "signed for python");
            continue;
        }

        bad = req.body;

        if (i == 2) {
            /* a body changed after signing: python must refuse it */
            req.body = str("{\"task_id\":\"t1\",\"status\":\"failed\"}");
        }

        f = fopen(path, "w");
        fprintf(f, "{\"jwks\":%.*s,", (int) jwks.len, jwks.data);
        json_str(f, "method", &req.method, 0);
        json_str(f, "target_uri", &out.uri.target_uri, 0);
        json_str(f, "authority", &out.uri.authority, 0);
        json_str(f, "content_type", &req.content_type, 0);
        json_str(f, "content_digest", &out.content_digest, 0);
        json_str(f, "signature_input", &out.signature_input, 0);
        json_str(f, "signature", &out.signature, 0);
        json_str(f, "body", &req.body, 1);
        fclose(f);

        req.body = bad;

        snprintf(cmd, sizeof(cmd),
                 "%s t/lib/adcp_verify_webhook.py %s > %s.out 2>&1",
                 python, path, path);
        rc = system(cmd);

        if (i < 2) {
            tap_ok(rc == 0, "python's cryptography verifies an %s webhook "
                   "signature against the JWKS",
                   i == 0 ? "Ed25519" : "ES256 (r||s)");

        } else {
            tap_ok(rc != 0, "python refuses a body changed after signing");
        }
    }

    /* the target URI python rebuilt: canonical, as signed */

    tap_ok(eq(&out.uri.target_uri,
              "https://hooks.buyer.example:9443/adcp/webhook?op=a:b"),
           "the canonical target python was given");

    /* HMAC: python's hmac module agrees */

    {
        ngx_str_t  secret, ts, sig;
        char       expect[128];

        secret = str("a-shared-secret-of-at-least-32-characters");
        ngx_http_adcp_sign_hmac(pool, &secret, 1700000000, &req.body, &ts,
                                &sig);

        snprintf(cmd, sizeof(cmd),
                 "%s -c 'import hmac,hashlib,sys; print(\"sha256=\"+"
                 "hmac.new(sys.argv[1].encode(),(sys.argv[2]+\".\"+"
                 "sys.argv[3]).encode(),hashlib.sha256).hexdigest())' "
                 "'%s' '%.*s' '%.*s'",
                 python, (char *) secret.data, (int) ts.len, ts.data,
                 (int) req.body.len, req.body.data);

        f = popen(cmd, "r");
        expect[0] = '\0';

        if (f) {
            if (fgets(expect, sizeof(expect), f) == NULL) {
                expect[0] = '\0';
            }

            pclose(f);
        }

        expect[strcspn(expect, "\n")] = '\0';

        tap_ok(eq(&sig, expect), "python's hmac computes the same "
               "X-ADCP-Signature (%s)", expect);
    }

    unlink(path);
    snprintf(cmd, sizeof(cmd), "%s.out", path);
    unlink(cmd);

    EVP_PKEY_free(k1);
    EVP_PKEY_free(k2);
}


static void
test_hmac(void)
{
    ngx_str_t  secret, body, ts, sig, other;

    secret = str("0123456789abcdef0123456789abcdef");
    body = str("{\"event\":\"test\"}");

    ngx_http_adcp_sign_hmac(pool, &secret, 1700000000, &body, &ts, &sig);

    tap_ok(eq(&ts, "1700000000") && sig.len == 71
           && memcmp(sig.data, "sha256=", 7) == 0,
           "hmac: X-ADCP-Timestamp and sha256=<64 hex>");

    tap_ok(ngx_http_adcp_sign_hmac_verify(&secret, &ts, &sig, &body,
                                          1700000000 + 300) == NGX_OK,
           "hmac: verifies 300 s later");
    tap_ok(ngx_http_adcp_sign_hmac_verify(&secret, &ts, &sig, &body,
                                          1700000000 + 301) == NGX_DECLINED,
           "hmac: refused 301 s later");
    tap_ok(ngx_http_adcp_sign_hmac_verify(&secret, &ts, &sig, &body,
                                          1700000000 - 301) == NGX_DECLINED,
           "hmac: refused 301 s early");

    other = str("{\"event\":\"tesT\"}");
    tap_ok(ngx_http_adcp_sign_hmac_verify(&secret, &ts, &sig, &other,
                                          1700000000) == NGX_DECLINED,
           "hmac: another body refused");

    other = str("1700000001");
    tap_ok(ngx_http_adcp_sign_hmac_verify(&secret, &other, &sig, &body,
                                          1700000000) == NGX_DECLINED,
           "hmac: another timestamp refused");

    other = str("0123456789abcdef0123456789abcdeF");
    tap_ok(ngx_http_adcp_sign_hmac_verify(&other, &ts, &sig, &body,
                                          1700000000) == NGX_DECLINED,
           "hmac: another secret refused");
}


static void
test_pnc(void)
{
    char                      *msg, *field, err[128], big[5000];
    yajl_val                   v;
    ngx_uint_t                 i;
    ngx_http_adcp_sign_pnc_t   pnc;

    static const char  *cases[][3] = {
        { "{\"url\":\"https://b.example/h\"}", NULL, "" },
        { "{\"url\":\"u\",\"authentication\":null}", NULL, "" },
        { "{\"url\":\"u\",\"authentication\":{\"schemes\":[\"HMAC-SHA256\"],"
          "\"credentials\":\"0123456789abcdef0123456789abcdef\"}}", NULL,
          "hmac" },
        { "{\"url\":\"u\",\"authentication\":{\"schemes\":[\"Bearer\"],"
          "\"credentials\":\"0123456789abcdef0123456789abcdef\"}}", NULL,
          "bearer" },
        { "{\"url\":\"u\",\"authentication\":{\"schemes\":[\"Bearer\","
          "\"HMAC-SHA256\"],\"credentials\":\"0123456789abcdef0123456789abc"
          "def\"}}", "push_notification_config.authentication.schemes", "" },
        { "{\"url\":\"u\",\"authentication\":{\"schemes\":[],"
          "\"credentials\":\"0123456789abcdef0123456789abcdef\"}}",
          "push_notification_config.authentication.schemes", "" },
        { "{\"url\":\"u\",\"authentication\":{\"schemes\":[\"hmac-sha256\"],"
          "\"credentials\":\"0123456789abcdef0123456789abcdef\"}}",
          "push_notification_config.authentication.schemes", "" },
        { "{\"url\":\"u\",\"authentication\":{\"schemes\":\"Bearer\","
          "\"credentials\":\"0123456789abcdef0123456789abcdef\"}}",
          "push_notification_config.authentication.schemes", "" },
        { "{\"url\":\"u\",\"authentication\":{\"schemes\":[\"HMAC-SHA256\"],"
          "\"credentials\":\"0123456789abcdef0123456789abcde\"}}",
          "push_notification_config.authentication.credentials", "" },
        { "{\"url\":\"u\",\"authentication\":{\"schemes\":[\"HMAC-SHA256\"]}}",
          "push_notification_config.authentication.credentials", "" },
        { "{\"url\":\"u\",\"authentication\":{\"schemes\":[\"HMAC-SHA256\"],"
          "\"credentials\":\"00000000000000000000000000000000\"}}",
          "push_notification_config.authentication.credentials", "" },
        { "{\"url\":\"u\",\"authentication\":{\"schemes\":[\"Bearer\"],"
          "\"credentials\":\"0123456789abcdef 0123456789abcdef\"}}",
          "push_notification_config.authentication.credentials", "" },
        { "{\"url\":\"u\",\"authentication\":{\"schemes\":[\"Bearer\"],"
          "\"credentials\":\"0123456789abcdef0123456789abcdef\",\"x\":1}}",
          "push_notification_config.authentication", "" },
        { "{\"url\":\"u\",\"authentication\":[]}",
          "push_notification_config.authentication", "" },
        { "{\"url\":\"u\",\"token\":\"0123456789abcde\"}",
          "push_notification_config.token", "" },
        { "{\"url\":\"u\",\"token\":\"0123456789abcdef\"}", NULL, "token" },
        { "{\"url\":\"u\",\"token\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
          "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
          "\xc3\xa9\xc3\xa9\xc3\xa9\"}", "push_notification_config.token",
          "" },
        { "{\"url\":\"u\",\"token\":5}", "push_notification_config.token",
          "" },
        { "{\"url\":\"u\",\"operation_id\":\"op_abc.1:2-3\"}", NULL, "op" },
        { "{\"url\":\"u\",\"operation_id\":\"\"}",
          "push_notification_config.operation_id", "" },
        { "{\"url\":\"u\",\"operation_id\":\"op abc\"}",
          "push_notification_config.operation_id", "" },
        { "{\"url\":\"u\",\"operation_id\":\"op/abc\"}",
          "push_notification_config.operation_id", "" },
        { "[]", "push_notification_config", "" }
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        v = yajl_tree_parse(cases[i][0], err, sizeof(err));
        msg = ngx_http_adcp_sign_pnc(v, &pnc, &field);

        if (cases[i][1] == NULL) {
            tap_ok(msg == NULL
                   && (strcmp(cases[i][2], "hmac") != 0
                       || (pnc.scheme == NGX_HTTP_ADCP_SIGN_AUTH_HMAC
                           && pnc.credentials.len == 32))
                   && (strcmp(cases[i][2], "bearer") != 0
                       || pnc.scheme == NGX_HTTP_ADCP_SIGN_AUTH_BEARER)
                   && (strcmp(cases[i][2], "") != 0
                       || pnc.scheme == NGX_HTTP_ADCP_SIGN_AUTH_NONE)
                   && (strcmp(cases[i][2], "token") != 0
                       || pnc.token.len == 16)
                   && (strcmp(cases[i][2], "op") != 0
                       || eq(&pnc.operation_id, "op_abc.1:2-3")),
                   "pnc accepted: %s (%s)", cases[i][0], msg ? msg : "ok");

        } else {
            tap_ok(msg != NULL && field && strcmp(field, cases[i][1]) == 0,
                   "pnc refused, %s: %s (%s)", cases[i][1], cases[i][0],
                   msg ? msg : "accepted");
        }

        yajl_tree_free(v);
    }

    /* lengths at the bounds */

    memset(big, 'a', sizeof(big));
    memcpy(big, "{\"token\":\"", 10);
    big[10 + 4096] = 'b';
    memcpy(big + 10 + 4096, "\"}", 3);
    v = yajl_tree_parse(big, err, sizeof(err));
    tap_ok(ngx_http_adcp_sign_pnc(v, &pnc, &field) == NULL
           && pnc.token.len == 4096, "pnc: a 4096-character token");
    yajl_tree_free(v);

    memcpy(big + 10 + 4096, "a\"}", 4);
    v = yajl_tree_parse(big, err, sizeof(err));
    tap_ok(ngx_http_adcp_sign_pnc(v, &pnc, &field) != NULL,
           "pnc: a 4097-character token refused");
    yajl_tree_free(v);

    memset(big, 'a', sizeof(big));
    memcpy(big, "{\"operation_id\":\"", 17);
    memcpy(big + 17 + 255, "\"}", 3);
    v = yajl_tree_parse(big, err, sizeof(err));
    tap_ok(ngx_http_adcp_sign_pnc(v, &pnc, &field) == NULL
           && pnc.operation_id.len == 255, "pnc: a 255-character "
           "operation_id");
    yajl_tree_free(v);

    memcpy(big + 17 + 255, "a\"}", 4);
    v = yajl_tree_parse(big, err, sizeof(err));
    tap_ok(ngx_http_adcp_sign_pnc(v, &pnc, &field) != NULL,
           "pnc: a 256-character operation_id refused");
    yajl_tree_free(v);
}


static const char *
mstr(yajl_val o, const char *k)
{
    const char  *path[2];
    yajl_val     v;

    path[0] = k;
    path[1] = NULL;

    v = yajl_tree_get(o, path, yajl_t_string);

    return (v && YAJL_GET_STRING(v)) ? YAJL_GET_STRING(v) : "";
}


static int
write_pem(const char *path, EVP_PKEY *pkey, int encrypt)
{
    FILE  *f;
    int    rc;

    f = fopen(path, "w");
    if (f == NULL) {
        return 0;
    }

    rc = PEM_write_PrivateKey(f, pkey,
                              encrypt ? EVP_aes_128_cbc() : NULL,
                              encrypt ? (u_char *) "secret" : NULL,
                              encrypt ? 6 : 0, NULL, NULL);
    fclose(f);

    return rc == 1;
}


static void
test_keys(void)
{
    FILE                      *f;
    char                      *err, path[64];
    EVP_PKEY                  *k;
    ngx_str_t                  p, kid, jwks;
    ngx_pool_t                *kp;
    ngx_http_adcp_sign_key_t   keys[2], key;

    snprintf(path, sizeof(path), "/tmp/adcp-sign-key-%d.pem", (int) getpid());
    p = str(path);
    kid = str("gw-1");

    kp = test_pool_create();

    k = genkey(NGX_HTTP_ADCP_SIGN_ED25519);
    write_pem(path, k, 0);
    err = ngx_http_adcp_sign_key_load(kp, &p, &kid, &keys[0]);
    ngx_http_adcp_sign_key_set(pool, k, &kid, &key, &err);
    tap_ok(err == NULL && keys[0].alg == NGX_HTTP_ADCP_SIGN_ED25519
           && eqs(&keys[0].x, &key.x) && eq(&keys[0].kid, "gw-1"),
           "pem: an Ed25519 key loaded, its public key as generated");
    EVP_PKEY_free(k);

    k = genkey(NGX_HTTP_ADCP_SIGN_ES256);
    write_pem(path, k, 0);
    kid = str("gw-2");
    err = ngx_http_adcp_sign_key_load(kp, &p, &kid, &keys[1]);
    ngx_http_adcp_sign_key_set(pool, k, &kid, &key, &err);
    tap_ok(err == NULL && keys[1].alg == NGX_HTTP_ADCP_SIGN_ES256
           && eqs(&keys[1].x, &key.x) && eqs(&keys[1].y, &key.y),
           "pem: a P-256 key loaded, its x and y as generated");

    write_pem(path, k, 1);
    err = ngx_http_adcp_sign_key_load(kp, &p, &kid, &key);
    tap_ok(err != NULL, "pem: an encrypted key refused, no prompt (%s)",
           err ? err : "loaded");
    EVP_PKEY_free(k);

    k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    write_pem(path, k, 0);
    err = ngx_http_adcp_sign_key_load(kp, &p, &kid, &key);
    tap_ok(err != NULL, "pem: a P-384 key refused (%s)", err ? err : "ok");
    EVP_PKEY_free(k);

    k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 1024);
    write_pem(path, k, 0);
    err = ngx_http_adcp_sign_key_load(kp, &p, &kid, &key);
    tap_ok(err != NULL, "pem: an RSA key refused (%s)", err ? err : "ok");
    EVP_PKEY_free(k);

    f = fopen(path, "w");
    fputs("not a key\n", f);
    fclose(f);
    err = ngx_http_adcp_sign_key_load(kp, &p, &kid, &key);
    tap_ok(err != NULL, "pem: garbage refused (%s)", err ? err : "ok");

    unlink(path);
    err = ngx_http_adcp_sign_key_load(kp, &p, &kid, &key);
    tap_ok(err != NULL, "pem: a missing file refused (%s)", err ? err : "ok");

    k = genkey(NGX_HTTP_ADCP_SIGN_ED25519);
    kid = str("gw \"1\"");
    tap_ok(ngx_http_adcp_sign_key_set(pool, k, &kid, &key, &err)
           == NGX_DECLINED, "a kid with a quote refused");
    kid = str("");
    tap_ok(ngx_http_adcp_sign_key_set(pool, k, &kid, &key, &err)
           == NGX_DECLINED, "an empty kid refused");
    EVP_PKEY_free(k);

    ngx_http_adcp_sign_jwks(pool, keys, 2, &jwks);
    {
        char      ebuf[128], *s;
        yajl_val  v, ks, k0, k1;

        s = strndup((char *) jwks.data, jwks.len);
        v = yajl_tree_parse(s, ebuf, sizeof(ebuf));
        ks = v ? yajl_tree_get(v, (const char *[]) { "keys", NULL },
                               yajl_t_array) : NULL;
        k0 = ks && ks->u.array.len == 2 ? ks->u.array.values[0] : NULL;
        k1 = ks && ks->u.array.len == 2 ? ks->u.array.values[1] : NULL;

#define M(o, k) mstr(o, k)

        tap_ok(k0 && k1
               && strcmp(M(k0, "kty"), "OKP") == 0
               && strcmp(M(k0, "crv"), "Ed25519") == 0
               && strcmp(M(k0, "alg"), "EdDSA") == 0
               && strcmp(M(k0, "kid"), "gw-1") == 0
               && strcmp(M(k0, "use"), "sig") == 0
               && strcmp(M(k0, "adcp_use"), "request-signing") == 0
               && strlen(M(k0, "x")) == 43
               && yajl_tree_get(k0, (const char *[]) { "y", NULL },
                                yajl_t_any) == NULL
               && strcmp(M(k1, "kty"), "EC") == 0
               && strcmp(M(k1, "crv"), "P-256") == 0
               && strcmp(M(k1, "alg"), "ES256") == 0
               && strcmp(M(k1, "kid"), "gw-2") == 0
               && strlen(M(k1, "x")) == 43 && strlen(M(k1, "y")) == 43,
               "jwks: %.*s", (int) jwks.len, jwks.data);

#undef M

        yajl_tree_free(v);
        free(s);
    }

    test_pool_destroy(kp);
}


/* AdCP's RFC 9421 webhook vectors */

static int
jwk_from_vector(jnode_t *k, ngx_http_adcp_sign_jwk_t *j)
{
    size_t      i;
    jnode_t    *n, *ops;
    ngx_str_t  *y;
    ngx_uint_t  alg;

    memset(j, 0, sizeof(ngx_http_adcp_sign_jwk_t));

    if (jget(k, "kid") == NULL || jget(k, "x") == NULL) {
        return 0;
    }

    j->kid = jget(k, "kid")->s;
    j->alg = jget(k, "alg") ? jget(k, "alg")->s : str("");
    j->adcp_use = jget(k, "adcp_use") ? jget(k, "adcp_use")->s : str("");
    j->use_sig = (jget(k, "use") && eq(&jget(k, "use")->s, "sig"));

    ops = jget(k, "key_ops");

    for (i = 0; ops && i < ops->n; i++) {
        if (eq(&ops->kids[i]->s, "verify")) {
            j->key_ops_verify = 1;
        }
    }

    n = jget(k, "crv");
    alg = (n && eq(&n->s, "P-256")) ? NGX_HTTP_ADCP_SIGN_ES256
                                    : NGX_HTTP_ADCP_SIGN_ED25519;
    y = jget(k, "y") ? &jget(k, "y")->s : NULL;

    j->pkey = ngx_http_adcp_sign_public_key(alg, &jget(k, "x")->s, y);

    return j->pkey != NULL;
}


static void
free_jwks(ngx_http_adcp_sign_jwk_t *j, ngx_uint_t n)
{
    while (n--) {
        EVP_PKEY_free(j[n].pkey);
    }
}


static int
name_cmp(const void *a, const void *b)
{
    return strcmp(*(char **) a, *(char **) b);
}


static ngx_uint_t
list_json(const char *dir, char **names, ngx_uint_t max)
{
    DIR            *d;
    size_t          len;
    ngx_uint_t      n;
    struct dirent  *e;

    d = opendir(dir);
    if (d == NULL) {
        return 0;
    }

    n = 0;

    while ((e = readdir(d)) != NULL && n < max) {
        len = strlen(e->d_name);

        if (len > 5 && strcmp(e->d_name + len - 5, ".json") == 0) {
            names[n++] = strdup(e->d_name);
        }
    }

    closedir(d);
    qsort(names, n, sizeof(char *), name_cmp);

    return n;
}


static void
run_vector(const char *dir, const char *file, jnode_t *keys, int positive)
{
    char                            path[1024], *err;
    const char                     *code;
    jnode_t                        *vec, *rq, *hd, *ref, *st, *ovr, *k, *n;
    ngx_int_t                       rc;
    ngx_str_t                       want, revoked[4], priv, sigin;
    state_t                         state;
    ngx_uint_t                      i, j, nj;
    ngx_http_adcp_sign_jwk_t        jwks[8];
    ngx_http_adcp_sign_received_t   r;
    ngx_http_adcp_sign_verifier_t   v;

    snprintf(path, sizeof(path), "%s/%s/%s", dir,
             positive ? "positive" : "negative", file);

    vec = jparse(path);
    rq = jget(vec, "request");
    hd = jget(rq, "headers");

    if (vec == NULL || rq == NULL) {
        tap_ok(0, "vector %s parsed", path);
        jfree(vec);
        return;
    }

    memset(&r, 0, sizeof(r));
    r.method = jget(rq, "method")->s;
    r.url = jget(rq, "url")->s;
    r.body = jget(rq, "body") ? jget(rq, "body")->s : str("");
    r.content_type = jheader(hd, "Content-Type");
    r.content_digest = jheader(hd, "Content-Digest");
    r.signature_input = jheader(hd, "Signature-Input");
    r.signature = jheader(hd, "Signature");

    /* the keys the vector names, overridden where it says so */

    ref = jget(vec, "jwks_ref");
    ovr = jget(vec, "jwks_override");
    nj = 0;

    for (i = 0; ref && i < ref->n && nj < 8; i++) {
        k = NULL;

        for (j = 0; j < keys->n; j++) {
            n = jget(keys->kids[j], "kid");

            if (n && eqs(&n->s, &ref->kids[i]->s)) {
                k = keys->kids[j];
            }
        }

        if (ovr && jget(ovr, (char *) ref->kids[i]->s.data)) {
            k = jget(ovr, (char *) ref->kids[i]->s.data);
        }

        if (k && jwk_from_vector(k, &jwks[nj])) {
            nj++;
        }
    }

    memset(&v, 0, sizeof(v));
    memset(&state, 0, sizeof(state));
    v.keys = jwks;
    v.nkeys = nj;
    v.now = atol((char *) jget(vec, "reference_now")->s.data);
    v.at_cap = state_at_cap;
    v.nonce = state_nonce;
    v.data = &state;

    st = jget(vec, "test_harness_state");

    if (st) {
        n = jget(st, "replay_cache_entries");

        for (i = 0; n && i < n->n && state.nseen < 4; i++) {
            state.seen_kid[state.nseen] = jget(n->kids[i], "keyid")->s;
            state.seen_nonce[state.nseen] = jget(n->kids[i], "nonce")->s;
            state.nseen++;
        }

        n = jget(st, "revoked_kids");

        for (i = 0; n && i < n->n && i < 4; i++) {
            revoked[i] = n->kids[i]->s;
            v.nrevoked++;
        }

        v.revoked = revoked;

        if (jget(st, "per_keyid_cap_filled_for")) {
            state.cap_kid = jget(st, "per_keyid_cap_filled_for")->s;
        }

        if (jget(st, "revocation_list_stale_seconds")) {
            v.revocation_stale = 1;
        }
    }

    rc = ngx_http_adcp_sign_verify(pool, &v, &r, &code);

    if (positive) {
        tap_ok(rc == NGX_OK, "vector positive/%s verified (%s)", file,
               code ? code : "ok");

    } else {
        want = jget(jget(vec, "expected_outcome"), "error_code")->s;

        tap_ok(rc == NGX_DECLINED && code && eq(&want, code),
               "vector negative/%s rejected: %s (%s)", file, want.data,
               code ? code : "accepted");
    }

    /* positive, Ed25519 (deterministic): signing reproduces it exactly */

    n = NULL;

    for (j = 0; positive && j < keys->n; j++) {
        k = keys->kids[j];

        if (!eqs(&jget(k, "kid")->s, &ref->kids[0]->s)) {
            continue;
        }

        n = k;
    }

    if (positive && n) {
        ngx_http_adcp_sign_key_t  key;
        ngx_http_adcp_sign_req_t  req;
        ngx_http_adcp_sign_out_t  out;
        EVP_PKEY                 *pkey;
        u_char                    raw[64];
        u_char                   *s, *e;
        int                       ed;

        ed = eq(&jget(n, "crv")->s, "Ed25519");
        priv = jget(n, "_private_d_for_test_only")->s;

        if (ed) {
            ngx_str_t  d;

            ngx_http_adcp_sign_b64url_decode(pool, &priv, &d);
            memcpy(raw, d.data, 32);
            pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, raw,
                                                32);

        } else {
            /* ECDSA is not deterministic: any P-256 key gives the base */
            pkey = genkey(NGX_HTTP_ADCP_SIGN_ES256);
        }

        ngx_http_adcp_sign_key_set(pool, pkey, &jget(n, "kid")->s, &key,
                                   &err);

        /* created and nonce: from the vector's Signature-Input */

        memset(&req, 0, sizeof(req));
        req.method = r.method;
        req.url = r.url;
        req.content_type = r.content_type;
        req.body = r.body;

        s = (u_char *) strstr((char *) r.signature_input.data, ";created=");
        req.created = s ? atol((char *) s + 9) : 0;

        s = (u_char *) strstr((char *) r.signature_input.data, ";nonce=\"");
        e = s ? (u_char *) strchr((char *) s + 8, '"') : NULL;
        req.nonce.data = s ? s + 8 : NULL;
        req.nonce.len = e ? (size_t) (e - (s + 8)) : 0;

        rc = ngx_http_adcp_sign_webhook(pool, &key, &req, &out);

        want = jget(vec, "expected_signature_base")->s;

        /* the vector's Signature-Input may carry more labels after sig1 */

        sigin = r.signature_input;
        if (sigin.len > out.signature_input.len
            && sigin.data[out.signature_input.len] == ',')
        {
            sigin.len = out.signature_input.len;
        }

        tap_ok(rc == NGX_OK && eqs(&out.base, &want)
               && eqs(&out.content_digest, &r.content_digest)
               && eqs(&out.signature_input, &sigin),
               "vector positive/%s: the signature base, Content-Digest and "
               "Signature-Input reproduced", file);

        if (ed) {
            sigin = r.signature;
            if (sigin.len > out.signature.len
                && sigin.data[out.signature.len] == ',')
            {
                sigin.len = out.signature.len;
            }

            tap_ok(eqs(&out.signature, &sigin),
                   "vector positive/%s: the Ed25519 signature reproduced "
                   "exactly", file);

        } else {
            /* this code's own ES256 signature of it verifies too */

            ngx_http_adcp_sign_jwk_t  own;
            ngx_http_adcp_sign_received_t  r2;

            own = jwk_of(&key);
            v.keys = &own;
            v.nkeys = 1;
            state.nseen = 0;
            received_of(&r2, &req, &out);

            tap_ok(ngx_http_adcp_sign_verify(pool, &v, &r2, &code) == NGX_OK,
                   "vector positive/%s: an ES256 signature of its request "
                   "made here verifies", file);

            EVP_PKEY_free(own.pkey);
        }

        EVP_PKEY_free(pkey);
    }

    free_jwks(jwks, nj);
    jfree(vec);
}


static void
test_vectors(void)
{
    char        dir[512], path[1024], *names[64];
    jnode_t    *kj, *keys;
    ngx_uint_t  i, n, npos, nneg;

    if (vectors_dir(dir, sizeof(dir)) == NULL) {
        tap_skip("AdCP's webhook-signing vectors: set ADCP_WEBHOOK_VECTORS "
                 "or copy them to ../shared/adcp-test-vectors/"
                 "webhook-signing");
        return;
    }

    snprintf(path, sizeof(path), "%s/keys.json", dir);
    kj = jparse(path);
    keys = jget(kj, "keys");

    tap_ok(keys && keys->type == J_ARR && keys->n > 0,
           "vectors: keys.json read from %s", dir);

    if (keys == NULL) {
        jfree(kj);
        return;
    }

    snprintf(path, sizeof(path), "%s/positive", dir);
    npos = n = list_json(path, names, 64);

    for (i = 0; i < n; i++) {
        run_vector(dir, names[i], keys, 1);
        free(names[i]);
    }

    snprintf(path, sizeof(path), "%s/negative", dir);
    nneg = n = list_json(path, names, 64);

    for (i = 0; i < n; i++) {
        run_vector(dir, names[i], keys, 0);
        free(names[i]);
    }

    tap_ok(npos >= 8 && nneg >= 21, "vectors: %lu positive, %lu negative",
           (unsigned long) npos, (unsigned long) nneg);

    jfree(kj);
}


static void
test_vectors_hmac(void)
{
    char        dir[512], path[1024], *e;
    jnode_t    *f, *vs, *vec, *n;
    ngx_str_t   secret, ts, sig, body, want, *tsp, *sigp, tsbuf;
    ngx_uint_t  i, ok;
    time_t      now;

    e = getenv("ADCP_WEBHOOK_HMAC_VECTORS");

    if (e && *e) {
        snprintf(path, sizeof(path), "%s", e);

    } else if (vectors_dir(dir, sizeof(dir))) {
        snprintf(path, sizeof(path), "%s/../webhook-hmac-sha256.json", dir);

    } else {
        snprintf(path, sizeof(path),
                 "../shared/adcp-test-vectors/webhook-hmac-sha256.json");
    }

    f = jparse(path);

    if (f == NULL) {
        tap_skip("AdCP's webhook-hmac-sha256.json: set "
                 "ADCP_WEBHOOK_HMAC_VECTORS or copy it to "
                 "../shared/adcp-test-vectors/");
        return;
    }

    secret = jget(f, "secret")->s;
    vs = jget(f, "vectors");
    ok = 0;

    for (i = 0; vs && i < vs->n; i++) {
        vec = vs->kids[i];
        body = jget(vec, "raw_body")->s;
        want = jget(vec, "expected_signature")->s;
        now = atol((char *) jget(vec, "timestamp")->s.data);

        ngx_http_adcp_sign_hmac(pool, &secret, now, &body, &ts, &sig);

        tap_ok(eqs(&sig, &want)
               && ngx_http_adcp_sign_hmac_verify(&secret, &ts, &want, &body,
                                                 now) == NGX_OK,
               "hmac vector %s: signed and verified", jget(vec, "id")->s.data);

        ok += eqs(&sig, &want);
    }

    tap_ok(vs && vs->n == 15 && ok == 15, "hmac vectors: %lu of %lu",
           (unsigned long) ok, (unsigned long) (vs ? vs->n : 0));

    vs = jget(f, "rejection_vectors");

    for (i = 0; vs && i < vs->n; i++) {
        vec = vs->kids[i];
        body = jget(vec, "raw_body")->s;
        n = jget(vec, "timestamp");
        tsbuf = n->s;
        tsp = &tsbuf;

        n = jget(vec, "signature");
        sigp = (n && n->type == J_STR) ? &n->s : NULL;

        n = jget(vec, "current_time");
        now = n ? atol((char *) n->s.data)
                : atol((char *) jget(vec, "timestamp")->s.data);

        tap_ok(ngx_http_adcp_sign_hmac_verify(&secret, tsp, sigp, &body, now)
               == NGX_DECLINED, "hmac rejection vector %s: refused",
               jget(vec, "id")->s.data);
    }

    jfree(f);
}


static void
test_vectors_canon(void)
{
    char                      dir[512], path[1024], *e;
    jnode_t                  *f, *cs, *c;
    ngx_int_t                 rc;
    ngx_uint_t                i, idn;
    ngx_http_adcp_sign_uri_t  u;

    e = getenv("ADCP_URL_CANON_VECTORS");

    if (e && *e) {
        snprintf(path, sizeof(path), "%s", e);

    } else if (vectors_dir(dir, sizeof(dir))) {
        snprintf(path, sizeof(path),
                 "%s/../request-signing/canonicalization.json", dir);

    } else {
        path[0] = '\0';
    }

    f = jparse(path);

    if (f == NULL) {
        tap_skip("AdCP's request-signing/canonicalization.json: set "
                 "ADCP_URL_CANON_VECTORS or copy it next to the webhook "
                 "vectors");
        return;
    }

    cs = jget(f, "cases");

    for (i = 0; cs && i < cs->n; i++) {
        c = cs->kids[i];
        rc = ngx_http_adcp_sign_uri(pool, &jget(c, "input_url")->s, &u);

        /* IDNA (UTS-46) is not done here: a U-label is refused */

        idn = (strstr((char *) jget(c, "input_url")->s.data, "\xc3") != NULL);

        if (jget(c, "reject")) {
            tap_ok(rc == NGX_DECLINED, "canonicalization %s: refused",
                   jget(c, "name")->s.data);

        } else if (idn) {
            tap_ok(rc == NGX_DECLINED, "canonicalization %s: a U-label "
                   "refused (no IDNA here)", jget(c, "name")->s.data);

        } else {
            tap_ok(rc == NGX_OK
                   && eqs(&u.target_uri, &jget(c, "expected_target_uri")->s)
                   && eqs(&u.authority, &jget(c, "expected_authority")->s),
                   "canonicalization %s: %.*s", jget(c, "name")->s.data,
                   (int) u.target_uri.len, u.target_uri.data);
        }
    }

    jfree(f);
}


/*
 * t/29-jwks.t's signer: a webhook signed with a PEM key, as JSON for
 * t/lib/adcp_verify_webhook.py (which adds the JWKS nginx serves).
 *   test_tasks_sign --sign <pem> <kid> <url> <content type> <body>
 */

static int
sign_cli(char **argv)
{
    FILE                      *f;
    char                      *err;
    ngx_str_t                  path, kid;
    ngx_http_adcp_sign_key_t   key;
    ngx_http_adcp_sign_req_t   req;
    ngx_http_adcp_sign_out_t   out;

    path = str(argv[2]);
    kid = str(argv[3]);

    err = ngx_http_adcp_sign_key_load(pool, &path, &kid, &key);
    if (err) {
        fprintf(stderr, "%s %s\n", argv[2], err);
        return 1;
    }

    memset(&req, 0, sizeof(req));
    req.method = str("POST");
    req.url = str(argv[4]);
    req.content_type = str(argv[5]);
    req.body = str(argv[6]);
    req.created = time(NULL);

    if (ngx_http_adcp_sign_webhook(pool, &key, &req, &out) != NGX_OK) {
        fprintf(stderr, "cannot sign\n");
        return 1;
    }

    f = stdout;
    fputc('{', f);
    json_str(f, "method", &req.method, 0);
    json_str(f, "target_uri", &out.uri.target_uri, 0);
    json_str(f, "authority", &out.uri.authority, 0);
    json_str(f, "content_type", &req.content_type, 0);
    json_str(f, "content_digest", &out.content_digest, 0);
    json_str(f, "signature_input", &out.signature_input, 0);
    json_str(f, "signature", &out.signature, 0);
    json_str(f, "body", &req.body, 1);
    fputc('\n', f);

    return 0;
}


/*
 * What signing costs: test_tasks_sign --bench <n> signs n webhooks with
 * each algorithm (and n HMACs), printing microseconds per signature.
 */

static int
bench(int n)
{
    int                        i, a;
    char                      *err;
    double                     t0, t1;
    EVP_PKEY                  *pkey;
    ngx_str_t                  kid, secret, ts, sig;
    ngx_pool_t                *p;
    struct timespec            tv;
    ngx_http_adcp_sign_key_t   key;
    ngx_http_adcp_sign_req_t   req;
    ngx_http_adcp_sign_out_t   out;

    memset(&req, 0, sizeof(req));
    req.method = str("POST");
    req.url = str("https://hooks.buyer.example/adcp/webhook/op_123");
    req.content_type = str("application/json");
    req.body = str("{\"idempotency_key\":\"whk_0123456789abcdef\","
                   "\"task_id\":\"task_456\",\"task_type\":"
                   "\"create_media_buy\",\"status\":\"completed\","
                   "\"result\":{\"media_buy_id\":\"mb_001\"}}");
    req.created = 1800000000;
    kid = str("gw-1");

    for (a = 0; a < 3; a++) {
        pkey = (a < 2) ? genkey(a ? NGX_HTTP_ADCP_SIGN_ES256
                                  : NGX_HTTP_ADCP_SIGN_ED25519)
                       : NULL;

        if (pkey) {
            ngx_http_adcp_sign_key_set(pool, pkey, &kid, &key, &err);
        }

        secret = str("a-shared-secret-of-at-least-32-characters");

        clock_gettime(CLOCK_MONOTONIC, &tv);
        t0 = tv.tv_sec + tv.tv_nsec / 1e9;

        for (i = 0; i < n; i++) {
            p = test_pool_create();

            if (pkey) {
                ngx_http_adcp_sign_webhook(p, &key, &req, &out);

            } else {
                ngx_http_adcp_sign_hmac(p, &secret, req.created, &req.body,
                                        &ts, &sig);
            }

            test_pool_destroy(p);
        }

        clock_gettime(CLOCK_MONOTONIC, &tv);
        t1 = tv.tv_sec + tv.tv_nsec / 1e9;

        printf("%-10s %8.1f us per webhook signed (%d)\n",
               a == 0 ? "ed25519" : a == 1 ? "es256" : "hmac-sha256",
               (t1 - t0) * 1e6 / n, n);

        EVP_PKEY_free(pkey);
    }

    return 0;
}


int
main(int argc, char **argv)
{
    int  rc;

    pool = test_pool_create();

    if (argc == 3 && strcmp(argv[1], "--bench") == 0) {
        rc = bench(atoi(argv[2]));
        test_pool_destroy(pool);
        return rc;
    }

    if (argc == 7 && strcmp(argv[1], "--sign") == 0) {
        rc = sign_cli(argv);
        test_pool_destroy(pool);
        return rc;
    }

    test_uri();
    test_base_fixed();
    test_roundtrip(NGX_HTTP_ADCP_SIGN_ED25519);
    test_roundtrip(NGX_HTTP_ADCP_SIGN_ES256);
    test_hmac();
    test_pnc();
    test_keys();
    test_python();
    test_vectors();
    test_vectors_hmac();
    test_vectors_canon();

    test_pool_destroy(pool);

    return tap_done();
}
