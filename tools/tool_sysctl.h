/* SPDX-License-Identifier: GPL-2.0 */
/*
 * For the one-file tools, the benchmarks and the selftests' helpers: an
 * integer sysctl read from /proc/sys, and the AF_NSTCP family number the
 * module registered (net.nstcp.family).
 */
#ifndef NSTCP_TOOL_SYSCTL_H
#define NSTCP_TOOL_SYSCTL_H

#include <stdio.h>
#include <linux/types.h>
#include <linux/nstcp.h>

/* The integer in the file at @path (a sysctl); @dflt if it cannot be read. */
static inline int tool_read_int(const char *path, int dflt)
{
	FILE *f = fopen(path, "re");
	int v = dflt;

	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = dflt;
		fclose(f);
	}
	return v;
}

/* The AF_NSTCP family number: the module's sysctl, else the default. */
static inline int tool_nstcp_family(void)
{
	return tool_read_int("/proc/sys/net/nstcp/family", AF_NSTCP);
}

#endif
