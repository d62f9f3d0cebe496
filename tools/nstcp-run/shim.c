// SPDX-License-Identifier: GPL-2.0
/*
 * libnstcp-run.so: an LD_PRELOAD library that puts an unmodified program's
 * TCP listening sockets on AF_NSTCP (Documentation/nstcp-run.rst).
 *
 * socket(AF_INET or AF_INET6, SOCK_STREAM, 0 or IPPROTO_TCP) makes the
 * socket asked for and remembers it, with the options set on it.  When
 * the program binds it to an address and port the rules select (or
 * listens on it unbound), the socket is re-created as AF_NSTCP: a new
 * socket gets the same options, status flags and descriptor flags and is
 * dup3()ed onto the program's descriptor before the real bind().  From
 * then on the calls that show a family (getsockopt SO_DOMAIN,
 * getsockname, getpeername, accept, accept4) answer as the family the
 * program asked for.  Anything that fails leaves the program's own socket
 * in place: the shim never breaks a program.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/nstcp.h>

#include "shim.h"

#ifndef SO_ATTACH_REUSEPORT_CBPF
#define SO_ATTACH_REUSEPORT_CBPF 51
#endif
#ifndef SO_ATTACH_REUSEPORT_EBPF
#define SO_ATTACH_REUSEPORT_EBPF 52
#endif
#ifndef TCP_ULP
#define TCP_ULP 31
#endif

static int is_tcp(int domain, int type, int protocol)
{
	return (domain == AF_INET || domain == AF_INET6) &&
	       (type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) == SOCK_STREAM &&
	       (protocol == 0 || protocol == IPPROTO_TCP);
}

/*
 * A socket of the family in force, or -1 with errno.  Once the family is
 * found missing (module not loaded nor loadable) it is not asked again:
 * each try would run modprobe through the net-pf alias.
 */
static int nstcp_socket(int type, int protocol)
{
	static int absent;
	int fd, err;

	if (__atomic_load_n(&absent, __ATOMIC_RELAXED)) {
		fd = -1;
		err = EAFNOSUPPORT;
	} else {
		fd = REAL(socket)(shim_family(), type, protocol);
		err = errno;
		if (fd < 0 && err == EAFNOSUPPORT)
			__atomic_store_n(&absent, 1, __ATOMIC_RELAXED);
	}
	if (fd < 0) {
		shim_count(&shim_stats.fallback);
		shim_log("AF_NSTCP unavailable (%s): the socket stays as asked",
			 strerror(err));
		errno = err;
	}
	return fd;
}

SHIM_EXPORT int socket(int domain, int type, int protocol)
{
	int err = errno, fd;

	if (!is_tcp(domain, type, protocol))
		return REAL(socket)(domain, type, protocol);
	if (shim_cfg.mode == SHIM_MODE_ALL) {
		fd = nstcp_socket(type, protocol);
		if (fd >= 0 && fd_ok(fd)) {
			shim_count(&shim_stats.converted);
			shim_log("fd %d: %s socket made AF_NSTCP (mode all)",
				 fd, shim_family_name(domain));
			pthread_mutex_lock(&shim_lock);
			fd_track(fd, fd_ino(fd), FD_NSTCP, domain, protocol);
			pthread_mutex_unlock(&shim_lock);
			errno = err;
			return fd;
		}
		if (fd >= 0)
			REAL(close)(fd);
		errno = err;
	}
	fd = REAL(socket)(domain, type, protocol);
	if (fd >= 0 && fd_ok(fd) && shim_cfg.mode == SHIM_MODE_LISTEN) {
		pthread_mutex_lock(&shim_lock);
		fd_track(fd, fd_ino(fd), FD_TCP, domain, protocol);
		pthread_mutex_unlock(&shim_lock);
	}
	return fd;
}

/* An option that a fresh socket cannot be given again as it was. */
static int opt_unreplayable(int level, int name)
{
	if (level == SOL_SOCKET)
		return name == SO_ATTACH_FILTER || name == SO_ATTACH_BPF ||
		       name == SO_ATTACH_REUSEPORT_CBPF ||
		       name == SO_ATTACH_REUSEPORT_EBPF || name == SO_DETACH_FILTER;
	if (level == IPPROTO_TCP)
		return name == TCP_ULP || name == TCP_REPAIR;
	if (level == IPPROTO_IPV6)
		return name == IPV6_ADDRFORM;
	return 0;
}

SHIM_EXPORT int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	struct shim_opt *o, **p;
	struct shim_fd *e;
	int ret;

	ret = REAL(setsockopt)(fd, level, name, val, len);
	if (ret || !fd_ok(fd) || shim_fds[fd].state != FD_TCP)
		return ret;
	pthread_mutex_lock(&shim_lock);
	e = &shim_fds[fd];
	if (e->state != FD_TCP)
		goto out;
	if (opt_unreplayable(level, name) || len > SHIM_OPT_MAX) {
		e->keep = 1;
		goto out;
	}
	o = malloc(sizeof(*o) + len);
	if (!o) {
		e->keep = 1;
		goto out;
	}
	o->next = NULL;
	o->level = level;
	o->name = name;
	o->len = len;
	if (len)
		memcpy(o->val, val, len);
	for (p = &e->opts; *p; p = &(*p)->next)
		;
	*p = o;
out:
	pthread_mutex_unlock(&shim_lock);
	return ret;
}

/*
 * Re-creates fd, a socket of the program's, as AF_NSTCP: same options,
 * O_NONBLOCK and FD_CLOEXEC.  0, or -1 with fd left as it was.
 */
static int convert(int fd, const char *why)
{
	struct shim_fd *e = &shim_fds[fd];
	int nfd, fl, fdfl, type = SOCK_STREAM | SOCK_CLOEXEC;
	struct shim_opt *o;

	fl = fcntl(fd, F_GETFL);
	fdfl = fcntl(fd, F_GETFD);
	if (fl < 0 || fdfl < 0)
		return -1;
	if (fl & O_NONBLOCK)
		type |= SOCK_NONBLOCK;
	/*
	 * Close-on-exec until it is closed: another thread's fork and exec
	 * must not inherit it.  dup3() gives fd the program's own flag.
	 */
	nfd = nstcp_socket(type, e->protocol);
	if (nfd < 0)
		return -1;
	for (o = e->opts; o; o = o->next) {
		if (REAL(setsockopt)(nfd, o->level, o->name, o->val, o->len)) {
			shim_count(&shim_stats.skipped);
			shim_log("fd %d: option %d/%d refused by AF_NSTCP (%s): left %s",
				 fd, o->level, o->name, strerror(errno),
				 shim_family_name(e->family));
			goto fail;
		}
	}
	if (REAL(dup3)(nfd, fd, (fdfl & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0)
		goto fail;
	REAL(close)(nfd);
	opts_free(e->opts);
	e->opts = NULL;
	e->state = FD_NSTCP;
	e->ino = fd_ino(fd);
	shim_count(&shim_stats.converted);
	shim_log("fd %d: %s socket made AF_NSTCP (%s)", fd,
		 shim_family_name(e->family), why);
	return 0;
fail:
	REAL(close)(nfd);
	return -1;
}

/* Decides at bind() or listen(); addr NULL for listen() unbound. */
static void maybe_convert(int fd, const struct sockaddr *addr, socklen_t len)
{
	char where[80], why[128];
	struct shim_fd *e;
	int family;

	if (fd_lookup(fd, &family) != FD_TCP)
		return;
	pthread_mutex_lock(&shim_lock);
	e = &shim_fds[fd];
	if (e->state != FD_TCP)
		goto out;
	if (addr && (addr->sa_family != e->family ||
		     len < (e->family == AF_INET ? sizeof(struct sockaddr_in) :
						    sizeof(struct sockaddr_in6))))
		goto out;	/* the program's own socket gives the error */
	shim_addr_str(addr, where, sizeof(where));
	if (e->keep) {
		shim_count(&shim_stats.skipped);
		shim_log("fd %d: %s %s: left %s (an option set cannot be copied)",
			 fd, addr ? "bind" : "listen", where,
			 shim_family_name(e->family));
		e->state = FD_OTHER;
		goto out;
	}
	if (!shim_rules_match(addr, why, sizeof(why))) {
		shim_count(&shim_stats.skipped);
		shim_log("fd %d: %s %s: left %s (%s)", fd,
			 addr ? "bind" : "listen", where,
			 shim_family_name(e->family), why);
		opts_free(e->opts);
		e->opts = NULL;
		e->state = FD_OTHER;
		goto out;
	}
	if (convert(fd, why)) {
		opts_free(e->opts);
		e->opts = NULL;
		e->state = FD_OTHER;
	}
out:
	pthread_mutex_unlock(&shim_lock);
}

SHIM_EXPORT int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	if (addr && fd_ok(fd) && shim_fds[fd].state == FD_TCP)
		maybe_convert(fd, addr, len);
	return REAL(bind)(fd, addr, len);
}

SHIM_EXPORT int listen(int fd, int backlog)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (fd_ok(fd) && shim_fds[fd].state == FD_TCP &&
	    REAL(getsockname)(fd, (struct sockaddr *)&ss, &len) == 0 &&
	    shim_addr_port((struct sockaddr *)&ss) == 0)
		maybe_convert(fd, NULL, 0);
	return REAL(listen)(fd, backlog);
}

SHIM_EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	/* A client socket: never converted, its options not kept. */
	if (fd_ok(fd) && shim_fds[fd].state == FD_TCP) {
		pthread_mutex_lock(&shim_lock);
		if (shim_fds[fd].state == FD_TCP)
			fd_clear(fd);
		pthread_mutex_unlock(&shim_lock);
	}
	return REAL(connect)(fd, addr, len);
}

/* Copies an address out as the caller's buffer takes it (accept(2)). */
static void addr_out(const struct sockaddr_storage *ss, socklen_t len,
		     struct sockaddr *addr, socklen_t *alen)
{
	if (!addr || !alen)
		return;
	memcpy(addr, ss, len < *alen ? len : *alen);
	*alen = len;
}

static int do_accept(int fd, struct sockaddr *addr, socklen_t *alen,
		     int flags, int four)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int family = 0, nfd, err;

	/*
	 * Not ours, or an address without a usable length: the kernel
	 * answers (EFAULT, EINVAL) exactly as it would without us.
	 */
	if (fd_lookup(fd, &family) != FD_NSTCP || (addr && !alen) ||
	    (addr && (int)*alen < 0))
		return four ? REAL(accept4)(fd, addr, alen, flags) :
			      REAL(accept)(fd, addr, alen);
	nfd = four ? REAL(accept4)(fd, (struct sockaddr *)&ss, &len, flags) :
		     REAL(accept)(fd, (struct sockaddr *)&ss, &len);
	if (nfd < 0)
		return nfd;
	err = errno;
	shim_addr_as(family, &ss, &len);
	addr_out(&ss, len, addr, alen);
	if (fd_ok(nfd)) {
		ino_t ino = fd_ino(nfd);

		pthread_mutex_lock(&shim_lock);
		fd_track(nfd, ino, FD_NSTCP, family, IPPROTO_TCP);
		pthread_mutex_unlock(&shim_lock);
	}
	errno = err;
	return nfd;
}

SHIM_EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *alen)
{
	return do_accept(fd, addr, alen, 0, 0);
}

SHIM_EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *alen, int flags)
{
	return do_accept(fd, addr, alen, flags, 1);
}

static int do_name(int fd, struct sockaddr *addr, socklen_t *alen, int peer)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int family = 0, ret;

	if (!addr || !alen || fd_lookup(fd, &family) != FD_NSTCP)
		return peer ? REAL(getpeername)(fd, addr, alen) :
			      REAL(getsockname)(fd, addr, alen);
	ret = peer ? REAL(getpeername)(fd, (struct sockaddr *)&ss, &len) :
		     REAL(getsockname)(fd, (struct sockaddr *)&ss, &len);
	if (ret)
		return ret;
	shim_addr_as(family, &ss, &len);
	addr_out(&ss, len, addr, alen);
	return 0;
}

SHIM_EXPORT int getsockname(int fd, struct sockaddr *addr, socklen_t *alen)
{
	return do_name(fd, addr, alen, 0);
}

SHIM_EXPORT int getpeername(int fd, struct sockaddr *addr, socklen_t *alen)
{
	return do_name(fd, addr, alen, 1);
}

SHIM_EXPORT int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	int ret, family = 0;

	ret = REAL(getsockopt)(fd, level, name, val, len);
	if (ret || level != SOL_SOCKET || name != SO_DOMAIN || !val || !len ||
	    *len < sizeof(int) || fd_lookup(fd, &family) != FD_NSTCP)
		return ret;
	*(int *)val = family;
	return 0;
}
