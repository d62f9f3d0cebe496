// SPDX-License-Identifier: GPL-2.0
/*
 * Helper of shim_run.sh: a small TCP server that looks at everything a
 * program can see of its sockets, run with and without nstcp-run.
 *
 *   shim_probe 4|6 PORT
 *
 * listens on 0.0.0.0:PORT (4) or [::]:PORT (6, dual-stack) with a
 * non-blocking, close-on-exec socket and a few options, and serves
 * 127.0.0.1 clients: epoll and accept4() flags, accept() into a short
 * buffer, a forked child accepting on the inherited listener, an exec()ed
 * child using it.  It prints "obs KEY VALUE" lines, which must be the same
 * with and without the shim, and "nstcp WHAT 0|1" lines saying which
 * sockets are AF_NSTCP; "err ..." and exit 1 when a step fails.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/nstcp.h>

static int failed;

#define ERR(...) do { printf("err " __VA_ARGS__); printf(" (%s)\n", strerror(errno)); \
		      failed = 1; } while (0)

static void addr_obs(const char *key, const struct sockaddr_storage *ss,
		     socklen_t len, int with_port)
{
	char a[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	if (ss->ss_family == AF_INET) {
		inet_ntop(AF_INET, &((struct sockaddr_in *)ss)->sin_addr, a, sizeof(a));
		port = ntohs(((struct sockaddr_in *)ss)->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)ss)->sin6_addr, a, sizeof(a));
		port = ntohs(((struct sockaddr_in6 *)ss)->sin6_port);
	}
	if (with_port)
		printf("obs %s family=%d len=%u addr=%s port=%d\n", key,
		       ss->ss_family, len, a, port);
	else
		printf("obs %s family=%d len=%u addr=%s\n", key, ss->ss_family, len, a);
}

static void names_obs(const char *what, int fd, int peer_port)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char key[64];

	memset(&ss, 0, sizeof(ss));
	snprintf(key, sizeof(key), "%s.sockname", what);
	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		ERR("getsockname %s", what);
	else
		addr_obs(key, &ss, len, 1);
	len = sizeof(ss);
	memset(&ss, 0, sizeof(ss));
	snprintf(key, sizeof(key), "%s.peername", what);
	if (getpeername(fd, (struct sockaddr *)&ss, &len))
		printf("obs %s errno=%d\n", key, errno);
	else
		addr_obs(key, &ss, len, peer_port);
}

static int opt_int(int fd, int level, int name)
{
	socklen_t len = sizeof(int);
	int v = -12345;

	if (getsockopt(fd, level, name, &v, &len))
		return -errno;
	return v;
}

static void sock_obs(const char *what, int fd)
{
	printf("obs %s.domain=%d type=%d protocol=%d acceptconn=%d\n", what,
	       opt_int(fd, SOL_SOCKET, SO_DOMAIN), opt_int(fd, SOL_SOCKET, SO_TYPE),
	       opt_int(fd, SOL_SOCKET, SO_PROTOCOL),
	       opt_int(fd, SOL_SOCKET, SO_ACCEPTCONN));
	printf("obs %s.nonblock=%d cloexec=%d\n", what,
	       !!(fcntl(fd, F_GETFL) & O_NONBLOCK), !!(fcntl(fd, F_GETFD) & FD_CLOEXEC));
}

static int is_nstcp(int fd)
{
	struct nstcp_info ni;
	socklen_t len = sizeof(ni);

	return getsockopt(fd, SOL_NSTCP, NSTCP_INFO, &ni, &len) == 0;
}

/* A client in a child process: connects, sends "ping", wants "pong". */
static pid_t client(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	char buf[4];
	pid_t pid;
	int c;

	fflush(stdout);
	pid = fork();
	if (pid)
		return pid;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c = socket(AF_INET, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)) ||
	    write(c, "ping", 4) != 4 || read(c, buf, 4) != 4 || memcmp(buf, "pong", 4))
		_exit(1);
	printf("nstcp client %d\n", is_nstcp(c));
	fflush(stdout);
	_exit(0);
}

static void client_wait(pid_t pid, const char *what)
{
	int st;

	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		ERR("%s: the client failed", what);
	else
		printf("obs %s client ok\n", what);
}

/* Waits for fd readable (non-blocking sockets), up to 10 s. */
static int wait_in(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 10000) == 1 ? 0 : -1;
}

/* Reads "ping", answers "pong" on an accepted socket. */
static void serve(int c, const char *what)
{
	char buf[4];

	if (wait_in(c) || read(c, buf, 4) != 4 || memcmp(buf, "ping", 4) ||
	    write(c, "pong", 4) != 4)
		ERR("%s: serving", what);
}

static int exec_child(int fd, int port)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	pid_t pid;
	int c;

	sock_obs("exec.listener", fd);
	names_obs("exec.listener", fd, 1);
	printf("nstcp exec.listener %d\n", is_nstcp(fd));
	pid = client(port);
	if (wait_in(fd)) {
		ERR("exec: no connection");
		return 1;
	}
	c = accept(fd, (struct sockaddr *)&ss, &len);
	if (c < 0) {
		ERR("exec: accept");
		return 1;
	}
	addr_obs("exec.accept", &ss, len, 0);
	names_obs("exec.accepted", c, 0);
	serve(c, "exec");
	close(c);
	client_wait(pid, "exec");
	return failed;
}

int main(int argc, char **argv)
{
	int fam, port, s, c, ep, one = 1, rcv = 100000;
	struct sockaddr_storage ss;
	struct epoll_event ev;
	char arg[16], parg[16];
	socklen_t len;
	pid_t pid;
	int st;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 5 && !strcmp(argv[1], "exec-child"))
		return exec_child(atoi(argv[2]), atoi(argv[3]));
	if (argc != 3)
		return 2;
	fam = atoi(argv[1]) == 6 ? AF_INET6 : AF_INET;
	port = atoi(argv[2]);

	s = socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
	if (s < 0 ||
	    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(s, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv)) ||
	    setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) ||
	    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one))) {
		ERR("socket and options");
		return 1;
	}
	memset(&ss, 0, sizeof(ss));
	if (fam == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		len = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		len = sizeof(*a);
	}
	if (bind(s, (struct sockaddr *)&ss, len)) {
		ERR("bind");
		return 1;
	}
	sock_obs("bound", s);
	printf("obs bound.reuseaddr=%d rcvbuf=%d keepalive=%d nodelay=%d\n",
	       opt_int(s, SOL_SOCKET, SO_REUSEADDR), opt_int(s, SOL_SOCKET, SO_RCVBUF),
	       opt_int(s, SOL_SOCKET, SO_KEEPALIVE), opt_int(s, IPPROTO_TCP, TCP_NODELAY));
	names_obs("bound", s, 1);
	if (listen(s, 16)) {
		ERR("listen");
		return 1;
	}
	sock_obs("listener", s);
	printf("nstcp listener %d\n", is_nstcp(s));
	len = sizeof(ss);
	c = accept(s, (struct sockaddr *)&ss, &len);
	printf("obs empty accept=%d errno=%d\n", c, c < 0 ? errno : 0);

	/* epoll, accept4 with flags */
	ep = epoll_create1(EPOLL_CLOEXEC);
	ev.events = EPOLLIN;
	ev.data.fd = s;
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev)) {
		ERR("epoll");
		return 1;
	}
	pid = client(port);
	if (epoll_wait(ep, &ev, 1, 10000) != 1 || ev.data.fd != s) {
		ERR("epoll_wait on the listener");
		return 1;
	}
	len = sizeof(ss);
	memset(&ss, 0, sizeof(ss));
	c = accept4(s, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (c < 0) {
		ERR("accept4");
		return 1;
	}
	addr_obs("accept4", &ss, len, 0);
	sock_obs("accepted", c);
	names_obs("accepted", c, 0);
	printf("nstcp accepted %d\n", is_nstcp(c));
	ev.events = EPOLLIN;
	ev.data.fd = c;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev) || epoll_wait(ep, &ev, 1, 10000) != 1 ||
	    ev.data.fd != c)
		ERR("epoll_wait on the accepted socket");
	serve(c, "accept4");
	close(c);
	client_wait(pid, "accept4");

	/* accept() into a buffer shorter than the address */
	pid = client(port);
	if (wait_in(s)) {
		ERR("no second connection");
		return 1;
	}
	len = 4;
	memset(&ss, 0xaa, sizeof(ss));
	c = accept(s, (struct sockaddr *)&ss, &len);
	if (c < 0) {
		ERR("accept");
		return 1;
	}
	printf("obs short accept len=%u family=%d untouched=%d\n", len, ss.ss_family,
	       ((unsigned char *)&ss)[4] == 0xaa);
	sock_obs("accepted.plain", c);
	serve(c, "accept");
	close(c);
	client_wait(pid, "accept");

	/* accept() with an address and no length: EFAULT, as the kernel says */
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct sockaddr_in a = { .sin_family = AF_INET,
					 .sin_port = htons(port),
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		char b;
		int k = socket(AF_INET, SOCK_STREAM, 0);

		/* The server's accept fails after dequeuing: we see the close. */
		if (k < 0 || connect(k, (struct sockaddr *)&a, sizeof(a)) ||
		    read(k, &b, 1) > 0)
			_exit(1);
		_exit(0);
	}
	if (wait_in(s)) {
		ERR("no connection for the EFAULT case");
		return 1;
	}
	c = accept(s, (struct sockaddr *)&ss, NULL);
	printf("obs noalen accept=%d errno=%d\n", c, c < 0 ? errno : 0);
	if (c >= 0)
		close(c);
	client_wait(pid, "noalen");

	/* a forked child accepts on the inherited listener */
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		if (wait_in(s))
			_exit(1);
		len = sizeof(ss);
		c = accept(s, (struct sockaddr *)&ss, &len);
		if (c < 0)
			_exit(1);
		addr_obs("fork.accept", &ss, len, 0);
		printf("nstcp fork.accepted %d\n", is_nstcp(c));
		serve(c, "fork");
		_exit(failed);
	}
	{
		pid_t cl = client(port);

		client_wait(cl, "fork");
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
			ERR("fork: the accepting child failed");
	}

	/* an exec()ed child serves on the listener it inherits */
	if (fcntl(s, F_SETFD, 0)) {
		ERR("F_SETFD");
		return 1;
	}
	snprintf(arg, sizeof(arg), "%d", s);
	snprintf(parg, sizeof(parg), "%d", port);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		execl("/proc/self/exe", argv[0], "exec-child", arg, parg, argv[1], (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		ERR("exec: the child failed (%d)", st);
	close(ep);
	close(s);
	return failed;
}
