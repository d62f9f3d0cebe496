// SPDX-License-Identifier: GPL-2.0
/*
 * AF_NSTCP: module entry, per network namespace state.
 */
#define pr_fmt(fmt) "nstcp: " fmt

#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/net.h>
#include <linux/proc_fs.h>
#include <net/net_namespace.h>
#include <kunit/visibility.h>
#include <linux/nstcp.h>

#include "nstcp.h"
#include "steer.h"
#include "inbox.h"

unsigned int nstcp_net_id __read_mostly;
EXPORT_SYMBOL_IF_KUNIT(nstcp_net_id);

int nstcp_family __read_mostly = AF_NSTCP;
EXPORT_SYMBOL_IF_KUNIT(nstcp_family);
module_param_named(family, nstcp_family, int, 0444);
MODULE_PARM_DESC(family, "address family number to register (default 19)");

static int __net_init nstcp_net_init(struct net *net)
{
	struct nstcp_net *nn = nstcp_pernet(net);
	int err;

	nn->family = nstcp_family;
	nn->hop_accounting = 1;
	nn->listen_policy = NSTCP_POLICY_CPU;
	nn->accept_steal = 1;
	nn->accept_steal_delay = 20;
	nn->local_connect = 1;
	err = nstcp_instances_init(nn);
	if (err)
		return err;
	err = nstcp_sysctl_init(net, nn);
	if (err)
		goto err_sysctl;
	err = nstcp_proc_init(net);
	if (err)
		goto err_proc;
	mutex_init(&nn->lg_lock);
	INIT_LIST_HEAD(&nn->lgroups);
	nstcp_tokens_init(nn);
	nstcp_inboxes_init(nn);
	nstcp_qmap_net_init(nn);
	err = -ENOMEM;
	if (!proc_create_net_single("nstcp_listen", 0444, net->proc_net,
				    nstcp_listen_show, NULL))
		goto err_listen;
	if (!proc_create_net_single("nstcp_tokens", 0444, net->proc_net,
				    nstcp_tokens_show, NULL))
		goto err_tokens;
	if (!proc_create_net_single("nstcp_inbox", 0444, net->proc_net,
				    nstcp_inbox_show, NULL))
		goto err_inbox;
	return 0;

err_inbox:
	remove_proc_entry("nstcp_tokens", net->proc_net);
err_tokens:
	remove_proc_entry("nstcp_listen", net->proc_net);
err_listen:
	nstcp_proc_exit(net);
err_proc:
	nstcp_sysctl_exit(nn);
err_sysctl:
	nstcp_instances_exit(nn);
	return err;
}

static void __net_exit nstcp_net_exit(struct net *net)
{
	struct nstcp_net *nn = nstcp_pernet(net);

	remove_proc_entry("nstcp_inbox", net->proc_net);
	remove_proc_entry("nstcp_tokens", net->proc_net);
	remove_proc_entry("nstcp_listen", net->proc_net);
	nstcp_tokens_exit(nn);
	nstcp_inboxes_exit(nn);
	nstcp_qmap_net_exit(nn);
	nstcp_proc_exit(net);
	nstcp_sysctl_exit(nn);
	nstcp_instances_exit(nn);
}

static struct pernet_operations nstcp_net_ops = {
	.init = nstcp_net_init,
	.exit = nstcp_net_exit,
	.id   = &nstcp_net_id,
	.size = sizeof(struct nstcp_net),
};

static int __init nstcp_init(void)
{
	int err;

	if (nstcp_family <= 0 || nstcp_family >= NPROTO) {
		pr_err("family=%d is outside 1..%d\n", nstcp_family, NPROTO - 1);
		return -EINVAL;
	}
	err = nstcp_handoff_init();
	if (err)
		return err;
	err = nstcp_listen_init();
	if (err)
		goto err_listen;
	/* Hotplug first, so no CPU can change state between the two. */
	err = nstcp_cpuhp_init();
	if (err)
		goto err_cpuhp;
	err = register_pernet_subsys(&nstcp_net_ops);
	if (err)
		goto err_pernet;
	err = nstcp_netlink_init();
	if (err)
		goto err_netlink;
	err = nstcp_steer_init();
	if (err)
		goto err_steer;
	err = nstcp_family_init();
	if (err)
		goto err_family;
	pr_info("address family %d registered\n", nstcp_family);
	return 0;

err_family:
	nstcp_steer_exit();
err_steer:
	nstcp_netlink_exit();
err_netlink:
	unregister_pernet_subsys(&nstcp_net_ops);
err_pernet:
	nstcp_cpuhp_exit();
err_cpuhp:
	nstcp_listen_exit();
err_listen:
	nstcp_handoff_exit();
	return err;
}

static void __exit nstcp_exit(void)
{
	nstcp_family_exit();
	nstcp_steer_exit();
	nstcp_netlink_exit();
	unregister_pernet_subsys(&nstcp_net_ops);
	nstcp_cpuhp_exit();
	nstcp_listen_exit();
	nstcp_handoff_exit();
}

module_init(nstcp_init);
module_exit(nstcp_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("AF_NSTCP: TCP sockets served by per-CPU protocol instances");
MODULE_ALIAS_NETPROTO(PF_NSTCP);
