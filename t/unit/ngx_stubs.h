
#ifndef _NGX_HTTP_ADCP_STUBS_H_INCLUDED_
#define _NGX_HTTP_ADCP_STUBS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


ngx_pool_t *test_pool_create(void);
void test_pool_destroy(ngx_pool_t *pool);

extern size_t      test_pool_bytes;
extern ngx_uint_t  test_pools_destroyed;

ngx_uint_t test_pool_live(void);


#endif /* _NGX_HTTP_ADCP_STUBS_H_INCLUDED_ */
