// SPDX-License-Identifier: GPL-2.0
/*
 * nstcp: output and the little things every object needs (JSON through
 * json-c, the network namespace, time, addresses).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/nstcp.h>

#include "nstcp.h"

/* Prints one JSON value (and frees it), as -p asks. */
void out_json(struct json_object *o)
{
	int flags = opt.pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED :
				 JSON_C_TO_STRING_PLAIN;

	puts(json_object_to_json_string_ext(o, flags | JSON_C_TO_STRING_NOSLASHESCAPE));
	fflush(stdout);
	json_object_put(o);
}

double out_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

void out_sleep(double seconds)
{
	struct timespec ts = {
		.tv_sec = (time_t)seconds,
		.tv_nsec = (long)((seconds - (time_t)seconds) * 1e9),
	};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/*
 * Enters network namespace name: a name from `ip netns` (/run/netns/NAME)
 * or a path.  0, or -1 with a message.
 */
int out_netns_enter(const char *name)
{
	char path[4096];
	int fd;

	if (strchr(name, '/'))
		snprintf(path, sizeof(path), "%s", name);
	else
		snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "%s: network namespace %s: %s\n", prog, name,
			strerror(errno));
		return -1;
	}
	if (setns(fd, CLONE_NEWNET) < 0) {
		fprintf(stderr, "%s: entering network namespace %s: %s\n", prog,
			name, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

const char *out_policy(uint32_t p)
{
	switch (p) {
	case NSTCP_POLICY_CPU:
		return "cpu";
	case NSTCP_POLICY_ROUNDROBIN:
		return "roundrobin";
	case NSTCP_POLICY_LEAST:
		return "least";
	}
	return "?";
}

/* [address]:port for IPv6, address:port for IPv4. */
void out_addr(char *buf, size_t len, int family, const void *addr, int port)
{
	char a[INET6_ADDRSTRLEN] = "?";

	inet_ntop(family, addr, a, sizeof(a));
	if (family == AF_INET6)
		snprintf(buf, len, "[%s]:%d", a, port);
	else
		snprintf(buf, len, "%s:%d", a, port);
}

void usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry \"%s help\".\n", prog);
	exit(EXIT_USAGE);
}

int out_watch(int (*read)(struct nl *nl, const void *arg, void *snap),
	      void (*report)(const void *cur, const void *prev, double dt),
	      const void *arg, void *a, void *b)
{
	void *cur = a, *prev = b, *t;
	double t0, t1;
	struct nl nl;
	int ret = 1;
	long n = 0;

	if (nl_open(&nl))
		return 1;
	if (read(&nl, arg, cur))
		goto out;
	t0 = out_now();
	if (!opt.watch) {
		report(cur, NULL, 0);
		ret = 0;
		goto out;
	}
	for (;;) {
		t = prev;
		prev = cur;
		cur = t;
		out_sleep(opt.watch);
		if (read(&nl, arg, cur))
			goto out;
		t1 = out_now();
		report(cur, prev, t1 - t0);
		t0 = t1;
		if (opt.count && ++n >= opt.count)
			break;
	}
	ret = 0;
out:
	nl_close(&nl);
	return ret;
}
