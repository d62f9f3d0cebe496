// SPDX-License-Identifier: GPL-2.0
/*
 * handoff_bench: a dispatcher on CPU 0 accepts connections and hands each
 * to one of 3 workers pinned on CPUs 1-3, in turn; each connection then
 * makes 20 request/reply exchanges with its worker.  Variants:
 *
 *   a   AF_INET, the descriptor passed with SCM_RIGHTS, RFS off
 *   b   AF_INET, SCM_RIGHTS, RFS on
 *   c   AF_NSTCP give/take (RFS on)
 *   d   AF_NSTCP split accept (RFS on)
 *   e   AF_NSTCP inboxes: NSTCP_ACCEPT_TO onto the worker's inbox, which
 *       accept()s it (RFS on)
 *   f   AF_NSTCP split accept given to the worker on the flow's CPU (the
 *       CPU split accept returns), RPS spreading flows over the workers'
 *       CPUs 1-3 only, as binding a NIC's queues to them would (RFS on):
 *       not in turn, but no first request processed on a CPU the
 *       connection then leaves
 *
 * Printed per variant: hand-off latency p50/p99 (from the dispatcher's
 * accept() call, or split accept's, with a connection queued, to the
 * worker holding the connection; it includes the time the token or
 * descriptor waits for a worker busy with another connection),
 * exchanges/s, the share of worker recv calls whose flow was processed on
 * the worker's own CPU (SO_INCOMING_CPU, read once the request is there),
 * and what the hand-off itself costs, without that wait, measured alike
 * for every variant (medians):
 *
 *   disp  the dispatcher, from its accept() (a connection queued) to the
 *         message sent and its descriptor closed: accept, send, close (a,
 *         b); accept, give, close, send (c: closed before the token goes,
 *         the taker need not leave a husk to a giver still holding it);
 *         the split accept and the send (d); NSTCP_ACCEPT_TO (e)
 *   give  the same from after the accept (d: as disp, one call does both)
 *   take  the worker, its channel already readable (polled first), from
 *         the receive of the message to the connection on a descriptor of
 *         its own: recvmsg() with SCM_RIGHTS (a, b), or recv() of the
 *         token and NSTCP_TAKE_FD through a socket kept for it (c, d),
 *         or accept() on its inbox (e, polled first)
 *   cost  disp + take, and its ratio to b's
 *
 * Then the same steps once more without the wait, the other processes and
 * the wake-ups (the figures above carry a guest's scheduling noise, tens of
 * per cent): one process on CPU 1, over loopback, a connection at a time,
 * the dispatcher's steps then the worker's (q, medians of QN).
 *
 * Runs in the server's namespace, clients (processes) in the namespace
 * -C, over a veth with RPS (handoff_run).
 *
 *   handoff_bench -a ADDR -C NETNS -D SRVDEV [-S RPS_SOCK_FLOW_ENTRIES]
 *                 [-d SECS] [-t CLIENTS] [-V VARIANTS]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <linux/types.h>
#include <linux/nstcp.h>

#include "bench_rows.h"

#define NW	3
#define NX	20
#define MAXLAT	200000
#define PORT	7420

static const char *addr = "198.18.0.1", *cli_ns, *srv_dev;
/* net.core.rps_sock_flow_entries exists in the initial namespace only. */
static const char *flow_entries = "/proc/sys/net/core/rps_sock_flow_entries";
static int secs = 6, nclients = 4;
static volatile sig_atomic_t stop;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void pin(int cpu)
{
	cpu_set_t s;

	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	sched_setaffinity(0, sizeof(s), &s);
}

static void put_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);

	if (fd < 0 || pwrite(fd, val, strlen(val), 0) < 0)
		fprintf(stderr, "handoff_bench: %s: %s\n", path, strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* The settings the variants change, as they were, put back at the end. */
static struct saved {
	char path[128], val[4096];
	int ok;
} saved[3];
static pid_t main_pid;
/* The running variant's processes, killed if the main process is stopped. */
static pid_t kids[NW + 1 + 64];
static volatile sig_atomic_t nkids;

static void kid(pid_t pid)
{
	if (pid > 0 && nkids < (int)(sizeof(kids) / sizeof(kids[0])))
		kids[nkids++] = pid;
}

static void save_file(struct saved *sv, const char *path)
{
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : pread(fd, sv->val, sizeof(sv->val) - 1, 0);

	snprintf(sv->path, sizeof(sv->path), "%s", path);
	/* A value that fills the buffer may be cut: not put back. */
	sv->ok = n > 0 && n < (ssize_t)sizeof(sv->val) - 1;
	if (sv->ok)
		sv->val[n] = '\0';
	if (fd >= 0)
		close(fd);
}

/* The path of the server device's receive queue's setting @name. */
static const char *queue_file(char p[128], const char *name)
{
	snprintf(p, 128, "/sys/class/net/%s/queues/rx-0/%s", srv_dev, name);
	return p;
}

static void save_settings(void)
{
	char p[128];

	save_file(&saved[0], flow_entries);
	save_file(&saved[1], queue_file(p, "rps_flow_cnt"));
	save_file(&saved[2], queue_file(p, "rps_cpus"));
}

static void restore_settings(void)
{
	for (size_t i = 0; i < sizeof(saved) / sizeof(saved[0]); i++)
		if (saved[i].ok)
			put_file(saved[i].path, saved[i].val);
}

/* The bench ended early (an error, SIGINT, SIGTERM): settings put back. */
static void die(void)
{
	restore_settings();
	exit(1);
}

static void on_stop_main(int sig)
{
	/* The children have handlers of their own or none that matter. */
	if (getpid() == main_pid) {
		for (int i = 0; i < nkids; i++)
			kill(kids[i], SIGKILL);
		restore_settings();
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static void rfs(int on)
{
	char p[128];

	put_file(flow_entries, on ? "4096" : "0");
	put_file(queue_file(p, "rps_flow_cnt"), on ? "4096" : "0");
}

/* RPS over the workers' CPUs 1-NW (@workers) or over every CPU. */
static void rps(int workers)
{
	char p[128], m[32];
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	snprintf(m, sizeof(m), "%lx",
		 workers ? ((1ul << NW) - 1) << 1 : (1ul << n) - 1);
	put_file(queue_file(p, "rps_cpus"), m);
}

struct msg {
	uint64_t token;
	uint64_t t0;
};

struct wstats {
	long calls, local, n, ncost;
	uint32_t lat_ns[MAXLAT / NW];
	uint32_t cost_ns[MAXLAT / NW];	/* message in to descriptor ready */
};

/* The dispatcher's side of each hand-off: accept() to message sent. */
struct dstats {
	long n;
	uint32_t cost_ns[MAXLAT];
	uint32_t give_ns[MAXLAT];	/* the same from after the accept */
};

/* e: each worker's inbox, and when each connection queued on it came. */
#define RING	1024

struct eshared {
	uint64_t inbox[NW];
	uint64_t t0[NW][RING];
};

static struct dstats *dsh;	/* shared with the dispatcher process */
static struct eshared *esh;	/* shared with the workers and dispatcher */

/* e: an inbox for the calling worker, its id published; -1 if not. */
static int make_inbox(uint64_t *id)
{
	struct nstcp_inbox_info info;
	socklen_t len = sizeof(info);
	int fd = socket(AF_NSTCP, SOCK_STREAM, 0), backlog = 256;

	if (fd < 0 ||
	    setsockopt(fd, SOL_NSTCP, NSTCP_INBOX, &backlog, sizeof(backlog)) ||
	    getsockopt(fd, SOL_NSTCP, NSTCP_INBOX, &info, &len)) {
		perror("handoff_bench: inbox");
		return -1;
	}
	*id = info.nii_id;
	return fd;
}

/*
 * e: the next connection queued on inbox ibx (readable first: the clock
 * starts at the accept), -1 if none, -2 when ch says stop.
 */
static int inbox_next(int ibx, int ch, uint64_t *t_in)
{
	struct pollfd p[2] = { { .fd = ibx, .events = POLLIN },
			       { .fd = ch, .events = POLLIN } };

	if (poll(p, 2, -1) < 1 || !(p[0].revents & POLLIN))
		return -2;
	*t_in = now_ns();
	return accept(ibx, NULL, NULL);
}

/* Serve one connection's exchanges; count its recv calls and local ones. */
static void serve(int fd, int cpu, struct wstats *ws)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	socklen_t len;
	int in, i;
	char c;

	for (i = 0; i < NX; i++) {
		if (poll(&p, 1, 5000) != 1)
			break;
		len = sizeof(in);
		if (!getsockopt(fd, SOL_SOCKET, SO_INCOMING_CPU, &in, &len)) {
			ws->calls++;
			ws->local += in == cpu;
		}
		if (recv(fd, &c, 1, 0) != 1 || send(fd, &c, 1, MSG_NOSIGNAL) != 1)
			break;
	}
	close(fd);
}

/* The token's connection on a new descriptor, through via; -1 if not. */
static int take_fd(int via, uint64_t token)
{
	struct nstcp_take_fd tf = { .ntf_token = token };
	socklen_t len = sizeof(tf);

	if (getsockopt(via, SOL_NSTCP, NSTCP_TAKE_FD, &tf, &len))
		return -1;
	return tf.ntf_fd;
}

static int worker(char v, int cpu, int ch, int out)
{
	static struct wstats ws;
	char cbuf[CMSG_SPACE(sizeof(int))];
	int fd, via = -1, scm = v == 'a' || v == 'b', w = cpu - 1;
	unsigned long k = 0;
	struct msg m;

	pin(cpu);
	if (v == 'e') {
		uint64_t id;

		via = make_inbox(&id);
		if (via < 0)
			return 1;
		__atomic_store_n(&esh->inbox[w], id, __ATOMIC_RELEASE);
	} else if (!scm) {
		/* The takes go through it: made once, as a listener is. */
		via = socket(AF_NSTCP, SOCK_STREAM, 0);
		if (via < 0) {
			perror("handoff_bench: worker socket");
			return 1;
		}
	}
	for (;;) {
		struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = cbuf,
				     .msg_controllen = sizeof(cbuf) };
		struct pollfd p = { .fd = ch, .events = POLLIN };
		struct cmsghdr *cm;
		uint64_t t_in;

		if (v == 'e') {
			fd = inbox_next(via, ch, &t_in);
			if (fd == -2)
				break;
			if (fd >= 0)
				m.t0 = esh->t0[w][k++ % RING];
			goto got;
		}
		/* Readable first: the clock starts at the receive. */
		if (poll(&p, 1, -1) != 1)
			break;
		t_in = now_ns();
		fd = -1;
		if (scm) {
			if (recvmsg(ch, &mh, 0) != sizeof(m))
				break;
			cm = CMSG_FIRSTHDR(&mh);
			if (cm && cm->cmsg_type == SCM_RIGHTS)
				memcpy(&fd, CMSG_DATA(cm), sizeof(int));
		} else {
			if (recv(ch, &m, sizeof(m), 0) != sizeof(m))
				break;
			fd = take_fd(via, m.token);
		}
got:
		if (fd < 0)
			continue;
		if (ws.n < (long)(sizeof(ws.lat_ns) / sizeof(ws.lat_ns[0]))) {
			uint64_t t = now_ns();

			ws.lat_ns[ws.n++] = t - m.t0;
			ws.cost_ns[ws.ncost++] = t - t_in;
		}
		serve(fd, cpu, &ws);
	}
	if (via >= 0)
		close(via);
	return write(out, &ws, sizeof(ws)) == sizeof(ws) ? 0 : 1;
}

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

/* Makes @mh carry @fd (SCM_RIGHTS) in @cbuf, CMSG_SPACE(sizeof(int)) long. */
static void put_fd(struct msghdr *mh, char *cbuf, size_t len, int fd)
{
	struct cmsghdr *cm;

	mh->msg_control = cbuf;
	mh->msg_controllen = len;
	cm = CMSG_FIRSTHDR(mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
}

static int dispatcher(char v, int ch[NW], pid_t wpid[NW])
{
	int dom = v == 'a' || v == 'b' ? AF_INET : AF_NSTCP, l, one = 1, rr = 0;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(PORT) };
	struct timeval tv = { .tv_usec = 200000 };
	char cbuf[CMSG_SPACE(sizeof(int))];

	pin(0);
	signal(SIGTERM, on_term);
	inet_pton(AF_INET, addr, &a.sin_addr);
	l = socket(dom, SOCK_STREAM, 0);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(l, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 256)) {
		perror("handoff_bench: listen");
		return 1;
	}
	unsigned long seq[NW] = { 0 };
	uint64_t ibid[NW] = { 0 };

	for (int i = 0; v == 'e' && i < NW; i++) {
		for (int t = 0; t < 2000 && !ibid[i]; t++) {
			ibid[i] = __atomic_load_n(&esh->inbox[i], __ATOMIC_ACQUIRE);
			if (!ibid[i])
				usleep(1000);
		}
		if (!ibid[i]) {
			fprintf(stderr, "handoff_bench: worker %d has no inbox\n", i);
			return 1;
		}
	}
	while (!stop) {
		struct msg m = { 0 };
		struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		int w = rr++ % NW, fd = -1;
		struct pollfd p = { .fd = l, .events = POLLIN };
		uint64_t t_acc, t_end;

		/* Not the wait for a connection: from its accept on. */
		if (poll(&p, 1, 200) != 1) {
			rr--;
			continue;
		}
		m.t0 = t_acc = now_ns();
		if (v == 'e') {
			struct nstcp_accept_to at = { .nto_inbox = ibid[w] };
			socklen_t len = sizeof(at);

			esh->t0[w][seq[w] % RING] = m.t0;
			if (getsockopt(l, SOL_NSTCP, NSTCP_ACCEPT_TO, &at, &len)) {
				rr--;
				continue;
			}
			seq[w]++;
			t_end = now_ns();
			if (dsh->n < MAXLAT) {
				dsh->give_ns[dsh->n] = t_end - t_acc;
				dsh->cost_ns[dsh->n++] = t_end - m.t0;
			}
			continue;
		}
		if (v == 'd' || v == 'f') {
			struct nstcp_accept_token at = { 0 };
			socklen_t len = sizeof(at);

			/* f: any worker (one uid); the flow's CPU's takes it. */
			at.nat_give.ng_flags = v == 'd' ? NSTCP_GIVE_PID : NSTCP_GIVE_UID;
			at.nat_give.ng_id = v == 'd' ? (uint32_t)wpid[w] : geteuid();
			if (getsockopt(l, SOL_NSTCP, NSTCP_ACCEPT_TOKEN, &at, &len)) {
				rr--;
				continue;
			}
			if (v == 'f' && at.nat_cpu >= 1 && at.nat_cpu <= NW) {
				rr--;
				w = at.nat_cpu - 1;
			}
			m.token = at.nat_give.ng_token;
		} else {
			fd = accept(l, NULL, NULL);
			if (fd < 0) {
				rr--;
				continue;
			}
			t_acc = now_ns();
			if (v == 'c') {
				struct nstcp_give g = { .ng_flags = NSTCP_GIVE_PID,
							.ng_id = wpid[w] };
				socklen_t len = sizeof(g);

				if (getsockopt(fd, SOL_NSTCP, NSTCP_GIVE, &g, &len)) {
					close(fd);
					continue;
				}
				m.token = g.ng_token;
				close(fd);	/* before the token goes */
				fd = -1;
			} else {
				put_fd(&mh, cbuf, sizeof(cbuf), fd);
			}
		}
		if (sendmsg(ch[w], &mh, 0) != sizeof(m))
			break;
		if (fd >= 0)
			close(fd);	/* passed */
		t_end = now_ns();
		if (dsh->n < MAXLAT) {
			dsh->give_ns[dsh->n] = t_end - t_acc;
			dsh->cost_ns[dsh->n++] = t_end - m.t0;
		}
	}
	close(l);
	return 0;
}

/* A client: connections of NX exchanges until the deadline. */
static int client(int out, uint64_t end)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(PORT) };
	struct timeval tv = { .tv_sec = 5 };
	long ex = 0;
	int fd, i, ns;
	char c = 'q';

	ns = open(cli_ns, O_RDONLY);
	if (ns < 0 || setns(ns, CLONE_NEWNET))
		return 1;
	close(ns);
	inet_pton(AF_INET, addr, &a.sin_addr);
	while (now_ns() < end) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
			close(fd);
			usleep(1000);
			continue;
		}
		for (i = 0; i < NX; i++) {
			if (send(fd, &c, 1, MSG_NOSIGNAL) != 1 || recv(fd, &c, 1, 0) != 1)
				break;
			ex++;
		}
		close(fd);
	}
	return write(out, &ex, sizeof(ex)) == sizeof(ex) ? 0 : 1;
}

static int cmp32(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;

	return a < b ? -1 : a > b;
}

/* The dispatcher's steps on a connection queued on l, into channel ch. */
static uint64_t q_inbox;	/* e: the quiet run's inbox */

static int q_dispatch(char v, int l, int ch)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct msg m = { 0 };
	struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	socklen_t len;
	int fd = -1;

	if (v == 'e') {
		struct nstcp_accept_to at = { .nto_inbox = q_inbox };

		len = sizeof(at);
		return getsockopt(l, SOL_NSTCP, NSTCP_ACCEPT_TO, &at, &len);
	}
	if (v == 'd') {
		struct nstcp_accept_token at = { 0 };

		len = sizeof(at);
		at.nat_give.ng_flags = NSTCP_GIVE_PID;
		at.nat_give.ng_id = getpid();
		if (getsockopt(l, SOL_NSTCP, NSTCP_ACCEPT_TOKEN, &at, &len))
			return -1;
		m.token = at.nat_give.ng_token;
		return send(ch, &m, sizeof(m), 0) == sizeof(m) ? 0 : -1;
	}
	fd = accept(l, NULL, NULL);
	if (fd < 0)
		return -1;
	if (v == 'b') {
		put_fd(&mh, cbuf, sizeof(cbuf), fd);
		if (sendmsg(ch, &mh, 0) != sizeof(m))
			return -1;
		return close(fd);
	} else {
		struct nstcp_give g = { .ng_flags = NSTCP_GIVE_PID,
					.ng_id = getpid() };

		len = sizeof(g);
		if (getsockopt(fd, SOL_NSTCP, NSTCP_GIVE, &g, &len))
			return -1;
		m.token = g.ng_token;
		close(fd);
		if (send(ch, &m, sizeof(m), 0) != sizeof(m))
			return -1;
	}
	return 0;
}

/* The worker's: the message, then the connection on a descriptor. */
static int q_take(char v, int ch, int via)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct msg m;
	struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	int fd = -1;

	if (v == 'e')
		return accept(via, NULL, NULL);
	if (v != 'b') {
		if (recv(ch, &m, sizeof(m), 0) != sizeof(m))
			return -1;
		return take_fd(via, m.token);
	}
	if (recvmsg(ch, &mh, 0) != sizeof(m))
		return -1;
	cm = CMSG_FIRSTHDR(&mh);
	if (cm && cm->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

#define QN	200

static void quiet(const char *vars)
{
	static uint32_t dn[QN], tn[QN];
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(PORT + 1) };
	double d, t, qb = 0;
	int l, c, fd, ch[2], via, ibx, i, one = 1;
	struct pollfd p;
	const char *name;
	uint64_t t0, t1;
	char v;

	pin(1);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	via = socket(AF_NSTCP, SOCK_STREAM, 0);
	ibx = strchr(vars, 'e') ? make_inbox(&q_inbox) : -1;
	if (via < 0 || socketpair(AF_UNIX, SOCK_SEQPACKET, 0, ch)) {
		perror("handoff_bench: quiet");
		return;
	}
	printf("# the same steps in one process on CPU 1 over loopback, a connection at a time, medians of %d\n",
	       QN);
	for (; (v = *vars); vars++) {
		if (v == 'a' || v == 'f')
			continue;	/* b's steps, d's */
		l = socket(v == 'b' ? AF_INET : AF_NSTCP, SOCK_STREAM, 0);
		setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) ||
		    listen(l, 16)) {
			perror("handoff_bench: quiet listen");
			break;
		}
		for (i = 0; i < QN; i++) {
			c = socket(AF_INET, SOCK_STREAM, 0);
			p = (struct pollfd){ .fd = l, .events = POLLIN };
			if (connect(c, (struct sockaddr *)&a, sizeof(a)) ||
			    poll(&p, 1, 5000) != 1)
				break;
			t0 = now_ns();
			if (q_dispatch(v, l, ch[0]))
				break;
			t1 = now_ns();
			dn[i] = t1 - t0;
			p = (struct pollfd){ .fd = v == 'e' ? ibx : ch[1],
					     .events = POLLIN };
			if (poll(&p, 1, 5000) != 1)
				break;
			t0 = now_ns();
			fd = q_take(v, ch[1], v == 'e' ? ibx : via);
			t1 = now_ns();
			if (fd < 0)
				break;
			tn[i] = t1 - t0;
			close(fd);
			close(c);
		}
		close(l);
		if (i < QN) {
			fprintf(stderr, "handoff_bench: quiet %c: %s\n", v,
				strerror(errno));
			continue;
		}
		qsort(dn, QN, sizeof(uint32_t), cmp32);
		qsort(tn, QN, sizeof(uint32_t), cmp32);
		d = dn[QN / 2] / 1000.0;
		t = tn[QN / 2] / 1000.0;
		if (v == 'b')
			qb = d + t;
		name = v == 'b' ? "AF_INET+SCM_RIGHTS" :
		       v == 'c' ? "AF_NSTCP give/take" :
		       v == 'd' ? "AF_NSTCP split accept" : "AF_NSTCP inbox";
		printf("q%c %-26s %45s%8.1f %8s %8.1f %8.1f %6.2f\n", v, name, "",
		       d, "-", t, d + t, qb > 0 ? (d + t) / qb : 0);
		bench_row("handoff_quiet", name, "disp_us", d);
		bench_row("handoff_quiet", name, "take_us", t);
		bench_row("handoff_quiet", name, "cost_us", d + t);
		if (qb > 0)
			bench_row("handoff_quiet", name, "cost_ratio_b", (d + t) / qb);
	}
	close(via);
	if (ibx >= 0)
		close(ibx);
	close(ch[0]);
	close(ch[1]);
}

/* b's hand-off cost (disp + take), the others' yardstick; 0 until b ran. */
static double cost_b;

static void run(char v)
{
	static struct wstats ws;
	static uint32_t lat[MAXLAT], wcost[MAXLAT];
	struct { long calls, local, n, ncost; } all = { 0 };
	int ch[NW], wout[NW][2], cout[2], i, sp[2];
	pid_t wpid[NW], dpid, cpid[64];
	long ex = 0, e;
	uint64_t end;
	double p50, p99, local, dcost, gcost, tcost, cost, ratio;
	const char *name;

	nkids = 0;
	rfs(v != 'a');
	rps(v == 'f');
	dsh->n = 0;
	memset(esh, 0, sizeof(*esh));
	if (pipe(cout))
		die();
	for (i = 0; i < NW; i++) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp) || pipe(wout[i]))
			die();
		wpid[i] = fork();
		kid(wpid[i]);
		if (wpid[i] == 0) {
			/* Not the others' ends: their EOF must not wait for us. */
			for (int j = 0; j < i; j++) {
				close(ch[j]);
				close(wout[j][0]);
			}
			close(sp[0]);
			close(wout[i][0]);
			close(cout[0]);
			close(cout[1]);
			_exit(worker(v, i + 1, sp[1], wout[i][1]));
		}
		close(sp[1]);
		close(wout[i][1]);
		ch[i] = sp[0];
	}
	dpid = fork();
	kid(dpid);
	if (dpid == 0) {
		for (i = 0; i < NW; i++)
			close(wout[i][0]);
		_exit(dispatcher(v, ch, wpid));
	}
	usleep(200000);
	end = now_ns() + secs * 1000000000ull;
	for (i = 0; i < nclients; i++) {
		cpid[i] = fork();
		kid(cpid[i]);
		if (cpid[i] == 0) {
			for (int j = 0; j < NW; j++) {
				close(ch[j]);
				close(wout[j][0]);
			}
			_exit(client(cout[1], end));
		}
	}
	for (i = 0; i < nclients; i++) {
		waitpid(cpid[i], NULL, 0);
		if (read(cout[0], &e, sizeof(e)) == sizeof(e))
			ex += e;
	}
	kill(dpid, SIGTERM);
	waitpid(dpid, NULL, 0);
	for (i = 0; i < NW; i++)
		close(ch[i]);
	for (i = 0; i < NW; i++) {
		size_t got = 0;
		ssize_t r;

		while (got < sizeof(ws) &&
		       (r = read(wout[i][0], (char *)&ws + got, sizeof(ws) - got)) > 0)
			got += r;
		if (got == sizeof(ws)) {
			all.calls += ws.calls;
			all.local += ws.local;
			memcpy(lat + all.n, ws.lat_ns, ws.n * sizeof(uint32_t));
			all.n += ws.n;
			memcpy(wcost + all.ncost, ws.cost_ns,
			       ws.ncost * sizeof(uint32_t));
			all.ncost += ws.ncost;
		}
		close(wout[i][0]);
		waitpid(wpid[i], NULL, 0);
	}
	close(cout[0]);
	close(cout[1]);
	qsort(lat, all.n, sizeof(uint32_t), cmp32);
	qsort(wcost, all.ncost, sizeof(uint32_t), cmp32);
	qsort(dsh->cost_ns, dsh->n, sizeof(uint32_t), cmp32);
	qsort(dsh->give_ns, dsh->n, sizeof(uint32_t), cmp32);
	dcost = dsh->n ? dsh->cost_ns[dsh->n / 2] / 1000.0 : 0;
	gcost = dsh->n ? dsh->give_ns[dsh->n / 2] / 1000.0 : 0;
	tcost = all.ncost ? wcost[all.ncost / 2] / 1000.0 : 0;
	cost = dcost + tcost;
	if (v == 'b')
		cost_b = cost;
	ratio = cost_b > 0 ? cost / cost_b : 0;
	name = v == 'a' ? "AF_INET+SCM_RIGHTS, RFS off" :
	       v == 'b' ? "AF_INET+SCM_RIGHTS, RFS on" :
	       v == 'c' ? "AF_NSTCP give/take" :
	       v == 'd' ? "AF_NSTCP split accept" :
	       v == 'e' ? "AF_NSTCP inbox" : "AF_NSTCP split, flow's CPU";
	p50 = all.n ? lat[all.n / 2] / 1000.0 : 0;
	p99 = all.n ? lat[all.n * 99 / 100] / 1000.0 : 0;
	local = all.calls ? 100.0 * all.local / all.calls : 0;
	printf("%c  %-26s %7ld %9.1f %9.1f %7.0f %8.1f %8.1f %8.1f %8.1f %8.1f %6.2f\n",
	       v, name, all.n, p50, p99, (double)ex / secs, local, dcost, gcost,
	       tcost, cost, ratio);
	bench_row("handoff", name, "handoffs", all.n);
	bench_row("handoff", name, "p50_us", p50);
	bench_row("handoff", name, "p99_us", p99);
	bench_row("handoff", name, "exch_s", (double)ex / secs);
	bench_row("handoff", name, "local_pct", local);
	bench_row("handoff", name, "give_cost_us", dcost);
	bench_row("handoff", name, "take_cost_us", tcost);
	bench_row("handoff", name, "give_after_accept_us", gcost);
	bench_row("handoff", name, "cost_us", cost);
	if (cost_b > 0)
		bench_row("handoff", name, "cost_ratio_b", ratio);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	const char *vars = "abcdef";
	int o;

	while ((o = getopt(argc, argv, "a:C:D:d:t:V:S:")) != -1) {
		switch (o) {
		case 'a': addr = optarg; break;
		case 'C': cli_ns = optarg; break;
		case 'D': srv_dev = optarg; break;
		case 'd': secs = atoi(optarg); break;
		case 't': nclients = atoi(optarg); break;
		case 'V': vars = optarg; break;
		case 'S': flow_entries = optarg; break;
		default:
			fprintf(stderr, "usage: %s -a ADDR -C NETNS_PATH -D SRVDEV [-d SECS] [-t CLIENTS] [-V abcdef]\n",
				argv[0]);
			return 2;
		}
	}
	if (!cli_ns || !srv_dev || nclients < 1 || nclients > 64 || secs < 1) {
		fprintf(stderr, "%s: -C and -D are needed\n", argv[0]);
		return 2;
	}
	dsh = mmap(NULL, sizeof(*dsh), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	esh = mmap(NULL, sizeof(*esh), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (dsh == MAP_FAILED || esh == MAP_FAILED) {
		perror("handoff_bench: mmap");
		return 1;
	}
	printf("# %d workers on CPUs 1-%d, dispatcher on CPU 0, %d clients, %d s, %d exchanges a connection\n",
	       NW, NW, nclients, secs, NX);
	printf("#  variant                    handoffs  p50(us)   p99(us)  exch/s local(%%) disp(us) give(us) take(us) cost(us)  x(b)\n");
	main_pid = getpid();
	save_settings();
	signal(SIGINT, on_stop_main);
	signal(SIGTERM, on_stop_main);
	for (const char *v = vars; *v; v++)
		run(*v);
	/* The q steps on loopback, RFS off as before. */
	rfs(0);
	rps(0);
	quiet(vars);
	restore_settings();
	return 0;
}
