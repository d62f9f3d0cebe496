// SPDX-License-Identifier: GPL-2.0
/*
 * nstcp queue bind: one RX/TX queue pair per CPU instance, each queue's
 * interrupts on its CPU, RSS spread evenly over the bound queues, XPS so
 * each CPU transmits on its own queue, RPS off where the queues cover the
 * CPUs (per queue where they do not), RFS on, and the map told to the
 * module, ntuple filters on where the device offers them (accelerated
 * RFS).  The plan is printed step by step: done, unchanged, skipped
 * (with the reason: the device lacks the operation) or failed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qbind.h"

struct plan {
	const char *dev;
	int ifindex;
	int cpu[QB_CPUS];		/* the CPUs, ascending */
	int ncpu;
	int nq;				/* queue pairs bound */
	struct qirq irq[QB_IRQS];
	int nirq;
	const char *cpus;		/* the CPU list, for the advice */
	struct json_object *irqb;	/* irqbalance's outcome, with -j */
};

/* The CPUs queue q serves: cpu[j] for every j = q modulo nq. */
static void group(const struct plan *p, int q, struct cpuset *s)
{
	memset(s, 0, sizeof(*s));
	for (int j = q; j < p->ncpu; j += p->nq)
		cpuset_add(s, p->cpu[j]);
}

static void step_channels(struct plan *p, struct qb_out *o)
{
	int nrx = qd_queues(p->dev, true), ntx = qd_queues(p->dev, false);
	struct eth_channels ch, want;
	char d[128], why[160];
	uint32_t have, max, n;
	int err;

	p->nq = nrx < ntx ? nrx : ntx;
	err = eth_channels_get(p->dev, &ch);
	if (err) {
		snprintf(why, sizeof(why), "the device has no channel operations (%s)",
			 strerror(-err));
		qb_step(o, "channels", "-", QB_SKIPPED, why);
		goto out;
	}
	want = ch;
	if (ch.combined_max) {
		max = ch.combined_max;
		have = ch.combined;
		want.rx_max = want.tx_max = 0;
	} else {
		max = ch.rx_max < ch.tx_max ? ch.rx_max : ch.tx_max;
		have = ch.rx < ch.tx ? ch.rx : ch.tx;
	}
	n = (uint32_t)p->ncpu < max ? (uint32_t)p->ncpu : max;
	if (!max) {
		qb_step(o, "channels", "-", QB_SKIPPED,
			"the device reports no channel maximum");
		goto out;
	}
	want.combined = want.rx = want.tx = n;
	snprintf(d, sizeof(d), "%s %u -> %u (max %u)",
		 ch.combined_max ? "combined" : "rx/tx", have, n, max);
	if (have == n && (!ch.combined_max || (!ch.rx && !ch.tx))) {
		qb_step(o, "channels", d, QB_UNCHANGED, NULL);
	} else if (o->dry_run) {
		qb_step(o, "channels", d, QB_PLANNED, NULL);
		p->nq = n;
		goto out;
	} else {
		/*
		 * A table set before (by a bind over more CPUs) names queues
		 * the new count drops, and the kernel refuses the channels
		 * then: back to the driver's default first (step_indir sets
		 * the even spread after).
		 */
		if (n < have)
			eth_indir_set(p->dev, NULL, 0);
		err = eth_channels_set(p->dev, &want);
		snprintf(why, sizeof(why), "%s", strerror(-err));
		qb_step(o, "channels", d, err ? QB_FAILED : QB_DONE, err ? why : NULL);
	}
	nrx = qd_queues(p->dev, true);
	ntx = qd_queues(p->dev, false);
	p->nq = nrx < ntx ? nrx : ntx;
out:
	if (p->nq > p->ncpu)
		p->nq = p->ncpu;
	if (p->nq < 1)
		p->nq = 1;
}

static void step_irqs(struct plan *p, struct qb_out *o)
{
	char what[32], path[64], val[16];

	if (!p->nirq) {
		qb_step(o, "irq", "-", QB_SKIPPED,
			"no per-queue interrupts found (device/msi_irqs named after queues)");
		return;
	}
	for (int i = 0; i < p->nirq; i++) {
		const struct qirq *q = &p->irq[i];

		snprintf(what, sizeof(what), "irq %d", q->irq);
		if (q->queue >= p->nq) {
			qb_step(o, what, q->name, QB_SKIPPED, "its queue is not bound");
			continue;
		}
		snprintf(path, sizeof(path), "/proc/irq/%d/smp_affinity_list", q->irq);
		snprintf(val, sizeof(val), "%d", p->cpu[q->queue]);
		qb_write_step(o, what, path, val, false);
	}
}

static void step_indir(struct plan *p, struct qb_out *o)
{
	uint32_t *t, n, i;
	bool even = true;
	char d[64], why[160];
	int err;

	err = eth_indir_get(p->dev, &t, &n);
	if (err) {
		snprintf(why, sizeof(why), "the device has no RSS indirection table (%s)",
			 strerror(-err));
		qb_step(o, "rss indir", "-", QB_SKIPPED, why);
		return;
	}
	for (i = 0; i < n; i++) {
		even &= t[i] == i % (uint32_t)p->nq;
		t[i] = i % p->nq;
	}
	snprintf(d, sizeof(d), "%u entries over queues 0-%d", n, p->nq - 1);
	if (even) {
		qb_step(o, "rss indir", d, QB_UNCHANGED, NULL);
	} else if (o->dry_run) {
		qb_step(o, "rss indir", d, QB_PLANNED, NULL);
	} else {
		err = eth_indir_set(p->dev, t, n);
		snprintf(why, sizeof(why), "%s", strerror(-err));
		qb_step(o, "rss indir", d, err ? QB_FAILED : QB_DONE, err ? why : NULL);
	}
	free(t);
}

static uint32_t pow2(uint32_t v)
{
	uint32_t r = 1;

	while (r < v && r < (1U << 30))
		r <<= 1;
	return r;
}

static void step_queues(struct plan *p, struct qb_out *o)
{
	char what[32], path[300], val[300];
	long flows = 0, cnt;
	struct cpuset s;

	qd_read_long("/proc/sys/net/core/rps_sock_flow_entries", &flows);
	flows = pow2(flows > QB_FLOWS ? flows : QB_FLOWS);
	cnt = pow2((flows + p->nq - 1) / p->nq);
	for (int q = 0; q < p->nq; q++) {
		group(p, q, &s);
		snprintf(what, sizeof(what), "xps tx-%d", q);
		snprintf(path, sizeof(path), "/sys/class/net/%s/queues/tx-%d/xps_cpus",
			 p->dev, q);
		cpuset_mask(&s, val, sizeof(val));
		if (qd_queues(p->dev, false) < 2)
			qb_step(o, what, val, QB_SKIPPED, "one TX queue: nothing to choose");
		else
			qb_write_step(o, what, path, val, true);
	}
	for (int q = 0; q < p->nq; q++) {
		group(p, q, &s);
		snprintf(what, sizeof(what), "rps rx-%d", q);
		snprintf(path, sizeof(path), "/sys/class/net/%s/queues/rx-%d/rps_cpus",
			 p->dev, q);
		if (p->nq >= p->ncpu)
			snprintf(val, sizeof(val), "0");	/* the queues cover them */
		else
			cpuset_mask(&s, val, sizeof(val));
		qb_write_step(o, what, path, val, true);
	}
	snprintf(val, sizeof(val), "%ld", flows);
	qb_write_step(o, "rfs", "/proc/sys/net/core/rps_sock_flow_entries", val, false);
	for (int q = 0; q < p->nq; q++) {
		long cur = 0;

		snprintf(what, sizeof(what), "rfs rx-%d", q);
		snprintf(path, sizeof(path), "/sys/class/net/%s/queues/rx-%d/rps_flow_cnt",
			 p->dev, q);
		qd_read_long(path, &cur);
		snprintf(val, sizeof(val), "%ld", cur > cnt ? cur : cnt);
		qb_write_step(o, what, path, val, false);
	}
}

/* The CPUs to bind: the list given, each possible and online; or all online. */
static int plan_cpus(struct plan *p, const char *list)
{
	struct cpuset want, online, possible;
	char buf[4096];
	int err;

	if (qd_read("/sys/devices/system/cpu/online", buf, sizeof(buf)) ||
	    cpuset_parse_list(buf, &online) ||
	    qd_read("/sys/devices/system/cpu/possible", buf, sizeof(buf)) ||
	    cpuset_parse_list(buf, &possible)) {
		fprintf(stderr, "%s: cannot read the online CPUs\n", prog);
		return -1;
	}
	want = online;
	if (list) {
		err = cpuset_parse_list(list, &want);
		if (err == -EINVAL)
			usage_error("bad cpus list \"%s\" (e.g. 0-3,6)", list);
		cpuset_list(&possible, buf, sizeof(buf));
		if (err) {
			fprintf(stderr, "%s: cpus %s: no such CPU (there are %s)\n",
				prog, list, buf);
			return -1;
		}
		for (int c = 0; c < QB_CPUS; c++) {
			if (cpuset_has(&want, c) && !cpuset_has(&possible, c)) {
				fprintf(stderr, "%s: cpus %s: no CPU %d (there are %s)\n",
					prog, list, c, buf);
				return -1;
			}
			if (cpuset_has(&want, c) && !cpuset_has(&online, c)) {
				fprintf(stderr, "%s: cpus %s: CPU %d is offline\n",
					prog, list, c);
				return -1;
			}
		}
	}
	for (int c = 0; c < QB_CPUS; c++)
		if (cpuset_has(&want, c))
			p->cpu[p->ncpu++] = c;
	return 0;
}

/* irqbalance kept off the interrupts bind pins (before they are pinned). */
static void step_irqbalance(struct plan *p, struct qb_out *o)
{
	int irqs[QB_IRQS], n = 0;

	for (int i = 0; i < p->nirq; i++)
		if (p->irq[i].queue < p->nq)
			irqs[n++] = p->irq[i].irq;
	qi_bind(p->dev, irqs, n, p->cpus, o, o->steps && !o->check ? &p->irqb : NULL);
}

/* Every step of the plan, after the CPUs and the interrupts are known. */
static void run_steps(struct plan *p, struct qb_out *o)
{
	step_channels(p, o);
	step_irqbalance(p, o);
	step_irqs(p, o);
	step_indir(p, o);
	step_queues(p, o);
	qb_step_ntuple(p->dev, o);
	qb_map_set(p->ifindex, p->cpu, p->nq, o);
}

int qb_check_plan(const char *dev, const char *list, struct qb_out *o)
{
	struct plan *p = calloc(1, sizeof(*p));
	int err = -1;

	if (!p)
		return -1;
	p->dev = dev;
	p->ifindex = if_nametoindex(dev);
	p->cpus = list;
	if (p->ifindex && !plan_cpus(p, list)) {
		p->nirq = qd_irqs(p->dev, p->irq, QB_IRQS);
		if (p->nirq < 0)
			p->nirq = 0;
		o->dry_run = o->check = true;
		run_steps(p, o);
		err = 0;
	}
	free(p);
	return err;
}

int do_queue_bind(int argc, char **argv)
{
	struct qb_out o = { 0 };
	const char *list = NULL;
	char cpus[QB_CPULIST], path[300];
	struct plan *p;
	bool kept = false;
	int ret = 1;

	p = calloc(1, sizeof(*p));
	if (!p)
		return 1;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "dev") && i + 1 < argc)
			p->dev = argv[++i];
		else if (!strcmp(argv[i], "cpus") && i + 1 < argc)
			list = argv[++i];
		else if (!strcmp(argv[i], "dry-run"))
			o.dry_run = true;
		else if (!strcmp(argv[i], "ntuple"))
			o.ntuple = true;
		else
			usage_error("unexpected \"%s\" (queue bind dev DEV [cpus LIST] [ntuple] [dry-run])",
				    argv[i]);
	}
	if (!p->dev)
		usage_error("queue bind needs dev DEV");
	p->ifindex = if_nametoindex(p->dev);
	if (!p->ifindex) {
		fprintf(stderr, "%s: no device \"%s\"\n", prog, p->dev);
		goto out;
	}
	if (plan_cpus(p, list))
		goto out;
	if (!o.dry_run && geteuid()) {
		fprintf(stderr, "%s: queue bind dev %s: %s (it needs root)\n", prog,
			p->dev, strerror(EPERM));
		goto out;
	}
	{
		struct cpuset s = { 0 };

		for (int i = 0; i < p->ncpu; i++)
			cpuset_add(&s, p->cpu[i]);
		cpuset_list(&s, cpus, sizeof(cpus));
		p->cpus = cpus;
	}
	p->nirq = qd_irqs(p->dev, p->irq, QB_IRQS);
	if (p->nirq < 0)
		p->nirq = 0;
	if (!o.dry_run && qs_save(p->dev, p->irq, p->nirq, &kept))
		goto out;
	qs_path(p->dev, path, sizeof(path));
	if (opt.json)
		o.steps = json_object_new_array();
	else if (o.dry_run)
		printf("queue bind dev %s (dry run: nothing is changed)\n", p->dev);
	else
		printf("queue bind dev %s (%s in %s)\n", p->dev,
		       kept ? "the settings of the first bind stay saved" :
		       "the previous settings saved", path);
	run_steps(p, &o);
	if (!o.dry_run)
		qb_bound_save(p->dev, cpus);
	if (o.steps) {
		struct json_object *r = json_object_new_object();

		json_object_object_add(r, "dev", json_object_new_string(p->dev));
		json_object_object_add(r, "cpus", json_object_new_string(cpus));
		json_object_object_add(r, "queues", json_object_new_int(p->nq));
		json_object_object_add(r, "dry_run", json_object_new_boolean(o.dry_run));
		json_object_object_add(r, "saved", o.dry_run ? NULL :
				       json_object_new_string(path));
		json_object_object_add(r, "steps", o.steps);
		if (p->irqb)
			json_object_object_add(r, "irqbalance", p->irqb);
		out_json(r);
	} else {
		printf("%d CPUs (%s), %d queue pair%s bound%s; %d step%s failed\n",
		       p->ncpu, cpus, p->nq, p->nq == 1 ? "" : "s",
		       p->nq < p->ncpu ? " (RPS spreads each over its CPUs)" : "",
		       o.failed, o.failed == 1 ? "" : "s");
	}
	ret = o.failed ? 1 : 0;
out:
	free(p);
	return ret;
}
