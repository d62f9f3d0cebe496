// SPDX-License-Identifier: GPL-2.0
/*
 * AF_NSTCP per-instance counters and /proc/net/nstcp.
 */
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <kunit/visibility.h>
#include <linux/nstcp.h>

#include "nstcp.h"

void nstcp_stat_inc_cpu(struct nstcp_net *nn, int cpu, enum nstcp_stat s)
{
	atomic_long_inc(&per_cpu_ptr(nn->inst, cpu)->stats[s]);
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_stat_inc_cpu);

unsigned long nstcp_stat_read(struct nstcp_net *nn, int cpu, enum nstcp_stat s)
{
	return atomic_long_read(&per_cpu_ptr(nn->inst, cpu)->stats[s]);
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_stat_read);

unsigned long nstcp_stat_sum(struct nstcp_net *nn, enum nstcp_stat s)
{
	unsigned long sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += nstcp_stat_read(nn, cpu, s);
	return sum;
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_stat_sum);

static int nstcp_proc_show(struct seq_file *seq, void *v)
{
	struct nstcp_net *nn = nstcp_pernet(seq_file_single_net(seq));
	int cpu, s;

	seq_puts(seq, NSTCP_PROC_COLUMNS "\n");
	for_each_possible_cpu(cpu) {
		seq_printf(seq, "%d %d", cpu,
			   READ_ONCE(per_cpu_ptr(nn->inst, cpu)->online));
		for (s = 0; s < NSTCP_STAT_MAX; s++)
			seq_printf(seq, " %lu", nstcp_stat_read(nn, cpu, s));
		seq_putc(seq, '\n');
	}
	return 0;
}

int nstcp_proc_init(struct net *net)
{
	if (!proc_create_net_single("nstcp", 0444, net->proc_net,
				    nstcp_proc_show, NULL))
		return -ENOMEM;
	return 0;
}

void nstcp_proc_exit(struct net *net)
{
	remove_proc_entry("nstcp", net->proc_net);
}
