// SPDX-License-Identifier: GPL-2.0
/*
 * Selftest: give and take between two processes pinned on different CPUs
 * over loopback, 1 MiB each way under checksum with data sent before,
 * during and after the hand-off; the giver's socket while the token is
 * pending and after the take (EBADFD, hung up, its close harmless); token
 * reuse and unknown tokens; a take on a socket that is not fresh; bad
 * sizes and pointers; the counters.  The same transfer between AF_INET
 * sockets passed with SCM_RIGHTS over AF_UNIX, for comparison: the giver
 * keeps its descriptor usable, there is no named taker.
 */
#include <sys/mman.h>

#include "handoff_util.h"

#define NCASES 63
#define GIVER_CHUNKS 8	/* chunks each way before the hand-off */

static int ncpu;

/* SCM_RIGHTS: pass and receive one descriptor over AF_UNIX. */
static int scm_send(int ufd, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 }, b = 'f';
	struct iovec iov = { .iov_base = &b, .iov_len = 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(ufd, &mh, 0) == 1 ? 0 : -1;
}

static int scm_recv(int ufd)
{
	char cbuf[CMSG_SPACE(sizeof(int))], b;
	struct iovec iov = { .iov_base = &b, .iov_len = 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	int fd = -1;

	if (!(fam_wait(ufd, POLLIN, FAM_TIMEOUT_MS) & POLLIN) ||
	    recvmsg(ufd, &mh, 0) != 1)
		return -1;
	cm = CMSG_FIRSTHDR(&mh);
	if (cm && cm->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

/*
 * The taker: takes (or, with ufd >= 0, receives the descriptor), receives
 * the rest of stream 1, sends the rest of 2.
 */
static int taker(int in, int out, int ufd)
{
	struct ho_msg m;
	uint64_t h;
	int fd, rc = 0;

	lst_pin(1 % ncpu);
	if (ho_get(in, &m, FAM_TIMEOUT_MS))
		return 10;
	h = m.sum;	/* what the giver received, continued here */
	fd = ufd >= 0 ? scm_recv(ufd) : ho_take_new(m.token);
	m.val = fd < 0 ? errno : 0;
	m.sum = sched_getcpu();
	if (ho_put(out, &m) || fd < 0)
		return 11;
	if (ufd < 0 &&
	    ho_info_flags(fd) & (NSTCP_INFO_GIVEN | NSTCP_INFO_DETACHED))
		rc = 12;
	/* Go on once the giver checked its detached socket. */
	if (ho_get(in, &m, FAM_TIMEOUT_MS))
		rc = 13;
	if (!rc && ho_recv_sum(fd, HO_MIB - GIVER_CHUNKS * HO_CHUNK, &h))
		rc = 14;
	if (!rc && h != ho_stream_sum(1))
		rc = 15;
	if (!rc && ho_send_chunks(fd, 2, GIVER_CHUNKS, HO_NCHUNK, 0))
		rc = 16;
	/* Stay until the peer has it all. */
	if (ho_get(in, &m, FAM_TIMEOUT_MS * 2))
		rc = rc ?: 17;
	close(fd);
	return rc;
}

/* The transfer across the hand-off; scm: AF_INET and SCM_RIGHTS instead. */
static void case_transfer(int scm)
{
	long given = ho_stat(PROC_GIVEN), taken = ho_stat(PROC_TAKEN);
	long steer = ho_stat(PROC_REHOMED) + ho_stat(PROC_UNSTEERED);
	int cfd, sfd, p2c[2], c2p[2], st, rc, u[2] = { -1, -1 };
	int dom = scm ? AF_INET : AF_NSTCP;
	const char *how = scm ? "SCM_RIGHTS" : "give/take";
	struct ho_peer ps = { .cpu = 2 % ncpu }, pr = { .cpu = 2 % ncpu };
	char buf[HO_CHUNK];
	uint64_t token, h = FAM_SUM_INIT, tmp;
	struct ho_msg m = { 0 };
	struct pollfd pfd;
	pid_t pid;

	lst_pin(0);
	if (fam_pair_of(dom, dom, LST_IP, &cfd, &sfd) || pipe(p2c) || pipe(c2p) ||
	    (scm && socketpair(AF_UNIX, SOCK_STREAM, 0, u))) {
		printf("Bail out! pair or pipes: %s\n", strerror(errno));
		exit(1);
	}
	pid = fork();
	if (pid == 0) {
		close(p2c[1]);
		close(c2p[0]);
		close(cfd);
		close(sfd);
		if (scm)
			close(u[0]);
		_exit(taker(p2c[0], c2p[1], u[1]));
	}
	close(p2c[0]);
	close(c2p[1]);
	if (scm)
		close(u[1]);
	ps.fd = pr.fd = cfd;
	pthread_create(&ps.th, NULL, ho_peer_send, &ps);
	pthread_create(&pr.th, NULL, ho_peer_recv, &pr);

	/* Before: the giver sends and receives its share. */
	rc = ho_send_chunks(sfd, 2, 0, GIVER_CHUNKS, 0);
	rc = rc ?: ho_recv_sum(sfd, GIVER_CHUNKS * HO_CHUNK, &h);
	FAM_OK(!rc, "%s: giver exchanged %d KiB each way before the hand-off",
	       how, GIVER_CHUNKS * HO_CHUNK / 1024);
	if (scm) {
		FAM_OK(!scm_send(u[0], sfd), "SCM_RIGHTS: passed the descriptor");
		m.sum = h;
		ho_put(p2c[1], &m);
		rc = ho_get(c2p[0], &m, FAM_TIMEOUT_MS);
		FAM_OK(!rc && m.val == 0, "SCM_RIGHTS: the taker has it, on CPU %ld",
		       (long)m.sum);
		errno = 0;
		rc = recv(sfd, buf, 1, MSG_DONTWAIT | MSG_PEEK);
		FAM_OK(rc == 1 || errno == EAGAIN,
		       "SCM_RIGHTS: the giver's copy still reads the connection (no reservation)");
		FAM_OK(!close(sfd) && !close(u[0]), "SCM_RIGHTS: the giver closes its copy");
		goto finish;
	}
	rc = ho_give_pid(sfd, pid, 5000, &token);
	FAM_OK(!rc && token, "give to the taker's pid: a token (%s)", strerror(rc));

	/* During: the connection is reserved. */
	TAP_ERRNO(recv(sfd, buf, 1, MSG_DONTWAIT), EBADFD, "recv on a given socket: EBADFD");
	TAP_ERRNO(send(sfd, buf, 1, MSG_DONTWAIT), EBADFD, "send on a given socket: EBADFD");
	TAP_ERRNO(shutdown(sfd, SHUT_WR), EBADFD, "shutdown of a given socket: EBADFD");
	FAM_OK(ho_give_pid(sfd, pid, 5000, &tmp) == EBADFD, "a second give: EBADFD");
	FAM_OK(ho_info_flags(sfd) == NSTCP_INFO_GIVEN, "NSTCP_INFO says given (flags %#x)",
	       ho_info_flags(sfd));
	pfd = (struct pollfd){ .fd = sfd, .events = POLLIN | POLLOUT };
	FAM_OK(poll(&pfd, 1, 0) == 0, "poll on a given socket: nothing (%#x)", pfd.revents);
	FAM_OK(ho_pending() == 1, "one token pending in /proc/net/nstcp_tokens (%d)",
	       ho_pending());

	m.token = token;
	m.sum = h;
	ho_put(p2c[1], &m);
	rc = ho_get(c2p[0], &m, FAM_TIMEOUT_MS);
	FAM_OK(!rc && m.val == 0, "the taker took it (%s) on CPU %ld",
	       rc ? "no answer" : strerror(m.val), (long)m.sum);
	FAM_OK(ho_pending() == 0, "no token pending after the take");

	/* After: the giver's socket is detached. */
	TAP_ERRNO(recv(sfd, buf, 1, MSG_DONTWAIT), EBADFD, "recv on the detached socket: EBADFD");
	TAP_ERRNO(send(sfd, buf, 1, 0), EBADFD, "send on the detached socket: EBADFD");
	TAP_ERRNO(getsockopt(sfd, SOL_TCP, TCP_INFO, buf, &(socklen_t){ 64 }),
		  EBADFD, "getsockopt on the detached socket: EBADFD");
	TAP_ERRNO(connect(sfd, (struct sockaddr *)&(struct sockaddr_in){ .sin_family = AF_INET }, sizeof(struct sockaddr_in)),
		  EBADFD, "connect on the detached socket: EBADFD");
	FAM_OK(ho_info_flags(sfd) == NSTCP_INFO_DETACHED,
	       "NSTCP_INFO says detached (flags %#x)", ho_info_flags(sfd));
	pfd = (struct pollfd){ .fd = sfd, .events = POLLIN };
	FAM_OK(poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLHUP | POLLERR)) == (POLLHUP | POLLERR),
	       "poll on the detached socket: POLLHUP|POLLERR (%#x)", pfd.revents);
	FAM_OK(ho_take_new(token) < 0 && errno == ENOENT, "the used token again: ENOENT (%s)",
	       strerror(errno));
	FAM_OK(!close(sfd), "close of the detached socket");

finish:
	ho_put(p2c[1], &m);	/* go on */
	pthread_join(ps.th, NULL);
	pthread_join(pr.th, NULL);
	FAM_OK(ps.ok, "%s: peer sent 1 MiB across the hand-off", how);
	FAM_OK(pr.ok, "%s: peer received 1 MiB, checksum right (giver's part, then the taker's)",
	       how);
	ho_put(p2c[1], &m);
	st = ho_reap(pid, FAM_TIMEOUT_MS * 2);
	FAM_OK(st == 0, "%s: taker received the rest of 1 MiB, checksum right (status %d)",
	       how, st);
	FAM_OK(fam_recv_all(cfd, buf, 1) == 0, "%s: peer sees the taker's close: EOF", how);
	close(cfd);
	close(p2c[1]);
	close(c2p[0]);
	if (scm)
		return;
	FAM_OK(ho_stat(PROC_GIVEN) == given + 1 && ho_stat(PROC_TAKEN) == taken + 1,
	       "counted given and taken once");
	FAM_OK(ho_stat(PROC_REHOMED) + ho_stat(PROC_UNSTEERED) == steer + 1,
	       "the take was counted rehomed (%ld) or unsteered (%ld)",
	       ho_stat(PROC_REHOMED), ho_stat(PROC_UNSTEERED));
}

static void case_unknown(void)
{
	FAM_OK(ho_take_new(0) < 0 && errno == ENOENT, "token 0: ENOENT");
	FAM_OK(ho_take_new(0x0123456789abcdefull) < 0 && errno == ENOENT,
	       "an unknown token: ENOENT");
}

/* A take on sockets that are not fresh, then on a fresh one. */
static void case_not_fresh(void)
{
	int cfd, sfd, lfd, bfd, kfd, nfd;
	struct fam_addr a = fam_addr(LST_IP, 0);
	uint64_t token;
	char c = 'x';

	if (fam_pair(LST_IP, &cfd, &sfd)) {
		printf("Bail out! pair\n");
		exit(1);
	}
	FAM_OK(!ho_give_pid(sfd, getpid(), 5000, &token), "give to ourselves");
	FAM_OK(ho_take(cfd, token) == EISCONN, "take on a connected socket: EISCONN");
	lfd = fam_listen(AF_NSTCP, LST_IP, 0, NULL);
	FAM_OK(ho_take(lfd, token) == EISCONN, "take on a listening socket: EISCONN");
	bfd = fam_socket(AF_NSTCP, 0);
	FAM_OK(!bind(bfd, &a.sa, a.len) && ho_take(bfd, token) == EINVAL,
	       "take on a bound socket: EINVAL");
	kfd = fam_socket(AF_NSTCP, 0);
	FAM_OK(!lst_set_key(kfd, "k1") && ho_take(kfd, token) == EINVAL,
	       "take on a socket with SOL_NSTCP state: EINVAL");
	FAM_OK(ho_take(sfd, token) == EBADFD, "take on the given socket itself: EBADFD");
	nfd = ho_take_new(token);
	FAM_OK(nfd >= 0, "the token survived those, a fresh socket takes it");
	FAM_OK(send(cfd, &c, 1, 0) == 1 && recv(nfd, &c, 1, 0) == 1 && c == 'x' &&
	       send(nfd, &c, 1, 0) == 1 && recv(cfd, &c, 1, 0) == 1,
	       "data both ways on the taken connection");
	close(sfd);
	FAM_OK(send(cfd, &c, 1, 0) == 1 && recv(nfd, &c, 1, 0) == 1,
	       "closing the giver's detached socket left it intact");
	close(nfd);
	close(cfd);
	close(lfd);
	close(bfd);
	close(kfd);
}

static int give_raw(int fd, void *g, socklen_t len)
{
	return getsockopt(fd, SOL_NSTCP, NSTCP_GIVE, g, &len) ? errno : 0;
}

static void case_bad(void)
{
	struct nstcp_give g = { .ng_flags = NSTCP_GIVE_PID, .ng_id = getpid() };
	int cfd, sfd, ufd, lfd, st;
	uint64_t token = 1;
	struct nstcp_give *ro;
	char c = 'y';
	pid_t dead;

	if (fam_pair(LST_IP, &cfd, &sfd)) {
		printf("Bail out! pair\n");
		exit(1);
	}
	FAM_OK(give_raw(sfd, &g, sizeof(g) - 1) == EINVAL, "give, optlen too short: EINVAL");
	FAM_OK(give_raw(sfd, NULL, sizeof(g)) == EFAULT, "give, NULL optval: EFAULT");
	FAM_OK(give_raw(sfd, (void *)8, sizeof(g)) == EFAULT, "give, bad optval: EFAULT");
	TAP_ERRNO(getsockopt(sfd, SOL_NSTCP, NSTCP_GIVE, &g, NULL), EFAULT,
		  "give, NULL optlen: EFAULT");
	g.ng_flags = 0;
	FAM_OK(give_raw(sfd, &g, sizeof(g)) == EINVAL, "give, no flag: EINVAL");
	g.ng_flags = NSTCP_GIVE_PID | NSTCP_GIVE_UID;
	FAM_OK(give_raw(sfd, &g, sizeof(g)) == EINVAL, "give, both flags: EINVAL");
	g.ng_flags = NSTCP_GIVE_PID;
	g.ng_reserved = 1;
	FAM_OK(give_raw(sfd, &g, sizeof(g)) == EINVAL, "give, reserved set: EINVAL");
	g.ng_reserved = 0;
	g.ng_timeout_ms = NSTCP_GIVE_TIMEOUT_MAX + 1;
	FAM_OK(give_raw(sfd, &g, sizeof(g)) == EINVAL, "give, timeout too long: EINVAL");
	g.ng_timeout_ms = 0;
	dead = fork();
	if (dead == 0)
		_exit(0);
	st = ho_reap(dead, FAM_TIMEOUT_MS);
	g.ng_id = dead;
	FAM_OK(!st && give_raw(sfd, &g, sizeof(g)) == ESRCH, "give to a process gone: ESRCH");
	g.ng_id = 0;
	FAM_OK(give_raw(sfd, &g, sizeof(g)) == ESRCH, "give to pid 0: ESRCH");
	g.ng_flags = NSTCP_GIVE_UID;
	g.ng_id = (unsigned int)-1;
	FAM_OK(give_raw(sfd, &g, sizeof(g)) == EINVAL, "give to uid -1: EINVAL");

	ufd = fam_socket(AF_NSTCP, 0);
	FAM_OK(ho_give_pid(ufd, getpid(), 0, &token) == ENOTCONN,
	       "give of an unconnected socket: ENOTCONN");
	lfd = fam_listen(AF_NSTCP, LST_IP, 0, NULL);
	FAM_OK(ho_give_pid(lfd, getpid(), 0, &token) == ENOTCONN,
	       "give of a listening socket: ENOTCONN");

	TAP_ERRNO(setsockopt(ufd, SOL_NSTCP, NSTCP_TAKE, &token, 4), EINVAL,
		  "take, optlen 4: EINVAL");
	TAP_ERRNO(setsockopt(ufd, SOL_NSTCP, NSTCP_TAKE, &g, 16), EINVAL,
		  "take, optlen 16: EINVAL");
	TAP_ERRNO(setsockopt(ufd, SOL_NSTCP, NSTCP_TAKE, NULL, 8), EFAULT,
		  "take, NULL optval: EFAULT");

	/* The token cannot be written back: the give is undone. */
	ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ro->ng_flags = NSTCP_GIVE_PID;
	ro->ng_id = getpid();
	mprotect(ro, 4096, PROT_READ);
	FAM_OK(give_raw(sfd, ro, sizeof(*ro)) == EFAULT,
	       "give into a read-only buffer: EFAULT");
	munmap(ro, 4096);
	FAM_OK(ho_info_flags(sfd) == 0 && ho_pending() == 0 &&
	       send(sfd, &c, 1, 0) == 1 && recv(cfd, &c, 1, 0) == 1,
	       "... and the socket is the giver's again, nothing pending");
	close(ufd);
	close(lfd);
	close(cfd);
	close(sfd);
}

int main(void)
{
	lst_private_netns();
	fam_start(NCASES, 120);
	ncpu = lst_ncpus();
	if (ncpu < 2)
		tap_diag("one CPU: giver and taker share it");
	case_transfer(0);
	case_transfer(1);
	case_unknown();
	case_not_fresh();
	case_bad();
	return fam_finish();
}
