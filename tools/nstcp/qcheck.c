// SPDX-License-Identifier: GPL-2.0
/*
 * nstcp queue show dev DEV check: whether a device's binding still holds.
 * CPU hotplug and channel changes make drivers rewrite what bind set
 * (virtio_net puts its interrupts' affinity and XPS back to its own
 * spread when a CPU comes or goes), and a re-created device loses its
 * map in the module.  Bind records the CPUs it bound in
 * /run/nstcp/queue-DEV.bound; the check runs bind's plan for those CPUs
 * as a dry run, and every step that would change something is a drift:
 * it lists them, says to run bind again, and exits 1.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qbind.h"

static void bound_path(const char *dev, char *buf, size_t len)
{
	snprintf(buf, len, "%s/queue-%s.bound", QB_STATE_DIR, dev);
}

/* After bind's state was saved: the directory is root's and sound. */
void qb_bound_save(const char *dev, const char *cpus)
{
	char path[300], text[QB_CPULIST + 16];
	int err;

	bound_path(dev, path, sizeof(path));
	snprintf(text, sizeof(text), "cpus %s\n", cpus);
	err = qd_write_private(path, text);
	if (err)
		fprintf(stderr, "%s: note: recording the bound CPUs in %s: %s (queue show check will not know them)\n",
			prog, path, strerror(-err));
}

void qb_bound_remove(const char *dev)
{
	char path[300];

	bound_path(dev, path, sizeof(path));
	unlink(path);
}

/* The bound CPU list: 0, -ENOENT when not bound, or -errno. */
int qb_bound_read(const char *dev, char *cpus, size_t len)
{
	char path[300], buf[QB_CPULIST + 16];
	ssize_t n;

	bound_path(dev, path, sizeof(path));
	n = qd_read_private(path, buf, sizeof(buf));
	if (n < 0)
		return n;
	buf[strcspn(buf, "\n")] = 0;
	if (strncmp(buf, "cpus ", 5) || !buf[5])
		return -EINVAL;
	snprintf(cpus, len, "%s", buf + 5);
	return 0;
}

struct map_get {
	int *cpu;
	int max;
	int n;
};

static int map_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[NSTCP_A_QUEUE_MAX + 1], *et[NSTCP_A_QENT_MAX + 1];
	struct map_get *m = data;
	const struct nlattr *a;

	if (nl_parse(nlh, tb, NSTCP_A_QUEUE_MAX))
		return -1;
	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		uint32_t q;

		if (mnl_attr_get_type(a) != NSTCP_A_QUEUE_ENTRY ||
		    nl_parse_nested(a, et, NSTCP_A_QENT_MAX) ||
		    !et[NSTCP_A_QENT_QUEUE] || !et[NSTCP_A_QENT_CPU])
			continue;
		q = nl_u32(et[NSTCP_A_QENT_QUEUE]);
		if (q >= (uint32_t)m->max)
			continue;
		m->cpu[q] = nl_u32(et[NSTCP_A_QENT_CPU]);
		if ((int)q + 1 > m->n)
			m->n = q + 1;
	}
	return 0;
}

static void fill_dev(struct nlmsghdr *nlh, const void *arg)
{
	mnl_attr_put_u32(nlh, NSTCP_A_QUEUE_IFINDEX, *(const uint32_t *)arg);
}

int qb_map_get(int ifindex, int *cpu, int max)
{
	struct map_get m = { cpu, max, 0 };
	uint32_t idx = ifindex;
	struct nl nl;
	int err;

	for (int q = 0; q < max; q++)
		cpu[q] = -1;
	err = nl_open_family(&nl, NSTCP_GENL_NAME, NSTCP_GENL_VERSION);
	if (err)
		return err;
	err = nl_request(&nl, NSTCP_CMD_QUEUE_GET, true, fill_dev, &idx, map_cb, &m);
	nl_close(&nl);
	return err ? err : m.n;
}

int do_queue_check(const char *dev)
{
	struct qb_out o = { 0 };
	char cpus[QB_CPULIST];
	int err;

	if (!if_nametoindex(dev)) {
		fprintf(stderr, "%s: no device \"%s\"\n", prog, dev);
		return 1;
	}
	err = qb_bound_read(dev, cpus, sizeof(cpus));
	if (err) {
		char path[300];

		bound_path(dev, path, sizeof(path));
		fprintf(stderr, "%s: queue check dev %s: %s (%s)\n", prog, dev,
			err == -ENOENT ? "not bound (nstcp queue bind records its CPUs)" :
			err == -EACCES ? "the record of the bound CPUs needs root to read" :
			err == -EPERM ? "the record of the bound CPUs is not a regular file of root's, mode 0600: refused" :
			err == -EINVAL ? "the record of the bound CPUs is not \"cpus LIST\"" :
			"the record of the bound CPUs is unreadable", path);
		return 1;
	}
	if (opt.json)
		o.steps = json_object_new_array();
	else
		printf("queue check dev %s (bound to CPUs %s)\n", dev, cpus);
	if (qb_check_plan(dev, cpus, &o)) {
		json_object_put(o.steps);
		fprintf(stderr, "%s: queue check dev %s: the bound CPUs %s cannot be bound now (said above): the binding does not hold; run `nstcp queue bind dev %s` again (with the CPUs online now)\n",
			prog, dev, cpus, dev);
		return 1;
	}
	if (o.steps) {
		struct json_object *r = json_object_new_object();

		json_object_object_add(r, "dev", json_object_new_string(dev));
		json_object_object_add(r, "cpus", json_object_new_string(cpus));
		json_object_object_add(r, "holds", json_object_new_boolean(!o.drifted &&
				       !o.failed));
		json_object_object_add(r, "drifted", json_object_new_int(o.drifted));
		json_object_object_add(r, "steps", o.steps);
		out_json(r);
	} else if (o.drifted || o.failed) {
		printf("%d setting%s drifted from the binding%s: run `nstcp queue bind dev %s cpus %s` again\n",
		       o.drifted, o.drifted == 1 ? "" : "s",
		       o.failed ? " (some could not be read)" : "", dev, cpus);
	} else {
		printf("the binding holds: every setting is as bind left it\n");
	}
	return o.drifted || o.failed ? 1 : 0;
}
