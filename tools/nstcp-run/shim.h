/* SPDX-License-Identifier: GPL-2.0 */
/* libnstcp-run.so: what shim.c (the calls) and rules.c (the rules) share. */
#ifndef NSTCP_RUN_SHIM_H
#define NSTCP_RUN_SHIM_H

#include <sys/socket.h>

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
