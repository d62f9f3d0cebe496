/* SPDX-License-Identifier: GPL-2.0 */
/* libnstcp-run.so: what shim.c (the calls) and rules.c (the rules) share. */
#ifndef NSTCP_RUN_SHIM_H
#define NSTCP_RUN_SHIM_H

#include <pthread.h>
#include <sys/socket.h>
#include <sys/types.h>

/* The wrapped libc functions; everything else stays inside the library. */
#define SHIM_EXPORT __attribute__((visibility("default")))

enum { SHIM_MODE_LISTEN, SHIM_MODE_ALL, SHIM_MODE_OFF };

#define SHIM_MAX_RULES	64

struct shim_port_range {
	unsigned short lo, hi;
};

struct shim_config {
	int mode;		/* SHIM_MODE_* */
	int verbose;
	int family;		/* AF_NSTCP's number; 0: read it at first use */
	int nports, naddrs;	/* 0: any port, any address */
	struct shim_port_range ports[SHIM_MAX_RULES];
	unsigned char addrs[SHIM_MAX_RULES][16];	/* IPv6, IPv4 v4-mapped */
};

struct shim_stats {
	unsigned long converted, fallback, skipped;
};

/* The libc functions the shim wraps, found with dlsym(RTLD_NEXT). */
struct shim_real {
	int (*socket)(int, int, int);
	int (*bind)(int, const struct sockaddr *, socklen_t);
	int (*listen)(int, int);
	int (*connect)(int, const struct sockaddr *, socklen_t);
	int (*accept)(int, struct sockaddr *, socklen_t *);
	int (*accept4)(int, struct sockaddr *, socklen_t *, int);
	int (*setsockopt)(int, int, int, const void *, socklen_t);
	int (*getsockopt)(int, int, int, void *, socklen_t *);
	int (*getsockname)(int, struct sockaddr *, socklen_t *);
	int (*getpeername)(int, struct sockaddr *, socklen_t *);
	int (*close)(int);
	int (*dup)(int);
	int (*dup2)(int, int);
	int (*dup3)(int, int, int);
};

#define SHIM_MAX_FD	(1 << 20)	/* descriptors tracked: 0 to this - 1 */
#define SHIM_OPT_MAX	256		/* bytes of one recorded option */

enum { FD_NONE, FD_TCP, FD_NSTCP, FD_OTHER };

struct shim_opt {
	struct shim_opt *next;
	int level, name;
	socklen_t len;
	unsigned char val[];
};

/* One descriptor; changed under shim_lock. */
struct shim_fd {
	ino_t ino;		/* the socket's inode: the entry is for it */
	unsigned char state;	/* FD_* */
	unsigned char family;	/* AF_INET or AF_INET6, as asked */
	unsigned char keep;	/* an option that cannot be replayed was set */
	int protocol;
	struct shim_opt *opts;	/* FD_TCP: options set so far, in order */
};

extern struct shim_fd shim_fds[SHIM_MAX_FD];
extern pthread_mutex_t shim_lock;
extern struct shim_real shim_real;

/* A libc function, looked up first if a wrapper runs before the constructor. */
#define REAL(fn) (shim_real.fn ? shim_real.fn : (shim_resolve(), shim_real.fn))

void shim_resolve(void);
ino_t fd_ino(int fd);
void opts_free(struct shim_opt *o);
void fd_clear(int fd);
void fd_track(int fd, ino_t ino, int state, int family, int protocol);
int fd_ok(int fd);
int fd_lookup(int fd, int *family);

extern struct shim_config shim_cfg;
extern struct shim_stats shim_stats;

void shim_config_load(void);
int shim_family(void);
const char *shim_family_name(int family);
void shim_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void shim_addr_str(const struct sockaddr *sa, char *buf, size_t len);
int shim_addr_port(const struct sockaddr *sa);
int shim_rules_match(const struct sockaddr *sa, char *why, size_t len);
void shim_addr_as(int family, struct sockaddr_storage *ss, socklen_t *len);

static inline void shim_count(unsigned long *c)
{
	__atomic_add_fetch(c, 1, __ATOMIC_RELAXED);
}

#endif
