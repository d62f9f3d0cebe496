/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Small helpers the benchmarks share: the end on a failed call, the
 * monotonic clock, I/O timeouts, the CPUs we may use and pinning, a list
 * of names as a mask, variants measured in turn, latency samples and
 * nearest-rank percentiles; the
 * whole-buffer send and receive (tool_io.h) and the sysctl reads
 * (tool_sysctl.h) are the tools'.
 */
#ifndef NSTCP_BENCH_UTIL_H
#define NSTCP_BENCH_UTIL_H

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "../../tools/tool_io.h"
#include "../../tools/tool_sysctl.h"

#define BENCH_IO_TIMEOUT_S	5

/* A call failed: "PROGRAM: WHAT: the errno's text" on stderr, exit 1. */
static inline __attribute__((noreturn)) void bench_die(const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what,
		strerror(errno));
	exit(1);
}

static inline int64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static inline void bench_sleep_until(int64_t t)
{
	struct timespec ts = { .tv_sec = t / 1000000000LL,
			       .tv_nsec = t % 1000000000LL };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	       EINTR)
		;
}

/* The calling thread on @cpu; 0, or an errno. */
static inline int bench_pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* The CPUs of @set in ascending order into cpus[0..max-1]; how many. */
static inline int bench_cpu_list(const cpu_set_t *set, int *cpus, int max)
{
	int i, n = 0;

	for (i = 0; i < CPU_SETSIZE && n < max; i++)
		if (CPU_ISSET(i, set))
			cpus[n++] = i;
	return n;
}

static inline void bench_set_timeouts(int fd)
{
	struct timeval tv = { .tv_sec = BENCH_IO_TIMEOUT_S };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/*
 * The mask of the comma-separated names in @arg: bit i for names[i] of
 * @n (or alias[i], when @alias is given).  An unknown name ends the
 * program with a message and exit status 2.
 */
static inline unsigned int bench_parse_list(const char *arg,
					    const char *const *names, int n,
					    const char *const *alias)
{
	char *copy = strdup(arg), *tok, *save;
	unsigned int mask = 0;
	int i;

	if (!copy)
		bench_die("strdup");
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < n; i++)
			if (!strcmp(tok, names[i]) ||
			    (alias && !strcmp(tok, alias[i])))
				break;
		if (i == n) {
			fprintf(stderr, "%s: unknown name '%s'\n",
				program_invocation_short_name, tok);
			exit(2);
		}
		mask |= 1u << i;
	}
	free(copy);
	return mask;
}

/*
 * Variants measured in turn: slice i (of slice_ns, from t0) belongs to
 * vlist's variant (i % nv + i / nv + rot) % nv, so each cycle starts one
 * variant later; the first guard_ns of each slice is not measured.
 */
#define BENCH_MAX_VARIANTS	16

struct bench_slices {
	int nv, vlist[BENCH_MAX_VARIANTS];
	int rot;
	int nslices;
	int64_t t0, slice_ns, guard_ns;
};

static inline int bench_slice_variant(const struct bench_slices *s, int64_t i)
{
	return s->vlist[(i % s->nv + i / s->nv + s->rot) % s->nv];
}

/* The variant the clients work on at @t; -1 after the last slice. */
static inline int bench_target_variant(const struct bench_slices *s, int64_t t)
{
	int64_t i = t < s->t0 ? 0 : (t - s->t0) / s->slice_ns;

	return i >= s->nslices ? -1 : bench_slice_variant(s, i);
}

/* The variant whose measured time @t is in, or -1. */
static inline int bench_measured_variant(const struct bench_slices *s,
					 int64_t t)
{
	int64_t i;

	if (t < s->t0)
		return -1;
	i = (t - s->t0) / s->slice_ns;
	if (i >= s->nslices || (t - s->t0) % s->slice_ns < s->guard_ns)
		return -1;
	return bench_slice_variant(s, i);
}

/*
 * Appends the sample @us to the array *lat of *n samples, grown (doubled,
 * from 4096) when its *cap is reached; the program ends if it cannot be.
 */
static inline void bench_lat_add(uint32_t **lat, size_t *n, size_t *cap,
				 uint32_t us)
{
	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 4096;
		*lat = realloc(*lat, *cap * sizeof(**lat));
		if (!*lat)
			bench_die("realloc");
	}
	(*lat)[(*n)++] = us;
}

static inline int bench_cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile @q of sorted @v (µs), in ms; NAN if empty. */
static inline double bench_pct_ms(const uint32_t *v, size_t n, double q)
{
	size_t k;

	if (!n)
		return NAN;
	k = (size_t)ceil(q / 100.0 * n);
	if (k < 1)
		k = 1;
	return v[k - 1] / 1000.0;
}

#endif
