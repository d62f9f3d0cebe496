// SPDX-License-Identifier: GPL-2.0
/*
 * nstcp queue bind|restore: each step's outcome (printed, or a JSON
 * object with -j), the settings written through it, and the queue map
 * told to the module.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "qbind.h"

static const char *const results[] = {
	[QB_DONE] = "done", [QB_UNCHANGED] = "unchanged",
	[QB_SKIPPED] = "skipped", [QB_FAILED] = "failed",
	[QB_PLANNED] = "planned",
};

void qb_step(struct qb_out *o, const char *what, const char *detail,
	     enum qb_result r, const char *reason)
{
	if (r == QB_FAILED)
		o->failed++;
	if (o->check && r == QB_PLANNED)
		o->drifted++;
	if (o->steps) {
		struct json_object *s = json_object_new_object();

		json_object_object_add(s, "step", json_object_new_string(what));
		json_object_object_add(s, "detail", json_object_new_string(detail));
		json_object_object_add(s, "result", json_object_new_string(
				       o->check && r == QB_PLANNED ? "drifted" : results[r]));
		if (reason)
			json_object_object_add(s, "reason", json_object_new_string(reason));
		json_object_array_add(o->steps, s);
		return;
	}
	/* A check shows what is not as bind left it, and what failed. */
	if (o->check && r != QB_PLANNED && r != QB_FAILED)
		return;
	printf("  %-14s %-36s %s%s%s\n", what, detail,
	       o->check && r == QB_PLANNED ? "drifted" : results[r],
	       reason ? ": " : "", reason ? reason : "");
}

/* A mask as sysfs shows it, without its commas and leading zeros. */
static void mask_norm(const char *in, char *out, size_t len)
{
	size_t n = 0;

	for (; *in && n + 1 < len; in++)
		if (*in != ',' && (n || *in != '0'))
			out[n++] = *in;
	if (!n && len > 1)
		out[n++] = '0';
	out[n] = 0;
}

static bool same(const char *a, const char *b, bool mask)
{
	char x[300], y[300];

	if (!mask)
		return !strcmp(a, b);
	mask_norm(a, x, sizeof(x));
	mask_norm(b, y, sizeof(y));
	return !strcmp(x, y);
}

void qb_write_step(struct qb_out *o, const char *what, const char *path,
		   const char *value, bool mask)
{
	char cur[300], detail[360], why[400];
	int err = qd_read(path, cur, sizeof(cur));

	if (err) {
		snprintf(why, sizeof(why), "%s: %s", path, strerror(-err));
		snprintf(detail, sizeof(detail), "%s", value);
		qb_step(o, what, detail, err == -ENOENT ? QB_SKIPPED : QB_FAILED, why);
		return;
	}
	snprintf(detail, sizeof(detail), "%s -> %s", cur, value);
	if (same(cur, value, mask)) {
		qb_step(o, what, value, QB_UNCHANGED, NULL);
		return;
	}
	if (o->dry_run) {
		qb_step(o, what, detail, QB_PLANNED, NULL);
		return;
	}
	err = qd_write(path, value);
	snprintf(why, sizeof(why), "writing %s: %s", path, strerror(-err));
	qb_step(o, what, detail, err ? QB_FAILED : QB_DONE, err ? why : NULL);
}

struct map {
	uint32_t ifindex;
	const int *cpu;
	int nq;
	bool *full;	/* set if the entries did not fit (none sent then) */
};

/* An entry of the map: a nest with the queue and its CPU. */
#define MAP_ENTRY_SIZE	(MNL_ATTR_HDRLEN + 2 * MNL_ALIGN(MNL_ATTR_HDRLEN + 4))
/* The request with nq entries. */
#define MAP_MSG_SIZE(nq) (MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct genlmsghdr)) + \
			  MNL_ALIGN(MNL_ATTR_HDRLEN + 4) + (nq) * MAP_ENTRY_SIZE)
_Static_assert(MAP_MSG_SIZE(QB_QUEUES) <= NL_REQ_SIZE,
	       "the map of QB_QUEUES queues fits nl_request's buffer");

static void fill_map(struct nlmsghdr *nlh, const void *arg)
{
	const struct map *p = arg;

	mnl_attr_put_u32(nlh, NSTCP_A_QUEUE_IFINDEX, p->ifindex);
	for (int q = 0; q < p->nq; q++) {
		struct nlattr *e;

		e = mnl_attr_nest_start_check(nlh, NL_REQ_SIZE, NSTCP_A_QUEUE_ENTRY);
		if (!e ||
		    !mnl_attr_put_u32_check(nlh, NL_REQ_SIZE, NSTCP_A_QENT_QUEUE, q) ||
		    !mnl_attr_put_u32_check(nlh, NL_REQ_SIZE, NSTCP_A_QENT_CPU,
					    p->cpu[q])) {
			if (e)
				mnl_attr_nest_cancel(nlh, e);
			*p->full = true;
			return;
		}
		mnl_attr_nest_end(nlh, e);
	}
}

static int no_cb(const struct nlmsghdr *nlh, void *data)
{
	(void)nlh;
	(void)data;
	return 0;
}

/* The module's family, or a step saying why not. */
static int map_open(struct nl *nl, struct qb_out *o, const char *d)
{
	int err = nl_open_family(nl, NSTCP_GENL_NAME, NSTCP_GENL_VERSION);

	if (err)
		qb_step(o, "module map", d, err == -ENOENT ? QB_SKIPPED : QB_FAILED,
			err == -ENOENT ? "the nstcp module is not loaded" :
			"the module's netlink family");
	return err;
}

void qb_map_set(int ifindex, const int *cpu, int nq, struct qb_out *o)
{
	bool full = false;
	struct map m = { ifindex, cpu, nq, &full }, *p = &m;
	char d[128], why[128];
	size_t at = 0;
	struct nl nl;
	int err;

	/*
	 * The module keeps queues 0 to NSTCP_QUEUES_MAX - 1 (module/steer.h,
	 * QB_QUEUES here) and ignores higher ones: they are not sent.
	 */
	if (nq > QB_QUEUES) {
		snprintf(why, sizeof(why),
			 "queues %d-%d: the module maps queues 0-%d only",
			 QB_QUEUES, nq - 1, QB_QUEUES - 1);
		qb_step(o, "module map", "-", QB_SKIPPED, why);
		m.nq = nq = QB_QUEUES;
	}
	at = snprintf(d, sizeof(d), "queue:cpu");
	for (int q = 0; q < nq && at < sizeof(d) - 8; q++)
		at += snprintf(d + at, sizeof(d) - at, " %d:%d", q, cpu[q]);
	if (at >= sizeof(d) - 8)
		snprintf(d + sizeof(d) - 8, 8, " ...");
	if (o->check) {
		int have[QB_QUEUES], n = qb_map_get(ifindex, have, QB_QUEUES);
		bool same = n == nq;

		for (int q = 0; same && q < nq; q++)
			same = have[q] == cpu[q];
		if (n == -ENOENT)
			qb_step(o, "module map", d, QB_SKIPPED,
				"the nstcp module is not loaded");
		else
			qb_step(o, "module map", d, same ? QB_UNCHANGED : QB_PLANNED,
				same ? NULL : n ? "the module's map differs" :
				"the module has no map of the device");
		return;
	}
	if (o->dry_run) {
		qb_step(o, "module map", d, QB_PLANNED, NULL);
		return;
	}
	if (map_open(&nl, o, d))
		return;
	if (MAP_MSG_SIZE(nq) > NL_REQ_SIZE)
		err = -EMSGSIZE;	/* not with nq <= QB_QUEUES */
	else
		err = nl_request(&nl, NSTCP_CMD_QUEUE_SET, false, fill_map, p,
				 no_cb, NULL);
	nl_close(&nl);
	if (full)	/* sent cut short: the module has part of the map */
		err = -EMSGSIZE;
	snprintf(why, sizeof(why), "QUEUE_SET: %s", strerror(-err));
	qb_step(o, "module map", d, err ? QB_FAILED : QB_DONE, err ? why : NULL);
}

static void fill_ifindex(struct nlmsghdr *nlh, const void *arg)
{
	mnl_attr_put_u32(nlh, NSTCP_A_QUEUE_IFINDEX, *(const uint32_t *)arg);
}

void qb_map_del(int ifindex, struct qb_out *o)
{
	uint32_t idx = ifindex;
	struct nl nl;
	int err;

	if (map_open(&nl, o, "-"))
		return;
	err = nl_request(&nl, NSTCP_CMD_QUEUE_DEL, false, fill_ifindex, &idx,
			 no_cb, NULL);
	nl_close(&nl);
	if (err == -ENOENT)
		qb_step(o, "module map", "removed", QB_UNCHANGED, NULL);
	else
		qb_step(o, "module map", "removed", err ? QB_FAILED : QB_DONE,
			err ? strerror(-err) : NULL);
}
