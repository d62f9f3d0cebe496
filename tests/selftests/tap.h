/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Minimal TAP output for the AF_NSTCP selftests.  Each test program prints
 * "TAP version 13", a plan, one "ok"/"not ok" line a case, and exits 1 when
 * any case failed.
 */
#ifndef NSTCP_SELFTEST_TAP_H
#define NSTCP_SELFTEST_TAP_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_n, tap_failed;

static inline void tap_plan(int n)
{
	printf("TAP version 13\n1..%d\n", n);
	fflush(stdout);
}

/* Report one case; returns cond so callers can chain. */
static inline int tap_ok(int cond, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", cond ? "" : "not ", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	if (!cond)
		tap_failed++;
	return cond;
}

static inline void tap_skip(const char *reason, const char *fmt, ...)
{
	va_list ap;

	printf("ok %d - ", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(" # SKIP %s\n", reason);
	fflush(stdout);
}

/* Diagnostics go to stdout prefixed with '#', as TAP wants. */
static inline void tap_diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* Expect a call to fail with exactly this errno. */
#define TAP_ERRNO(call, want, ...) \
	({ errno = 0; long __r = (long)(call); int __e = errno; \
	   if (__r != -1 || __e != (want)) \
		tap_diag("%s returned %ld errno %d (%s), want errno %d", \
			 #call, __r, __e, strerror(__e), (want)); \
	   tap_ok(__r == -1 && __e == (want), __VA_ARGS__); })

static inline int tap_done(void)
{
	if (tap_n == 0)
		printf("1..0 # no cases ran\n");
	return tap_failed ? 1 : 0;
}

#endif
