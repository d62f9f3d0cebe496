// SPDX-License-Identifier: GPL-2.0
/*
 * Selftest: AF_NSTCP talking to plain TCP.  AF_NSTCP servers with AF_INET
 * and AF_INET6 clients and the reverse, a dual-stack AF_NSTCP listener on
 * in6addr_any serving every kind of client, 64 concurrent echoed
 * connections, the /proc/net/nstcp counters, and a network namespace of its
 * own (counters per namespace).
 */
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/wait.h>

#include "family_util.h"

#define NCASES 29

#define NCONN 64
#define ECHO_LEN (16 * 1024)

static const char *dname(int domain)
{
	return domain == AF_NSTCP ? "AF_NSTCP" :
	       domain == AF_INET ? "AF_INET" : "AF_INET6";
}

static int same_name(const struct fam_addr *x, const struct fam_addr *y)
{
	return x->len && x->len == y->len && !memcmp(&x->ss, &y->ss, x->len);
}

/* 4 KiB one way and 4 KiB back, verified. */
static int exchange(int a, int b, uint32_t seed)
{
	char out[4096], in[4096];

	fam_fill(out, sizeof(out), seed);
	if (fam_send_all(a, out, sizeof(out)) != sizeof(out) ||
	    fam_recv_all(b, in, sizeof(in)) != sizeof(in) ||
	    memcmp(in, out, sizeof(in)))
		return -1;
	fam_fill(out, sizeof(out), seed + 1);
	if (fam_send_all(b, out, sizeof(out)) != sizeof(out) ||
	    fam_recv_all(a, in, sizeof(in)) != sizeof(in) ||
	    memcmp(in, out, sizeof(in)))
		return -1;
	return 0;
}

/*
 * A server of family sdomain listening on lip, a client of family cdomain
 * connecting to cip.  The server must see the client as srv_peer (the port
 * being the client's own) and itself as srv_local; the client must see the
 * server as cli_peer.
 */
static void interop(int sdomain, const char *lip, int cdomain,
		    const char *cip, const char *srv_peer,
		    const char *srv_local, const char *cli_peer)
{
	int l, port, c, s;
	struct fam_addr peer, cl, cp, sl, sp;
	char ip[INET6_ADDRSTRLEN];

	l = fam_listen(sdomain, lip, 0, &port);
	c = l >= 0 ? fam_connect(cdomain, cip, port) : -1;
	s = c >= 0 ? fam_accept(l, &peer) : -1;
	fam_close(&l);
	if (s < 0) {
		tap_ok(0, "%s server on %s, %s client to %s: connected", dname(sdomain),
		       lip, dname(cdomain), cip);
		tap_ok(0, "... data");
		fam_close(&c);
		return;
	}
	cl = fam_name(c, 0);
	cp = fam_name(c, 1);
	sl = fam_name(s, 0);
	sp = fam_name(s, 1);
	FAM_OK(fam_addr_is(&peer.sa, peer.len, srv_peer, fam_port(&cl.sa)) &&
	       same_name(&peer, &sp) &&
	       fam_addr_is(&sl.sa, sl.len, srv_local, port) &&
	       fam_addr_is(&cp.sa, cp.len, cli_peer, port),
	       "%s server on %s, %s client to %s: server sees %s, client sees %s",
	       dname(sdomain), lip, dname(cdomain), cip,
	       fam_ntop(&peer.sa, ip, sizeof(ip)), cli_peer);
	FAM_OK(!exchange(c, s, port), "... 4 KiB each way verified");
	fam_close(&c);
	fam_close(&s);
}

static void test_interop(void)
{
	/* AF_NSTCP servers, plain clients. */
	interop(AF_NSTCP, "127.0.0.1", AF_INET, "127.0.0.1", "127.0.0.1",
		"127.0.0.1", "127.0.0.1");
	interop(AF_NSTCP, "::1", AF_INET6, "::1", "::1", "::1", "::1");
	/* AF_NSTCP clients, plain servers. */
	interop(AF_INET, "127.0.0.1", AF_NSTCP, "127.0.0.1", "127.0.0.1",
		"127.0.0.1", "127.0.0.1");
	interop(AF_INET6, "::1", AF_NSTCP, "::1", "::1", "::1", "::1");
	/*
	 * A plain dual-stack AF_INET6 server sees the AF_NSTCP IPv4 client
	 * v4-mapped; the client sees a sockaddr_in.
	 */
	interop(AF_INET6, "::", AF_NSTCP, "127.0.0.1", "::ffff:127.0.0.1",
		"::ffff:127.0.0.1", "127.0.0.1");
	/* And an AF_NSTCP client given a v4-mapped address, likewise. */
	interop(AF_INET, "127.0.0.1", AF_NSTCP, "::ffff:127.0.0.1",
		"127.0.0.1", "127.0.0.1", "127.0.0.1");
	/* One dual-stack AF_NSTCP listener on in6addr_any, every client. */
	{
		int l, port, c[4], s[4], bad = 0;
		static const int dom[4] = { AF_INET, AF_INET6, AF_NSTCP, AF_NSTCP };
		static const char *const ip[4] = { "127.0.0.1", "::1",
						   "127.0.0.1", "::1" };
		struct nstcp_info info;
		socklen_t len;

		l = fam_listen(AF_NSTCP, "::", 0, &port);
		for (int i = 0; i < 4; i++) {
			struct fam_addr peer, me, cl;

			c[i] = fam_connect(dom[i], ip[i], port);
			s[i] = c[i] >= 0 ? fam_accept(l, &peer) : -1;
			if (s[i] < 0) {
				bad++;
				continue;
			}
			cl = fam_name(c[i], 0);
			me = fam_name(s[i], 0);
			len = sizeof(info);
			if (!fam_addr_is(&peer.sa, peer.len, ip[i], fam_port(&cl.sa)) ||
			    !fam_addr_is(&me.sa, me.len, ip[i], port) ||
			    getsockopt(s[i], SOL_NSTCP, NSTCP_INFO, &info, &len) ||
			    info.nsi_family != (strchr(ip[i], ':') ? AF_INET6 : AF_INET) ||
			    exchange(c[i], s[i], i)) {
				char b[INET6_ADDRSTRLEN];

				tap_diag("dual-stack: %s client to %s: peer %s, wire family %u",
					 dname(dom[i]), ip[i],
					 fam_ntop(&peer.sa, b, sizeof(b)),
					 info.nsi_family);
				bad++;
			}
		}
		FAM_OK(l >= 0 && !bad,
		       "dual-stack AF_NSTCP listener on :: serves AF_INET, AF_INET6 and AF_NSTCP v4/v6 clients: names, wire family, data");
		for (int i = 0; i < 4; i++) {
			fam_close(&c[i]);
			fam_close(&s[i]);
		}
		fam_close(&l);
	}
}

/* The echo server of the concurrency test: epoll over a dual-stack listener. */
struct echo {
	int l, stop[2];
	int accepted, v4, v6, max_open, errors;
};

static void *echo_server(void *arg)
{
	struct echo *e = arg;
	int ep = epoll_create1(0), open = 0;
	struct epoll_event ev = { .events = EPOLLIN };
	char buf[4096];

	ev.data.fd = e->l;
	epoll_ctl(ep, EPOLL_CTL_ADD, e->l, &ev);
	ev.data.fd = e->stop[0];
	epoll_ctl(ep, EPOLL_CTL_ADD, e->stop[0], &ev);
	for (;;) {
		struct epoll_event evs[32];
		int n = epoll_wait(ep, evs, 32, FAM_TIMEOUT_MS * 2);

		if (n <= 0) {
			tap_diag("echo server idle or failed (%d)", n);
			e->errors++;
			break;
		}
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == e->stop[0])
				goto out;
			/* Every connection queued, as epoll servers do. */
			while (fd == e->l) {
				struct fam_addr peer;
				int s;

				peer.len = sizeof(peer.ss);
				s = accept4(e->l, &peer.sa, &peer.len, SOCK_NONBLOCK);
				if (s < 0) {
					if (errno != EAGAIN)
						e->errors++;
					break;
				}
				e->accepted++;
				e->v4 += peer.sa.sa_family == AF_INET;
				e->v6 += peer.sa.sa_family == AF_INET6;
				if (++open > e->max_open)
					e->max_open = open;
				ev.data.fd = s;
				ev.events = EPOLLIN | EPOLLRDHUP;
				epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
			}
			if (fd == e->l)
				continue;
			for (;;) {
				ssize_t r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

				if (r > 0) {
					/* The clients read as they write. */
					fam_timeouts(fd, FAM_TIMEOUT_MS);
					fcntl(fd, F_SETFL, 0);
					if (fam_send_all(fd, buf, r) != r)
						e->errors++;
					fcntl(fd, F_SETFL, O_NONBLOCK);
					continue;
				}
				if (r < 0 && errno == EAGAIN)
					break;
				if (r < 0)
					e->errors++;
				epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
				close(fd);
				open--;
				break;
			}
		}
	}
out:
	close(ep);
	return NULL;
}

struct client {
	int domain, port, idx, ok, connected;
	const char *ip;
	pthread_barrier_t *all_open;
};

/* Sends ECHO_LEN while reading the echo back. */
struct half {
	int fd;
	uint32_t seed;
	uint64_t sum;
	ssize_t done;
};

static void *client_writer(void *arg)
{
	struct half *h = arg;
	char buf[2048];

	h->sum = FAM_SUM_INIT;
	h->done = 0;
	for (int i = 0; i < ECHO_LEN / (int)sizeof(buf); i++) {
		fam_fill(buf, sizeof(buf), h->seed + i);
		h->sum = fam_sum(h->sum, buf, sizeof(buf));
		if (fam_send_all(h->fd, buf, sizeof(buf)) != sizeof(buf))
			break;
		h->done += sizeof(buf);
	}
	return NULL;
}

static void *client(void *arg)
{
	struct client *cl = arg;
	struct half w;
	pthread_t th;
	uint64_t sum = FAM_SUM_INIT;
	ssize_t got = 0, n;
	char buf[4096];
	int fd = fam_connect(cl->domain, cl->ip, cl->port);

	cl->connected = fd >= 0;
	/* All NCONN connections are open before any data moves. */
	pthread_barrier_wait(cl->all_open);
	if (fd < 0)
		goto wait_close;
	w = (struct half){ .fd = fd, .seed = cl->idx * 1000 };
	pthread_create(&th, NULL, client_writer, &w);
	while (got < ECHO_LEN && (n = recv(fd, buf, sizeof(buf), 0)) > 0) {
		sum = fam_sum(sum, buf, n);
		got += n;
	}
	pthread_join(th, NULL);
	/* The server closes on our EOF: the echo ends with its EOF. */
	shutdown(fd, SHUT_WR);
	n = recv(fd, buf, sizeof(buf), 0);
	cl->ok = w.done == ECHO_LEN && got == ECHO_LEN && sum == w.sum && n == 0;
	if (!cl->ok)
		tap_diag("client %d (%s to %s): sent %zd, echoed %zd, sums %s, eof %zd",
			 cl->idx, dname(cl->domain), cl->ip, w.done, got,
			 sum == w.sum ? "match" : "differ", n);
wait_close:
	pthread_barrier_wait(cl->all_open);
	if (fd >= 0)
		close(fd);
	return NULL;
}

static void test_concurrent(void)
{
	static const int dom[4] = { AF_INET, AF_INET6, AF_NSTCP, AF_NSTCP };
	static const char *const ip[4] = { "127.0.0.1", "::1", "127.0.0.1", "::1" };
	struct client cl[NCONN];
	pthread_t th[NCONN], srv;
	pthread_barrier_t bar;
	struct echo e = { 0 };
	struct fam_stats before, after;
	int port, ok = 0, connected = 0, nstcp_clients = 0;
	long d[FAM_NSTATS];

	fam_read_stats(&before);
	e.l = fam_listen(AF_NSTCP, "::", 0, &port);
	if (e.l < 0 || pipe(e.stop)) {
		for (int i = 0; i < 5; i++)
			tap_ok(0, "echo server");
		fam_close(&e.l);
		return;
	}
	fcntl(e.l, F_SETFL, O_NONBLOCK);
	pthread_create(&srv, NULL, echo_server, &e);
	pthread_barrier_init(&bar, NULL, NCONN);
	for (int i = 0; i < NCONN; i++) {
		cl[i] = (struct client){ .domain = dom[i % 4], .ip = ip[i % 4],
					 .port = port, .idx = i, .all_open = &bar };
		nstcp_clients += cl[i].domain == AF_NSTCP;
		if (pthread_create(&th[i], NULL, client, &cl[i])) {
			tap_diag("cannot start client thread %d", i);
			exit(1);
		}
	}
	for (int i = 0; i < NCONN; i++) {
		pthread_join(th[i], NULL);
		ok += cl[i].ok;
		connected += cl[i].connected;
	}
	/* Let the server see the last EOFs, then stop it. */
	for (int i = 0; i < 100 && e.accepted == NCONN; i++) {
		struct fam_stats st;

		fam_read_stats(&st);
		if (st.v[FAM_CLOSES] - before.v[FAM_CLOSES] >=
		    (unsigned long)(NCONN + nstcp_clients))
			break;
		usleep(20000);
	}
	if (write(e.stop[1], "x", 1) != 1)
		e.errors++;
	pthread_join(srv, NULL);
	pthread_barrier_destroy(&bar);
	fam_close(&e.l);
	fam_close(&e.stop[0]);
	fam_close(&e.stop[1]);
	fam_read_stats(&after);
	for (int i = 0; i < FAM_NSTATS; i++)
		d[i] = after.v[i] - before.v[i];

	FAM_OK(connected == NCONN && e.accepted == NCONN && e.max_open == NCONN,
	       "%d concurrent connections to one dual-stack listener (accepted %d, %d open at once)",
	       NCONN, e.accepted, e.max_open);
	FAM_OK(ok == NCONN && !e.errors,
	       "all %d echoed 16 KiB intact, ending in EOF (%d ok, %d server errors)",
	       NCONN, ok, e.errors);
	FAM_OK(e.v4 == NCONN / 2 && e.v6 == NCONN / 2,
	       "the server saw %d sockaddr_in and %d sockaddr_in6 peers (%d, %d)",
	       NCONN / 2, NCONN / 2, e.v4, e.v6);
	FAM_OK(d[FAM_ACCEPTS] >= NCONN && d[FAM_CONNECTS] >= nstcp_clients &&
	       d[FAM_SOCKETS] >= 1 + NCONN + nstcp_clients,
	       "counters: accepts +%ld (>= %d), connects +%ld (>= %d), sockets +%ld (>= %d)",
	       d[FAM_ACCEPTS], NCONN, d[FAM_CONNECTS], nstcp_clients,
	       d[FAM_SOCKETS], 1 + NCONN + nstcp_clients);
	FAM_OK(d[FAM_CLOSES] == d[FAM_SOCKETS],
	       "counters: every socket counted was closed (+%ld, +%ld)",
	       d[FAM_CLOSES], d[FAM_SOCKETS]);
}

static int hop_accounting(void)
{
	FILE *f = fopen("/proc/sys/net/nstcp/hop_accounting", "r");
	int v = -1;

	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/* The accepts column of CPUs 0 to max - 1 (0 for a CPU not listed). */
static int row_accepts(unsigned long *acc, int max)
{
	static struct proc_stats st;

	memset(acc, 0, max * sizeof(*acc));
	proc_read_stats(&st);
	for (int i = 0; i < st.rows; i++)
		if (st.row[i].cpu >= 0 && st.row[i].cpu < max)
			acc[st.row[i].cpu] = st.row[i].v[PROC_ACCEPTS];
	return st.rows;
}

/* A deterministic stretch of traffic and the counters it must move. */
static void test_counters(void)
{
	enum { MAXCPU = 1024 };
	static unsigned long acc0[MAXCPU], acc1[MAXCPU];
	static struct proc_stats st;
	struct fam_stats before, mid, after;
	int l, port, c, s, home = -1, calls = 0, bad = 0, rows, online, inorder = 1;
	int ncpu = sysconf(_SC_NPROCESSORS_CONF);
	int nonline = sysconf(_SC_NPROCESSORS_ONLN);
	socklen_t len = sizeof(home);
	char line[512], b;

	/* The header is the ABI's, word for word. */
	if (!proc_read_header(PROC_NSTCP, line, sizeof(line)))
		FAM_OK(!strcmp(line, NSTCP_PROC_COLUMNS),
		       "/proc/net/nstcp header is \"%s\"", NSTCP_PROC_COLUMNS);
	else
		tap_ok(0, "/proc/net/nstcp readable");
	rows = proc_read_stats(&st);
	online = st.online;
	for (int i = 0; i < rows; i++)
		inorder &= st.row[i].cpu == i;
	FAM_OK(rows == ncpu && inorder && online == nonline,
	       "one row per CPU (%d of %d, in order: %s), %d online (of %d)",
	       rows, ncpu, inorder ? "yes" : "no", online, nonline);

	fam_read_stats(&before);
	l = fam_listen(AF_NSTCP, "127.0.0.1", 0, &port);
	c = fam_connect(AF_NSTCP, "127.0.0.1", port);
	calls++;				/* connect */
	fam_read_stats(&mid);
	row_accepts(acc0, MAXCPU);
	s = fam_accept(l, NULL);
	calls++;				/* accept */
	/* No packet moves between the accept and this: the same home. */
	if (s >= 0)
		getsockopt(s, SOL_NSTCP, NSTCP_HOME_CPU, &home, &len);
	row_accepts(acc1, MAXCPU);
	for (int i = 0; i < 10; i++) {
		if (send(c, "p", 1, 0) != 1 || recv(s, &b, 1, 0) != 1)
			bad++;
		calls += 2;
	}
	shutdown(c, SHUT_WR);
	calls++;
	if (recv(s, &b, 1, 0) != 0)
		bad++;
	calls++;
	fam_read_stats(&after);
	{
		long ds = after.v[FAM_SOCKETS] - before.v[FAM_SOCKETS];
		long da = after.v[FAM_ACCEPTS] - before.v[FAM_ACCEPTS];
		long dc = after.v[FAM_CONNECTS] - before.v[FAM_CONNECTS];
		long dcm = mid.v[FAM_CONNECTS] - before.v[FAM_CONNECTS];
		long dcalls = after.v[FAM_CALLS] - before.v[FAM_CALLS];
		long dhops = after.v[FAM_HOPS] - before.v[FAM_HOPS];

		FAM_OK(!bad && ds >= 3 && da >= 1 && dc >= 1 && dcm >= 1,
		       "one connection: sockets +%ld (>= 3), accepts +%ld (>= 1), connects +%ld (>= 1, at connect +%ld)",
		       ds, da, dc, dcm);
		if (hop_accounting() == 1)
			FAM_OK(dcalls >= calls && dhops <= dcalls,
			       "calls +%ld (>= %d made), hops +%ld (<= calls)",
			       dcalls, calls, dhops);
		else
			tap_skip("net.nstcp.hop_accounting is off", "calls counted");
	}
	FAM_OK(home >= 0 && home < ncpu && home < MAXCPU &&
	       acc1[home] - acc0[home] >= 1,
	       "the accept is charged to the flow's home CPU %d (+%lu)", home,
	       home >= 0 && home < MAXCPU ? acc1[home] - acc0[home] : 0);
	fam_close(&c);
	fam_close(&s);
	fam_close(&l);
	fam_read_stats(&after);
	FAM_OK(after.v[FAM_CLOSES] - before.v[FAM_CLOSES] == 3,
	       "closes +%lu for the 3 sockets",
	       after.v[FAM_CLOSES] - before.v[FAM_CLOSES]);
}

/* Runs in a child in a new network namespace; returns a bit mask of failures. */
static int netns_child(void)
{
	struct fam_stats st0, st1;
	struct ifreq ifr;
	int fail = 0, fd, l, port, c, s;

	if (unshare(CLONE_NEWNET))
		return errno == EPERM ? 0x100 : 0x200;
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) ||
	    (ifr.ifr_flags |= IFF_UP, ioctl(fd, SIOCSIFFLAGS, &ifr)))
		fail |= 0x200;
	if (fd >= 0)
		close(fd);
	fam_read_stats(&st0);
	if (st0.rows <= 0 || st0.v[FAM_SOCKETS] || st0.v[FAM_ACCEPTS] ||
	    st0.v[FAM_CONNECTS])
		fail |= 1;		/* fresh counters */
	l = fam_listen(AF_NSTCP, "::", 0, &port);
	c = fam_connect(AF_NSTCP, "127.0.0.1", port);
	s = c >= 0 ? fam_accept(l, NULL) : -1;
	if (s < 0 || exchange(c, s, 99))
		fail |= 2;		/* traffic */
	fam_read_stats(&st1);
	if (st1.v[FAM_SOCKETS] != 3 || st1.v[FAM_ACCEPTS] != 1 ||
	    st1.v[FAM_CONNECTS] != 1)
		fail |= 4;		/* counted here */
	if (c >= 0)
		close(c);
	if (s >= 0)
		close(s);
	if (l >= 0)
		close(l);
	fam_read_stats(&st1);
	if (st1.v[FAM_CLOSES] != 3)
		fail |= 8;
	return fail;
}

static void test_netns(void)
{
	struct fam_stats before, after;
	int status = -1, fail;
	pid_t pid;

	fam_read_stats(&before);
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(netns_child());
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
		for (int i = 0; i < 5; i++)
			tap_ok(0, "network namespace child (status %#x)", status);
		return;
	}
	fam_read_stats(&after);
	fail = WEXITSTATUS(status);
	if (fail & 0x300) {
		for (int i = 0; i < 5; i++)
			tap_skip(fail & 0x100 ? "no permission for unshare" :
				 "namespace set-up failed", "network namespace");
		return;
	}
	FAM_OK(!(fail & 1), "a new network namespace has its own, zeroed counters");
	FAM_OK(!(fail & 2), "AF_NSTCP connection over its loopback carries data");
	FAM_OK(!(fail & 4), "its counters count exactly its 3 sockets, 1 accept, 1 connect");
	FAM_OK(!(fail & 8), "and its 3 closes");
	FAM_OK(after.v[FAM_SOCKETS] == before.v[FAM_SOCKETS] &&
	       after.v[FAM_CONNECTS] == before.v[FAM_CONNECTS],
	       "the parent namespace's counters did not move (sockets +%lu)",
	       after.v[FAM_SOCKETS] - before.v[FAM_SOCKETS]);
}

/*
 * The one-thread echo server accepts on one CPU: let it take connections
 * queued on other CPUs at once, so that all of them are open together
 * (per-CPU stealing has its own tests, listen_steal).
 */
static void set_steal_delay(const char *ms)
{
	FILE *f = fopen("/proc/sys/net/nstcp/accept_steal_delay_ms", "we");

	if (f) {
		fputs(ms, f);
		fclose(f);
	}
}

/* The delay as it is, to be put back; "" if unreadable. */
static void get_steal_delay(char *buf, size_t len)
{
	FILE *f = fopen("/proc/sys/net/nstcp/accept_steal_delay_ms", "re");

	buf[0] = 0;
	if (f) {
		if (!fgets(buf, len, f))
			buf[0] = 0;
		fclose(f);
	}
	buf[strcspn(buf, "\n")] = 0;
}

int main(void)
{
	char saved_delay[32];

	fam_start(NCASES, 55);
	get_steal_delay(saved_delay, sizeof(saved_delay));
	set_steal_delay("0");
	test_interop();
	test_counters();
	test_concurrent();
	test_netns();
	if (saved_delay[0])
		set_steal_delay(saved_delay);
	return fam_finish();
}
