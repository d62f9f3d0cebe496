// SPDX-License-Identifier: GPL-2.0
/*
 * libnstcp-run.so: what the library knows of each descriptor (the family
 * asked for, whether the shim made it AF_NSTCP, the options set so far),
 * kept across close() and dup*(), and the real libc functions.
 */
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/nstcp.h>

#include "shim.h"

struct shim_fd shim_fds[SHIM_MAX_FD];
pthread_mutex_t shim_lock = PTHREAD_MUTEX_INITIALIZER;
struct shim_real shim_real;

void shim_resolve(void)
{
	shim_real.socket = dlsym(RTLD_NEXT, "socket");
	shim_real.bind = dlsym(RTLD_NEXT, "bind");
	shim_real.listen = dlsym(RTLD_NEXT, "listen");
	shim_real.connect = dlsym(RTLD_NEXT, "connect");
	shim_real.accept = dlsym(RTLD_NEXT, "accept");
	shim_real.accept4 = dlsym(RTLD_NEXT, "accept4");
	shim_real.setsockopt = dlsym(RTLD_NEXT, "setsockopt");
	shim_real.getsockopt = dlsym(RTLD_NEXT, "getsockopt");
	shim_real.getsockname = dlsym(RTLD_NEXT, "getsockname");
	shim_real.getpeername = dlsym(RTLD_NEXT, "getpeername");
	shim_real.close = dlsym(RTLD_NEXT, "close");
	shim_real.dup = dlsym(RTLD_NEXT, "dup");
	shim_real.dup2 = dlsym(RTLD_NEXT, "dup2");
	shim_real.dup3 = dlsym(RTLD_NEXT, "dup3");
}

__attribute__((constructor)) static void shim_init(void)
{
	shim_resolve();
	shim_config_load();
}

__attribute__((destructor)) static void shim_fini(void)
{
	if (shim_stats.converted + shim_stats.fallback + shim_stats.skipped)
		shim_log("exit: %lu converted, %lu fell back, %lu left to the program",
			 shim_stats.converted, shim_stats.fallback, shim_stats.skipped);
}

ino_t fd_ino(int fd)
{
	struct stat st;

	if (fstat(fd, &st) || !S_ISSOCK(st.st_mode))
		return 0;
	return st.st_ino;
}

void opts_free(struct shim_opt *o)
{
	struct shim_opt *n;

	for (; o; o = n) {
		n = o->next;
		free(o);
	}
}

/* Forgets fd; called with the lock held. */
void fd_clear(int fd)
{
	struct shim_fd *e = &shim_fds[fd];

	opts_free(e->opts);
	memset(e, 0, sizeof(*e));
}

void fd_track(int fd, ino_t ino, int state, int family, int protocol)
{
	struct shim_fd *e = &shim_fds[fd];

	fd_clear(fd);
	e->ino = ino;
	e->state = state;
	e->family = family;
	e->protocol = protocol;
}

int fd_ok(int fd)
{
	return fd >= 0 && fd < SHIM_MAX_FD;
}

/*
 * The state of fd and the family the program asked for; an entry whose
 * socket is gone (closed behind the shim's back) is forgotten.  A socket
 * the shim has not seen (inherited through exec) is asked: an AF_NSTCP
 * socket answers NSTCP_INFO and is taken for its wire family.
 */
int fd_lookup(int fd, int *family)
{
	struct nstcp_info ni;
	socklen_t len = sizeof(ni);
	struct shim_fd *e;
	int state = FD_NONE;
	ino_t ino;

	if (!fd_ok(fd))
		return FD_NONE;
	ino = fd_ino(fd);
	if (!ino)
		return FD_NONE;
	pthread_mutex_lock(&shim_lock);
	e = &shim_fds[fd];
	if (e->state != FD_NONE && e->ino == ino) {
		state = e->state;
		*family = e->family;
	} else if (REAL(getsockopt)(fd, SOL_NSTCP, NSTCP_INFO, &ni, &len) == 0 &&
		   len >= sizeof(ni)) {
		fd_track(fd, ino, FD_NSTCP, ni.nsi_family, IPPROTO_TCP);
		state = FD_NSTCP;
		*family = ni.nsi_family;
	} else {
		fd_track(fd, ino, FD_OTHER, 0, 0);
		state = FD_OTHER;
	}
	pthread_mutex_unlock(&shim_lock);
	return state;
}

SHIM_EXPORT int close(int fd)
{
	if (fd_ok(fd) && __atomic_load_n(&shim_fds[fd].state, __ATOMIC_RELAXED)) {
		pthread_mutex_lock(&shim_lock);
		fd_clear(fd);
		pthread_mutex_unlock(&shim_lock);
	}
	return REAL(close)(fd);
}

/* The new descriptor names the same socket: it gets the same entry. */
static int dup_entry(int from, int to)
{
	struct shim_fd *e, *n;
	int err = errno;

	if (to < 0 || !fd_ok(from) || !fd_ok(to) || from == to)
		return to;
	pthread_mutex_lock(&shim_lock);
	e = &shim_fds[from];
	fd_clear(to);
	if (e->state == FD_NSTCP || e->state == FD_OTHER) {
		n = &shim_fds[to];
		n->ino = e->ino;
		n->state = e->state;
		n->family = e->family;
		n->protocol = e->protocol;
	}
	pthread_mutex_unlock(&shim_lock);
	errno = err;
	return to;
}

SHIM_EXPORT int dup(int fd)
{
	return dup_entry(fd, REAL(dup)(fd));
}

SHIM_EXPORT int dup2(int fd, int to)
{
	return dup_entry(fd, REAL(dup2)(fd, to));
}

SHIM_EXPORT int dup3(int fd, int to, int flags)
{
	return dup_entry(fd, REAL(dup3)(fd, to, flags));
}
