/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The broker model's shared table (Documentation/nstcpd.rst, "Broker
 * model"): nstcpd maps it (a memfd) before it starts the brokers, which
 * map the same memory.  Each server replica has a slot its reports update
 * (any broker, whichever the report reached); each broker has counters
 * only it writes.  Fields are read and written whole with atomics, no lock.
 */
#ifndef NSTCPD_BROKER_H
#define NSTCPD_BROKER_H

#include <stdint.h>
#include <sys/socket.h>

#define ND_BK_MAGIC	0x6e73626bu	/* "nsbk" */

struct nd_bk_slot {
	uint64_t loadcap;	/* load << 32 | capacity, of the last report */
	uint64_t stamp_ms;	/* CLOCK_MONOTONIC of that report, 0: none */
	uint64_t reports;	/* reports received */
	uint64_t chosen;	/* ASKs answered with it */
};

struct nd_bk_count {
	uint64_t asked, answered, full, noserver, unknown, reports, malformed;
	uint64_t idle;		/* closed after NSTCP_BROKER_TIMEOUT_MS idle */
};

struct nd_bk_shm {
	uint32_t magic;
	uint32_t nslots, nbrokers;
	uint32_t expire_ms;	/* a report older than this is stale */
	uint32_t base_port;	/* slot i is base_port + i */
	uint32_t wildcard;	/* servers on *: answer the broker's address */
	struct sockaddr_storage addr;	/* the servers' address */
	char name[40];		/* the service's */
	struct nd_bk_slot slot[];	/* nslots, then nbrokers nd_bk_count */
};

static inline struct nd_bk_count *nd_bk_counts(struct nd_bk_shm *m)
{
	return (struct nd_bk_count *)&m->slot[m->nslots];
}

static inline size_t nd_bk_size(unsigned int nslots, unsigned int nbrokers)
{
	return sizeof(struct nd_bk_shm) + nslots * sizeof(struct nd_bk_slot) +
	       nbrokers * sizeof(struct nd_bk_count);
}

/* broker_run.c: `nstcpd broker INDEX`, started by nstcpd with fds 3 and 4. */
int nd_broker_main(int argc, char **argv);

#endif /* NSTCPD_BROKER_H */
