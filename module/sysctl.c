// SPDX-License-Identifier: GPL-2.0
/*
 * AF_NSTCP sysctls: net.nstcp.*, one table per network namespace.
 */
#include <linux/slab.h>
#include <linux/sysctl.h>
#include <net/net_namespace.h>

#include "nstcp.h"

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
	{ }
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

	nn->sysctl_hdr = register_net_sysctl(net, "net/nstcp", table);
	if (!nn->sysctl_hdr) {
		if (table != nstcp_sysctl_table)
			kfree(table);
		return -ENOMEM;
	}
	return 0;
}

void nstcp_sysctl_exit(struct nstcp_net *nn)
{
	struct ctl_table *table = nn->sysctl_hdr->ctl_table_arg;

	unregister_net_sysctl_table(nn->sysctl_hdr);
	if (table != nstcp_sysctl_table)
		kfree(table);
}
