/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The listener-model benchmark's shared parts (tests/bench/models_bench.c,
 * its servers mb_worker.c and mb_linux.c, set up by models_run): the
 * variants and their ports, and a small shared-memory page through which
 * the bench tells the servers when to stall and the servers count what
 * they served and where.
 *
 * Variant 2p is pair p's nstcpd model, 2p + 1 its Linux way.
 */
#ifndef NSTCP_MODELS_H
#define NSTCP_MODELS_H

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_util.h"

#define MB_PAIRS	5
#define MB_NVAR		(2 * MB_PAIRS)
#define MB_MAXCPU	64
#define MB_STALL_PERIOD_NS	200000000LL
#define MB_STALL_SPIN_NS	100000000LL
#define MB_KA_EXCHANGES	20

static const char *const mb_pair_name[MB_PAIRS] = {
	"standard", "monolithic", "distributor", "hybrid", "broker",
};

static const char *const mb_var_name[MB_NVAR] = {
	"nstcpd standard", "inetd fork/conn",
	"nstcpd monolithic", "inet reuseport x4",
	"nstcpd distributor", "inet epoll relay",
	"nstcpd hybrid", "inet SCM_RIGHTS",
	"nstcpd broker", "inet random server",
};

/*
 * The port clients connect to (the broker's for nstcpd broker); the broker
 * model's servers are on MB_PORT_BRK_SRV + i, the Linux way's random
 * choices on MB_PORT_RND_SRV + i.
 */
static const int mb_port[MB_NVAR] = {
	7101, 7102, 7201, 7202, 7301, 7302, 7401, 7402, 7501, 7520,
};

#define MB_PORT_BRK_SRV	7510
#define MB_PORT_RND_SRV	7520

struct mb_count {
	atomic_long conns;	/* connections served */
	atomic_long local;	/* served on their receive CPU */
};

struct mb_shm {
	atomic_llong t0;	/* the stall windows' origin, CLOCK_MONOTONIC */
	atomic_int stall_cpu;	/* -1: none */
	struct mb_count cnt[MB_NVAR][MB_MAXCPU];	/* by the serving CPU */
};

/* Maps the page at @path, creating it (all zero) if needed; exits on error. */
/* IPV4:PORT into @sa (AF_INET); false when it is not one. */
static inline bool mb_addr(const char *s, struct sockaddr_in *sa)
{
	char host[64], *colon;

	snprintf(host, sizeof(host), "%s", s);
	colon = strrchr(host, ':');
	if (!colon)
		return false;
	*colon = 0;
	sa->sin_family = AF_INET;
	sa->sin_port = htons(atoi(colon + 1));
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1;
}

static inline struct mb_shm *mb_map(const char *path)
{
	struct mb_shm *m;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

	if (fd < 0 || ftruncate(fd, sizeof(*m))) {
		perror(path);
		exit(1);
	}
	m = mmap(NULL, sizeof(*m), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	close(fd);
	return m;
}

/*
 * A server about to take up a connection: when it runs on the stalled CPU
 * inside the busy half of a stall period, it spins out that half (busy
 * 100 ms of every 200 ms).  True if it spun.
 */
static inline int mb_stall(struct mb_shm *m)
{
	int64_t t, end;

	if (atomic_load(&m->stall_cpu) != sched_getcpu())
		return 0;
	t = bench_now_ns() - atomic_load(&m->t0);
	if (t < 0 || t % MB_STALL_PERIOD_NS >= MB_STALL_SPIN_NS)
		return 0;
	end = bench_now_ns() - t % MB_STALL_PERIOD_NS + MB_STALL_SPIN_NS;
	while (bench_now_ns() < end)
		;
	return 1;
}

/*
 * Serves one connection of the benchmark's protocol: a byte in, a byte
 * out, until the client closes.  After the first request it counts the
 * connection for @var (when @var >= 0) on the CPU it runs on, local when
 * that is the flow's receive CPU (SO_INCOMING_CPU).  Closes @fd.
 */
static inline void mb_serve(struct mb_shm *m, int var, int fd)
{
	char c;
	bool first = true;

	bench_set_timeouts(fd);
	while (tool_recv_all(fd, &c, 1)) {
		if (first && var >= 0 && var < MB_NVAR) {
			int rcpu = -1, cpu = sched_getcpu();
			socklen_t len = sizeof(rcpu);

			if (cpu >= 0 && cpu < MB_MAXCPU) {
				atomic_fetch_add(&m->cnt[var][cpu].conns, 1);
				if (!getsockopt(fd, SOL_SOCKET, SO_INCOMING_CPU,
						&rcpu, &len) && rcpu == cpu)
					atomic_fetch_add(&m->cnt[var][cpu].local, 1);
			}
		}
		first = false;
		if (!tool_send_all(fd, "r", 1))
			break;
	}
	close(fd);
}

#endif
