
/*
 * ngx_http_adcp_module: webhook signing, the buyer's side: AdCP's webhook
 * verifier checklist on RFC 9421 signatures (with the RFC 8941 structured
 * field parser it needs) and the legacy HMAC-SHA256 check.
 *
 * Not part of the module (config does not list it): the unit tests, the
 * conformance vectors and the fuzz target link it, to check the signer
 * against AdCP's own rules.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <openssl/evp.h>
#include <openssl/err.h>
#include <openssl/ecdsa.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>

#include "ngx_http_adcp_tasks_sign.h"


#define NGX_HTTP_ADCP_SF_MAX_ITEMS   16
#define NGX_HTTP_ADCP_SF_MAX_PARAMS  16

#define NGX_HTTP_ADCP_SF_STRING      1
#define NGX_HTTP_ADCP_SF_INTEGER     2
#define NGX_HTTP_ADCP_SF_BYTES       3
#define NGX_HTTP_ADCP_SF_OTHER       4


typedef struct {
    ngx_str_t                   key;
    ngx_uint_t                  type;
    ngx_str_t                   value;    /* string and byte contents */
    int64_t                     n;
} ngx_http_adcp_sf_param_t;


/* one dictionary member: an inner list of strings or one bare item */

typedef struct {
    ngx_str_t                   value;    /* as serialized, params included */
    ngx_uint_t                  type;     /* 0: inner list */
    ngx_str_t                   item;     /* a bare item's contents */
    ngx_str_t                   items[NGX_HTTP_ADCP_SF_MAX_ITEMS];
    ngx_uint_t                  nitems;
    ngx_http_adcp_sf_param_t    params[NGX_HTTP_ADCP_SF_MAX_PARAMS];
    ngx_uint_t                  nparams;
    unsigned                    item_params:1;
} ngx_http_adcp_sf_member_t;


static ngx_int_t ngx_http_adcp_sign_raw_verify(EVP_PKEY *pkey,
    ngx_uint_t alg, ngx_str_t *base, u_char *sig, size_t len);
static ngx_int_t ngx_http_adcp_sf_dict(ngx_str_t *header, char *label,
    ngx_http_adcp_sf_member_t *m);
static u_char *ngx_http_adcp_sf_key(u_char *p, u_char *last, ngx_str_t *key);
static u_char *ngx_http_adcp_sf_item(u_char *p, u_char *last,
    ngx_uint_t *type, ngx_str_t *value, int64_t *n);
static u_char *ngx_http_adcp_sf_params(u_char *p, u_char *last,
    ngx_http_adcp_sf_member_t *m, ngx_uint_t keep);
static ngx_http_adcp_sf_param_t *ngx_http_adcp_sf_param(
    ngx_http_adcp_sf_member_t *m, char *key);
static ngx_int_t ngx_http_adcp_sign_str_is(ngx_str_t *s, char *lit);


/* NGX_OK: verified; NGX_DECLINED: not; NGX_ERROR: no memory */

static ngx_int_t
ngx_http_adcp_sign_raw_verify(EVP_PKEY *pkey, ngx_uint_t alg,
    ngx_str_t *base, u_char *sig, size_t len)
{
    int          n;
    u_char       der[128], *p;
    BIGNUM      *r, *s;
    ngx_int_t    rc;
    ECDSA_SIG   *es;
    EVP_MD_CTX  *ctx;

    if (len != 64) {
        return NGX_DECLINED;
    }

    if (alg == NGX_HTTP_ADCP_SIGN_ED25519) {
        if (EVP_PKEY_base_id(pkey) != EVP_PKEY_ED25519) {
            return NGX_DECLINED;
        }

    } else {
        if (EVP_PKEY_base_id(pkey) != EVP_PKEY_EC) {
            return NGX_DECLINED;
        }

        es = ECDSA_SIG_new();
        r = BN_bin2bn(sig, 32, NULL);
        s = BN_bin2bn(sig + 32, 32, NULL);

        if (es == NULL || r == NULL || s == NULL
            || ECDSA_SIG_set0(es, r, s) != 1)
        {
            ECDSA_SIG_free(es);
            BN_free(r);
            BN_free(s);
            ERR_clear_error();
            return NGX_ERROR;
        }

        p = der;
        n = i2d_ECDSA_SIG(es, &p);
        ECDSA_SIG_free(es);

        if (n <= 0 || n > (int) sizeof(der)) {
            ERR_clear_error();
            return NGX_DECLINED;
        }

        sig = der;
        len = n;
    }

    ctx = EVP_MD_CTX_new();
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    rc = NGX_DECLINED;

    if (EVP_DigestVerifyInit(ctx, NULL,
                             alg == NGX_HTTP_ADCP_SIGN_ES256 ? EVP_sha256()
                                                             : NULL,
                             NULL, pkey)
        == 1
        && EVP_DigestVerify(ctx, sig, len, base->data, base->len) == 1)
    {
        rc = NGX_OK;
    }

    EVP_MD_CTX_free(ctx);
    ERR_clear_error();

    return rc;
}


/*
 * The buyer's side: AdCP's webhook verifier checklist, steps 1 to 13, in
 * order, the first failure's code in *code.  NGX_OK: verified;
 * NGX_DECLINED: rejected; NGX_ERROR: no memory.
 */

ngx_int_t
ngx_http_adcp_sign_verify(ngx_pool_t *pool, ngx_http_adcp_sign_verifier_t *v,
    ngx_http_adcp_sign_received_t *r, const char **code)
{
    u_char                      sig[128], md[32], dg[64], nb[256];
    size_t                      k;
    ssize_t                     siglen, n;
    ngx_int_t                   rc;
    ngx_str_t                   base;
    ngx_str_t                  *name, names[NGX_HTTP_ADCP_SF_MAX_ITEMS];
    ngx_str_t                   values[NGX_HTTP_ADCP_SF_MAX_ITEMS];
    ngx_uint_t                  i, j, alg, found;
    ngx_http_adcp_sign_jwk_t   *jwk;
    ngx_http_adcp_sign_uri_t    u;
    ngx_http_adcp_sf_param_t   *created, *expires, *nonce, *keyid, *palg;
    ngx_http_adcp_sf_param_t   *tag;
    ngx_http_adcp_sf_member_t   in, sg, cd;

    /* 1: both headers, well-formed; sig1's signature unpadded base64url */

    *code = "webhook_signature_header_malformed";

    if (r->signature_input.data == NULL || r->signature.data == NULL) {
        return NGX_DECLINED;
    }

    if (ngx_http_adcp_sf_dict(&r->signature_input,
                              NGX_HTTP_ADCP_SIGN_LABEL, &in)
        != NGX_OK
        || in.type != 0 || in.item_params)
    {
        return NGX_DECLINED;
    }

    if (ngx_http_adcp_sf_dict(&r->signature, NGX_HTTP_ADCP_SIGN_LABEL, &sg)
        != NGX_OK
        || sg.type != NGX_HTTP_ADCP_SF_BYTES)
    {
        return NGX_DECLINED;
    }

    siglen = ngx_http_adcp_sign_b64_decode(sig, sizeof(sig), sg.item.data,
                                           sg.item.len, 1);
    if (siglen < 0) {
        return NGX_DECLINED;
    }

    for (i = 0; i < in.nparams; i++) {
        for (j = 0; j < i; j++) {
            if (in.params[i].key.len == in.params[j].key.len
                && ngx_strncmp(in.params[i].key.data, in.params[j].key.data,
                               in.params[i].key.len) == 0)
            {
                return NGX_DECLINED;    /* a parameter twice */
            }
        }
    }

    created = ngx_http_adcp_sf_param(&in, "created");
    expires = ngx_http_adcp_sf_param(&in, "expires");
    nonce = ngx_http_adcp_sf_param(&in, "nonce");
    keyid = ngx_http_adcp_sf_param(&in, "keyid");
    palg = ngx_http_adcp_sf_param(&in, "alg");
    tag = ngx_http_adcp_sf_param(&in, "tag");

    if ((created && created->type != NGX_HTTP_ADCP_SF_INTEGER)
        || (expires && expires->type != NGX_HTTP_ADCP_SF_INTEGER)
        || (nonce && nonce->type != NGX_HTTP_ADCP_SF_STRING)
        || (keyid && keyid->type != NGX_HTTP_ADCP_SF_STRING)
        || (palg && palg->type != NGX_HTTP_ADCP_SF_STRING)
        || (tag && tag->type != NGX_HTTP_ADCP_SF_STRING))
    {
        return NGX_DECLINED;
    }

    /* 2: every parameter */

    for (i = 0; ngx_http_adcp_sign_params[i]; i++) {
        if (ngx_http_adcp_sf_param(&in, ngx_http_adcp_sign_params[i]) == NULL) {
            *code = "webhook_signature_params_incomplete";
            return NGX_DECLINED;
        }
    }

    /* the nonce: unpadded base64url of 16 bytes at least */

    n = ngx_http_adcp_sign_b64_decode(nb, sizeof(nb), nonce->value.data,
                                      nonce->value.len, 1);
    if (n < NGX_HTTP_ADCP_SIGN_NONCE_BYTES) {
        return NGX_DECLINED;
    }

    /* 3: the tag, byte for byte */

    if (!ngx_http_adcp_sign_str_is(&tag->value, NGX_HTTP_ADCP_SIGN_TAG)) {
        *code = "webhook_signature_tag_invalid";
        return NGX_DECLINED;
    }

    /* 4: the algorithm */

    if (ngx_http_adcp_sign_str_is(&palg->value, "ed25519")) {
        alg = NGX_HTTP_ADCP_SIGN_ED25519;

    } else if (ngx_http_adcp_sign_str_is(&palg->value, "ecdsa-p256-sha256")) {
        alg = NGX_HTTP_ADCP_SIGN_ES256;

    } else {
        *code = "webhook_signature_alg_not_allowed";
        return NGX_DECLINED;
    }

    /* 5: the window */

    if (expires->n <= created->n
        || created->n > v->now + NGX_HTTP_ADCP_SIGN_SKEW
        || expires->n < v->now - NGX_HTTP_ADCP_SIGN_SKEW
        || expires->n - created->n > NGX_HTTP_ADCP_SIGN_VALIDITY)
    {
        *code = "webhook_signature_window_invalid";
        return NGX_DECLINED;
    }

    /* 6: all five components covered */

    for (i = 0; i < NGX_HTTP_ADCP_SIGN_NCOMPONENTS; i++) {
        name = &ngx_http_adcp_sign_components[i];
        found = 0;

        for (j = 0; j < in.nitems; j++) {
            if (in.items[j].len == name->len
                && ngx_strncmp(in.items[j].data, name->data, name->len) == 0)
            {
                found = 1;
                break;
            }
        }

        if (!found) {
            *code = "webhook_signature_components_incomplete";
            return NGX_DECLINED;
        }
    }

    /* the target URI it will be compared with */

    rc = ngx_http_adcp_sign_uri(pool, &r->url, &u);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc != NGX_OK) {
        *code = "webhook_target_uri_malformed";
        return NGX_DECLINED;
    }

    /* 7: the key */

    jwk = NULL;

    for (i = 0; i < v->nkeys; i++) {
        if (v->keys[i].kid.len == keyid->value.len
            && ngx_strncmp(v->keys[i].kid.data, keyid->value.data,
                           keyid->value.len) == 0)
        {
            jwk = &v->keys[i];
            break;
        }
    }

    if (jwk == NULL || jwk->pkey == NULL) {
        *code = "webhook_signature_key_unknown";
        return NGX_DECLINED;
    }

    /* 8: its purpose, and an alg that matches the signature's */

    if (!jwk->use_sig || !jwk->key_ops_verify
        || !(ngx_http_adcp_sign_str_is(&jwk->adcp_use, "request-signing")
             || ngx_http_adcp_sign_str_is(&jwk->adcp_use, "webhook-signing"))
        || !ngx_http_adcp_sign_str_is(&jwk->alg,
                                      alg == NGX_HTTP_ADCP_SIGN_ED25519
                                      ? "EdDSA" : "ES256")
        || EVP_PKEY_base_id(jwk->pkey) != (alg == NGX_HTTP_ADCP_SIGN_ED25519
                                           ? EVP_PKEY_ED25519 : EVP_PKEY_EC))
    {
        *code = "webhook_signature_key_purpose_invalid";
        return NGX_DECLINED;
    }

    /* 9: revocation; 9a: the key's replay cache */

    if (v->revocation_stale) {
        *code = "webhook_signature_revocation_stale";
        return NGX_DECLINED;
    }

    for (i = 0; i < v->nrevoked; i++) {
        if (v->revoked[i].len == jwk->kid.len
            && ngx_strncmp(v->revoked[i].data, jwk->kid.data, jwk->kid.len)
               == 0)
        {
            *code = "webhook_signature_key_revoked";
            return NGX_DECLINED;
        }
    }

    if (v->at_cap && v->at_cap(v->data, &jwk->kid) == NGX_DECLINED) {
        *code = "webhook_signature_rate_abuse";
        return NGX_DECLINED;
    }

    /* 10: the signature base, in the covered order, and the signature */

    for (i = 0; i < in.nitems; i++) {
        names[i] = in.items[i];

        if (ngx_http_adcp_sign_str_is(&names[i], "@method")) {
            values[i] = r->method;

        } else if (ngx_http_adcp_sign_str_is(&names[i], "@target-uri")) {
            values[i] = u.target_uri;

        } else if (ngx_http_adcp_sign_str_is(&names[i], "@authority")) {
            values[i] = u.authority;

        } else if (ngx_http_adcp_sign_str_is(&names[i], "content-type")
                   && r->content_type.data)
        {
            values[i] = r->content_type;

        } else if (ngx_http_adcp_sign_str_is(&names[i], "content-digest")
                   && r->content_digest.data)
        {
            values[i] = r->content_digest;

        } else {
            /* a component this verifier cannot derive, or a header absent */
            *code = "webhook_signature_invalid";
            return NGX_DECLINED;
        }

        while (values[i].len && (values[i].data[0] == ' '
                                 || values[i].data[0] == '\t'))
        {
            values[i].data++;
            values[i].len--;
        }

        while (values[i].len && (values[i].data[values[i].len - 1] == ' '
                                 || values[i].data[values[i].len - 1] == '\t'))
        {
            values[i].len--;
        }
    }

    if (ngx_http_adcp_sign_base(pool, names, values, in.nitems, &in.value,
                                &base)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    rc = ngx_http_adcp_sign_raw_verify(jwk->pkey, alg, &base, sig, siglen);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc != NGX_OK) {
        *code = "webhook_signature_invalid";
        return NGX_DECLINED;
    }

    /* 11: the body's digest (RFC 9530's base64, or base64url) */

    *code = "webhook_signature_digest_mismatch";

    if (ngx_http_adcp_sf_dict(&r->content_digest, "sha-256", &cd) != NGX_OK
        || cd.type != NGX_HTTP_ADCP_SF_BYTES)
    {
        return NGX_DECLINED;
    }

    n = ngx_http_adcp_sign_b64_decode(dg, sizeof(dg), cd.item.data,
                                      cd.item.len, 0);
    if (n < 0) {
        n = ngx_http_adcp_sign_b64_decode(dg, sizeof(dg), cd.item.data,
                                          cd.item.len, 1);
    }

    if (n != 32 || ngx_http_adcp_sign_sha256(&r->body, md) != NGX_OK
        || CRYPTO_memcmp(dg, md, 32) != 0)
    {
        return NGX_DECLINED;
    }

    /* 12, 13: the nonce, once */

    k = expires->n - v->now + NGX_HTTP_ADCP_SIGN_SKEW;

    if (v->nonce && v->nonce(v->data, &jwk->kid, &nonce->value, (time_t) k)
                    == NGX_DECLINED)
    {
        *code = "webhook_signature_replayed";
        return NGX_DECLINED;
    }

    *code = NULL;

    return NGX_OK;
}


/*
 * RFC 8941 dictionary: parses it all, keeps the member named label.
 * NGX_DECLINED: malformed, the label absent, or twice.
 */

static ngx_int_t
ngx_http_adcp_sf_dict(ngx_str_t *header, char *label,
    ngx_http_adcp_sf_member_t *m)
{
    u_char                     *p, *last, *start;
    size_t                      llen;
    int64_t                     n;
    ngx_str_t                   key, value;
    ngx_uint_t                  type, keep, found;
    ngx_http_adcp_sf_member_t   scratch;

    if (header->data == NULL) {
        return NGX_DECLINED;
    }

    p = header->data;
    last = p + header->len;
    llen = ngx_strlen(label);
    found = 0;

    while (p < last && *p == ' ') {
        p++;
    }

    if (p == last) {
        return NGX_DECLINED;
    }

    for ( ;; ) {
        p = ngx_http_adcp_sf_key(p, last, &key);
        if (p == NULL) {
            return NGX_DECLINED;
        }

        keep = (key.len == llen && ngx_strncmp(key.data, label, llen) == 0);

        if (keep && found) {
            return NGX_DECLINED;
        }

        found |= keep;

        ngx_memzero(&scratch, sizeof(ngx_http_adcp_sf_member_t));

        if (p < last && *p == '=') {
            p++;
            start = p;

            if (p < last && *p == '(') {
                p++;

                for ( ;; ) {
                    while (p < last && *p == ' ') {
                        p++;
                    }

                    if (p == last) {
                        return NGX_DECLINED;
                    }

                    if (*p == ')') {
                        p++;
                        break;
                    }

                    p = ngx_http_adcp_sf_item(p, last, &type, &value, &n);
                    if (p == NULL) {
                        return NGX_DECLINED;
                    }

                    if (scratch.nitems == NGX_HTTP_ADCP_SF_MAX_ITEMS) {
                        return NGX_DECLINED;
                    }

                    if (type != NGX_HTTP_ADCP_SF_STRING) {
                        scratch.item_params = 1;   /* not a component */
                    }

                    scratch.items[scratch.nitems++] = value;

                    if (p < last && *p == ';') {
                        scratch.item_params = 1;
                        p = ngx_http_adcp_sf_params(p, last, &scratch, 0);
                        if (p == NULL) {
                            return NGX_DECLINED;
                        }
                    }

                    if (p == last || (*p != ' ' && *p != ')')) {
                        return NGX_DECLINED;
                    }
                }

                scratch.type = 0;

            } else {
                p = ngx_http_adcp_sf_item(p, last, &scratch.type,
                                          &scratch.item, &n);
                if (p == NULL) {
                    return NGX_DECLINED;
                }
            }

        } else {
            start = p;
            scratch.type = NGX_HTTP_ADCP_SF_OTHER;    /* true */
        }

        p = ngx_http_adcp_sf_params(p, last, &scratch, keep);
        if (p == NULL) {
            return NGX_DECLINED;
        }

        scratch.value.data = start;
        scratch.value.len = p - start;

        if (keep) {
            *m = scratch;
        }

        while (p < last && (*p == ' ' || *p == '\t')) {
            p++;
        }

        if (p == last) {
            break;
        }

        if (*p++ != ',') {
            return NGX_DECLINED;
        }

        while (p < last && (*p == ' ' || *p == '\t')) {
            p++;
        }

        if (p == last) {
            return NGX_DECLINED;
        }
    }

    return found ? NGX_OK : NGX_DECLINED;
}


static u_char *
ngx_http_adcp_sf_key(u_char *p, u_char *last, ngx_str_t *key)
{
    u_char  c;

    if (p == last || !((*p >= 'a' && *p <= 'z') || *p == '*')) {
        return NULL;
    }

    key->data = p;

    for (p++; p < last; p++) {
        c = *p;

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'
              || c == '-' || c == '.' || c == '*'))
        {
            break;
        }
    }

    key->len = p - key->data;

    return p;
}


/*
 * A bare item: an integer, a string (its raw contents: escapes kept), a
 * byte sequence (its contents, either base64 alphabet: the caller
 * decodes strictly), or another type (token, decimal, boolean).
 */

static u_char *
ngx_http_adcp_sf_item(u_char *p, u_char *last, ngx_uint_t *type,
    ngx_str_t *value, int64_t *n)
{
    u_char      c, *start;
    ngx_uint_t  neg, digits;

    if (p == last) {
        return NULL;
    }

    c = *p;
    *n = 0;

    if (c == '-' || (c >= '0' && c <= '9')) {
        start = p;
        neg = (c == '-');
        p += neg;
        digits = 0;

        while (p < last && *p >= '0' && *p <= '9') {
            if (++digits > 15) {
                return NULL;
            }

            *n = *n * 10 + (*p++ - '0');
        }

        if (digits == 0) {
            return NULL;
        }

        if (neg) {
            *n = -*n;
        }

        *type = NGX_HTTP_ADCP_SF_INTEGER;

        if (p < last && *p == '.') {
            for (p++; p < last && *p >= '0' && *p <= '9'; p++) {
                /* void */
            }

            *type = NGX_HTTP_ADCP_SF_OTHER;
        }

        value->data = start;
        value->len = p - start;

        return p;
    }

    if (c == '"') {
        value->data = ++p;

        for ( /* void */ ; p < last; p++) {
            if (*p == '"') {
                value->len = p - value->data;
                *type = NGX_HTTP_ADCP_SF_STRING;
                return p + 1;
            }

            if (*p == '\\') {
                if (p + 1 == last || (p[1] != '"' && p[1] != '\\')) {
                    return NULL;
                }

                p++;
                continue;
            }

            if (*p < 0x20 || *p >= 0x7f) {
                return NULL;
            }
        }

        return NULL;
    }

    if (c == ':') {
        value->data = ++p;

        for ( /* void */ ; p < last; p++) {
            c = *p;

            if (c == ':') {
                value->len = p - value->data;
                *type = NGX_HTTP_ADCP_SF_BYTES;
                return p + 1;
            }

            if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
                  || (c >= '0' && c <= '9') || c == '+' || c == '/'
                  || c == '=' || c == '-' || c == '_'))
            {
                return NULL;
            }
        }

        return NULL;
    }

    if (c == '?') {
        if (last - p < 2 || (p[1] != '0' && p[1] != '1')) {
            return NULL;
        }

        value->data = p;
        value->len = 2;
        *type = NGX_HTTP_ADCP_SF_OTHER;

        return p + 2;
    }

    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '*') {
        value->data = p;

        for (p++; p < last; p++) {
            c = *p;

            if (c <= 0x20 || c >= 0x7f || c == '"' || c == '(' || c == ')'
                || c == ',' || c == ';' || c == '=' || c == '<' || c == '>'
                || c == '@' || c == '[' || c == ']' || c == '?' || c == '{'
                || c == '}' || c == '\\')
            {
                break;
            }
        }

        value->len = p - value->data;
        *type = NGX_HTTP_ADCP_SF_OTHER;

        return p;
    }

    return NULL;
}


static u_char *
ngx_http_adcp_sf_params(u_char *p, u_char *last,
    ngx_http_adcp_sf_member_t *m, ngx_uint_t keep)
{
    ngx_http_adcp_sf_param_t  *pa, scratch;

    while (p < last && *p == ';') {
        p++;

        while (p < last && *p == ' ') {
            p++;
        }

        pa = &scratch;

        if (keep) {
            if (m->nparams == NGX_HTTP_ADCP_SF_MAX_PARAMS) {
                return NULL;
            }

            pa = &m->params[m->nparams++];
        }

        ngx_memzero(pa, sizeof(ngx_http_adcp_sf_param_t));

        p = ngx_http_adcp_sf_key(p, last, &pa->key);
        if (p == NULL) {
            return NULL;
        }

        if (p < last && *p == '=') {
            p = ngx_http_adcp_sf_item(p + 1, last, &pa->type, &pa->value,
                                      &pa->n);
            if (p == NULL) {
                return NULL;
            }

        } else {
            pa->type = NGX_HTTP_ADCP_SF_OTHER;   /* true */
        }
    }

    return p;
}


static ngx_http_adcp_sf_param_t *
ngx_http_adcp_sf_param(ngx_http_adcp_sf_member_t *m, char *key)
{
    size_t      len;
    ngx_uint_t  i;

    len = ngx_strlen(key);

    for (i = 0; i < m->nparams; i++) {
        if (m->params[i].key.len == len
            && ngx_strncmp(m->params[i].key.data, key, len) == 0)
        {
            return &m->params[i];
        }
    }

    return NULL;
}


static ngx_int_t
ngx_http_adcp_sign_str_is(ngx_str_t *s, char *lit)
{
    size_t  len;

    len = ngx_strlen(lit);

    return s->len == len && ngx_strncmp(s->data, lit, len) == 0;
}


/*
 * The receiver's check (AdCP's order): both headers, a numeric timestamp
 * within 300 s of now, then the HMAC compared in constant time.
 */

ngx_int_t
ngx_http_adcp_sign_hmac_verify(ngx_str_t *secret, ngx_str_t *timestamp,
    ngx_str_t *signature, ngx_str_t *body, time_t now)
{
    u_char      md[32], expected[sizeof("sha256=") - 1 + 64];
    int64_t     ts;
    ngx_uint_t  i;

    if (timestamp == NULL || timestamp->len == 0 || timestamp->len > 15
        || signature == NULL || signature->len == 0)
    {
        return NGX_DECLINED;
    }

    ts = 0;

    for (i = 0; i < timestamp->len; i++) {
        if (timestamp->data[i] < '0' || timestamp->data[i] > '9') {
            return NGX_DECLINED;
        }

        ts = ts * 10 + (timestamp->data[i] - '0');
    }

    if (ts - now > NGX_HTTP_ADCP_SIGN_VALIDITY
        || now - ts > NGX_HTTP_ADCP_SIGN_VALIDITY)
    {
        return NGX_DECLINED;
    }

    if (signature->len != sizeof(expected)) {
        return NGX_DECLINED;
    }

    if (ngx_http_adcp_sign_hmac_raw(secret, timestamp, body, md) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_memcpy(expected, "sha256=", sizeof("sha256=") - 1);
    ngx_http_adcp_sign_hex(expected + sizeof("sha256=") - 1, md, 32);

    if (CRYPTO_memcmp(expected, signature->data, sizeof(expected)) != 0) {
        return NGX_DECLINED;
    }

    return NGX_OK;
}
