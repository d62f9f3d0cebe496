// SPDX-License-Identifier: GPL-2.0
/*
 * libnstcp: take a connection, socket activation.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/types.h>
#include <linux/nstcp.h>

#include "nstcp.h"

int nstcp_family(void)
{
	static int family;
	FILE *f;
	int v;

	if (family)
		return family;
	family = AF_NSTCP;
	f = fopen("/proc/sys/net/nstcp/family", "re");
	if (f) {
		if (fscanf(f, "%d", &v) == 1 && v > 0)
			family = v;
		fclose(f);
	}
	return family;
}

/* The old way: a fresh socket that takes the token (NSTCP_TAKE). */
static int take_on_fresh(uint64_t token)
{
	__u64 t = token;
	int fd, err;

	fd = socket(nstcp_family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_NSTCP, NSTCP_TAKE, &t, sizeof(t))) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

/*
 * The socket NSTCP_TAKE_FD is called through, made once per process and
 * kept (close-on-exec), with its inode: a program that closed it and got
 * its number back for another file is noticed.  -1 when none can be made.
 */
static int take_via(void)
{
	static int via = -1;
	static ino_t via_ino;
	struct stat st;
	int fd, old;

	old = __atomic_load_n(&via, __ATOMIC_ACQUIRE);
	if (old >= 0 && !fstat(old, &st) && st.st_ino == __atomic_load_n(&via_ino, __ATOMIC_RELAXED))
		return old;
	fd = socket(nstcp_family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || fstat(fd, &st)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	/* Another thread may have made one meanwhile: either will do. */
	__atomic_store_n(&via_ino, st.st_ino, __ATOMIC_RELAXED);
	__atomic_store_n(&via, fd, __ATOMIC_RELEASE);
	return fd;
}

int nstcp_take(uint64_t token)
{
	struct nstcp_take_fd tf = { .ntf_token = token,
				    .ntf_flags = SOCK_CLOEXEC };
	socklen_t len = sizeof(tf);
	int via = take_via();

	if (via < 0)
		return -1;
	if (!getsockopt(via, SOL_NSTCP, NSTCP_TAKE_FD, &tf, &len))
		return tf.ntf_fd;
	/* A module without NSTCP_TAKE_FD. */
	if (errno == ENOPROTOOPT)
		return take_on_fresh(token);
	return -1;
}

/* A whole unsigned number in @s of base @base, or -1 with errno EINVAL. */
static int parse_u64(const char *s, int base, unsigned long long *v)
{
	char *end;

	if (!s || !*s || *s == '-' || *s == '+')
		goto bad;
	errno = 0;
	*v = strtoull(s, &end, base);
	if (errno || *end)
		goto bad;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

uint64_t nstcp_env_token(void)
{
	unsigned long long v;

	if (parse_u64(getenv("NSTCP_TOKEN"), 16, &v))
		return 0;
	return v;
}

int nstcp_listen_fds(int unset_env)
{
	unsigned long long pid, n;
	int r = 0, i;

	if (!getenv("LISTEN_PID") || !getenv("LISTEN_FDS"))
		goto out;
	if (parse_u64(getenv("LISTEN_PID"), 10, &pid) ||
	    parse_u64(getenv("LISTEN_FDS"), 10, &n) || n > 1024) {
		errno = EINVAL;
		r = -1;
		goto out;
	}
	if (pid != (unsigned long long)getpid())
		goto out;
	for (i = 0; i < (int)n; i++) {
		int fd = NSTCP_LISTEN_FDS_START + i;
		int fl = fcntl(fd, F_GETFD);

		if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0) {
			r = -1;
			goto out;
		}
	}
	r = n;
out:
	if (unset_env) {
		unsetenv("LISTEN_PID");
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_FDNAMES");
	}
	return r;
}

int nstcp_listen_fdname(int i, char *buf, unsigned int len)
{
	const char *s = getenv("LISTEN_FDNAMES"), *e;
	size_t n;

	if (!s || i < 0 || !len)
		return -1;
	while (i--) {
		s = strchr(s, ':');
		if (!s)
			return -1;
		s++;
	}
	e = strchr(s, ':');
	n = e ? (size_t)(e - s) : strlen(s);
	if (n >= len)
		n = len - 1;
	memcpy(buf, s, n);
	buf[n] = 0;
	return 0;
}

int nstcp_home_cpu(int fd)
{
	socklen_t len = sizeof(int);
	int cpu;

	if (getsockopt(fd, SOL_NSTCP, NSTCP_HOME_CPU, &cpu, &len))
		return -2;
	return cpu;
}

/* The channel to nstcpd of a hybrid worker, -1 when there is none. */
static int worker_fd(void)
{
	static int fd = -2;
	unsigned long long v;

	if (fd == -2)
		fd = parse_u64(getenv("NSTCP_WORKER_FD"), 10, &v) || v > 65535 ?
		     -1 : (int)v;
	return fd;
}

static int worker_send(const struct nstcp_worker_msg *m)
{
	int fd = worker_fd();

	if (fd < 0) {
		errno = ENOTCONN;
		return -1;
	}
	return send(fd, m, sizeof(*m), MSG_NOSIGNAL) == sizeof(*m) ? 0 : -1;
}

int nstcp_worker_next(int *cpu)
{
	struct nstcp_worker_msg m;
	ssize_t n;
	int fd, err;

	if (worker_fd() < 0) {
		errno = ENOTCONN;
		return -1;
	}
	for (;;) {
		n = recv(worker_fd(), &m, sizeof(m), 0);
		/*
		 * ECONNRESET: nstcpd closed its end with reports of ours
		 * unread, as an image that re-execs for a reload does.  The
		 * error is reported once, before the tokens still queued
		 * here: those are read (and taken) next, then the end.
		 */
		if (n < 0 && (errno == EINTR || errno == ECONNRESET))
			continue;
		if (n <= 0) {
			if (!n)
				errno = ENOTCONN;
			return -1;
		}
		if (n != sizeof(m) || m.nwm_type != NSTCP_WMSG_TOKEN)
			continue;
		fd = nstcp_take(m.nwm_token);
		if (fd < 0) {
			err = errno;
			m.nwm_type = NSTCP_WMSG_FAILED;
			m.nwm_cpu = sched_getcpu();
			m.nwm_home = -1;
			m.nwm_err = err;
			worker_send(&m);
			continue;
		}
		if (cpu)
			*cpu = m.nwm_cpu;
		m.nwm_type = NSTCP_WMSG_TAKEN;
		m.nwm_cpu = sched_getcpu();
		m.nwm_home = nstcp_home_cpu(fd);
		m.nwm_err = 0;
		if (worker_send(&m)) {
			err = errno;
			close(fd);
			errno = err;
			return -1;
		}
		return fd;
	}
}

int nstcp_worker_done(void)
{
	struct nstcp_worker_msg m = { .nwm_type = NSTCP_WMSG_DONE };

	return worker_send(&m);
}
