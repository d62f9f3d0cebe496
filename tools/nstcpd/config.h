/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The configuration parser's state, shared by config.c (lines, sections,
 * errors, whole-block checks) and config_keys.c (a service's keys).
 */
#ifndef NSTCPD_CONFIG_H
#define NSTCPD_CONFIG_H

#include "nstcpd.h"

enum {
	K_LISTEN, K_MODEL, K_EXEC, K_CPUS, K_WORKERS, K_KEY, K_POLICY,
	K_MAX_CONNS, K_PER_SOURCE, K_CPS, K_STDIO, K_TAKE, K_TIMEOUT,
	K_BACKLOG, K_BUSY, K_USER, K_GROUP, K_BUFFER, K_SERVERS, K_EXPIRE,
	K_DRAIN, K_TAKEBACK, K_LEASE,
	K_NKEYS
};

struct parser {
	struct nd_config *cfg;
	const char *file;
	int line;
	int errors;
	struct nd_service *cur;		/* NULL in [global] or before any */
	int in_global;
	unsigned int seen;		/* keys seen in the current block */
	int key_line[K_NKEYS];		/* and their lines */
	struct perror {
		int line, seq;
		char text[240];
	} *err;				/* printed in line order at the end */
};

extern const char *const nd_keys[K_NKEYS];

void perr(struct parser *p, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void nd_service_key(struct parser *p, const char *k, const char *v);
int nd_addr_port(const struct nd_service *s);
void nd_service_ids(struct parser *p, struct nd_service *s);

#endif /* NSTCPD_CONFIG_H */
