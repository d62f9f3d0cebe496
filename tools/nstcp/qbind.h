/* SPDX-License-Identifier: GPL-2.0 */
/*
 * nstcp queue bind|restore: what its files share.  ethtool.c has the
 * device's ethtool operations, qdev.c what sysfs and procfs say of the
 * device and the CPUs, qstate.c the saved settings and their restore,
 * qbind.c the plan and its steps.
 */
#ifndef NSTCP_QBIND_H
#define NSTCP_QBIND_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "nstcp.h"

#define QB_CPUS		1024	/* CPUs a list or mask may name */
#define QB_IRQS		512	/* per-queue interrupts of one device */
#define QB_QUEUES	256	/* RX or TX queues of one device handled */
#define QB_FLOWS	32768	/* net.core.rps_sock_flow_entries at least */
#define QB_STATE_DIR	"/run/nstcp"
/* A list of QB_CPUS CPUs as text: the longest, 0,2,...,1022, takes 2004. */
#define QB_CPULIST	2048

/* ethtool.c */
struct eth_channels {
	uint32_t rx_max, tx_max, combined_max;
	uint32_t rx, tx, combined;
};

/* SIOCETHTOOL with cmd: 0 or -errno. */
int eth_ioctl(const char *dev, void *cmd);
int eth_channels_get(const char *dev, struct eth_channels *ch);
int eth_channels_set(const char *dev, const struct eth_channels *want);
/* The RSS indirection table: *size entries in a malloc()ed *table. */
int eth_indir_get(const char *dev, uint32_t **table, uint32_t *size);
/* size 0 puts back the driver's default (an even spread). */
int eth_indir_set(const char *dev, const uint32_t *table, uint32_t size);

/* qdev.c: CPU sets as bitmaps; the lists and masks sysfs reads and writes. */
struct cpuset {
	uint64_t w[QB_CPUS / 64];
};

static inline void cpuset_add(struct cpuset *s, int cpu)
{
	s->w[cpu / 64] |= 1ULL << (cpu % 64);
}

static inline bool cpuset_has(const struct cpuset *s, int cpu)
{
	return s->w[cpu / 64] >> (cpu % 64) & 1;
}

/* "0-3,6": 0, or -EINVAL with the bad part in err. */
int cpuset_parse_list(const char *s, struct cpuset *set);
void cpuset_list(const struct cpuset *s, char *buf, size_t len);
/* The hex mask with comma-separated 32-bit groups, as sysfs writes it. */
void cpuset_mask(const struct cpuset *s, char *buf, size_t len);
int cpuset_count(const struct cpuset *s);

/* A file's first line, without its newline: 0 or -errno. */
int qd_read(const char *path, char *buf, size_t len);
bool qd_root_private(int fd);
ssize_t qd_read_private(const char *path, char *buf, size_t len);
/* Replaces the record file path with text atomically, mode 0600: 0 or -errno. */
int qd_write_private(const char *path, const char *text);
/* Writes s: 0 or -errno. */
int qd_write(const char *path, const char *s);
int qd_read_long(const char *path, long *v);

/* A per-queue interrupt of the device. */
struct qirq {
	int irq;
	int queue;
	char kind;		/* 'r' receive, 't' transmit, 'b' both */
	char name[64];
};

/* The device's interrupts named after its queues, sorted by queue. */
int qd_irqs(const char *dev, struct qirq *irqs, int max);
/* How many rx-N (rx) or tx-N queue directories the device has. */
int qd_queues(const char *dev, bool rx);

/* qirqb.c: a list of IRQs; as text "24,25,26" (sorted) or "none" */
struct irqs {
	int n;
	int v[QB_IRQS];
};

bool irqs_has(const struct irqs *l, int irq);
void irqs_add(struct irqs *l, int irq);
void irqs_str(struct irqs *l, char *buf, size_t len, char sep);

/*
 * qirqd.c: which process is irqbalance, and the lock around its ban list.
 * The pid of a running irqbalance of root's (0 if none), its start time
 * (/proc/PID/stat field 22) in *start.
 */
int qd_irqbalance(unsigned long long *start);
/* pid is irqbalance of root's, started at start (any start when 0). */
bool qd_irqbalance_is(int pid, unsigned long long start);
/* The exclusive lock on irqbalance's ban list: its fd, or -errno. */
int qd_irqb_lock(void);
/* The record of what bind banned: queue-DEV.irqb. */
struct qi_rec {
	int pid;
	unsigned long long start;	/* the daemon's start time, 0 unknown */
	struct irqs added;
};

void rec_path(const char *dev, char *buf, size_t len);
/* 0, -ENOENT when there is none, -errno. */
int rec_read(const char *dev, struct qi_rec *r);
void rec_write(const char *dev, struct qi_rec *r);

/* qstate.c */
int qs_path(const char *dev, char *buf, size_t len);
/* Saves the device's settings that bind may change, unless a saved state
 * exists already (*kept then true).  0, or -errno with a message printed.
 */
int qs_save(const char *dev, const struct qirq *irqs, int nirq, bool *kept);

/* qbind.c: one step's outcome, printed or added to the JSON result. */
enum qb_result { QB_DONE, QB_UNCHANGED, QB_SKIPPED, QB_FAILED, QB_PLANNED };

struct qb_out {
	struct json_object *steps;	/* with -j */
	int failed;
	bool dry_run;
	bool check;	/* queue show check: a planned step is a drift */
	bool ntuple;	/* bind was asked to turn ntuple on */
	int drifted;
};

void qb_step(struct qb_out *o, const char *what, const char *detail,
	     enum qb_result r, const char *reason);
/*
 * Writes value to path unless it holds it already (compared as masks with
 * mask: no commas, no leading zeros); planned only in a dry run.
 */
void qb_write_step(struct qb_out *o, const char *what, const char *path,
		   const char *value, bool mask);
void qb_map_set(int ifindex, const int *cpu, int nq, struct qb_out *o);
int qb_restore(const char *dev, struct qb_out *o);
void qb_map_del(int ifindex, struct qb_out *o);

/*
 * qntuple.c: ntuple filters (accelerated RFS).  get: 0 with *on, or
 * -EOPNOTSUPP when the device does not offer them.
 */
int eth_ntuple_get(const char *dev, bool *on);
int eth_ntuple_set(const char *dev, bool on);
void qb_step_ntuple(const char *dev, struct qb_out *o);
void qs_ntuple_save(const char *dev, struct json_object *s);
void qs_ntuple_restore(const char *dev, struct json_object *s, struct qb_out *o);

int do_queue_bind(int argc, char **argv);

/*
 * qcheck.c: the binding's CPUs, recorded by bind in
 * /run/nstcp/queue-DEV.bound, and queue show dev DEV check.
 */
void qb_bound_save(const char *dev, const char *cpus);
void qb_bound_remove(const char *dev);
int qb_bound_read(const char *dev, char *cpus, size_t len);
/* The module's map of the device: queues in cpu[], their count, or -errno. */
int qb_map_get(int ifindex, int *cpu, int max);
int do_queue_check(const char *dev);
/* qbind.c: bind's plan for the CPUs list, as a dry run, in check mode. */
int qb_check_plan(const char *dev, const char *list, struct qb_out *o);
int do_queue_restore(int argc, char **argv);

/*
 * qirqb.c: irqbalance kept off the bound interrupts through its control
 * socket (a runtime ban), what bind added lifted by restore.
 */
void qi_bind(const char *dev, const int *irqs, int n, const char *cpus,
	     struct qb_out *o, struct json_object **jres);
void qi_restore(const char *dev, struct qb_out *o);

#endif
