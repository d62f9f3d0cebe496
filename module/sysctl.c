// SPDX-License-Identifier: GPL-2.0
/*
 * AF_NSTCP sysctls: net.nstcp.*, one table per network namespace.
 */
#include <linux/slab.h>
#include <linux/sysctl.h>
#include <net/net_namespace.h>
#include <linux/nstcp.h>

#include "nstcp.h"

/* listen_policy: read and written by name (cpu, roundrobin, least). */
static int nstcp_proc_policy(const struct ctl_table *table, int write,
			     void *buffer, size_t *lenp, loff_t *ppos)
{
	int *valp = table->data;
	char name[16];
	struct ctl_table tbl = { .data = name, .maxlen = sizeof(name) };
	int ret, p;

	strscpy(name, nstcp_policy_name(READ_ONCE(*valp)), sizeof(name));
	ret = proc_dostring(&tbl, write, buffer, lenp, ppos);
	if (!write || ret)
		return ret;
	p = nstcp_policy_parse(name);
	if (p < 0)
		return p;
	WRITE_ONCE(*valp, p);
	return 0;
}

DEFINE_COMPAT_PROC_HANDLER(nstcp_proc_policy)

static struct ctl_table nstcp_sysctl_table[] = {
	{
		.procname	= "family",
		.maxlen		= sizeof(int),
		.mode		= 0444,
		.proc_handler	= proc_dointvec,
	},
	{
		.procname	= "hop_accounting",
		.maxlen		= sizeof(int),
		.mode		= 0644,
		.proc_handler	= proc_dointvec_minmax,
		.extra1		= SYSCTL_ZERO,
		.extra2		= SYSCTL_ONE,
	},
	{
		.procname	= "listen_policy",
		.maxlen		= sizeof(int),
		.mode		= 0644,
		.proc_handler	= compat_proc_handler(nstcp_proc_policy),
	},
	{
		.procname	= "accept_steal",
		.maxlen		= sizeof(int),
		.mode		= 0644,
		.proc_handler	= proc_dointvec_minmax,
		.extra1		= SYSCTL_ZERO,
		.extra2		= SYSCTL_ONE,
	},
	{
		.procname	= "accept_steal_delay_ms",
		.maxlen		= sizeof(int),
		.mode		= 0644,
		.proc_handler	= proc_dointvec_minmax,
		.extra1		= SYSCTL_ZERO,
		.extra2		= SYSCTL_ONE_THOUSAND,
	},
	{
		.procname	= "local_connect",
		.maxlen		= sizeof(int),
		.mode		= 0644,
		.proc_handler	= proc_dointvec_minmax,
		.extra1		= SYSCTL_ZERO,
		.extra2		= SYSCTL_ONE,
	},
	{ }	/* the end, before 6.6; not in the size passed */
};

int nstcp_sysctl_init(struct net *net, struct nstcp_net *nn)
{
	struct ctl_table *table = nstcp_sysctl_table;

	if (!net_eq(net, &init_net)) {
		table = kmemdup(table, sizeof(nstcp_sysctl_table), GFP_KERNEL);
		if (!table)
			return -ENOMEM;
	}
	table[0].data = &nn->family;
	table[1].data = &nn->hop_accounting;
	table[2].data = &nn->listen_policy;
	table[3].data = &nn->accept_steal;
	table[4].data = &nn->accept_steal_delay;
	table[5].data = &nn->local_connect;

	nn->sysctl_hdr = register_net_sysctl_sz(net, "net/nstcp", table,
						ARRAY_SIZE(nstcp_sysctl_table) - 1);
	if (!nn->sysctl_hdr) {
		if (table != nstcp_sysctl_table)
			kfree(table);
		return -ENOMEM;
	}
	return 0;
}

void nstcp_sysctl_exit(struct nstcp_net *nn)
{
	const struct ctl_table *table = nn->sysctl_hdr->ctl_table_arg;

	unregister_net_sysctl_table(nn->sysctl_hdr);
	if (table != nstcp_sysctl_table)
		kfree(table);
}
