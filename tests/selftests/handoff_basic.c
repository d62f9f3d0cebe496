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
static int taker(struct ho_xfer *x, int ufd)
{
	struct ho_msg m;
	uint64_t h;
	int fd, rc = 0;

	lst_pin(1 % ncpu);
	if (ho_get(x->in, &m, FAM_TIMEOUT_MS))
		return 10;
	h = m.sum;	/* what the giver received, continued here */
	fd = ufd >= 0 ? scm_recv(ufd) : ho_take_new(m.token);
	if (ho_xfer_taken(x, &m, fd, errno))
		return 11;
	if (ufd < 0 &&
	    ho_info_flags(fd) & (NSTCP_INFO_GIVEN | NSTCP_INFO_DETACHED))
		rc = 12;
	return ho_xfer_rest(x, fd, h, rc);
}

/* The transfer across the hand-off; scm: AF_INET and SCM_RIGHTS instead. */
static void case_transfer(int scm)
{
	long given = ho_stat(PROC_GIVEN), taken = ho_stat(PROC_TAKEN);
	long steer = ho_stat(PROC_REHOMED) + ho_stat(PROC_UNSTEERED);
	int cfd, sfd, rc, u[2] = { -1, -1 };
	int dom = scm ? AF_INET : AF_NSTCP;
	const char *how = scm ? "SCM_RIGHTS" : "give/take";
	char buf[64];
	uint64_t token, tmp;
	struct ho_msg m = { 0 };
	struct ho_xfer x;
	struct pollfd pfd;

	lst_pin(0);
	if (fam_pair_of(dom, dom, LST_IP, &cfd, &sfd) ||
	    (scm && socketpair(AF_UNIX, SOCK_STREAM, 0, u))) {
		printf("Bail out! pair: %s\n", strerror(errno));
		exit(1);
	}
	if (ho_xfer_fork(&x, cfd, sfd) == 0) {
		if (scm)
			close(u[0]);
		_exit(taker(&x, u[1]));
	}
	if (scm)
		close(u[1]);

	/* Before: the giver sends and receives its share. */
	ho_xfer_before(&x, 2 % ncpu, how);
	if (scm) {
		FAM_OK(!scm_send(u[0], sfd), "SCM_RIGHTS: passed the descriptor");
		rc = ho_xfer_hand(&x, 0, &m);
		FAM_OK(!rc && m.val == 0, "SCM_RIGHTS: the taker has it, on CPU %ld",
		       (long)m.sum);
		errno = 0;
		rc = recv(sfd, buf, 1, MSG_DONTWAIT | MSG_PEEK);
		FAM_OK(rc == 1 || errno == EAGAIN,
		       "SCM_RIGHTS: the giver's copy still reads the connection (no reservation)");
		FAM_OK(!close(sfd) && !close(u[0]), "SCM_RIGHTS: the giver closes its copy");
		ho_xfer_finish(&x, how);
		return;
	}
	rc = ho_give_pid(sfd, x.pid, 5000, &token);
	FAM_OK(!rc && token, "give to the taker's pid: a token (%s)", strerror(rc));

	/* During: the connection is reserved. */
	TAP_ERRNO(recv(sfd, buf, 1, MSG_DONTWAIT), EBADFD, "recv on a given socket: EBADFD");
	TAP_ERRNO(send(sfd, buf, 1, MSG_DONTWAIT), EBADFD, "send on a given socket: EBADFD");
	TAP_ERRNO(shutdown(sfd, SHUT_WR), EBADFD, "shutdown of a given socket: EBADFD");
	FAM_OK(ho_give_pid(sfd, x.pid, 5000, &tmp) == EBADFD, "a second give: EBADFD");
	FAM_OK(ho_info_flags(sfd) == NSTCP_INFO_GIVEN, "NSTCP_INFO says given (flags %#x)",
	       ho_info_flags(sfd));
	pfd = (struct pollfd){ .fd = sfd, .events = POLLIN | POLLOUT };
	FAM_OK(poll(&pfd, 1, 0) == 0, "poll on a given socket: nothing (%#x)", pfd.revents);
	FAM_OK(ho_pending() == 1, "one token pending in /proc/net/nstcp_tokens (%d)",
	       ho_pending());

	rc = ho_xfer_hand(&x, token, &m);
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

	ho_xfer_finish(&x, how);
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
