
/*
 * ngx_http_adcp_module: webhook signing keys.  A PEM private key (Ed25519
 * or P-256) loaded at configuration time, its kid checked, its public
 * coordinates, a public key from a JWK's, and the JWKS that publishes
 * them (AdCP's request-signing JWK).
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/err.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/params.h>

#include "ngx_http_adcp_json.h"
#include "ngx_http_adcp_tasks_sign.h"


static void ngx_http_adcp_sign_pkey_cleanup(void *data);
static int ngx_http_adcp_sign_no_password(char *buf, int size, int rwflag,
    void *data);


/* kid: what AdCP's identifiers allow, quoted nowhere then */

ngx_int_t
ngx_http_adcp_sign_kid_valid(ngx_str_t *kid)
{
    u_char      c;
    ngx_uint_t  i;

    if (kid->len == 0 || kid->len > NGX_HTTP_ADCP_SIGN_KID_MAX) {
        return 0;
    }

    for (i = 0; i < kid->len; i++) {
        c = kid->data[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':'
              || c == '-'))
        {
            return 0;
        }
    }

    return 1;
}


/*
 * A private key from a PEM file (configuration time: the read blocks).
 * The key is freed with the pool.  NULL: loaded; else why not.
 */

char *
ngx_http_adcp_sign_key_load(ngx_pool_t *pool, ngx_str_t *path,
    ngx_str_t *kid, ngx_http_adcp_sign_key_t *key)
{
    BIO                 *bio;
    char                *err;
    u_char              *name;
    EVP_PKEY            *pkey;
    ngx_pool_cleanup_t  *cln;

    name = ngx_pnalloc(pool, path->len + 1);
    if (name == NULL) {
        return "out of memory";
    }

    ngx_memcpy(name, path->data, path->len);
    name[path->len] = '\0';

    bio = BIO_new_file((char *) name, "r");
    if (bio == NULL) {
        ERR_clear_error();
        return "cannot be opened";
    }

    /* no password callback: an encrypted key fails, never prompts */

    pkey = PEM_read_bio_PrivateKey(bio, NULL, ngx_http_adcp_sign_no_password,
                                   NULL);
    BIO_free(bio);
    ERR_clear_error();

    if (pkey == NULL) {
        return "is not an unencrypted PEM private key";
    }

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        EVP_PKEY_free(pkey);
        return "out of memory";
    }

    cln->handler = ngx_http_adcp_sign_pkey_cleanup;
    cln->data = pkey;

    if (ngx_http_adcp_sign_key_set(pool, pkey, kid, key, &err) != NGX_OK) {
        return err;
    }

    return NULL;
}


static void
ngx_http_adcp_sign_pkey_cleanup(void *data)
{
    EVP_PKEY_free(data);
}


static int
ngx_http_adcp_sign_no_password(char *buf, int size, int rwflag, void *data)
{
    return -1;
}


/* an Ed25519 or P-256 key (private or public): its JWK coordinates */

ngx_int_t
ngx_http_adcp_sign_key_set(ngx_pool_t *pool, EVP_PKEY *pkey, ngx_str_t *kid,
    ngx_http_adcp_sign_key_t *key, char **err)
{
    u_char   raw[32], *p;
    char     group[32];
    size_t   len;
    BIGNUM  *x, *y;

    if (!ngx_http_adcp_sign_kid_valid(kid)) {
        *err = "kid is not 1 to 255 of [A-Za-z0-9_.:-]";
        return NGX_DECLINED;
    }

    ngx_memzero(key, sizeof(ngx_http_adcp_sign_key_t));

    key->pkey = pkey;
    key->kid = *kid;

    p = ngx_pnalloc(pool, 2 * ngx_http_adcp_sign_b64_len(32, 0));
    if (p == NULL) {
        *err = "out of memory";
        return NGX_ERROR;
    }

    if (EVP_PKEY_base_id(pkey) == EVP_PKEY_ED25519) {
        len = sizeof(raw);

        if (EVP_PKEY_get_raw_public_key(pkey, raw, &len) != 1 || len != 32) {
            ERR_clear_error();
            *err = "has no Ed25519 public key";
            return NGX_DECLINED;
        }

        key->alg = NGX_HTTP_ADCP_SIGN_ED25519;
        key->x.data = p;
        key->x.len = ngx_http_adcp_sign_b64url(p, raw, 32) - p;

        return NGX_OK;
    }

    if (EVP_PKEY_base_id(pkey) != EVP_PKEY_EC
        || EVP_PKEY_get_group_name(pkey, group, sizeof(group), &len) != 1
        || (ngx_strcmp(group, "prime256v1") != 0
            && ngx_strcmp(group, "P-256") != 0))
    {
        ERR_clear_error();
        *err = "is neither an Ed25519 nor an EC P-256 key";
        return NGX_DECLINED;
    }

    x = NULL;
    y = NULL;

    if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x) != 1
        || EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y) != 1
        || BN_bn2binpad(x, raw, 32) != 32)
    {
        BN_free(x);
        BN_free(y);
        ERR_clear_error();
        *err = "has no P-256 public key";
        return NGX_DECLINED;
    }

    key->alg = NGX_HTTP_ADCP_SIGN_ES256;
    key->x.data = p;
    key->x.len = ngx_http_adcp_sign_b64url(p, raw, 32) - p;
    p += key->x.len;

    len = BN_bn2binpad(y, raw, 32);

    BN_free(x);
    BN_free(y);

    if (len != 32) {
        *err = "has no P-256 public key";
        return NGX_DECLINED;
    }

    key->y.data = p;
    key->y.len = ngx_http_adcp_sign_b64url(p, raw, 32) - p;

    return NGX_OK;
}


/* a public key from a JWK's x (and y), base64url; the caller frees it */

EVP_PKEY *
ngx_http_adcp_sign_public_key(ngx_uint_t alg, ngx_str_t *x, ngx_str_t *y)
{
    u_char         pub[65];
    EVP_PKEY      *pkey;
    OSSL_PARAM     params[3];
    EVP_PKEY_CTX  *ctx;

    if (ngx_http_adcp_sign_b64_decode(pub + 1, 32, x->data, x->len, 1)
        != 32)
    {
        return NULL;
    }

    if (alg == NGX_HTTP_ADCP_SIGN_ED25519) {
        pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub + 1,
                                           32);
        ERR_clear_error();
        return pkey;
    }

    if (y == NULL
        || ngx_http_adcp_sign_b64_decode(pub + 33, 32, y->data, y->len, 1)
           != 32)
    {
        return NULL;
    }

    pub[0] = 0x04;

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                 (char *) "P-256", 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
                                                  pub, sizeof(pub));
    params[2] = OSSL_PARAM_construct_end();

    pkey = NULL;

    ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);

    if (ctx == NULL
        || EVP_PKEY_fromdata_init(ctx) != 1
        || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
    {
        pkey = NULL;
    }

    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();

    return pkey;
}


/* {"keys":[...]}: each key's public part, as AdCP's request-signing JWK */

ngx_int_t
ngx_http_adcp_sign_jwks(ngx_pool_t *pool, ngx_http_adcp_sign_key_t *keys,
    ngx_uint_t n, ngx_str_t *out)
{
    u_char      *p;
    size_t       len;
    ngx_uint_t   i;

#define NGX_HTTP_ADCP_JWK_TAIL                                                \
    "\",\"use\":\"sig\",\"key_ops\":[\"verify\"],"                            \
    "\"adcp_use\":\"request-signing\"}"

    len = sizeof("{\"keys\":[]}") - 1;

    for (i = 0; i < n; i++) {
        len += sizeof(",{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"\""
                      ",\"y\":\"\",\"kid\":\"\",\"alg\":\"EdDSA"
                      NGX_HTTP_ADCP_JWK_TAIL)
               + keys[i].x.len + keys[i].y.len + keys[i].kid.len;
    }

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    out->data = p;
    p = ngx_cpymem(p, "{\"keys\":[", sizeof("{\"keys\":[") - 1);

    for (i = 0; i < n; i++) {
        if (i) {
            *p++ = ',';
        }

        if (keys[i].alg == NGX_HTTP_ADCP_SIGN_ED25519) {
            p = ngx_cpymem(p, "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"",
                           sizeof("{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
                                  "\"x\":\"") - 1);
            p = ngx_cpymem(p, keys[i].x.data, keys[i].x.len);

        } else {
            p = ngx_cpymem(p, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"",
                           sizeof("{\"kty\":\"EC\",\"crv\":\"P-256\","
                                  "\"x\":\"") - 1);
            p = ngx_cpymem(p, keys[i].x.data, keys[i].x.len);
            p = ngx_cpymem(p, "\",\"y\":\"", sizeof("\",\"y\":\"") - 1);
            p = ngx_cpymem(p, keys[i].y.data, keys[i].y.len);
        }

        p = ngx_cpymem(p, "\",\"kid\":\"", sizeof("\",\"kid\":\"") - 1);
        p = ngx_cpymem(p, keys[i].kid.data, keys[i].kid.len);
        p = ngx_cpymem(p, "\",\"alg\":\"", sizeof("\",\"alg\":\"") - 1);

        if (keys[i].alg == NGX_HTTP_ADCP_SIGN_ED25519) {
            p = ngx_cpymem(p, "EdDSA", 5);

        } else {
            p = ngx_cpymem(p, "ES256", 5);
        }

        p = ngx_cpymem(p, NGX_HTTP_ADCP_JWK_TAIL,
                       sizeof(NGX_HTTP_ADCP_JWK_TAIL) - 1);
    }

    *p++ = ']';
    *p++ = '}';

    out->len = p - out->data;

#undef NGX_HTTP_ADCP_JWK_TAIL

    return NGX_OK;
}
