
/*
 * ngx_http_adcp_balancer_module: what its two files share (nothing else
 * includes it): a platform's peers, a request's tries, a request waiting
 * for a host name.
 */


#ifndef _NGX_HTTP_ADCP_BALANCER_PRIVATE_H_INCLUDED_
#define _NGX_HTTP_ADCP_BALANCER_PRIVATE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_adcp.h"


#define NGX_HTTP_ADCP_PEER_ADDR       0   /* addresses: IP, or resolved */
#define NGX_HTTP_ADCP_PEER_UPSTREAM   1   /* an upstream{} block */
#define NGX_HTTP_ADCP_PEER_NAME       2   /* a host name, to resolve */
#define NGX_HTTP_ADCP_PEER_BAD        3   /* unusable: logged when built */

#define NGX_HTTP_ADCP_PEER_FAIL_TIMEOUT  10    /* s */
#define NGX_HTTP_ADCP_PEER_MAX_ADDRS     (8 * sizeof(uintptr_t))


/* an upstream a platform names; in the platform's pool */

typedef struct {
    ngx_str_t                     *name;    /* the descriptor's string */
    ngx_uint_t                     type;    /* NGX_HTTP_ADCP_PEER_* */
    ngx_http_upstream_srv_conf_t  *uscf;    /* PEER_UPSTREAM */
    ngx_addr_t                    *addrs;   /* PEER_ADDR, PEER_NAME once */
    ngx_uint_t                     naddrs;  /* resolved */
    ngx_uint_t                     next;    /* round robin over addrs */
    time_t                        *failed;  /* per address, when it last
                                               failed; several addrs */
    ngx_str_t                      host;    /* PEER_NAME */
    in_port_t                      port;    /* PEER_NAME */
} ngx_http_adcp_peer_t;


/* a platform's peers: its upstream's, and one per route */

typedef struct {
    ngx_http_adcp_peer_t           upstream;
    ngx_http_adcp_peer_t          *routes;  /* parallel to pf->routes */
} ngx_http_adcp_peers_t;


typedef struct {
    ngx_array_t                   *balancers;  /* upstream{}s with
                                                  adcp_balancer, or NULL */
} ngx_http_adcp_balancer_main_conf_t;


/* a request's tries over a host name's addresses; in its pool */

typedef struct {
    ngx_http_adcp_peer_t          *peer;
    ngx_str_t                     *tenant;
    uintptr_t                      tried;   /* a bit per address */
    ngx_uint_t                     current;
} ngx_http_adcp_tries_t;


/* a request waiting for a host name; in the request's pool */

typedef struct {
    ngx_http_request_t            *request;
    ngx_http_adcp_platform_t      *platform;
    ngx_http_adcp_peer_t          *peer;
    ngx_resolver_ctx_t            *rctx;    /* NULL once done */
    unsigned                       done:1;
    unsigned                       failed:1;
} ngx_http_adcp_resolve_t;


ngx_int_t ngx_http_adcp_balancer_resolve(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx, ngx_http_adcp_peer_t *peer);
ngx_int_t ngx_http_adcp_balancer_unavailable(ngx_http_request_t *r,
    ngx_http_adcp_ctx_t *ctx);


#endif /* _NGX_HTTP_ADCP_BALANCER_PRIVATE_H_INCLUDED_ */
