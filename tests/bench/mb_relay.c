// SPDX-License-Identifier: GPL-2.0
/*
 * mb_relay: the distributor's Linux way for the listener-model benchmark
 * (models_run): one process, one AF_INET listener, one epoll loop that
 * accepts each connection, connects it over AF_UNIX to the back end with
 * the fewest relays and copies both ways until either side ends; then
 * both are closed.
 *
 *   mb_relay SHM VAR ADDR:PORT BACKEND_SOCKET...
 *
 * Counted in the shared page (models.h) under VAR on the CPU where the
 * relay accepted: local when that is the flow's receive CPU.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/un.h>

#include "models.h"

#define MAX_BE		16
#define MAX_RELAYS	4096

struct relay {
	int fd[2];	/* client, back end; -1: free */
	int be;
};

static struct relay rl[MAX_RELAYS];
static struct sockaddr_un be_addr[MAX_BE];
static int nbe, be_active[MAX_BE];

static void relay_end(struct relay *r)
{
	close(r->fd[0]);
	close(r->fd[1]);
	r->fd[0] = r->fd[1] = -1;
	be_active[r->be]--;
}

static int be_connect(int *be)
{
	int fd, i, b = 0;

	for (i = 1; i < nbe; i++)
		if (be_active[i] < be_active[b])
			b = i;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&be_addr[b], sizeof(be_addr[b]))) {
		close(fd);
		return -1;
	}
	*be = b;
	return fd;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct epoll_event ev, evs[64];
	struct mb_shm *shm;
	int lfd, ep, var, i, n, one = 1;

	if (argc < 5 || argc - 4 > MAX_BE) {
		fprintf(stderr, "usage: mb_relay SHM VAR ADDR:PORT BACKEND_SOCKET...\n");
		return 2;
	}
	shm = mb_map(argv[1]);
	var = atoi(argv[2]);
	if (!mb_addr(argv[3], &sa))
		bench_die("ADDR:PORT");
	for (nbe = 0; nbe < argc - 4; nbe++) {
		be_addr[nbe].sun_family = AF_UNIX;
		snprintf(be_addr[nbe].sun_path, sizeof(be_addr[nbe].sun_path),
			 "%s", argv[4 + nbe]);
	}
	for (i = 0; i < MAX_RELAYS; i++)
		rl[i].fd[0] = rl[i].fd[1] = -1;
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 1024))
		bench_die(argv[3]);
	ep = epoll_create1(EPOLL_CLOEXEC);
	ev.events = EPOLLIN;
	ev.data.u64 = UINT64_MAX;
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev))
		bench_die("epoll");
	for (;;) {
		n = epoll_wait(ep, evs, 64, -1);
		for (i = 0; i < n; i++) {
			uint64_t d = evs[i].data.u64;
			struct relay *r;
			char buf[4096];
			ssize_t len;
			int side;

			if (d == UINT64_MAX) {
				int fd, slot, cpu, rcpu = -1;
				socklen_t sl = sizeof(rcpu);

				fd = accept4(lfd, NULL, NULL,
					     SOCK_NONBLOCK | SOCK_CLOEXEC);
				if (fd < 0)
					continue;
				cpu = sched_getcpu();
				getsockopt(fd, SOL_SOCKET, SO_INCOMING_CPU, &rcpu, &sl);
				for (slot = 0; slot < MAX_RELAYS && rl[slot].fd[0] >= 0; slot++)
					;
				r = &rl[slot];
				if (slot == MAX_RELAYS ||
				    (r->fd[1] = be_connect(&r->be)) < 0) {
					close(fd);
					continue;
				}
				r->fd[0] = fd;
				be_active[r->be]++;
				if (cpu >= 0 && cpu < MB_MAXCPU) {
					atomic_fetch_add(&shm->cnt[var][cpu].conns, 1);
					if (rcpu == cpu)
						atomic_fetch_add(&shm->cnt[var][cpu].local, 1);
				}
				for (side = 0; side < 2; side++) {
					ev.events = EPOLLIN;
					ev.data.u64 = (uint64_t)slot << 1 | side;
					if (epoll_ctl(ep, EPOLL_CTL_ADD, r->fd[side], &ev))
						bench_die("epoll_ctl");
				}
				continue;
			}
			r = &rl[d >> 1];
			side = d & 1;
			if (r->fd[side] < 0)
				continue;	/* ended earlier in this batch */
			len = recv(r->fd[side], buf, sizeof(buf), MSG_DONTWAIT);
			if (len < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			/* Small requests and replies: a write that does not fit ends it. */
			if (len <= 0 ||
			    send(r->fd[!side], buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) != len)
				relay_end(r);
		}
	}
}
