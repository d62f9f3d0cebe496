// SPDX-License-Identifier: GPL-2.0
/*
 * mb_worker: the servers of the listener-model benchmark (models_run), on
 * both sides, each serving the benchmark's protocol (models.h, a byte in,
 * a byte out, until the client closes) and counting what it served and
 * where in the shared page SHM under variant VAR (-1: not counted):
 *
 *   mb_worker SHM VAR conn
 *	one connection, descriptor 3 when LISTEN_FDS says so (nstcpd's
 *	standard model), else 0 (inetd); then exits
 *   mb_worker SHM VAR accept [-c CPU] [-i ADDR:PORT [-P]] [-R]
 *	a loop of blocking accept() on descriptor 3 (socket activation:
 *	nstcpd's monolithic copies, distributor back ends, broker servers)
 *	or on its own AF_INET listener on ADDR:PORT (-i; -P with
 *	SO_REUSEPORT and SO_INCOMING_CPU = CPU); -c pins it on CPU; -R
 *	reports its load to nstcpd's broker every 100 ms
 *   mb_worker SHM VAR hybrid
 *	an nstcpd hybrid worker (libnstcp's nstcp_worker_next())
 *   mb_worker SHM VAR inetd ADDR:PORT
 *	inetd: an AF_INET listener, a fork and exec of "mb_worker SHM VAR
 *	conn" per connection, the connection its descriptor 0
 *   mb_worker SHM VAR master ADDR:PORT N
 *	an AF_INET listener whose connections go with SCM_RIGHTS to N
 *	workers pinned on CPUs 0..N-1: to the one on the connection's
 *	receive CPU (SO_INCOMING_CPU) when it has none, else to the least
 *	loaded
 *
 * Every server checks the stall (models.h) before it takes up a
 * connection.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <string.h>
#include <sys/wait.h>

#include "models.h"
#include "nstcp.h"

static struct mb_shm *shm;
static int var;
static atomic_int busy;

static int inet_listener(const char *addr_port, int cpu, bool reuseport)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd, one = 1;

	if (!mb_addr(addr_port, &sa))
		bench_die("ADDR:PORT");
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		bench_die("socket");
	if (reuseport &&
	    (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
	     setsockopt(fd, SOL_SOCKET, SO_INCOMING_CPU, &cpu, sizeof(cpu))))
		bench_die("SO_REUSEPORT, SO_INCOMING_CPU");
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 1024))
		bench_die(addr_port);
	return fd;
}

static void *reporter(void *arg)
{
	(void)arg;
	for (;;) {
		/*
		 * Load 0 (waiting in accept) or 1 (serving or stalled) of
		 * 64: the broker adds one per answer until the next report,
		 * so the capacity must exceed a period's answers to one
		 * server, or it reports every server full.
		 */
		if (nstcp_report_load(NULL, NULL, atomic_load(&busy), 64))
			perror("mb_worker: nstcp_report_load");
		usleep(100000);
	}
	return NULL;
}

static int accept_loop(int argc, char **argv)
{
	const char *inet = NULL;
	bool reuseport = false, report = false;
	int cpu = -1, lfd = 3, opt, fd;
	pthread_t th;

	while ((opt = getopt(argc, argv, "c:i:PR")) != -1) {
		switch (opt) {
		case 'c': cpu = atoi(optarg); break;
		case 'i': inet = optarg; break;
		case 'P': reuseport = true; break;
		case 'R': report = true; break;
		default: return 2;
		}
	}
	if (cpu >= 0 && (errno = bench_pin(cpu)))
		bench_die("pin");
	if (inet)
		lfd = inet_listener(inet, cpu, reuseport);
	else if (nstcp_listen_fds(1) != 1)
		bench_die("LISTEN_FDS");
	if (report && pthread_create(&th, NULL, reporter, NULL))
		bench_die("pthread_create");
	for (;;) {
		atomic_store(&busy, 1);
		mb_stall(shm);
		atomic_store(&busy, 0);
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			bench_die("accept");
		}
		atomic_store(&busy, 1);
		mb_serve(shm, var, fd);
	}
}

static int inetd(char **argv, const char *self, const char *shm_path)
{
	char vbuf[16];
	int lfd = inet_listener(argv[0], -1, false), fd;

	snprintf(vbuf, sizeof(vbuf), "%d", var);
	signal(SIGCHLD, SIG_IGN);	/* children reaped by the kernel */
	for (;;) {
		fd = accept4(lfd, NULL, NULL, 0);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			bench_die("accept");
		}
		switch (fork()) {
		case -1:
			close(fd);
			continue;
		case 0:
			if (dup2(fd, 0) < 0)
				_exit(126);
			execl(self, self, shm_path, vbuf, "conn", (char *)NULL);
			_exit(127);
		}
		close(fd);
	}
}

/* The Linux hybrid's workers: a descriptor at a time over @chan. */
static __attribute__((noreturn)) void master_worker(int chan, atomic_int *load)
{
	char c;
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = u.buf,
			      .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *cm;
	int fd;

	for (;;) {
		mb_stall(shm);
		msg.msg_controllen = sizeof(u.buf);
		if (recvmsg(chan, &msg, MSG_CMSG_CLOEXEC) <= 0)
			exit(0);
		cm = CMSG_FIRSTHDR(&msg);
		if (!cm || cm->cmsg_type != SCM_RIGHTS)
			continue;
		memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
		mb_serve(shm, var, fd);
		atomic_fetch_sub(load, 1);
	}
}

static int master(char **argv)
{
	int lfd = inet_listener(argv[0], -1, false), n = atoi(argv[1]);
	int chan[MB_MAXCPU], sv[2], i, fd, w;
	atomic_int *load;

	if (n < 1 || n > MB_MAXCPU)
		bench_die("N");
	load = mmap(NULL, MB_MAXCPU * sizeof(*load), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (load == MAP_FAILED)
		bench_die("mmap");
	for (i = 0; i < n; i++) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
			bench_die("socketpair");
		switch (fork()) {
		case -1:
			bench_die("fork");
		case 0:
			close(lfd);
			close(sv[0]);
			if ((errno = bench_pin(i)))
				bench_die("pin");
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			master_worker(sv[1], &load[i]);
		}
		close(sv[1]);
		chan[i] = sv[0];
	}
	for (;;) {
		int rcpu = -1, k;
		socklen_t len = sizeof(rcpu);
		char c = 'f';
		struct iovec iov = { .iov_base = &c, .iov_len = 1 };
		union {
			char buf[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} u = {};
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
				      .msg_control = u.buf,
				      .msg_controllen = sizeof(u.buf) };
		struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			bench_die("accept");
		}
		getsockopt(fd, SOL_SOCKET, SO_INCOMING_CPU, &rcpu, &len);
		w = rcpu >= 0 && rcpu < n ? rcpu : 0;
		if (atomic_load(&load[w]))
			for (k = 1; k < n; k++)
				if (atomic_load(&load[(rcpu + k) % n]) <
				    atomic_load(&load[w]))
					w = (rcpu + k) % n;
		atomic_fetch_add(&load[w], 1);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(fd));
		if (sendmsg(chan[w], &msg, MSG_NOSIGNAL) != 1)
			atomic_fetch_sub(&load[w], 1);
		close(fd);
	}
}

int main(int argc, char **argv)
{
	int fd;

	if (argc < 4) {
		fprintf(stderr, "usage: mb_worker SHM VAR conn|accept|hybrid|inetd|master [ARGS]\n");
		return 2;
	}
	shm = mb_map(argv[1]);
	var = atoi(argv[2]);
	if (!strcmp(argv[3], "conn")) {
		fd = nstcp_listen_fds(1) == 1 ? 3 : 0;
		mb_stall(shm);
		mb_serve(shm, var, fd);
		return 0;
	}
	if (!strcmp(argv[3], "accept"))
		return accept_loop(argc - 3, argv + 3);
	if (!strcmp(argv[3], "hybrid")) {
		for (;;) {
			mb_stall(shm);
			fd = nstcp_worker_next(NULL);
			if (fd < 0)
				return errno == ENOTCONN ? 0 : 1;
			mb_serve(shm, var, fd);
			nstcp_worker_done();
		}
	}
	if (!strcmp(argv[3], "inetd") && argc == 5)
		return inetd(argv + 4, "/proc/self/exe", argv[1]);
	if (!strcmp(argv[3], "master") && argc == 6)
		return master(argv + 4);
	fprintf(stderr, "mb_worker: bad mode or arguments\n");
	return 2;
}
