// SPDX-License-Identifier: GPL-2.0
/*
 * nstcp instance show: the per-CPU protocol instances, the per-CPU view
 * of NonStop's STATUS MON (listeners, queued and accepted connections,
 * hops) with every counter of the instance and the device queues it owns.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nstcp.h"

#define MAX_INST	1024
#define MAX_QUEUES	16	/* shown per instance */

/* The counters, in the order shown; gauges are not rated in watch mode. */
static const struct {
	const char *name;
	int attr;
	bool gauge;
} cols[] = {
	{ "listeners", NSTCP_A_INST_LISTENERS, true },
	{ "queued", NSTCP_A_INST_QUEUED, true },
	{ "accepted", NSTCP_A_INST_ACCEPTS, false },
	{ "hops", NSTCP_A_INST_HOPS, false },
	{ "calls", NSTCP_A_INST_CALLS, false },
	{ "connects", NSTCP_A_INST_CONNECTS, false },
	{ "sockets", NSTCP_A_INST_SOCKETS, false },
	{ "closes", NSTCP_A_INST_CLOSES, false },
	{ "stolen", NSTCP_A_INST_STOLEN, false },
	{ "given", NSTCP_A_INST_GIVEN, false },
	{ "taken", NSTCP_A_INST_TAKEN, false },
	{ "expired", NSTCP_A_INST_EXPIRED, false },
	{ "refused", NSTCP_A_INST_REFUSED, false },
	{ "rehomed", NSTCP_A_INST_REHOMED, false },
	{ "unsteered", NSTCP_A_INST_UNSTEERED, false },
	{ "lconnects", NSTCP_A_INST_LCONNECTS, false },
	{ "lfallbacks", NSTCP_A_INST_LFALLBACKS, false },
	{ "lmisses", NSTCP_A_INST_LMISSES, false },
};
#define NCOLS	(sizeof(cols) / sizeof(cols[0]))

struct inst {
	uint32_t cpu;
	bool online;
	uint64_t v[NCOLS];
	int nq;
	struct { uint32_t ifindex, queue; } q[MAX_QUEUES];
};

struct snap {
	int n;
	struct inst in[MAX_INST];
};

static int inst_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[NSTCP_A_INST_MAX + 1], *e, *qt[NSTCP_A_QENT_MAX + 1];
	struct snap *s = data;
	struct inst *in;
	size_t i;

	if (nl_parse(nlh, tb, NSTCP_A_INST_MAX) || !tb[NSTCP_A_INST_CPU]) {
		fprintf(stderr, "%s: a malformed instance message\n", prog);
		return -1;
	}
	if (s->n == MAX_INST)
		return 0;
	in = &s->in[s->n++];
	memset(in, 0, sizeof(*in));
	in->cpu = nl_u32(tb[NSTCP_A_INST_CPU]);
	in->online = tb[NSTCP_A_INST_ONLINE] &&
		     mnl_attr_get_u8(tb[NSTCP_A_INST_ONLINE]);
	for (i = 0; i < NCOLS; i++) {
		const struct nlattr *a = tb[cols[i].attr];

		in->v[i] = cols[i].gauge ? nl_u32(a) : nl_u64(a);
	}
	if (tb[NSTCP_A_INST_QUEUES]) {
		mnl_attr_for_each_nested(e, tb[NSTCP_A_INST_QUEUES]) {
			if (in->nq == MAX_QUEUES ||
			    nl_parse_nested(e, qt, NSTCP_A_QENT_MAX))
				break;
			in->q[in->nq].ifindex = nl_u32(qt[NSTCP_A_QENT_IFINDEX]);
			in->q[in->nq].queue = nl_u32(qt[NSTCP_A_QENT_QUEUE]);
			in->nq++;
		}
	}
	return 0;
}

static void fill_cpu(struct nlmsghdr *nlh, const void *arg)
{
	mnl_attr_put_u32(nlh, NSTCP_A_INST_CPU, *(const uint32_t *)arg);
}

static int read_snap(struct nl *nl, long cpu, struct snap *s)
{
	uint32_t c = cpu;
	int err;

	s->n = 0;
	if (cpu >= 0)
		err = nl_request(nl, NSTCP_CMD_INSTANCE_GET, false, fill_cpu, &c,
				 inst_cb, s);
	else
		err = nl_request(nl, NSTCP_CMD_INSTANCE_GET, true, NULL, NULL,
				 inst_cb, s);
	if (err == -ENOENT && cpu >= 0) {
		fprintf(stderr, "%s: no CPU instance %ld\n", prog, cpu);
		return -1;
	}
	if (err) {
		fprintf(stderr, "%s: reading the instances: %s\n", prog,
			strerror(-err));
		return -1;
	}
	return 0;
}

static void queues_str(const struct inst *in, char *buf, size_t len)
{
	char name[IF_NAMESIZE];
	size_t off = 0;
	int i;

	buf[0] = 0;
	for (i = 0; i < in->nq && off < len; i++) {
		if (!if_indextoname(in->q[i].ifindex, name))
			snprintf(name, sizeof(name), "if%u", in->q[i].ifindex);
		off += snprintf(buf + off, len - off, "%s%s:%u", i ? "," : "",
				name, in->q[i].queue);
	}
	if (!in->nq)
		snprintf(buf, len, "-");
}

static struct json_object *queues_json(const struct inst *in)
{
	struct json_object *a = json_object_new_array();
	char name[IF_NAMESIZE];
	int i;

	for (i = 0; i < in->nq; i++) {
		struct json_object *q = json_object_new_object();

		json_object_object_add(q, "ifindex",
				       json_object_new_int64(in->q[i].ifindex));
		if (if_indextoname(in->q[i].ifindex, name))
			json_object_object_add(q, "dev",
					       json_object_new_string(name));
		json_object_object_add(q, "queue",
				       json_object_new_int64(in->q[i].queue));
		json_object_array_add(a, q);
	}
	return a;
}

/* One report: the counts (prev NULL) or their rates since prev. */
static void report(const struct snap *s, const struct snap *prev, double dt)
{
	struct json_object *arr = NULL;
	double tot[NCOLS] = { 0 };
	char q[256];
	int i, online = 0;
	size_t c;

	if (opt.json) {
		arr = json_object_new_array();
	} else {
		for (i = 0; i < s->n; i++)
			online += s->in[i].online;
		if (prev)
			printf("AF_NSTCP instances: %d CPUs, %d online; per second over %.2f s\n",
			       s->n, online, dt);
		else
			printf("AF_NSTCP instances: %d CPUs, %d online\n", s->n,
			       online);
		printf("%-5s %-6s", "CPU", "ONLINE");
		for (c = 0; c < NCOLS; c++) {
			char up[16];
			size_t k;

			for (k = 0; cols[c].name[k] && k < sizeof(up) - 1; k++)
				up[k] = cols[c].name[k] - 'a' + 'A';
			up[k] = 0;
			printf(" %10s", up);
		}
		printf(" %s\n", "QUEUES");
	}
	for (i = 0; i < s->n; i++) {
		const struct inst *in = &s->in[i];
		const struct inst *pin = NULL;
		struct json_object *o = NULL;

		if (prev)
			for (int k = 0; k < prev->n; k++)
				if (prev->in[k].cpu == in->cpu)
					pin = &prev->in[k];
		if (opt.json) {
			o = json_object_new_object();
			json_object_object_add(o, "cpu", json_object_new_int64(in->cpu));
			json_object_object_add(o, "online",
					       json_object_new_boolean(in->online));
		} else {
			printf("%-5u %-6s", in->cpu, in->online ? "yes" : "no");
		}
		for (c = 0; c < NCOLS; c++) {
			double rate;

			if (prev && !cols[c].gauge) {
				rate = pin && in->v[c] >= pin->v[c] ?
				       (double)(in->v[c] - pin->v[c]) / dt : 0;
				tot[c] += rate;
				if (o)
					json_object_object_add(o, cols[c].name,
							       json_object_new_double(rate));
				else
					printf(" %10.1f", rate);
				continue;
			}
			tot[c] += in->v[c];
			if (o)
				json_object_object_add(o, cols[c].name,
						       json_object_new_uint64(in->v[c]));
			else
				printf(" %10llu", (unsigned long long)in->v[c]);
		}
		if (o) {
			json_object_object_add(o, "queues", queues_json(in));
			json_object_array_add(arr, o);
		} else {
			queues_str(in, q, sizeof(q));
			printf(" %s\n", q);
		}
	}
	if (opt.json) {
		struct json_object *r;

		if (!prev) {
			out_json(arr);
			return;
		}
		r = json_object_new_object();
		json_object_object_add(r, "interval", json_object_new_double(dt));
		json_object_object_add(r, "instances", arr);
		out_json(r);
		return;
	}
	printf("%-12s", "total");
	for (c = 0; c < NCOLS; c++) {
		if (prev && !cols[c].gauge)
			printf(" %10.1f", tot[c]);
		else
			printf(" %10.0f", tot[c]);
	}
	printf("\n");
	fflush(stdout);
}

static int watch_read(struct nl *nl, const void *arg, void *snap)
{
	return read_snap(nl, *(const long *)arg, snap);
}

static void watch_report(const void *cur, const void *prev, double dt)
{
	report(cur, prev, dt);
}

int do_instance(int argc, char **argv)
{
	static struct snap a, b;
	long cpu = -1;
	char *end;

	if (argc > 0 && strcmp(argv[0], "show") && strcmp(argv[0], "list"))
		usage_error("unknown command \"%s\" for instance (show)", argv[0]);
	argc -= argc > 0;
	argv += 1;
	while (argc > 0) {
		if (!strcmp(argv[0], "cpu") && argc > 1) {
			cpu = strtol(argv[1], &end, 10);
			if (end == argv[1] || *end || cpu < 0 || cpu > UINT32_MAX)
				usage_error("bad CPU \"%s\"", argv[1]);
			argc -= 2;
			argv += 2;
			continue;
		}
		usage_error("unexpected \"%s\" (instance show [cpu N])", argv[0]);
	}
	return out_watch(watch_read, watch_report, &cpu, &a, &b);
}
