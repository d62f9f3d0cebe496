// SPDX-License-Identifier: GPL-2.0
/*
 * Selftest: who may take, and what processes dying does to a hand-off.
 * Named-taker enforcement (another pid of the same uid, a child of the
 * taker after fork, another uid through setresuid, any process of a named
 * uid), taker exit after take, giver exit before take, both exit, expiry
 * (the peer sees a reset, the giver ETIMEDOUT), the counters and
 * /proc/net/nstcp_tokens.
 */
#include "handoff_util.h"

#define NCASES 30
#define NOBODY 65534

static void pair(int *cfd, int *sfd)
{
	if (fam_pair(LST_IP, cfd, sfd)) {
		printf("Bail out! pair: %s\n", strerror(errno));
		exit(1);
	}
}

/*
 * A child takes token (as uid when uid >= 0) and, when it has it, sends
 * byte c and closes; exits 0 or the take's errno.  fds: closed first.
 */
static pid_t child_take(uint64_t token, int uid, char c, int fd1, int fd2)
{
	pid_t pid = fork();
	int fd;

	if (pid)
		return pid;
	close(fd1);
	close(fd2);
	if (uid >= 0 && setresuid(uid, uid, uid))
		_exit(100);
	fd = ho_take_new(token);
	if (fd < 0)
		_exit(errno);
	if (send(fd, &c, 1, 0) != 1)
		_exit(101);
	close(fd);
	_exit(0);
}

/* The peer reads byte c, then EOF: the taker had it and closed. */
static int peer_sees(int cfd, char c)
{
	char b[2];

	return fam_recv_all(cfd, b, 2) == 1 && b[0] == c;
}

/* A named taker (the child A), another process, and A's own child. */
static void case_pid(void)
{
	long refused = ho_stat(PROC_REFUSED);
	int cfd, sfd, p[2], st, fd;
	uint64_t token;
	pid_t a, b;

	pair(&cfd, &sfd);
	if (pipe(p)) {
		printf("Bail out! pipe\n");
		exit(1);
	}
	a = fork();
	if (a == 0) {
		pid_t g;

		close(cfd);
		close(sfd);
		close(p[1]);
		if (read(p[0], &token, sizeof(token)) != sizeof(token))
			_exit(102);
		/* A child of the taker is another process. */
		g = fork();
		if (g == 0) {
			fd = ho_take_new(token);
			_exit(fd < 0 ? errno : 0);
		}
		if (ho_reap(g, FAM_TIMEOUT_MS) != EPERM)
			_exit(103);
		fd = ho_take_new(token);
		if (fd < 0)
			_exit(errno);
		if (send(fd, "A", 1, 0) != 1)
			_exit(101);
		close(fd);
		_exit(0);
	}
	close(p[0]);
	FAM_OK(!ho_give_pid(sfd, a, 5000, &token), "give to child A's pid");
	b = child_take(token, -1, 'B', cfd, sfd);
	st = ho_reap(b, FAM_TIMEOUT_MS);
	FAM_OK(st == EPERM, "another process of the same uid: EPERM (%d)", st);
	fd = fam_socket(AF_NSTCP, 0);
	FAM_OK(ho_take(fd, token) == EPERM, "the giver itself: EPERM");
	close(fd);
	FAM_OK(ho_pending() == 1, "the token is still pending after refusals");
	if (write(p[1], &token, sizeof(token)) != sizeof(token))
		tap_diag("write token: %s", strerror(errno));
	st = ho_reap(a, FAM_TIMEOUT_MS);
	FAM_OK(st != 103, "A's child after fork: EPERM");
	FAM_OK(st == 0, "A took it (status %d)", st);
	FAM_OK(peer_sees(cfd, 'A'), "the peer hears A, then EOF when A exits");
	FAM_OK(ho_stat(PROC_REFUSED) - refused == 3, "three refusals counted (%ld)",
	       ho_stat(PROC_REFUSED) - refused);
	close(p[1]);
	close(sfd);
	close(cfd);
}

/* Named by uid: any process of it, no other. */
static void case_uid(void)
{
	int cfd, sfd, st, fd;
	uint64_t token;
	char c;

	pair(&cfd, &sfd);
	FAM_OK(!ho_give(sfd, NSTCP_GIVE_UID, NOBODY, 5000, &token),
	       "give to uid %d", NOBODY);
	st = ho_reap(child_take(token, -1, 'R', cfd, sfd), FAM_TIMEOUT_MS);
	FAM_OK(st == EPERM, "a root process: EPERM (%d)", st);
	st = ho_reap(child_take(token, NOBODY, 'N', cfd, sfd), FAM_TIMEOUT_MS);
	FAM_OK(st == 0, "a process of uid %d takes it (status %d)", NOBODY, st);
	FAM_OK(peer_sees(cfd, 'N'), "the peer hears it, then EOF");
	close(sfd);
	close(cfd);

	pair(&cfd, &sfd);
	FAM_OK(!ho_give(sfd, NSTCP_GIVE_UID, 0, 5000, &token), "give to uid 0");
	st = ho_reap(child_take(token, NOBODY, 'N', cfd, sfd), FAM_TIMEOUT_MS);
	FAM_OK(st == EPERM, "a process of uid %d: EPERM (%d)", NOBODY, st);
	fd = ho_take_new(token);
	FAM_OK(fd >= 0 && send(cfd, "u", 1, 0) == 1 && recv(fd, &c, 1, 0) == 1 &&
	       c == 'u', "the giver, of uid 0 too, takes it");
	if (fd >= 0)
		close(fd);
	close(sfd);
	close(cfd);
}

/* Nobody takes: the connection is reset at the timeout. */
static void case_expiry(void)
{
	long expired = ho_stat(PROC_EXPIRED);
	int cfd, sfd, fd, rc;
	uint64_t token;
	char c;

	pair(&cfd, &sfd);
	FAM_OK(send(cfd, "d", 1, 0) == 1, "the peer sent data nobody read");
	FAM_OK(!ho_give_pid(sfd, getpid(), 300, &token), "give, 300 ms");
	rc = fam_wait(cfd, POLLIN, 3000);
	errno = 0;
	FAM_OK(rc && recv(cfd, &c, 1, 0) < 0 && errno == ECONNRESET,
	       "the peer sees a reset at the timeout (%s)", strerror(errno));
	errno = 0;
	FAM_OK(recv(sfd, &c, 1, 0) == 1 && c == 'd' && recv(sfd, &c, 1, 0) < 0 &&
	       errno == ETIMEDOUT,
	       "the giver's socket is its again: the unread byte, then ETIMEDOUT (%s)",
	       strerror(errno));
	fd = ho_take_new(token);
	FAM_OK(fd < 0 && errno == ENOENT, "the expired token: ENOENT");
	FAM_OK(ho_stat(PROC_EXPIRED) - expired == 1 && ho_pending() == 0,
	       "counted expired, nothing pending");
	close(sfd);
	close(cfd);
}

/* The giver exits before the take: the connection waits for its taker. */
static void case_giver_exit(void)
{
	int cfd, sfd, p[2], st, fd;
	struct ho_msg m = { 0 };
	char buf[4];
	pid_t g;

	pair(&cfd, &sfd);
	if (pipe(p)) {
		printf("Bail out! pipe\n");
		exit(1);
	}
	FAM_OK(send(cfd, "b", 1, 0) == 1, "the peer sends before the give");
	g = fork();
	if (g == 0) {
		close(cfd);
		close(p[0]);
		if (ho_give_pid(sfd, getppid(), 5000, &m.token))
			_exit(1);
		_exit(ho_put(p[1], &m) ? 2 : 0);
	}
	close(sfd);
	close(p[1]);
	st = ho_reap(g, FAM_TIMEOUT_MS);
	FAM_OK(!st && !ho_get(p[0], &m, FAM_TIMEOUT_MS),
	       "a child gave it to us and exited (%d)", st);
	FAM_OK(ho_pending() == 1, "the token is pending without its giver");
	FAM_OK(send(cfd, "a", 1, 0) == 1, "the peer sends after the giver's exit");
	fd = ho_take_new(m.token);
	FAM_OK(fd >= 0, "we take it");
	FAM_OK(fd >= 0 && fam_recv_all(fd, buf, 2) == 2 && !memcmp(buf, "ba", 2) &&
	       send(fd, "r", 1, 0) == 1 && recv(cfd, buf, 1, 0) == 1 && buf[0] == 'r',
	       "data before and after arrived, and back");
	if (fd >= 0)
		close(fd);
	close(p[0]);
	close(cfd);
}

/* Giver and named taker both exit: the expiry resets the connection. */
static void case_both_exit(void)
{
	long expired = ho_stat(PROC_EXPIRED);
	int cfd, sfd, st;
	uint64_t token;
	pid_t t, g;
	char c;

	pair(&cfd, &sfd);
	t = fork();
	if (t == 0)
		_exit(0);	/* a taker that dies at once */
	g = fork();
	if (g == 0) {
		close(cfd);
		_exit(ho_give_pid(sfd, t, 300, &token));
	}
	close(sfd);
	st = ho_reap(g, FAM_TIMEOUT_MS);
	FAM_OK(st == 0 && ho_reap(t, FAM_TIMEOUT_MS) == 0,
	       "a child gave to another child; both exited");
	errno = 0;
	FAM_OK(fam_wait(cfd, POLLIN, 3000) && recv(cfd, &c, 1, 0) < 0 &&
	       errno == ECONNRESET, "the peer sees a reset at the timeout (%s)",
	       strerror(errno));
	FAM_OK(HO_WAIT(ho_pending() == 0, 1000) &&
	       ho_stat(PROC_EXPIRED) - expired == 1, "counted expired, nothing pending");
	close(cfd);
}

int main(void)
{
	lst_private_netns();
	fam_start(NCASES, 120);
	case_pid();
	case_uid();
	case_expiry();
	case_giver_exit();
	case_both_exit();
	return fam_finish();
}
