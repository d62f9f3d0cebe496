// SPDX-License-Identifier: GPL-2.0
/*
 * Selftest: inboxes (Documentation/inbox.rst).  A dispatcher holding the
 * listener queues connections with NSTCP_ACCEPT_TO straight onto a
 * worker's inbox, which accept()s them: the peer address, 1 MiB each way
 * (sent before, during and after the hand-off), the order kept, a full
 * inbox (ENOBUFS, the connection left on the listener), unknown ids and
 * another namespace's (ENOENT), another uid (EPERM), an inbox closed
 * under a blocked dispatcher (ENOENT) and with connections queued (reset,
 * counted dropped), shutdown(SHUT_RD), O_NONBLOCK, epoll, the counts'
 * balance, and the instance counters of a hand-off: NSTCP_ACCEPT_TO an
 * accept and a given, the worker's accept() taken and rehomed (RFS's table
 * on) or unsteered (off), a dropped connection neither.  Bad input, what
 * an inbox must refuse, signals, closed ids, ids: handoff_inbox_bad.c.
 */
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/mman.h>

#include "inbox_util.h"

#define NCASES 50

static int lfd, port, ncpu;
/* net.core.rps_sock_flow_entries, opened before the namespace was left */
static int rfs_fd = -1;
static char rfs_old[32];

/* RFS's global table on (1) or off (0); 0 or -1. */
static int rfs_set(int on)
{
	const char *v = on ? "4096" : "0";

	return rfs_fd >= 0 && pwrite(rfs_fd, v, strlen(v), 0) == (ssize_t)strlen(v) ?
	       0 : -1;
}

struct ib_counts {
	long accepts, given, taken, rehomed, unsteered;
};

static void ib_counts(struct ib_counts *c)
{
	c->accepts = ho_stat(PROC_ACCEPTS);
	c->given = ho_stat(PROC_GIVEN);
	c->taken = ho_stat(PROC_TAKEN);
	c->rehomed = ho_stat(PROC_REHOMED);
	c->unsteered = ho_stat(PROC_UNSTEERED);
}

/* Whether c1 - c0 is the deltas given, in the order of struct ib_counts. */
static int ib_delta(const struct ib_counts *c0, const struct ib_counts *c1,
		    long a, long g, long t, long r, long u)
{
	if (c1->accepts - c0->accepts == a && c1->given - c0->given == g &&
	    c1->taken - c0->taken == t && c1->rehomed - c0->rehomed == r &&
	    c1->unsteered - c0->unsteered == u)
		return 1;
	tap_diag("accepts given taken rehomed unsteered: +%ld +%ld +%ld +%ld +%ld; want +%ld +%ld +%ld +%ld +%ld",
		 c1->accepts - c0->accepts, c1->given - c0->given,
		 c1->taken - c0->taken, c1->rehomed - c0->rehomed,
		 c1->unsteered - c0->unsteered, a, g, t, r, u);
	return 0;
}

/*
 * One connection queued and accept()ed by a worker on CPU 1 (this thread
 * moved there), its
 * flow having carried a byte (RFS knows its hash): the dispatcher's
 * NSTCP_ACCEPT_TO counted an accept and a given, nothing re-homed; the
 * worker's accept() taken and (RFS on) rehomed or (off) unsteered.
 */
static void rehome_one(int rfs, const char *what)
{
	int ib = ib_make(1), fd = ib_client(port), rc;
	struct ib_counts c0, c1, c2;
	struct blocked b = { .fd = ib };
	char c = 0;

	rc = send(fd, "r", 1, 0) != 1;
	ib_counts(&c0);
	rc = rc ?: ib_accept_to(lfd, ib_id(ib), NULL);
	ib_counts(&c1);
	FAM_OK(!rc && ib_delta(&c0, &c1, 1, 1, 0, 0, 0),
	       "%s: NSTCP_ACCEPT_TO counted an accept and a given, not re-homed (%s)",
	       what, strerror(rc));
	lst_pin(1 % ncpu);
	block_accept(&b);	/* it is queued: returns at once */
	lst_pin(0);
	ib_counts(&c2);
	FAM_OK(!b.rc && ib_delta(&c1, &c2, 0, 0, 1, rfs, !rfs),
	       "%s: the worker's accept() counted taken and %s once", what,
	       rfs ? "rehomed" : "unsteered");
	errno = 0;
	FAM_OK((fam_wait(fd, POLLIN, FAM_TIMEOUT_MS) & POLLIN) &&
	       recv(fd, &c, 1, 0) < 0 && errno == ECONNRESET,
	       "%s: ... it was this peer's: closed with its byte unread, reset", what);
	fam_close(&fd);
	fam_close(&ib);
}

/* The re-home counter: with RFS's table on, then off, then as it was. */
static void case_rehome(void)
{
	int ib = ib_make(1), fd;
	struct ib_counts c0, c1;

	if (rfs_set(1))
		tap_diag("RFS not settable (%s): counted unsteered instead",
			 strerror(errno));
	rehome_one(rfs_fd >= 0, "RFS on");
	if (rfs_set(0))
		tap_diag("RFS not settable (%s)", strerror(errno));
	rehome_one(0, "RFS off");
	if (rfs_fd >= 0 && pwrite(rfs_fd, rfs_old, strlen(rfs_old), 0) < 0)
		tap_diag("rps_sock_flow_entries not put back: %s", strerror(errno));
	/* Queued, never accepted: reset at the close, neither taken nor re-homed. */
	fd = ib_client(port);
	ib_accept_to(lfd, ib_id(ib), NULL);
	ib_counts(&c0);
	fam_close(&ib);
	ib_counts(&c1);
	FAM_OK(ib_delta(&c0, &c1, 0, 0, 0, 0, 0),
	       "a connection dropped by the inbox's close: not taken, not re-homed");
	fam_close(&fd);
}

static void case_basic(void)
{
	struct nstcp_inbox_info info;
	struct nstcp_accept_to at;
	struct fam_addr peer;
	struct ib_row r;
	int ib = ib_make(8), fd, afd = -1, rc;
	uint64_t id;

	FAM_OK(ib >= 0 && !ib_info(ib, &info) && info.nii_id &&
	       info.nii_backlog == 8 && !info.nii_queued,
	       "NSTCP_INBOX: an inbox of 8, id set, nothing queued");
	id = info.nii_id;
	FAM_OK(ho_info_flags(ib) & NSTCP_INFO_INBOX, "NSTCP_INFO says inbox");
	fd = ib_client(port);
	rc = ib_accept_to(lfd, id, &at);
	FAM_OK(!rc && at.nto_addrlen == sizeof(struct sockaddr_in) &&
	       fam_addr_is((struct sockaddr *)&at.nto_peer, at.nto_addrlen,
			   LST_IP, fam_local_port(fd)) && at.nto_cpu >= 0,
	       "NSTCP_ACCEPT_TO: queued, peer and flow CPU returned (%s, cpu %d)",
	       strerror(rc), at.nto_cpu);
	FAM_OK(!ib_info(ib, &info) && info.nii_queued == 1 &&
	       (fam_wait(ib, POLLIN, 0) & POLLIN), "one queued, POLLIN");
	if (ib >= 0)
		afd = fam_accept(ib, &peer);
	FAM_OK(afd >= 0 && fam_addr_is(&peer.sa, peer.len, LST_IP,
				       fam_local_port(fd)),
	       "accept() on the inbox: a new descriptor, the peer's address");
	FAM_OK(afd >= 0 && ib_talks(fd, afd) && !(ho_info_flags(afd) & NSTCP_INFO_INBOX),
	       "the accepted socket talks both ways, is no inbox");
	FAM_OK(!ib_info(ib, &info) && !info.nii_queued && !fam_wait(ib, POLLIN, 0),
	       "nothing queued after, no POLLIN");
	FAM_OK(!ib_proc(id, &r) && r.given == 1 && r.accepted == 1 &&
	       !r.dropped && r.backlog == 8 && r.owner == getuid(),
	       "/proc/net/nstcp_inbox: given 1 accepted 1, backlog, owner");
	fam_close(&afd);
	fam_close(&fd);
	fam_close(&ib);
}

/* 1 MiB each way: the peer sends from before the dispatch on. */
static void case_mib(void)
{
	int ib = ib_make(4), fd = ib_client(port), afd = -1, rc;
	uint64_t h = FAM_SUM_INIT;
	struct ho_peer ps = { .fd = fd, .cpu = 0 }, pr = { .fd = fd, .cpu = 0 };

	pthread_create(&ps.th, NULL, ho_peer_send, &ps);
	pthread_create(&pr.th, NULL, ho_peer_recv, &pr);
	lst_sleep_ms(20);	/* some of it waits on the listener */
	rc = ib_accept_to(lfd, ib_id(ib), NULL);
	lst_sleep_ms(20);	/* some on the inbox */
	if (!rc)
		afd = fam_accept(ib, NULL);
	rc = rc ?: afd < 0;
	rc = rc ?: ho_recv_sum(afd, HO_MIB, &h) || h != ho_stream_sum(1);
	FAM_OK(!rc, "the worker received 1 MiB, checksum right");
	rc = afd < 0 || ho_send_chunks(afd, 2, 0, HO_NCHUNK, 0);
	FAM_OK(!rc, "the worker sent 1 MiB");
	pthread_join(ps.th, NULL);
	pthread_join(pr.th, NULL);
	FAM_OK(ps.ok && pr.ok, "the peer sent 1 MiB and received 1 MiB, checksum right");
	fam_close(&afd);
	fam_close(&fd);
	fam_close(&ib);
}

static void case_order(void)
{
	int ib = ib_make(8), fd[5], i, ok = 0, queued = 0;
	struct fam_addr peer;

	for (i = 0; i < 5; i++) {
		fd[i] = ib_client(port);
		queued += !ib_accept_to(lfd, ib_id(ib), NULL);
	}
	for (i = 0; i < 5; i++) {
		int afd = fam_accept(ib, &peer);

		ok += afd >= 0 && fam_port(&peer.sa) == fam_local_port(fd[i]);
		if (afd >= 0)
			close(afd);
	}
	FAM_OK(queued == 5 && ok == 5, "accepted in the order queued (%d of 5)", ok);
	for (i = 0; i < 5; i++)
		fam_close(&fd[i]);
	fam_close(&ib);
}

static void case_full(void)
{
	int ib = ib_make(2), fd[3], afd, i, rc = 0;
	uint64_t id = ib_id(ib);

	for (i = 0; i < 3; i++)
		fd[i] = ib_client(port);
	rc |= ib_accept_to(lfd, id, NULL) | ib_accept_to(lfd, id, NULL);
	FAM_OK(!rc, "two queued on an inbox of 2");
	rc = ib_accept_to(lfd, id, NULL);
	FAM_OK(rc == ENOBUFS, "a third: ENOBUFS (%s)", strerror(rc));
	afd = fam_accept(lfd, NULL);
	FAM_OK(afd >= 0 && ib_talks(fd[2], afd),
	       "... and the listener still has it: accept() there talks to the third");
	fam_close(&afd);
	rc = 0;
	for (i = 0; i < 2; i++) {
		afd = fam_accept(ib, NULL);
		rc |= afd < 0 || !ib_talks(fd[i], afd);
		fam_close(&afd);
	}
	FAM_OK(!rc, "the two queued accepted from the inbox");
	FAM_OK(ib_balanced(id), "given == accepted + dropped + queued");
	for (i = 0; i < 3; i++)
		fam_close(&fd[i]);
	fam_close(&ib);
}

static void case_bad_id(void)
{
	int ib = ib_make(1), fd = ib_client(port), afd;
	uint64_t id = ib_id(ib);

	FAM_OK(ib_accept_to(lfd, 0, NULL) == ENOENT, "id 0: ENOENT");
	FAM_OK(ib_accept_to(lfd, id ^ 1, NULL) == ENOENT, "an unknown id: ENOENT");
	close(ib);
	FAM_OK(ib_accept_to(lfd, id, NULL) == ENOENT, "a closed inbox's id: ENOENT");
	afd = fam_accept(lfd, NULL);
	FAM_OK(afd >= 0 && ib_talks(fd, afd), "... none took the connection");
	fam_close(&afd);
	fam_close(&fd);
}

/* A child in @how (netns or uid) with its inbox; id through a pipe. */
static pid_t inbox_child(int netns, int uid, int p[2], int q[2],
			 uint64_t *id)
{
	pid_t pid;

	if (pipe(p) || pipe(q))
		return -1;
	pid = fork();
	if (pid == 0) {
		int ib;
		uint64_t v = 0;
		char c;

		close(p[0]);
		close(q[1]);
		if (netns && (unshare(CLONE_NEWNET) || lst_lo_up()))
			_exit(2);
		if (uid && (setresgid(uid, uid, uid) || setresuid(uid, uid, uid)))
			_exit(3);
		ib = ib_make(4);
		if (ib >= 0)
			v = ib_id(ib);
		if (write(p[1], &v, sizeof(v)) != sizeof(v))
			_exit(4);
		if (read(q[0], &c, 1) != 1)	/* until the parent is done */
			_exit(5);
		_exit(ib < 0);
	}
	close(p[1]);
	close(q[0]);
	if (pid < 0 || read(p[0], id, sizeof(*id)) != sizeof(*id))
		*id = 0;
	return pid;
}

static void child_done(pid_t pid, int p[2], int q[2])
{
	if (write(q[1], "x", 1) != 1)
		tap_diag("write: %s", strerror(errno));
	close(q[1]);
	close(p[0]);
	ho_reap(pid, FAM_TIMEOUT_MS);
}

static void case_netns_uid(void)
{
	int p[2], q[2], fd = ib_client(port), afd, ib = ib_make(2), rc;
	uint64_t id;
	pid_t pid;

	pid = inbox_child(1, 0, p, q, &id);
	rc = id ? ib_accept_to(lfd, id, NULL) : -1;
	FAM_OK(rc == ENOENT, "an inbox of another namespace: ENOENT (%d)", rc);
	child_done(pid, p, q);

	pid = inbox_child(0, 65534, p, q, &id);
	rc = id ? ib_accept_to(lfd, id, NULL) : -1;
	FAM_OK(!rc, "to another uid's inbox with CAP_NET_ADMIN: queued (%d)", rc);
	child_done(pid, p, q);
	/* Its inbox closed with it queued: reset. */
	fam_close(&fd);

	/* Unprivileged, another uid: the dispatcher is a child. */
	fd = ib_client(port);
	pid = fork();
	if (pid == 0) {
		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(10);
		_exit(ib_accept_to(lfd, ib_id(ib), NULL));
	}
	rc = ho_reap(pid, FAM_TIMEOUT_MS);
	FAM_OK(rc == EPERM, "a dispatcher of another uid without CAP_NET_ADMIN: EPERM (%d)",
	       rc);
	afd = fam_accept(lfd, NULL);
	FAM_OK(afd >= 0 && ib_talks(fd, afd), "... the connection stayed on the listener");
	fam_close(&afd);
	fam_close(&fd);
	fam_close(&ib);
}

static void case_close_blocked(void)
{
	int ib = ib_make(1), fd, afd;
	struct blocked b = { .fd = lfd };

	b.id = ib_id(ib);
	pthread_create(&b.th, NULL, block_accept_to, &b);
	lst_sleep_ms(200);
	close(ib);
	pthread_join(b.th, NULL);
	FAM_OK(b.rc == ENOENT && b.ms < 2000,
	       "the inbox closed under a blocked dispatcher: woken, ENOENT (%s, %lld ms)",
	       strerror(b.rc), b.ms);
	fd = ib_client(port);
	afd = fam_accept(lfd, NULL);
	FAM_OK(afd >= 0 && ib_talks(fd, afd), "... the listener is as it was");
	fam_close(&afd);
	fam_close(&fd);
}

static void case_close_queued(void)
{
	int ib = ib_make(4), fd[2], i, reset = 0;
	struct ib_row t0, t1;
	uint64_t id = ib_id(ib);
	char c;

	ib_proc(0, &t0);
	for (i = 0; i < 2; i++) {
		fd[i] = ib_client(port);
		ib_accept_to(lfd, id, NULL);
	}
	FAM_OK(!ib_proc(id, &t1) && t1.queued == 2 && ib_balanced(id) &&
	       ib_balanced(0), "two queued; the inbox's and the total rows balance");
	close(ib);
	for (i = 0; i < 2; i++) {
		errno = 0;
		reset += (fam_wait(fd[i], POLLIN, FAM_TIMEOUT_MS) & POLLIN) &&
			 recv(fd[i], &c, 1, 0) < 0 && errno == ECONNRESET;
	}
	FAM_OK(reset == 2, "closed with two queued: both peers reset (%d)", reset);
	FAM_OK(ib_proc(id, &t1) && !ib_proc(0, &t1) &&
	       t1.dropped - t0.dropped == 2 && t1.given - t0.given == 2 &&
	       ib_balanced(0),
	       "its row gone; the total counts them dropped, and balances");
	for (i = 0; i < 2; i++)
		fam_close(&fd[i]);
}

static void case_shutdown(void)
{
	int ib = ib_make(4), fd = ib_client(port), afd;
	struct blocked b;

	FAM_OK(!ib_accept_to(lfd, ib_id(ib), NULL), "one queued before the shutdown");
	afd = fam_accept(ib, NULL);
	fam_close(&afd);
	b = (struct blocked){ .fd = ib };
	pthread_create(&b.th, NULL, block_accept, &b);
	lst_sleep_ms(200);
	FAM_OK(!shutdown(ib, SHUT_RD), "shutdown(SHUT_RD) on the inbox");
	pthread_join(b.th, NULL);
	FAM_OK(b.rc == EINVAL && b.ms < 2000,
	       "a blocked accept() woken: EINVAL (%s, %lld ms)", strerror(b.rc), b.ms);
	FAM_OK(fam_wait(ib, POLLIN, 0) & POLLHUP, "POLLHUP");
	FAM_OK(ib_accept_to(lfd, ib_id(ib), NULL) == ENOENT,
	       "NSTCP_ACCEPT_TO to a shut inbox: ENOENT");
	TAP_ERRNO(shutdown(ib, SHUT_WR), ENOTCONN, "SHUT_WR alone: ENOTCONN");
	TAP_ERRNO(shutdown(ib, 7), EINVAL, "a bad how: EINVAL");
	fam_close(&fd);
	fam_close(&ib);
}

static void case_nonblock_epoll(void)
{
	int ib = ib_make(1), fd, ep, n, fl = fcntl(lfd, F_GETFL), i, ea = 0;
	struct epoll_event ev = { .events = EPOLLIN };
	uint64_t id = ib_id(ib);

	fcntl(ib, F_SETFL, O_NONBLOCK);
	TAP_ERRNO(accept(ib, NULL, NULL), EAGAIN,
		  "accept() on an empty non-blocking inbox: EAGAIN");
	fcntl(ib, F_SETFL, 0);
	fcntl(lfd, F_SETFL, fl | O_NONBLOCK);
	for (i = 0; i < 3; i++)
		ea += ib_accept_to(lfd, id, NULL) == EAGAIN;
	fcntl(lfd, F_SETFL, fl);
	FAM_OK(ea == 3, "NSTCP_ACCEPT_TO, non-blocking listener, nothing: EAGAIN (x%d)", ea);
	ep = epoll_create1(0);
	epoll_ctl(ep, EPOLL_CTL_ADD, ib, &ev);
	FAM_OK(epoll_wait(ep, &ev, 1, 0) == 0, "epoll: nothing yet");
	fd = ib_client(port);
	FAM_OK(!ib_accept_to(lfd, id, NULL),
	       "... the slot came back each time: one queued on the inbox of 1");
	n = epoll_wait(ep, &ev, 1, FAM_TIMEOUT_MS);
	FAM_OK(n == 1 && (ev.events & EPOLLIN), "epoll: EPOLLIN");
	n = accept(ib, NULL, NULL);
	FAM_OK(n >= 0 && epoll_wait(ep, &ev, 1, 0) == 0, "accepted; epoll quiet again");
	if (n >= 0)
		close(n);
	close(ep);
	fam_close(&fd);
	fam_close(&ib);
}

int main(void)
{
	/* RFS's table is global: its sysctl is the initial namespace's. */
	rfs_fd = open("/proc/sys/net/core/rps_sock_flow_entries", O_RDWR);
	if (rfs_fd >= 0 && read(rfs_fd, rfs_old, sizeof(rfs_old) - 1) <= 0)
		fam_close(&rfs_fd);
	ncpu = lst_ncpus();
	lst_private_netns();
	/* One CPU's listener queue: connections come out in order. */
	lst_pin(0);
	fam_start(NCASES, 120);
	lfd = fam_listen(AF_NSTCP, LST_IP, 0, &port);
	if (lfd < 0) {
		printf("Bail out! listen\n");
		return 1;
	}
	case_basic();
	case_mib();
	case_order();
	case_full();
	case_bad_id();
	case_netns_uid();
	case_close_blocked();
	case_close_queued();
	case_shutdown();
	case_nonblock_epoll();
	case_rehome();
	close(lfd);	/* rfs_fd stays: it was open at fam_start() */
	return fam_finish();
}
