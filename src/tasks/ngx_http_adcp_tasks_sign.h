
/*
 * ngx_http_adcp_module: webhook authenticity, AdCP's way.
 *
 * RFC 9421 HTTP Message Signatures in AdCP's webhook profile
 * (tag "adcp/webhook-signing/v1", label sig1, the five covered components,
 * Ed25519 or ECDSA P-256), the URL canonicalization it signs, the legacy
 * HMAC-SHA256 scheme, the signing keys (PEM, loaded at configuration time)
 * and the JWKS that publishes them, a verifier (the buyer's side: tests and
 * conformance vectors), and the checks of a push_notification_config's
 * authentication block.
 *
 * Files: ngx_http_adcp_tasks_sign.c (the signer, HMAC, the helpers the
 * others share), _sign_uri.c (the URL canonicalization), _sign_key.c (keys,
 * JWKS), _sign_pnc.c (push_notification_config's checks); the verifier,
 * ngx_http_adcp_tasks_verify.c, is linked by the tests and fuzz only.
 *
 * Pure computation: every output is allocated from the pool given, nothing
 * blocks (OpenSSL's random bytes and signatures are CPU only), nothing is
 * logged; the callers say what failed and where.
 */


#ifndef _NGX_HTTP_ADCP_TASKS_SIGN_H_INCLUDED_
#define _NGX_HTTP_ADCP_TASKS_SIGN_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include <yajl/yajl_tree.h>

#include <openssl/evp.h>


#define NGX_HTTP_ADCP_SIGN_ED25519      1
#define NGX_HTTP_ADCP_SIGN_ES256        2

#define NGX_HTTP_ADCP_SIGN_TAG          "adcp/webhook-signing/v1"
#define NGX_HTTP_ADCP_SIGN_LABEL        "sig1"

/* seconds a signature is valid (AdCP's maximum) */
#define NGX_HTTP_ADCP_SIGN_VALIDITY     300

/* the verifier's clock skew tolerance */
#define NGX_HTTP_ADCP_SIGN_SKEW         60

/* random bytes in a nonce (AdCP: 16 at least) */
#define NGX_HTTP_ADCP_SIGN_NONCE_BYTES  16

#define NGX_HTTP_ADCP_SIGN_KID_MAX      255

/* the covered components, as Signature-Input lists them */
#define NGX_HTTP_ADCP_SIGN_NCOMPONENTS  5
#define NGX_HTTP_ADCP_SIGN_COMPONENTS                                         \
    "(\"@method\" \"@target-uri\" \"@authority\" \"content-type\" "           \
    "\"content-digest\")"


/* a signing key: the private key and what the JWKS says of it */

typedef struct {
    EVP_PKEY                  *pkey;
    ngx_str_t                  kid;
    ngx_uint_t                 alg;      /* NGX_HTTP_ADCP_SIGN_ED25519 ... */
    ngx_str_t                  x;        /* public key, base64url */
    ngx_str_t                  y;        /* ES256: the y coordinate */
} ngx_http_adcp_sign_key_t;


/* a URL as RFC 9421 signs it (AdCP's canonicalization) */

typedef struct {
    ngx_str_t                  target_uri;      /* "@target-uri" */
    ngx_str_t                  authority;       /* "@authority", Host */
    ngx_str_t                  request_target;  /* path and query */
    ngx_str_t                  host;            /* no brackets, no port */
    in_port_t                  port;
    unsigned                   https:1;
} ngx_http_adcp_sign_uri_t;


/* what a webhook POST signs */

typedef struct {
    ngx_str_t                  method;
    ngx_str_t                  url;
    ngx_str_t                  content_type;
    ngx_str_t                  body;
    time_t                     created;
    ngx_str_t                  nonce;    /* base64url; empty: fresh random */
} ngx_http_adcp_sign_req_t;


/* the headers to send (values only), and the signature base signed */

typedef struct {
    ngx_http_adcp_sign_uri_t   uri;
    ngx_str_t                  content_digest;
    ngx_str_t                  signature_input;
    ngx_str_t                  signature;
    ngx_str_t                  base;
} ngx_http_adcp_sign_out_t;


/* the verifier's view of a published key (a JWK) */

typedef struct {
    ngx_str_t                  kid;
    EVP_PKEY                  *pkey;
    ngx_str_t                  alg;      /* JWK alg: "EdDSA", "ES256" */
    ngx_str_t                  adcp_use;
    unsigned                   use_sig:1;
    unsigned                   key_ops_verify:1;
} ngx_http_adcp_sign_jwk_t;


/* a received webhook: a header not received has a NULL data */

typedef struct {
    ngx_str_t                  method;
    ngx_str_t                  url;
    ngx_str_t                  content_type;
    ngx_str_t                  content_digest;
    ngx_str_t                  signature_input;
    ngx_str_t                  signature;
    ngx_str_t                  body;
} ngx_http_adcp_sign_received_t;


/* the verifier's keys and state (revocation, replay cache) */

typedef struct {
    ngx_http_adcp_sign_jwk_t  *keys;
    ngx_uint_t                 nkeys;
    ngx_str_t                 *revoked;
    ngx_uint_t                 nrevoked;
    time_t                     now;
    unsigned                   revocation_stale:1;

    /* NGX_DECLINED: the key's replay cache is full (optional) */
    ngx_int_t                (*at_cap)(void *data, ngx_str_t *kid);

    /* NGX_OK: remembered for ttl seconds; NGX_DECLINED: seen (optional) */
    ngx_int_t                (*nonce)(void *data, ngx_str_t *kid,
                                      ngx_str_t *nonce, time_t ttl);
    void                      *data;
} ngx_http_adcp_sign_verifier_t;


/* push_notification_config's authentication, token and operation_id */

#define NGX_HTTP_ADCP_SIGN_AUTH_NONE    0
#define NGX_HTTP_ADCP_SIGN_AUTH_BEARER  1
#define NGX_HTTP_ADCP_SIGN_AUTH_HMAC    2

typedef struct {
    ngx_uint_t                 scheme;   /* NGX_HTTP_ADCP_SIGN_AUTH_... */
    ngx_str_t                  credentials;
    ngx_str_t                  token;
    ngx_str_t                  operation_id;
} ngx_http_adcp_sign_pnc_t;


ngx_int_t ngx_http_adcp_sign_uri(ngx_pool_t *pool, ngx_str_t *url,
    ngx_http_adcp_sign_uri_t *u);

ngx_int_t ngx_http_adcp_sign_webhook(ngx_pool_t *pool,
    ngx_http_adcp_sign_key_t *key, ngx_http_adcp_sign_req_t *req,
    ngx_http_adcp_sign_out_t *out);

ngx_int_t ngx_http_adcp_sign_verify(ngx_pool_t *pool,
    ngx_http_adcp_sign_verifier_t *v, ngx_http_adcp_sign_received_t *r,
    const char **code);

ngx_int_t ngx_http_adcp_sign_hmac(ngx_pool_t *pool, ngx_str_t *secret,
    time_t ts, ngx_str_t *body, ngx_str_t *timestamp, ngx_str_t *signature);
ngx_int_t ngx_http_adcp_sign_hmac_verify(ngx_str_t *secret,
    ngx_str_t *timestamp, ngx_str_t *signature, ngx_str_t *body, time_t now);

char *ngx_http_adcp_sign_key_load(ngx_pool_t *pool, ngx_str_t *path,
    ngx_str_t *kid, ngx_http_adcp_sign_key_t *key);
ngx_int_t ngx_http_adcp_sign_key_set(ngx_pool_t *pool, EVP_PKEY *pkey,
    ngx_str_t *kid, ngx_http_adcp_sign_key_t *key, char **err);
EVP_PKEY *ngx_http_adcp_sign_public_key(ngx_uint_t alg, ngx_str_t *x,
    ngx_str_t *y);
ngx_int_t ngx_http_adcp_sign_kid_valid(ngx_str_t *kid);

ngx_int_t ngx_http_adcp_sign_jwks(ngx_pool_t *pool,
    ngx_http_adcp_sign_key_t *keys, ngx_uint_t n, ngx_str_t *out);

char *ngx_http_adcp_sign_pnc(yajl_val pnc, ngx_http_adcp_sign_pnc_t *out,
    char **field);

ngx_int_t ngx_http_adcp_sign_random(u_char *dst, size_t n);

size_t ngx_http_adcp_sign_b64url_len(size_t n);
u_char *ngx_http_adcp_sign_b64url(u_char *dst, u_char *src, size_t n);
ngx_int_t ngx_http_adcp_sign_b64url_decode(ngx_pool_t *pool, ngx_str_t *src,
    ngx_str_t *dst);



/* between the sign files (and the verifier) */

extern const u_char  ngx_http_adcp_sign_b64u[];
extern const u_char  ngx_http_adcp_sign_b64s[];
extern ngx_str_t     ngx_http_adcp_sign_components[];
extern char         *ngx_http_adcp_sign_params[];

size_t ngx_http_adcp_sign_b64_len(size_t n, ngx_uint_t pad);
u_char *ngx_http_adcp_sign_b64(u_char *dst, u_char *src, size_t n,
    const u_char *alphabet, ngx_uint_t pad);
ssize_t ngx_http_adcp_sign_b64_decode(u_char *dst, size_t size,
    u_char *src, size_t n, ngx_uint_t url);
u_char *ngx_http_adcp_sign_hex(u_char *dst, u_char *src, size_t n);
ngx_int_t ngx_http_adcp_sign_base(ngx_pool_t *pool, ngx_str_t *names,
    ngx_str_t *values, ngx_uint_t n, ngx_str_t *params, ngx_str_t *base);
ngx_int_t ngx_http_adcp_sign_sha256(ngx_str_t *data, u_char *md);
ngx_int_t ngx_http_adcp_sign_hmac_raw(ngx_str_t *secret, ngx_str_t *ts,
    ngx_str_t *body, u_char *md);


#endif /* _NGX_HTTP_ADCP_TASKS_SIGN_H_INCLUDED_ */
