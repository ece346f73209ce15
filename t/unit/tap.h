
/*
 * A minimal TAP producer for the C unit tests run by prove.
 */


#ifndef _NGX_HTTP_ADCP_TAP_H_INCLUDED_
#define _NGX_HTTP_ADCP_TAP_H_INCLUDED_


#include <stdio.h>
#include <stdarg.h>
#include <string.h>


static int  tap_n;
static int  tap_failed;


static ngx_inline void
tap_ok(int cond, const char *fmt, ...)
{
    va_list  ap;

    tap_n++;

    if (!cond) {
        tap_failed++;
    }

    printf("%sok %d - ", cond ? "" : "not ", tap_n);

    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);

    printf("\n");
}


/* a check that cannot run here (TAP's skip directive) */

static ngx_inline void
tap_skip(const char *fmt, ...)
{
    va_list  ap;

    tap_n++;

    printf("ok %d # skip ", tap_n);

    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);

    printf("\n");
}


static ngx_inline void
tap_diag(const char *fmt, ...)
{
    va_list  ap;

    printf("# ");

    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);

    printf("\n");
}


static ngx_inline int
tap_done(void)
{
    printf("1..%d\n", tap_n);
    return tap_failed ? 1 : 0;
}


#endif /* _NGX_HTTP_ADCP_TAP_H_INCLUDED_ */
