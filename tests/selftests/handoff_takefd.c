// SPDX-License-Identifier: GPL-2.0
/*
 * Selftest: NSTCP_TAKE_FD, a take into a new descriptor.  1 MiB each way
 * across a take-fd between processes pinned on different CPUs, the giver
 * still holding its socket (detached after); a giver that closed first; a
 * split accept's token; SOCK_NONBLOCK and SOCK_CLOEXEC honoured, as
 * accept4() on AF_INET honours them; bad flags, sizes, pointers; the wrong
 * taker (EPERM, the token stays); used and unknown tokens; a full
 * descriptor table (EMFILE, the token stays); no descriptor, socket or
 * sock left behind.  A split accept's token, whose socket and file the
 * accept made and the take installs: EMFILE after its claim puts it back,
 * the flags, the taker's uid on the socket, a read-only buffer, and
 * NSTCP_TAKE of such a token (its file dropped).
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "handoff_util.h"

#define NCASES 61

static int ncpu;

/* "sockets: used" of /proc/net/sockstat: the namespace's socks, or -1. */
static long socks_used(void)
{
	char line[256];
	long n = -1;
	FILE *f = fopen("/proc/thread-self/net/sockstat", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "sockets: used %ld", &n) == 1)
			break;
	fclose(f);
	return n;
}

/* A connected AF_NSTCP pair whose server side is given to pid. */
static void given_pair(pid_t pid, int *cfd, int *sfd, uint64_t *token)
{
	if (fam_pair(LST_IP, cfd, sfd) || ho_give_pid(*sfd, pid, 5000, token)) {
		printf("Bail out! pair or give: %s\n", strerror(errno));
		exit(1);
	}
}

/* One byte each way between fd and its peer pfd. */
static int ping(int pfd, int fd)
{
	char c = 'p';

	return send(pfd, &c, 1, 0) == 1 && recv(fd, &c, 1, 0) == 1 &&
	       c == 'p' && send(fd, &c, 1, 0) == 1 && recv(pfd, &c, 1, 0) == 1;
}

/* The taker: takes into a new descriptor, receives 1, sends 2. */
static int taker(struct ho_xfer *x)
{
	struct ho_msg m;
	uint64_t h;
	int via, fd, err;

	lst_pin(1 % ncpu);
	if (ho_get(x->in, &m, FAM_TIMEOUT_MS))
		return 10;
	h = m.sum;
	via = fam_socket(AF_NSTCP, 0);
	fd = ho_take_fd(via, m.token, 0);
	err = errno;
	close(via);	/* the new descriptor does not depend on it */
	if (ho_xfer_taken(x, &m, fd, err))
		return 11;
	return ho_xfer_rest(x, fd, h, ho_info_flags(fd) != 0 ? 12 : 0);
}

/* 1 MiB each way across a take-fd; the giver holds its socket meanwhile. */
static void case_transfer(int via)
{
	long given = ho_stat(PROC_GIVEN), taken = ho_stat(PROC_TAKEN);
	int cfd, sfd, rc;
	uint64_t token;
	struct ho_msg m = { 0 };
	struct ho_xfer x;
	struct pollfd pfd;
	char buf[16];

	lst_pin(0);
	if (fam_pair(LST_IP, &cfd, &sfd)) {
		printf("Bail out! pair: %s\n", strerror(errno));
		exit(1);
	}
	if (ho_xfer_fork(&x, cfd, sfd) == 0) {
		close(via);
		_exit(taker(&x));
	}

	ho_xfer_before(&x, 2 % ncpu, "take-fd");
	rc = ho_give_pid(sfd, x.pid, 5000, &token);
	FAM_OK(!rc, "give to the taker's pid (%s)", rc ? strerror(rc) : "ok");
	rc = ho_xfer_hand(&x, token, &m);
	FAM_OK(!rc && m.val == 0, "the taker took it into a new descriptor (%s) on CPU %ld",
	       rc ? "no answer" : strerror(m.val), (long)m.sum);
	FAM_OK(ho_pending() == 0, "no token pending after the take");

	/* The giver, which held its socket all along, is detached. */
	FAM_OK(ho_info_flags(sfd) == NSTCP_INFO_DETACHED,
	       "the giver's socket is detached (flags %#x)", ho_info_flags(sfd));
	TAP_ERRNO(recv(sfd, buf, 1, MSG_DONTWAIT), EBADFD,
		  "recv on the giver's detached socket: EBADFD");
	pfd = (struct pollfd){ .fd = sfd, .events = POLLIN };
	FAM_OK(poll(&pfd, 1, 0) == 1 &&
	       (pfd.revents & (POLLHUP | POLLERR)) == (POLLHUP | POLLERR),
	       "poll on it: POLLHUP|POLLERR (%#x)", pfd.revents);
	FAM_OK(ho_take_fd(via, token, 0) < 0 && errno == ENOENT,
	       "the used token again: ENOENT (%s)", strerror(errno));
	FAM_OK(!close(sfd), "close of the detached socket");

	ho_xfer_finish(&x, "take-fd");
	FAM_OK(ho_stat(PROC_GIVEN) == given + 1 && ho_stat(PROC_TAKEN) == taken + 1,
	       "counted given and taken once");
}

/* A giver that closed first; a split accept's token; via a listener. */
static void case_holders(int via)
{
	struct nstcp_accept_token at;
	socklen_t len = sizeof(at);
	int cfd, sfd, fd, lfd, port;
	uint64_t token;

	given_pair(getpid(), &cfd, &sfd, &token);
	close(sfd);
	fd = ho_take_fd(via, token, 0);
	FAM_OK(fd >= 0, "a giver that closed first: taken into a new descriptor (%s)",
	       fd >= 0 ? "ok" : strerror(errno));
	FAM_OK(fd >= 0 && ping(cfd, fd) && ho_info_flags(fd) == 0,
	       "... data both ways, neither given nor detached");
	close(fd);
	close(cfd);

	lfd = fam_listen(AF_NSTCP, LST_IP, 0, &port);
	cfd = fam_connect(AF_NSTCP, LST_IP, port);
	memset(&at, 0, sizeof(at));
	at.nat_give.ng_flags = NSTCP_GIVE_PID;
	at.nat_give.ng_id = getpid();
	FAM_OK(!getsockopt(lfd, SOL_NSTCP, NSTCP_ACCEPT_TOKEN, &at, &len),
	       "split accept: a token");
	fd = ho_take_fd(lfd, at.nat_give.ng_token, 0);
	FAM_OK(fd >= 0, "taken into a new descriptor, through the listener itself (%s)",
	       fd >= 0 ? "ok" : strerror(errno));
	FAM_OK(fd >= 0 && ping(cfd, fd) && fam_local_port(fd) == port,
	       "... data both ways, the listener's port");
	close(fd);
	close(cfd);
	close(lfd);
}

static int has_fl(int fd, int fl)
{
	return !!(fcntl(fd, F_GETFL) & fl);
}

static int has_fd(int fd, int fl)
{
	return !!(fcntl(fd, F_GETFD) & fl);
}

/* Flags, and AF_INET's accept4() with the same ones. */
static void case_flags(int via)
{
	int cfd, sfd, fd, lfd, port, ifd, ic;
	uint64_t token;
	char c;

	given_pair(getpid(), &cfd, &sfd, &token);
	TAP_ERRNO(ho_take_fd(via, token, O_APPEND), EINVAL, "flags O_APPEND: EINVAL");
	TAP_ERRNO(ho_take_fd(via, token, SOCK_CLOEXEC | 1), EINVAL,
		  "flags SOCK_CLOEXEC|1: EINVAL");
	fd = ho_take_fd(via, token, 0);
	FAM_OK(fd >= 0 && !has_fl(fd, O_NONBLOCK) && !has_fd(fd, FD_CLOEXEC),
	       "the token stayed; flags 0: blocking, no FD_CLOEXEC");
	close(fd);
	close(sfd);
	close(cfd);

	given_pair(getpid(), &cfd, &sfd, &token);
	fd = ho_take_fd(via, token, SOCK_NONBLOCK);
	FAM_OK(fd >= 0 && has_fl(fd, O_NONBLOCK) && !has_fd(fd, FD_CLOEXEC),
	       "SOCK_NONBLOCK: O_NONBLOCK, no FD_CLOEXEC");
	TAP_ERRNO(recv(fd, &c, 1, 0), EAGAIN, "... recv with nothing queued: EAGAIN");
	close(fd);
	close(sfd);
	close(cfd);

	given_pair(getpid(), &cfd, &sfd, &token);
	fd = ho_take_fd(via, token, SOCK_CLOEXEC);
	FAM_OK(fd >= 0 && !has_fl(fd, O_NONBLOCK) && has_fd(fd, FD_CLOEXEC),
	       "SOCK_CLOEXEC: FD_CLOEXEC, blocking");
	close(fd);
	close(sfd);
	close(cfd);

	given_pair(getpid(), &cfd, &sfd, &token);
	fd = ho_take_fd(via, token, SOCK_CLOEXEC | SOCK_NONBLOCK);
	FAM_OK(fd >= 0 && has_fl(fd, O_NONBLOCK) && has_fd(fd, FD_CLOEXEC) &&
	       fcntl(fd, F_SETFL, 0) == 0 && ping(cfd, fd),
	       "SOCK_CLOEXEC|SOCK_NONBLOCK: both; data both ways");
	close(fd);
	close(sfd);
	close(cfd);

	/* AF_INET, the same flags through accept4(). */
	lfd = fam_listen(AF_INET, LST_IP, 0, &port);
	ic = fam_connect(AF_INET, LST_IP, port);
	TAP_ERRNO(accept4(lfd, NULL, NULL, O_APPEND), EINVAL,
		  "AF_INET accept4 flags O_APPEND: EINVAL, as take-fd");
	ifd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	FAM_OK(ifd >= 0 && has_fl(ifd, O_NONBLOCK) && has_fd(ifd, FD_CLOEXEC),
	       "AF_INET accept4 SOCK_CLOEXEC|SOCK_NONBLOCK: both, as take-fd");
	close(ifd);
	close(ic);
	close(lfd);
}

static int takefd_raw(int via, void *p, socklen_t *lenp)
{
	return getsockopt(via, SOL_NSTCP, NSTCP_TAKE_FD, p, lenp) ? errno : 0;
}

static void case_bad(int via)
{
	struct nstcp_take_fd tf = { 0 }, *ro;
	char big[sizeof(tf) + 8] = { 0 };
	int cfd, sfd, fd, fds;
	socklen_t len;
	uint64_t token;

	given_pair(getpid(), &cfd, &sfd, &token);
	fds = fam_count_fds();
	tf.ntf_token = token;
	len = sizeof(tf) - 1;
	FAM_OK(takefd_raw(via, &tf, &len) == EINVAL, "optlen too short: EINVAL");
	len = sizeof(tf);
	FAM_OK(takefd_raw(via, NULL, &len) == EFAULT, "NULL optval: EFAULT");
	FAM_OK(takefd_raw(via, (void *)8, &len) == EFAULT, "bad optval: EFAULT");
	FAM_OK(takefd_raw(via, &tf, NULL) == EFAULT, "NULL optlen: EFAULT");
	ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ro->ntf_token = token;
	mprotect(ro, 4096, PROT_READ);
	len = sizeof(tf);
	FAM_OK(takefd_raw(via, ro, &len) == EFAULT,
	       "a read-only buffer (the descriptor cannot be told): EFAULT");
	munmap(ro, 4096);
	FAM_OK(fam_count_fds() == fds && ho_pending() == 1,
	       "... no descriptor left by those, the token still pending");
	FAM_OK(ho_take_fd(sfd, token, 0) < 0 && errno == EBADFD,
	       "through the given socket itself: EBADFD (%s)", strerror(errno));
	FAM_OK(ho_take_fd(via, 0, 0) < 0 && errno == ENOENT, "token 0: ENOENT");
	FAM_OK(ho_take_fd(via, token ^ 1, 0) < 0 && errno == ENOENT,
	       "an unknown token: ENOENT");

	memcpy(big, &tf, sizeof(tf));
	len = sizeof(big);
	FAM_OK(takefd_raw(via, big, &len) == 0 && len == sizeof(tf),
	       "optlen larger: taken, optlen set to %zu (%u)", sizeof(tf), len);
	memcpy(&tf, big, sizeof(tf));
	fd = tf.ntf_fd;
	FAM_OK(fd > 2 && ping(cfd, fd), "... the descriptor it returned has the connection");
	FAM_OK(ho_take_fd(sfd, token, 0) < 0 && errno == EBADFD,
	       "through the giver's detached socket: EBADFD (%s)", strerror(errno));
	close(fd);
	close(sfd);
	close(cfd);
}

/* The wrong taker: EPERM, counted refused, the token stays for the right one. */
static void case_eperm(int via)
{
	long refused = ho_stat(PROC_REFUSED);
	int cfd, sfd, p2c[2], st;
	struct ho_msg m = { 0 };
	uint64_t token;
	char c = 0;
	pid_t pid;

	if (pipe(p2c)) {
		printf("Bail out! pipe\n");
		exit(1);
	}
	pid = fork();
	if (pid == 0) {
		int v, fd;

		close(p2c[1]);
		if (ho_get(p2c[0], &m, FAM_TIMEOUT_MS))
			_exit(10);
		v = fam_socket(AF_NSTCP, 0);
		fd = ho_take_fd(v, m.token, 0);
		if (fd < 0)
			_exit(11);
		_exit(send(fd, "e", 1, 0) == 1 ? 0 : 12);
	}
	close(p2c[0]);
	given_pair(pid, &cfd, &sfd, &token);
	FAM_OK(ho_take_fd(via, token, 0) < 0 && errno == EPERM,
	       "take-fd by another process than the named one: EPERM (%s)",
	       strerror(errno));
	FAM_OK(ho_stat(PROC_REFUSED) == refused + 1, "counted refused");
	m.token = token;
	ho_put(p2c[1], &m);
	st = ho_reap(pid, FAM_TIMEOUT_MS);
	FAM_OK(st == 0 && recv(cfd, &c, 1, 0) == 1 && c == 'e',
	       "the named process still takes it (status %d)", st);
	close(p2c[1]);
	close(sfd);
	close(cfd);
}

/* No descriptor to be had: EMFILE, and the token stays. */
static void case_emfile(int via)
{
	struct rlimit old, lim;
	int cfd, sfd, fd, probe, fds;
	uint64_t token;

	given_pair(getpid(), &cfd, &sfd, &token);
	getrlimit(RLIMIT_NOFILE, &old);
	probe = dup(0);	/* the lowest free descriptor */
	close(probe);
	fds = fam_count_fds();
	lim = old;
	lim.rlim_cur = probe;
	FAM_OK(!setrlimit(RLIMIT_NOFILE, &lim), "RLIMIT_NOFILE lowered to %d", probe);
	TAP_ERRNO(ho_take_fd(via, token, 0), EMFILE, "a full descriptor table: EMFILE");
	TAP_ERRNO(dup(0), EMFILE, "... as dup() finds it");
	setrlimit(RLIMIT_NOFILE, &old);
	FAM_OK(fam_count_fds() == fds && ho_pending() == 1 &&
	       ho_info_flags(sfd) == NSTCP_INFO_GIVEN,
	       "nothing installed, the token still pending, the giver's socket still given");
	fd = ho_take_fd(via, token, 0);
	FAM_OK(fd >= 0 && ping(cfd, fd), "with room again, the token is taken (%s)",
	       fd >= 0 ? "ok" : strerror(errno));
	close(fd);
	close(sfd);
	close(cfd);
}

/* A split accept on lfd: its token for the pid or uid named, or 0. */
static uint64_t split_token(int lfd, unsigned int flags, unsigned int id)
{
	struct nstcp_accept_token at;
	socklen_t len = sizeof(at);

	memset(&at, 0, sizeof(at));
	at.nat_give.ng_flags = flags;
	at.nat_give.ng_id = id;
	at.nat_give.ng_timeout_ms = 5000;
	if (getsockopt(lfd, SOL_NSTCP, NSTCP_ACCEPT_TOKEN, &at, &len))
		return 0;
	return at.nat_give.ng_token;
}

/* A child of euid 65534 takes token; 0 if the socket is its own. */
static int nobody_takes(uint64_t token)
{
	struct stat st;
	pid_t pid = fork();
	int v, fd;

	if (pid)
		return pid < 0 ? -1 : ho_reap(pid, FAM_TIMEOUT_MS);
	if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
		_exit(10);
	v = fam_socket(AF_NSTCP, 0);
	fd = ho_take_fd(v, token, 0);
	if (fd < 0)
		_exit(11);
	if (fstat(fd, &st) || st.st_uid != 65534 || st.st_gid != 65534)
		_exit(12);
	_exit(send(fd, "u", 1, 0) == 1 ? 0 : 13);
}

/* A split accept's token: the accept's socket and file installed. */
static void case_split(int via)
{
	long taken = ho_stat(PROC_TAKEN);
	struct nstcp_take_fd *ro;
	struct rlimit old, lim;
	int lfd, port, cfd, fd, probe, fds, st;
	uint64_t token;
	socklen_t len;
	char c = 0;

	lfd = fam_listen(AF_NSTCP, LST_IP, 0, &port);
	cfd = fam_connect(AF_NSTCP, LST_IP, port);
	token = split_token(lfd, NSTCP_GIVE_PID, getpid());
	FAM_OK(token != 0, "split accept: a token");
	getrlimit(RLIMIT_NOFILE, &old);
	probe = dup(0);
	close(probe);
	fds = fam_count_fds();
	lim = old;
	lim.rlim_cur = probe;
	FAM_OK(!setrlimit(RLIMIT_NOFILE, &lim), "RLIMIT_NOFILE lowered to %d", probe);
	TAP_ERRNO(ho_take_fd(via, token, 0), EMFILE,
		  "a split token, a full descriptor table: EMFILE (after its claim)");
	setrlimit(RLIMIT_NOFILE, &old);
	FAM_OK(fam_count_fds() == fds && ho_pending() == 1 &&
	       ho_stat(PROC_TAKEN) == taken,
	       "nothing installed, the token pending again, not counted taken");
	fd = ho_take_fd(via, token, SOCK_NONBLOCK | SOCK_CLOEXEC);
	FAM_OK(fd >= 0 && has_fl(fd, O_NONBLOCK) && has_fd(fd, FD_CLOEXEC),
	       "with room, taken: SOCK_NONBLOCK|SOCK_CLOEXEC, both (%s)",
	       fd >= 0 ? "ok" : strerror(errno));
	FAM_OK(fd >= 0 && fcntl(fd, F_SETFL, 0) == 0 && ping(cfd, fd) &&
	       ho_info_flags(fd) == 0 && ho_stat(PROC_TAKEN) == taken + 1 &&
	       ho_pending() == 0,
	       "... data both ways, neither given nor detached, counted taken once");
	TAP_ERRNO(ho_take_fd(via, token, 0), ENOENT, "... taken once: ENOENT");
	close(fd);
	close(cfd);

	cfd = fam_connect(AF_NSTCP, LST_IP, port);
	token = split_token(lfd, NSTCP_GIVE_PID, getpid());
	fd = ho_take_fd(via, token, 0);
	FAM_OK(fd >= 0 && !has_fl(fd, O_NONBLOCK) && !has_fd(fd, FD_CLOEXEC) &&
	       ping(cfd, fd), "a split token, flags 0: blocking, no FD_CLOEXEC, data");
	close(fd);
	close(cfd);

	/* The taker's uid on the socket, as on one it made. */
	cfd = fam_connect(AF_NSTCP, LST_IP, port);
	token = split_token(lfd, NSTCP_GIVE_UID, 65534);
	st = nobody_takes(token);
	FAM_OK(st == 0 && recv(cfd, &c, 1, 0) == 1 && c == 'u',
	       "taken by uid 65534: the socket's owner is 65534 (status %d)", st);
	close(cfd);

	cfd = fam_connect(AF_NSTCP, LST_IP, port);
	token = split_token(lfd, NSTCP_GIVE_PID, getpid());
	fds = fam_count_fds();
	ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ro->ntf_token = token;
	mprotect(ro, 4096, PROT_READ);
	len = sizeof(*ro);
	FAM_OK(takefd_raw(via, ro, &len) == EFAULT,
	       "a split token, a read-only buffer: EFAULT");
	munmap(ro, 4096);
	FAM_OK(fam_count_fds() == fds && ho_pending() == 1,
	       "... no descriptor left, the token still pending");
	fd = ho_take_new(token);
	FAM_OK(fd >= 0 && ping(cfd, fd) && ho_pending() == 0,
	       "NSTCP_TAKE of a split token (its file dropped): data both ways (%s)",
	       fd >= 0 ? "ok" : strerror(errno));
	close(fd);
	close(cfd);
	close(lfd);
}

int main(void)
{
	long socks;
	int via;

	lst_private_netns();
	fam_start(NCASES, 120);
	ncpu = lst_ncpus();
	if (ncpu < 2)
		tap_diag("one CPU: giver and taker share it");
	socks = socks_used();
	via = fam_socket(AF_NSTCP, 0);
	case_transfer(via);
	case_holders(via);
	case_flags(via);
	case_bad(via);
	case_eperm(via);
	case_emfile(via);
	case_split(via);
	close(via);
	/* A sock freed late (RCU) may still be counted at the start. */
	FAM_OK(socks >= 0 && HO_WAIT(socks_used() <= socks, 5000),
	       "no sock left behind: %ld in use in the namespace, %ld at start",
	       socks_used(), socks);
	return fam_finish();
}
