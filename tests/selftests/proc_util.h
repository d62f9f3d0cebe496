/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The selftests' helpers for the module's state: its counters and
 * listening ports come from its generic netlink family through nl_util.h
 * (proc_read_stats, proc_read_listen: never parsed from text); the
 * sysctls are written through /proc/sys; proc_read_header reads the
 * header of a /proc/net/nstcp* file, for tests of that ABI itself.
 *
 * Everything is read in the calling thread's network namespace.
 * Link with -lmnl.
 */
#ifndef NSTCP_SELFTEST_PROC_UTIL_H
#define NSTCP_SELFTEST_PROC_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nl_util.h"

#define PROC_NSTCP		"/proc/thread-self/net/nstcp"
#define PROC_NSTCP_LISTEN	"/proc/thread-self/net/nstcp_listen"
#define PROC_LINE		1024

/*
 * Writes val to /proc/sys/NAME (NAME as in "net/nstcp/accept_steal") of
 * the calling thread's namespace; 0 or the errno of the open or write.
 */
static inline int proc_sys_write(const char *name, const char *val)
{
	char path[160];
	int fd, err = 0;

	snprintf(path, sizeof(path), "/proc/sys/%s", name);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return errno;
	if (write(fd, val, strlen(val)) < 0)
		err = errno;
	close(fd);
	return err;
}

/* The same for net.nstcp.NAME. */
static inline int proc_nstcp_sysctl_write(const char *name, const char *val)
{
	char path[128];

	snprintf(path, sizeof(path), "net/nstcp/%s", name);
	return proc_sys_write(path, val);
}

/*
 * The header line of path (PROC_NSTCP, PROC_NSTCP_LISTEN) without its
 * newline, for a test of the ABI itself; 0, or -1 if unreadable.
 */
static inline int proc_read_header(const char *path, char *buf, size_t len)
{
	FILE *fp = fopen(path, "re");
	int ok;

	if (!fp)
		return -1;
	ok = fgets(buf, len, fp) != NULL;
	fclose(fp);
	if (!ok)
		return -1;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

/* ---- the CPU instances ---- */

/* The instances' counters into st; st->rows, -1 if unreadable. */
static inline int proc_read_stats(struct proc_stats *st)
{
	return nl_read_stats(st);
}

/* The row of CPU cpu, NULL if there is none. */
static inline const struct proc_cpu *proc_cpu_row(const struct proc_stats *st,
						  int cpu)
{
	for (int i = 0; i < st->rows; i++)
		if (st->row[i].cpu == cpu)
			return &st->row[i];
	return NULL;
}

/* Counter i of CPU cpu; -1 if there is no row for it. */
static inline long proc_cpu_stat(const struct proc_stats *st, int cpu, int i)
{
	const struct proc_cpu *r = proc_cpu_row(st, cpu);

	return r ? (long)r->v[i] : -1;
}

/* ---- the listening ports: one row per port and CPU ---- */

/*
 * The rows of port port (port < 0: every port) into rows[0..max-1]; how
 * many, -1 if unreadable or more than max.
 */
static inline int proc_read_listen(int port, struct proc_listen_row *rows,
				   int max)
{
	return nl_read_listen(port, rows, max);
}

#endif
