
/*
 * ngx_http_adcp_module: webhook signing, the signer's side.  RFC 9421 in
 * AdCP's webhook profile (label sig1, tag "adcp/webhook-signing/v1", the
 * five covered components, Ed25519 or ECDSA P-256), legacy HMAC-SHA256,
 * and the base64, signature base and digest helpers the other sign files
 * share (ngx_http_adcp_tasks_sign.h).
 *
 * Wire forms, as AdCP's conformance vectors have them: Content-Digest is
 * RFC 9530's (standard base64, padded, in an sf-binary); Signature is the
 * webhook-v1 profile's unpadded base64url between colons; nonce unpadded
 * base64url; ECDSA signatures are r || s (RFC 9421 3.3.2), not DER.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/err.h>
#include <openssl/ecdsa.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/core_names.h>
#include <openssl/params.h>

#include "ngx_http_adcp_tasks_sign.h"


#if (OPENSSL_VERSION_NUMBER < 0x30000000L)
#error "ngx_http_adcp_module: webhook signing needs OpenSSL 3.0 or later"
#endif


static u_char *ngx_http_adcp_sign_int(u_char *p, int64_t n);
static ngx_int_t ngx_http_adcp_sign_raw(EVP_PKEY *pkey, ngx_uint_t alg,
    ngx_str_t *base, u_char *sig);


const u_char  ngx_http_adcp_sign_b64u[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

const u_char  ngx_http_adcp_sign_b64s[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";


/* the covered components, in the order signed */

ngx_str_t  ngx_http_adcp_sign_components[] = {
    ngx_string("@method"),
    ngx_string("@target-uri"),
    ngx_string("@authority"),
    ngx_string("content-type"),
    ngx_string("content-digest")
};


/* the signature parameters, every one required */

char  *ngx_http_adcp_sign_params[] = {
    "created", "expires", "nonce", "keyid", "alg", "tag", NULL
};


/* base64 */

size_t
ngx_http_adcp_sign_b64_len(size_t n, ngx_uint_t pad)
{
    return pad ? (n + 2) / 3 * 4 : (n * 4 + 2) / 3;
}


u_char *
ngx_http_adcp_sign_b64(u_char *dst, u_char *src, size_t n,
    const u_char *a, ngx_uint_t pad)
{
    while (n > 2) {
        *dst++ = a[src[0] >> 2];
        *dst++ = a[((src[0] & 0x03) << 4) | (src[1] >> 4)];
        *dst++ = a[((src[1] & 0x0f) << 2) | (src[2] >> 6)];
        *dst++ = a[src[2] & 0x3f];

        src += 3;
        n -= 3;
    }

    if (n == 1) {
        *dst++ = a[src[0] >> 2];
        *dst++ = a[(src[0] & 0x03) << 4];

        if (pad) {
            *dst++ = '=';
            *dst++ = '=';
        }

    } else if (n == 2) {
        *dst++ = a[src[0] >> 2];
        *dst++ = a[((src[0] & 0x03) << 4) | (src[1] >> 4)];
        *dst++ = a[(src[1] & 0x0f) << 2];

        if (pad) {
            *dst++ = '=';
        }
    }

    return dst;
}


/*
 * Strict decoding: url, the unpadded base64url alphabet only; else the
 * standard alphabet, padded to a multiple of 4.  The decoded length, or -1.
 */

ssize_t
ngx_http_adcp_sign_b64_decode(u_char *dst, size_t size, u_char *src,
    size_t n, ngx_uint_t url)
{
    u_char      c;
    size_t      i, len;
    uint32_t    acc;
    ngx_uint_t  bits, v;

    if (!url) {
        if (n % 4) {
            return -1;
        }

        for (i = 0; i < 2 && n && src[n - 1] == '='; i++) {
            n--;
        }
    }

    if (n % 4 == 1 || (n * 3) / 4 > size) {
        return -1;
    }

    acc = 0;
    bits = 0;
    len = 0;

    for (i = 0; i < n; i++) {
        c = src[i];

        if (c >= 'A' && c <= 'Z') {
            v = c - 'A';

        } else if (c >= 'a' && c <= 'z') {
            v = c - 'a' + 26;

        } else if (c >= '0' && c <= '9') {
            v = c - '0' + 52;

        } else if (c == (url ? '-' : '+')) {
            v = 62;

        } else if (c == (url ? '_' : '/')) {
            v = 63;

        } else {
            return -1;
        }

        acc = (acc << 6) | v;
        bits += 6;

        if (bits >= 8) {
            bits -= 8;
            dst[len++] = (u_char) (acc >> bits);
        }
    }

    return len;
}


size_t
ngx_http_adcp_sign_b64url_len(size_t n)
{
    return ngx_http_adcp_sign_b64_len(n, 0);
}


u_char *
ngx_http_adcp_sign_b64url(u_char *dst, u_char *src, size_t n)
{
    return ngx_http_adcp_sign_b64(dst, src, n, ngx_http_adcp_sign_b64u, 0);
}


ngx_int_t
ngx_http_adcp_sign_b64url_decode(ngx_pool_t *pool, ngx_str_t *src,
    ngx_str_t *dst)
{
    ssize_t  n;

    dst->data = ngx_pnalloc(pool, src->len * 3 / 4 + 1);
    if (dst->data == NULL) {
        return NGX_ERROR;
    }

    n = ngx_http_adcp_sign_b64_decode(dst->data, src->len * 3 / 4 + 1,
                                      src->data, src->len, 1);
    if (n < 0) {
        return NGX_DECLINED;
    }

    dst->len = n;

    return NGX_OK;
}


static u_char *
ngx_http_adcp_sign_int(u_char *p, int64_t n)
{
    u_char    buf[24], *b;
    uint64_t  u;

    if (n < 0) {
        *p++ = '-';
        u = (uint64_t) -(n + 1) + 1;

    } else {
        u = n;
    }

    b = buf + sizeof(buf);

    do {
        *--b = (u_char) ('0' + u % 10);
        u /= 10;
    } while (u);

    return ngx_cpymem(p, b, buf + sizeof(buf) - b);
}


u_char *
ngx_http_adcp_sign_hex(u_char *dst, u_char *src, size_t n)
{
    static const u_char  hex[] = "0123456789abcdef";

    while (n--) {
        *dst++ = hex[*src >> 4];
        *dst++ = hex[*src++ & 0x0f];
    }

    return dst;
}


/* the RFC 9421 signature base */

ngx_int_t
ngx_http_adcp_sign_base(ngx_pool_t *pool, ngx_str_t *names,
    ngx_str_t *values, ngx_uint_t n, ngx_str_t *params, ngx_str_t *base)
{
    u_char      *p;
    size_t       len;
    ngx_uint_t   i;

    len = sizeof("\"@signature-params\": ") - 1 + params->len;

    for (i = 0; i < n; i++) {
        len += sizeof("\"\": \n") - 1 + names[i].len + values[i].len;
    }

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    base->data = p;

    for (i = 0; i < n; i++) {
        *p++ = '"';
        p = ngx_cpymem(p, names[i].data, names[i].len);
        p = ngx_cpymem(p, "\": ", 3);
        p = ngx_cpymem(p, values[i].data, values[i].len);
        *p++ = '\n';
    }

    p = ngx_cpymem(p, "\"@signature-params\": ",
                   sizeof("\"@signature-params\": ") - 1);
    p = ngx_cpymem(p, params->data, params->len);

    base->len = p - base->data;

    return NGX_OK;
}


ngx_int_t
ngx_http_adcp_sign_sha256(ngx_str_t *data, u_char *md)
{
    unsigned int  len;

    if (EVP_Digest(data->data, data->len, md, &len, EVP_sha256(), NULL)
        != 1)
    {
        ERR_clear_error();
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* 64 bytes: Ed25519's signature, or ECDSA's r || s */

static ngx_int_t
ngx_http_adcp_sign_raw(EVP_PKEY *pkey, ngx_uint_t alg, ngx_str_t *base,
    u_char *sig)
{
    size_t           len;
    u_char           der[128];
    ngx_int_t        rc;
    ECDSA_SIG       *es;
    EVP_MD_CTX      *ctx;
    const BIGNUM    *r, *s;
    const u_char    *p;

    ctx = EVP_MD_CTX_new();
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    rc = NGX_ERROR;
    len = sizeof(der);

    if (EVP_DigestSignInit(ctx, NULL,
                           alg == NGX_HTTP_ADCP_SIGN_ES256 ? EVP_sha256()
                                                           : NULL,
                           NULL, pkey)
        != 1
        || EVP_DigestSign(ctx, der, &len, base->data, base->len) != 1)
    {
        goto done;
    }

    if (alg == NGX_HTTP_ADCP_SIGN_ED25519) {
        if (len == 64) {
            ngx_memcpy(sig, der, 64);
            rc = NGX_OK;
        }

        goto done;
    }

    p = der;
    es = d2i_ECDSA_SIG(NULL, &p, len);
    if (es == NULL) {
        goto done;
    }

    ECDSA_SIG_get0(es, &r, &s);

    if (BN_bn2binpad(r, sig, 32) == 32 && BN_bn2binpad(s, sig + 32, 32) == 32)
    {
        rc = NGX_OK;
    }

    ECDSA_SIG_free(es);

done:

    EVP_MD_CTX_free(ctx);
    ERR_clear_error();

    return rc;
}


/*
 * Signs a webhook POST: out gets the canonical URL (the request line's
 * target and Host come from it) and the values of Content-Digest,
 * Signature-Input and Signature.  A fresh nonce unless req->nonce is set
 * (the conformance vectors); expires is created + 300.
 * NGX_DECLINED: the url, method or content type cannot be signed.
 */

ngx_int_t
ngx_http_adcp_sign_webhook(ngx_pool_t *pool, ngx_http_adcp_sign_key_t *key,
    ngx_http_adcp_sign_req_t *req, ngx_http_adcp_sign_out_t *out)
{
    u_char      *p, md[32], rnd[NGX_HTTP_ADCP_SIGN_NONCE_BYTES], sig[64];
    size_t       len, i;
    ngx_int_t    rc;
    ngx_str_t    nonce, params, values[NGX_HTTP_ADCP_SIGN_NCOMPONENTS];
    const char  *alg;

    rc = ngx_http_adcp_sign_uri(pool, &req->url, &out->uri);
    if (rc != NGX_OK) {
        return rc;
    }

    if (req->method.len == 0 || req->content_type.len == 0) {
        return NGX_DECLINED;
    }

    for (i = 0; i < req->method.len; i++) {
        if (req->method.data[i] < 'A' || req->method.data[i] > 'Z') {
            return NGX_DECLINED;
        }
    }

    for (i = 0; i < req->content_type.len; i++) {
        if (req->content_type.data[i] < 0x20
            || req->content_type.data[i] >= 0x7f)
        {
            return NGX_DECLINED;
        }
    }

    if (req->content_type.data[0] == ' '
        || req->content_type.data[req->content_type.len - 1] == ' ')
    {
        return NGX_DECLINED;
    }

    /* Content-Digest: sha-256=:<base64>: */

    if (ngx_http_adcp_sign_sha256(&req->body, md) != NGX_OK) {
        return NGX_ERROR;
    }

    len = sizeof("sha-256=::") - 1 + ngx_http_adcp_sign_b64_len(32, 1);

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    out->content_digest.data = p;
    p = ngx_cpymem(p, "sha-256=:", sizeof("sha-256=:") - 1);
    p = ngx_http_adcp_sign_b64(p, md, 32, ngx_http_adcp_sign_b64s, 1);
    *p++ = ':';
    out->content_digest.len = p - out->content_digest.data;

    /* the nonce: 16 random bytes, base64url */

    nonce = req->nonce;

    if (nonce.len == 0) {
        if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
            ERR_clear_error();
            return NGX_ERROR;
        }

        nonce.data = ngx_pnalloc(pool,
                                 ngx_http_adcp_sign_b64_len(sizeof(rnd), 0));
        if (nonce.data == NULL) {
            return NGX_ERROR;
        }

        nonce.len = ngx_http_adcp_sign_b64(nonce.data, rnd, sizeof(rnd),
                                           ngx_http_adcp_sign_b64u, 0)
                    - nonce.data;

    } else {
        for (i = 0; i < nonce.len; i++) {
            if (ngx_strlchr((u_char *) ngx_http_adcp_sign_b64u,
                            (u_char *) ngx_http_adcp_sign_b64u + 64,
                            nonce.data[i])
                == NULL)
            {
                return NGX_DECLINED;
            }
        }
    }

    alg = (key->alg == NGX_HTTP_ADCP_SIGN_ES256) ? "ecdsa-p256-sha256"
                                                 : "ed25519";

    /* the signature parameters, serialized once: Signature-Input's value */

    len = sizeof("sig1=" NGX_HTTP_ADCP_SIGN_COMPONENTS
                 ";created=;expires=;nonce=\"\";keyid=\"\";alg=\"\""
                 ";tag=\"" NGX_HTTP_ADCP_SIGN_TAG "\"") - 1
          + 2 * NGX_INT64_LEN + nonce.len + key->kid.len
          + sizeof("ecdsa-p256-sha256") - 1;

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    out->signature_input.data = p;
    p = ngx_cpymem(p, "sig1=", 5);
    params.data = p;

    p = ngx_cpymem(p, NGX_HTTP_ADCP_SIGN_COMPONENTS ";created=",
                   sizeof(NGX_HTTP_ADCP_SIGN_COMPONENTS ";created=") - 1);
    p = ngx_http_adcp_sign_int(p, req->created);
    p = ngx_cpymem(p, ";expires=", sizeof(";expires=") - 1);
    p = ngx_http_adcp_sign_int(p, req->created + NGX_HTTP_ADCP_SIGN_VALIDITY);
    p = ngx_cpymem(p, ";nonce=\"", sizeof(";nonce=\"") - 1);
    p = ngx_cpymem(p, nonce.data, nonce.len);
    p = ngx_cpymem(p, "\";keyid=\"", sizeof("\";keyid=\"") - 1);
    p = ngx_cpymem(p, key->kid.data, key->kid.len);
    p = ngx_cpymem(p, "\";alg=\"", sizeof("\";alg=\"") - 1);
    p = ngx_cpymem(p, alg, ngx_strlen(alg));
    p = ngx_cpymem(p, "\";tag=\"" NGX_HTTP_ADCP_SIGN_TAG "\"",
                   sizeof("\";tag=\"" NGX_HTTP_ADCP_SIGN_TAG "\"") - 1);

    params.len = p - params.data;
    out->signature_input.len = p - out->signature_input.data;

    values[0] = req->method;
    values[1] = out->uri.target_uri;
    values[2] = out->uri.authority;
    values[3] = req->content_type;
    values[4] = out->content_digest;

    if (ngx_http_adcp_sign_base(pool, ngx_http_adcp_sign_components, values,
                                NGX_HTTP_ADCP_SIGN_NCOMPONENTS, &params,
                                &out->base)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_adcp_sign_raw(key->pkey, key->alg, &out->base, sig)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* Signature: sig1=:<base64url>: */

    len = sizeof("sig1=::") - 1 + ngx_http_adcp_sign_b64_len(64, 0);

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    out->signature.data = p;
    p = ngx_cpymem(p, "sig1=:", 6);
    p = ngx_http_adcp_sign_b64(p, sig, 64, ngx_http_adcp_sign_b64u, 0);
    *p++ = ':';
    out->signature.len = p - out->signature.data;

    return NGX_OK;
}


/*
 * Legacy HMAC-SHA256: X-ADCP-Timestamp: <ts> and X-ADCP-Signature:
 * sha256=<hex of HMAC-SHA256(secret, "<ts>.<body>")>, the values returned.
 */

ngx_int_t
ngx_http_adcp_sign_hmac(ngx_pool_t *pool, ngx_str_t *secret, time_t ts,
    ngx_str_t *body, ngx_str_t *timestamp, ngx_str_t *signature)
{
    u_char  *p, md[32];

    p = ngx_pnalloc(pool, NGX_INT64_LEN + sizeof("sha256=") - 1 + 64);
    if (p == NULL) {
        return NGX_ERROR;
    }

    timestamp->data = p;
    timestamp->len = ngx_http_adcp_sign_int(p, ts) - p;

    if (ngx_http_adcp_sign_hmac_raw(secret, timestamp, body, md) != NGX_OK) {
        return NGX_ERROR;
    }

    p += timestamp->len;
    signature->data = p;
    p = ngx_cpymem(p, "sha256=", sizeof("sha256=") - 1);
    p = ngx_http_adcp_sign_hex(p, md, 32);
    signature->len = p - signature->data;

    return NGX_OK;
}


ngx_int_t
ngx_http_adcp_sign_hmac_raw(ngx_str_t *secret, ngx_str_t *ts,
    ngx_str_t *body, u_char *md)
{
    size_t        len;
    EVP_MAC      *mac;
    ngx_int_t     rc;
    OSSL_PARAM    params[2];
    EVP_MAC_CTX  *ctx;

    mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac == NULL) {
        ERR_clear_error();
        return NGX_ERROR;
    }

    ctx = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);

    if (ctx == NULL) {
        ERR_clear_error();
        return NGX_ERROR;
    }

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *) "SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();

    rc = NGX_ERROR;

    if (EVP_MAC_init(ctx, secret->data, secret->len, params) == 1
        && EVP_MAC_update(ctx, ts->data, ts->len) == 1
        && EVP_MAC_update(ctx, (u_char *) ".", 1) == 1
        && EVP_MAC_update(ctx, body->data, body->len) == 1
        && EVP_MAC_final(ctx, md, &len, 32) == 1
        && len == 32)
    {
        rc = NGX_OK;
    }

    EVP_MAC_CTX_free(ctx);
    ERR_clear_error();

    return rc;
}


/* n random bytes as 2n lower-case hex digits (a webhook's delivery key) */

ngx_int_t
ngx_http_adcp_sign_random(u_char *dst, size_t n)
{
    u_char  rnd[32];

    if (n > sizeof(rnd) || RAND_bytes(rnd, (int) n) != 1) {
        ERR_clear_error();
        return NGX_ERROR;
    }

    (void) ngx_http_adcp_sign_hex(dst, rnd, n);

    return NGX_OK;
}
