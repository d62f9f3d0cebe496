/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A broker's state (broker_run.c, its connections and poll loop) as
 * broker_ask.c, its answers to ASK and REPORT, sees it.
 */
#ifndef ND_BROKER_RUN_H
#define ND_BROKER_RUN_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "broker.h"
#include "broker_proto.h"

#define BK_CONNS	256

struct bk_conn {
	int fd;
	size_t len;
	int served;		/* answered at least once */
	int relayed;		/* an ASK relayed (broker_relay.c) */
	long long deadline;
	char buf[NSTCP_BROKER_LINE_MAX];
};

struct bk {
	struct nd_bk_shm *m;
	struct nd_bk_count *cnt;	/* this broker's */
	unsigned int next;		/* where the next ASK starts looking */
	struct bk_conn conn[BK_CONNS];
	int nconn;
	int draining;			/* SIGUSR1 taken, listener closed */
	long long relay_after;		/* no relay before (now_ms()) */
};

static inline long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

static inline void count(uint64_t *c)
{
	__atomic_fetch_add(c, 1, __ATOMIC_RELAXED);
}

/* A decimal number up to NSTCP_BROKER_NUM_MAX, digits only: 0, else -1. */
int nd_bk_number(const char *s, unsigned int *v);
/* One request line (no '\n'): 0 answered, -1 malformed or not sent. */
int nd_bk_request(struct bk *b, struct bk_conn *c, char *line);

/*
 * Draining: @name's ASK (version @v) asked of the new image's brokers on
 * the address @c reached; their OK answer's text (after the magic) in
 * @text when it names @host, the address this broker answers with: 0,
 * else -1 (not draining, unreachable, FULL, NOSERVER, another address).
 */
int nd_bk_relay(struct bk *b, struct bk_conn *c, int v, const char *name,
		const char *host, char *text, size_t len);

#endif
