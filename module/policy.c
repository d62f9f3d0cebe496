// SPDX-License-Identifier: GPL-2.0
/*
 * AF_NSTCP listen policies: the pure choices behind per-CPU listening,
 * kept apart from the locking so KUnit can drive them.
 */
#include <linux/kernel.h>
#include <linux/string.h>
#include <kunit/visibility.h>
#include <linux/nstcp.h>

#include "nstcp.h"

static const char * const nstcp_policy_names[] = {
	[NSTCP_POLICY_CPU]		= "cpu",
	[NSTCP_POLICY_ROUNDROBIN]	= "roundrobin",
	[NSTCP_POLICY_LEAST]		= "least",
};

const char *nstcp_policy_name(int policy)
{
	if (policy < NSTCP_POLICY_CPU || policy > NSTCP_POLICY_LEAST)
		return "?";
	return nstcp_policy_names[policy];
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_policy_name);

/* Return: the NSTCP_POLICY_* a name stands for, or -EINVAL. */
int nstcp_policy_parse(const char *name)
{
	int p;

	for (p = NSTCP_POLICY_CPU; p <= NSTCP_POLICY_LEAST; p++)
		if (sysfs_streq(name, nstcp_policy_names[p]))
			return p;
	return -EINVAL;
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_policy_parse);

/**
 * nstcp_pick_queue - the CPU instance queue an acceptor takes from
 * @qlen: reads the connections queued on instance i
 * @ctx: passed to @qlen
 * @n: number of instances
 * @cpu: the acceptor's CPU
 * @steal: whether it may take from another instance
 *
 * The acceptor's own instance first; else, when stealing, the busiest
 * other one, the nearest CPU breaking ties.
 *
 * Return: the instance, or -1 when there is nothing to take.
 */
int nstcp_pick_queue(unsigned int (*qlen)(const void *ctx, unsigned int i),
		     const void *ctx, unsigned int n, unsigned int cpu,
		     bool steal)
{
	unsigned int i, best = n, bestlen = 0, len;

	if (cpu < n && qlen(ctx, cpu))
		return cpu;
	if (!steal)
		return -1;
	for (i = 0; i < n; i++) {
		len = qlen(ctx, i);
		if (!len)
			continue;
		if (best == n || len > bestlen ||
		    (len == bestlen &&
		     abs((int)i - (int)cpu) < abs((int)best - (int)cpu))) {
			best = i;
			bestlen = len;
		}
	}
	return best == n ? -1 : best;
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_pick_queue);

/**
 * nstcp_pick_least - the listener with the least load
 * @load: queued plus active connections per listener
 * @n: number of listeners (at least 1)
 * @start: where to start looking, so that ties rotate
 *
 * Return: the index of the first least-loaded listener from @start on.
 */
unsigned int nstcp_pick_least(const unsigned int *load, unsigned int n,
			      unsigned int start)
{
	unsigned int i, best = start % n;

	for (i = 1; i < n; i++) {
		unsigned int j = (start + i) % n;

		if (load[j] < load[best])
			best = j;
	}
	return best;
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_pick_least);
