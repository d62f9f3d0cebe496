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
 * nstcp_pick_turn - the listener the next connection is given to
 * @load: reads listener i's load (queued plus active connections), or
 *	UINT_MAX for a listener that takes nothing more (shut down)
 * @ctx: passed to @load
 * @n: number of listeners
 * @rr: the port's turn counter
 * @least: the least policy (else round robin)
 *
 * Round robin gives the turn to listener @rr % @n, or the next one that
 * takes connections; least to the least-loaded one, looking from @rr % @n
 * on so that ties rotate.
 *
 * Return: the listener's index, or -1 when none takes connections.
 */
int nstcp_pick_turn(unsigned int (*load)(const void *ctx, unsigned int i),
		    const void *ctx, unsigned int n, unsigned int rr,
		    bool least)
{
	unsigned int i, j, l, best = n, bestload = UINT_MAX;

	for (i = 0; i < n; i++) {
		j = (rr + i) % n;
		l = load(ctx, j);
		if (l == UINT_MAX)
			continue;
		if (!least)
			return j;
		if (l < bestload) {
			best = j;
			bestload = l;
		}
	}
	return best == n ? -1 : best;
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_pick_turn);
