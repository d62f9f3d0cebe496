// SPDX-License-Identifier: GPL-2.0
/*
 * Selftest: bad input to inboxes and NSTCP_ACCEPT_TO (Documentation/inbox.rst),
 * and what an inbox refuses to become: connected by sendto() with an
 * address, by MSG_FASTOPEN or by TCP_FASTOPEN_CONNECT and connect(), given
 * with NSTCP_GIVE.  After all of it the inbox still takes a connection.
 * NSTCP_ACCEPT_TO's failures leave optlen as it was, and a reply buffer
 * that cannot be written (a read-only page) fails before anything is taken:
 * the connection is still on the listener.  A listener's SO_RCVTIMEO
 * ends NSTCP_ACCEPT_TO with EAGAIN, its inbox slot given back.  A signal
 * to a blocked accept() on an inbox does what it does on an AF_INET
 * listener (EINTR; SA_RESTART: restarted; with SO_RCVTIMEO: EINTR).  A
 * closed or shut inbox's id: ENOENT, nothing counted, the dispatcher keeps
 * the connection.  Ids: never 0, distinct, no bit fixed, "*" to others.
 */
#include <netinet/tcp.h>
#include <sys/mman.h>

#include "inbox_util.h"

#define NCASES 62

static int lfd, port;

static volatile sig_atomic_t nsig;

static void on_sig(int sig)
{
	(void)sig;
	nsig++;
}

/* SIGUSR1's handler, SA_RESTART or not. */
static void sig_restart(int restart)
{
	struct sigaction sa = { .sa_handler = on_sig };

	sa.sa_flags = restart ? SA_RESTART : 0;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
}

/*
 * A connection for a thread blocked in accept() on fd: on the inbox of id
 * (queued from the listener), or (id 0) on AF_INET listener fd on port
 * iport.  The client's descriptor, kept in *cfd.
 */
static void intr_feed(uint64_t id, int iport, int *cfd)
{
	if (id) {
		*cfd = ib_client(port);
		if (ib_accept_to(lfd, id, NULL))
			tap_diag("%s: NSTCP_ACCEPT_TO failed", __func__);
	} else {
		*cfd = fam_connect(AF_INET, LST_IP, iport);
	}
}

/*
 * accept() on fd (an inbox of id, or an AF_INET listener on iport),
 * blocked, then signalled: with SA_RESTART off EINTR at once; with it
 * ERESTARTSYS, the call restarted (still blocked 300 ms after the handler
 * ran, then accepting a connection), unless fd has an SO_RCVTIMEO
 * (timeo): EINTR.  Stuck calls are ended by a connection, to fail rather
 * than hang.
 */
static void intr_one(int fd, uint64_t id, int iport, int restart, int timeo,
		     const char *what)
{
	struct timeval tv = { .tv_sec = timeo }, zero = { 0 };
	struct blocked b = { .fd = fd };
	int in, back = 0, cfd = -1;
	long long t;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, timeo ? &tv : &zero, sizeof(tv));
	sig_restart(restart);
	nsig = 0;
	pthread_create(&b.th, NULL, block_accept, &b);
	in = ib_in_accept(&b, 5000);
	t = lst_now_ms();
	pthread_kill(b.th, SIGUSR1);
	if (restart && !timeo) {
		while (!nsig && lst_now_ms() - t < 5000)
			lst_sleep_ms(5);
		lst_sleep_ms(300);
		back = nsig && ib_in_accept(&b, 5000);
		intr_feed(id, iport, &cfd);
	}
	if (!ib_block_wait(&b, 5000) && cfd < 0)
		intr_feed(id, iport, &cfd);	/* end it: fail, not hang */
	pthread_join(b.th, NULL);
	if (restart && !timeo)
		FAM_OK(in && back && !b.rc,
		       "%s, SA_RESTART: restarted, blocked again, then accepted (%s)",
		       what, strerror(b.rc));
	else
		FAM_OK(in && b.rc == EINTR && nsig == 1 && b.end - t < 3000,
		       "%s%s: EINTR (%s, %lld ms after the signal)", what,
		       timeo ? ", SO_RCVTIMEO and SA_RESTART" : "", strerror(b.rc),
		       b.end - t);
	/* A connection fed to a call that had already returned: not the next's. */
	while (fam_wait(fd, POLLIN, cfd >= 0 && b.rc ? 1000 : 0) & POLLIN) {
		in = accept(fd, NULL, NULL);
		if (in < 0)
			break;
		close(in);
	}
	fam_close(&cfd);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &zero, sizeof(zero));
}

/*
 * A signal to a blocked accept() on an inbox: as on an AF_INET listener,
 * in the same three ways; then the inbox has lost nothing.
 */
static void case_intr(void)
{
	int ib = ib_make(2), il, iport, restart, fd, afd;
	uint64_t id = ib_id(ib);

	il = fam_listen(AF_INET, LST_IP, 0, &iport);
	for (restart = 0; restart < 2; restart++) {
		intr_one(il, 0, iport, restart, 0, "AF_INET listener");
		intr_one(ib, id, 0, restart, 0, "inbox");
	}
	intr_one(il, 0, iport, 1, 10, "AF_INET listener");
	intr_one(ib, id, 0, 1, 10, "inbox");
	signal(SIGUSR1, SIG_DFL);
	fd = ib_client(port);
	afd = ib_accept_to(lfd, id, NULL) ? -1 : accept(ib, NULL, NULL);
	FAM_OK(afd >= 0 && ib_talks(fd, afd) && ib_balanced(id),
	       "after the signals the inbox queues and accepts; its row balances");
	fam_close(&afd);
	fam_close(&fd);
	fam_close(&il);
	fam_close(&ib);
}

/*
 * A worker's inbox, its id read by the dispatcher, then closed (the worker
 * exited), or shut down: NSTCP_ACCEPT_TO says ENOENT, optlen as it was,
 * however often; nothing is taken nor counted, nothing left in the table;
 * the dispatcher still has the connection, which another inbox then gets.
 */
static void case_closed_id(void)
{
	struct nstcp_accept_to at;
	int p[2], fd, afd, ib = -1, i, enoent = 0, rows0, rows1;
	long acc0, given0;
	struct ib_row t0, t1;
	socklen_t len;
	uint64_t id = 0;
	pid_t pid;

	if (pipe(p))
		return;
	pid = fork();
	if (pid == 0) {
		int w = ib_make(4);
		uint64_t v = w >= 0 ? ib_id(w) : 0;

		_exit(write(p[1], &v, sizeof(v)) != sizeof(v));
	}
	close(p[1]);
	if (read(p[0], &id, sizeof(id)) != sizeof(id))
		id = 0;
	close(p[0]);
	FAM_OK(id && !ho_reap(pid, FAM_TIMEOUT_MS) && ib_proc_has(id) == 0,
	       "a worker read its inbox's id and exited: no row left");
	rows0 = ib_proc_count("total");
	ib_proc(0, &t0);
	acc0 = ho_stat(PROC_ACCEPTS);
	given0 = ho_stat(PROC_GIVEN);
	fd = ib_client(port);
	for (i = 0; i < 100; i++) {
		at = (struct nstcp_accept_to){ .nto_inbox = id };
		len = sizeof(at) + 8;
		errno = 0;
		enoent += getsockopt(lfd, SOL_NSTCP, NSTCP_ACCEPT_TO, &at, &len) &&
			  errno == ENOENT && len == sizeof(at) + 8;
	}
	FAM_OK(enoent == 100,
	       "NSTCP_ACCEPT_TO to the closed inbox: ENOENT, optlen kept (%d of 100)", enoent);
	rows1 = ib_proc_count("total");
	FAM_OK(!ib_proc(0, &t1) && rows0 == 1 && rows1 == 1 &&
	       t1.given == t0.given && t1.dropped == t0.dropped && !t1.queued &&
	       ho_stat(PROC_ACCEPTS) == acc0 && ho_stat(PROC_GIVEN) == given0,
	       "... nothing accepted, given nor dropped");
	ib = ib_make(1);
	FAM_OK(ib_proc_has(id) == 0 && ib_id(ib) != id, "a new inbox has another id");
	shutdown(ib, SHUT_RD);
	FAM_OK(ib_accept_to(lfd, ib_id(ib), NULL) == ENOENT,
	       "to an inbox shut down after its id was read: ENOENT");
	fam_close(&ib);
	ib = ib_make(1);
	FAM_OK(!ib_accept_to(lfd, ib_id(ib), &at) &&
	       fam_port((struct sockaddr *)&at.nto_peer) == fam_local_port(fd),
	       "the dispatcher still had the connection: queued on another inbox");
	afd = fam_accept(ib, NULL);
	FAM_OK(afd >= 0 && ib_talks(fd, afd) && ib_balanced(ib_id(ib)) && ib_balanced(0),
	       "... accepted there, it talks; the rows balance");
	fam_close(&afd);
	fam_close(&fd);
	fam_close(&ib);
}

#define NIDS 64

/*
 * Ids as user space sees them: never 0, distinct among open inboxes,
 * stable, every bit used (none masked off), each its row's; not handed
 * out again to the next inboxes (random).  Another uid without
 * CAP_NET_ADMIN sees its own inbox's id and "*" for ours.
 */
static void case_ids(void)
{
	uint64_t id[NIDS], or = 0, and = ~0ull, v;
	int ib[NIDS], i, j, bad = 0, rows = 0, again = 0, p[2], st;
	pid_t pid;

	for (i = 0; i < NIDS; i++) {
		ib[i] = ib_make(1);
		id[i] = ib_id(ib[i]);
		bad += !id[i];
		for (j = 0; j < i; j++)
			bad += id[j] == id[i];
		or |= id[i];
		and &= id[i];
		rows += ib_proc_has(id[i]) == 1;
	}
	FAM_OK(!bad, "%d open inboxes: ids never 0, all distinct", NIDS);
	FAM_OK(or == ~0ull && !and, "... no bit fixed (or %#" PRIx64 " and %#" PRIx64 ")",
	       or, and);
	FAM_OK(rows == NIDS && ib_id(ib[0]) == id[0],
	       "... each its row of /proc/net/nstcp_inbox (%d), stable", rows);

	/* Another uid: its own id shown, ours as "*". */
	if (pipe(p))
		return;
	pid = fork();
	if (pid == 0) {
		int w = -1;

		close(p[0]);
		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(10);
		w = ib_make(1);
		v = ib_id(w);
		st = (ib_proc_has(v) == 1 ? 0 : 1) |
		     (ib_proc_has(id[0]) == 0 ? 0 : 2) |
		     (ib_proc_count("*") == NIDS ? 0 : 4);
		if (write(p[1], &v, sizeof(v)) != sizeof(v))
			st |= 8;
		_exit(st);
	}
	close(p[1]);
	if (read(p[0], &v, sizeof(v)) != sizeof(v))
		v = 0;
	close(p[0]);
	st = ho_reap(pid, FAM_TIMEOUT_MS);
	FAM_OK(!st && v, "another uid sees its inbox's id, ours as * (%#x)", st);
	FAM_OK(ib_proc_has(v) == 0 && ib_proc_count("*") == 0,
	       "... its inbox went with it; we see no *");

	for (i = 0; i < NIDS; i++)
		fam_close(&ib[i]);
	for (i = 0; i < NIDS; i++) {
		ib[0] = ib_make(1);
		v = ib_id(ib[0]);
		for (j = 0; j < NIDS; j++)
			again += v == id[j];
		fam_close(&ib[0]);
	}
	FAM_OK(!again, "%d inboxes after: no closed one's id again (%d)", NIDS, again);
}

static void case_input(void)
{
	int s = fam_socket(AF_NSTCP, 0), v, ib = ib_make(1), t;
	struct nstcp_inbox_info info;
	struct nstcp_accept_to at = { 0 };
	struct fam_addr a = fam_addr(LST_IP, 0);
	socklen_t len;
	void *bad = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);

	v = 0;
	TAP_ERRNO(setsockopt(s, SOL_NSTCP, NSTCP_INBOX, &v, sizeof(v)), EINVAL,
		  "backlog 0: EINVAL");
	v = NSTCP_INBOX_MAX + 1;
	TAP_ERRNO(setsockopt(s, SOL_NSTCP, NSTCP_INBOX, &v, sizeof(v)), EINVAL,
		  "backlog over NSTCP_INBOX_MAX: EINVAL");
	v = 1;
	TAP_ERRNO(setsockopt(s, SOL_NSTCP, NSTCP_INBOX, &v, 2), EINVAL,
		  "optlen 2: EINVAL");
	TAP_ERRNO(setsockopt(s, SOL_NSTCP, NSTCP_INBOX, bad, sizeof(v)), EFAULT,
		  "a bad pointer: EFAULT");
	TAP_ERRNO(setsockopt(ib, SOL_NSTCP, NSTCP_INBOX, &v, sizeof(v)), EINVAL,
		  "an inbox twice: EINVAL");
	TAP_ERRNO(setsockopt(lfd, SOL_NSTCP, NSTCP_INBOX, &v, sizeof(v)), EISCONN,
		  "on a listener: EISCONN");
	t = fam_socket(AF_NSTCP, 0);
	bind(t, &a.sa, a.len);
	TAP_ERRNO(setsockopt(t, SOL_NSTCP, NSTCP_INBOX, &v, sizeof(v)), EINVAL,
		  "on a bound socket: EINVAL");
	close(t);
	t = ib_client(port);
	TAP_ERRNO(setsockopt(t, SOL_NSTCP, NSTCP_INBOX, &v, sizeof(v)), EISCONN,
		  "on a connected socket: EISCONN");
	v = fam_accept(lfd, NULL);
	if (v >= 0)
		close(v);
	close(t);

	FAM_OK(ib_info(s, &info) == EINVAL, "NSTCP_INBOX get, not an inbox: EINVAL");
	len = sizeof(info) - 1;
	TAP_ERRNO(getsockopt(ib, SOL_NSTCP, NSTCP_INBOX, &info, &len), EINVAL,
		  "NSTCP_INBOX get, optlen short: EINVAL");
	len = sizeof(info);
	TAP_ERRNO(getsockopt(ib, SOL_NSTCP, NSTCP_INBOX, bad, &len), EFAULT,
		  "NSTCP_INBOX get, a bad pointer: EFAULT");

	at.nto_inbox = ib_id(ib);
	len = sizeof(at) - 1;
	TAP_ERRNO(getsockopt(lfd, SOL_NSTCP, NSTCP_ACCEPT_TO, &at, &len), EINVAL,
		  "NSTCP_ACCEPT_TO, optlen short: EINVAL");
	len = sizeof(at);
	TAP_ERRNO(getsockopt(lfd, SOL_NSTCP, NSTCP_ACCEPT_TO, bad, &len), EFAULT,
		  "NSTCP_ACCEPT_TO, a bad pointer: EFAULT");
	at.nto_reserved = 1;
	TAP_ERRNO(getsockopt(lfd, SOL_NSTCP, NSTCP_ACCEPT_TO, &at, &len), EINVAL,
		  "NSTCP_ACCEPT_TO, reserved set: EINVAL");
	FAM_OK(ib_accept_to(s, ib_id(ib), NULL) == EINVAL,
	       "NSTCP_ACCEPT_TO on a socket that does not listen: EINVAL");
	FAM_OK(ib_accept_to(ib, ib_id(ib), NULL) == EINVAL,
	       "NSTCP_ACCEPT_TO on an inbox: EINVAL");

	TAP_ERRNO(listen(ib, 8), EINVAL, "listen() on an inbox: EINVAL");
	TAP_ERRNO(bind(ib, &a.sa, a.len), EINVAL, "bind() on an inbox: EINVAL");
	TAP_ERRNO(setsockopt(ib, SOL_NSTCP, NSTCP_SHARE_KEY, "k", 1), EINVAL,
		  "NSTCP_SHARE_KEY on an inbox: EINVAL");
	{
		struct nstcp_accept_token tok = { .nat_give.ng_flags = NSTCP_GIVE_UID };

		len = sizeof(tok);
		TAP_ERRNO(getsockopt(ib, SOL_NSTCP, NSTCP_ACCEPT_TOKEN, &tok, &len),
			  EINVAL, "NSTCP_ACCEPT_TOKEN on an inbox: EINVAL");
	}
	munmap(bad, 4096);
	close(s);
	close(ib);
}

/* An inbox never becomes a connection, nor is given as one. */
static void case_refuse(int ib)
{
	struct fam_addr a = fam_addr(LST_IP, port);
	int one = 1;
	uint64_t token = 0;

	TAP_ERRNO(sendto(ib, "x", 1, MSG_FASTOPEN | MSG_NOSIGNAL, &a.sa, a.len),
		  EINVAL, "sendto(MSG_FASTOPEN) on an inbox: EINVAL, not a connect");
	TAP_ERRNO(sendto(ib, "x", 1, MSG_FASTOPEN | MSG_NOSIGNAL, NULL, 0),
		  EINVAL, "send(MSG_FASTOPEN) without an address: EINVAL");
	TAP_ERRNO(sendto(ib, "x", 1, MSG_NOSIGNAL, &a.sa, a.len), EINVAL,
		  "sendto() with an address on an inbox: EINVAL");
	FAM_OK(!setsockopt(ib, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, &one,
			   sizeof(one)), "TCP_FASTOPEN_CONNECT set on an inbox");
	TAP_ERRNO(connect(ib, &a.sa, a.len), EINVAL,
		  "... connect() after it: EINVAL");
	TAP_ERRNO(send(ib, "x", 1, MSG_NOSIGNAL), EPIPE,
		  "... a send() after it: EPIPE, nothing connected");
	FAM_OK(ho_give(ib, NSTCP_GIVE_UID, getuid(), 1000, &token) == EINVAL,
	       "NSTCP_GIVE of an inbox: EINVAL");
	token = 1;
	TAP_ERRNO(setsockopt(ib, SOL_NSTCP, NSTCP_TAKE, &token, sizeof(token)),
		  EINVAL, "NSTCP_TAKE onto an inbox: EINVAL");
}

/*
 * A reply buffer on a read-only page: EFAULT before anything is taken,
 * optlen as it was; failures leave optlen alone; the connection stays on
 * the listener and goes to the inbox at the next NSTCP_ACCEPT_TO.
 */
static void case_efault_kept(int ib)
{
	uint64_t id = ib_id(ib);
	struct nstcp_accept_to at = { .nto_inbox = id }, *ro;
	socklen_t len = sizeof(at) + 8;
	int fd = ib_client(port), afd;
	struct ib_row r0, r;

	ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ro == MAP_FAILED)
		ro = NULL;
	if (ro) {
		*ro = at;
		mprotect(ro, 4096, PROT_READ);
	}
	FAM_OK(!ib_proc(id, &r0), "the inbox's row read");
	TAP_ERRNO(getsockopt(lfd, SOL_NSTCP, NSTCP_ACCEPT_TO, ro, &len), EFAULT,
		  "NSTCP_ACCEPT_TO, a read-only reply: EFAULT");
	FAM_OK(len == sizeof(at) + 8, "... optlen unchanged (%u)", len);
	FAM_OK(!ib_proc(id, &r) && r.given == r0.given && !r.queued,
	       "... nothing given to the inbox");
	at.nto_inbox = ~id;
	TAP_ERRNO(getsockopt(lfd, SOL_NSTCP, NSTCP_ACCEPT_TO, &at, &len), ENOENT,
		  "NSTCP_ACCEPT_TO, an unknown id: ENOENT");
	FAM_OK(len == sizeof(at) + 8, "... optlen unchanged (%u)", len);
	at.nto_inbox = id;
	FAM_OK(!getsockopt(lfd, SOL_NSTCP, NSTCP_ACCEPT_TO, &at, &len) &&
	       len == sizeof(at), "the next NSTCP_ACCEPT_TO queues it, optlen set");
	afd = fam_accept(ib, NULL);
	FAM_OK(afd >= 0 && ib_talks(fd, afd),
	       "the connection the fault left on the listener talks from the inbox");
	FAM_OK(!ib_proc(id, &r) && r.given == r0.given + 1 &&
	       r.accepted == r0.accepted + 1 && !r.queued && ib_balanced(id) &&
	       ib_balanced(0), "given %ld accepted %ld: the rows balance",
	       r.given, r.accepted);
	fam_close(&afd);
	fam_close(&fd);
	if (ro)
		munmap(ro, 4096);
}

/*
 * SO_RCVTIMEO on the listener: NSTCP_ACCEPT_TO with nothing to take ends
 * with EAGAIN and gives its slot back (an inbox of 1 takes the next one).
 */
static void case_timeout(void)
{
	struct timeval tv = { .tv_usec = 100000 }, zero = { 0 };
	int ib = ib_make(1), fd, afd, rc;
	uint64_t id = ib_id(ib);
	long long t0 = lst_now_ms(), ms;
	struct ib_row r;

	setsockopt(lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	rc = ib_accept_to(lfd, id, NULL);
	ms = lst_now_ms() - t0;
	FAM_OK(rc == EAGAIN && ms >= 90 && ms < 5000,
	       "NSTCP_ACCEPT_TO, nothing queued, SO_RCVTIMEO 100 ms: EAGAIN (%s, %lld ms)",
	       strerror(rc), ms);
	FAM_OK(!ib_proc(id, &r) && !r.given && !r.queued, "... nothing given");
	fd = ib_client(port);
	rc = ib_accept_to(lfd, id, NULL);
	FAM_OK(!rc, "the slot given back: the next one queued on the inbox of 1 (%s)",
	       strerror(rc));
	setsockopt(lfd, SOL_SOCKET, SO_RCVTIMEO, &zero, sizeof(zero));
	afd = fam_accept(ib, NULL);
	FAM_OK(afd >= 0 && ib_talks(fd, afd) && ib_balanced(id),
	       "... accepted from the inbox, talks; the row balances");
	fam_close(&afd);
	fam_close(&fd);
	fam_close(&ib);
}

int main(void)
{
	int ib;

	lst_private_netns();
	lst_pin(0);
	fam_start(NCASES, 120);
	lfd = fam_listen(AF_NSTCP, LST_IP, 0, &port);
	if (lfd < 0) {
		printf("Bail out! listen\n");
		return 1;
	}
	case_input();
	ib = ib_make(4);
	FAM_OK(ib >= 0, "an inbox");
	case_refuse(ib);
	case_efault_kept(ib);
	fam_close(&ib);
	case_timeout();
	case_intr();
	case_closed_id();
	case_ids();
	close(lfd);
	return fam_finish();
}
