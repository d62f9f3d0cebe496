// SPDX-License-Identifier: GPL-2.0
/*
 * AF_NSTCP per-CPU protocol instances: one per CPU and network namespace,
 * brought online and offline with the CPU (cpuhp).
 */
#include <linux/cpu.h>
#include <linux/cpuhotplug.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <kunit/visibility.h>

#include "nstcp.h"

/* Every namespace's state, so CPU hotplug can reach all instances. */
static LIST_HEAD(nstcp_nets);
static DEFINE_MUTEX(nstcp_nets_lock);	/* nests inside cpu_hotplug_lock */
static enum cpuhp_state nstcp_hp_state;

void nstcp_instance_set_online(struct nstcp_net *nn, int cpu, bool online)
{
	WRITE_ONCE(per_cpu_ptr(nn->inst, cpu)->online, online);
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_instance_set_online);

unsigned int nstcp_instances_online(struct nstcp_net *nn)
{
	unsigned int n = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		n += READ_ONCE(per_cpu_ptr(nn->inst, cpu)->online);
	return n;
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_instances_online);

int nstcp_instances_init(struct nstcp_net *nn)
{
	int cpu;

	nn->inst = alloc_percpu(struct nstcp_instance);
	if (!nn->inst)
		return -ENOMEM;
	for_each_possible_cpu(cpu)
		per_cpu_ptr(nn->inst, cpu)->cpu = cpu;

	cpus_read_lock();
	mutex_lock(&nstcp_nets_lock);
	for_each_online_cpu(cpu)
		nstcp_instance_set_online(nn, cpu, true);
	list_add(&nn->node, &nstcp_nets);
	mutex_unlock(&nstcp_nets_lock);
	cpus_read_unlock();
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_instances_init);

void nstcp_instances_exit(struct nstcp_net *nn)
{
	mutex_lock(&nstcp_nets_lock);
	list_del(&nn->node);
	mutex_unlock(&nstcp_nets_lock);
	free_percpu(nn->inst);
	nn->inst = NULL;
}
EXPORT_SYMBOL_IF_KUNIT(nstcp_instances_exit);

static void nstcp_cpu_set(unsigned int cpu, bool online)
{
	struct nstcp_net *nn;

	mutex_lock(&nstcp_nets_lock);
	list_for_each_entry(nn, &nstcp_nets, node) {
		nstcp_instance_set_online(nn, cpu, online);
		/* What is queued on the CPU's listeners is for the others. */
		if (!online)
			nstcp_lgroups_cpu_offline(nn, cpu);
	}
	mutex_unlock(&nstcp_nets_lock);
}

static int nstcp_cpu_online(unsigned int cpu)
{
	nstcp_cpu_set(cpu, true);
	return 0;
}

static int nstcp_cpu_offline(unsigned int cpu)
{
	nstcp_cpu_set(cpu, false);
	return 0;
}

int nstcp_cpuhp_init(void)
{
	int ret;

	ret = cpuhp_setup_state(CPUHP_AP_ONLINE_DYN, "net/nstcp:online",
				nstcp_cpu_online, nstcp_cpu_offline);
	if (ret < 0)
		return ret;
	nstcp_hp_state = ret;
	return 0;
}

void nstcp_cpuhp_exit(void)
{
	cpuhp_remove_state_nocalls(nstcp_hp_state);
}
