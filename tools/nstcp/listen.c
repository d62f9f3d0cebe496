// SPDX-License-Identifier: GPL-2.0
/*
 * nstcp listen show: the listening ports and, per CPU instance, their
 * listener's queued, accepted and stolen connections.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nstcp.h"

#define MAX_PORTS	256
#define MAX_CPUS	256

struct lcpu {
	uint32_t cpu, queued;
	uint64_t accepted, stolen;
};

struct port {
	int family;
	unsigned char addr[16];
	int port;
	char key[NSTCP_KEY_MAX + 1];
	bool keyed, key_hidden, reuseport, v6only;
	uint32_t policy, listeners, owner, ifindex;
	uint64_t migrated;
	uint32_t max_conns, cps, conns, per_source;
	uint64_t lrefused, src_uncounted;
	int ncpu;
	struct lcpu *cpu;	/* MAX_CPUS */
};

struct lsnap {
	int n;
	struct port p[MAX_PORTS];
};

static int listen_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[NSTCP_A_LISTEN_MAX + 1], *ct[NSTCP_A_LCPU_MAX + 1];
	const struct nlattr *a;
	struct lsnap *s = data;
	struct port *p;
	struct lcpu *cpus;
	size_t len;

	if (nl_parse(nlh, tb, NSTCP_A_LISTEN_MAX) || !tb[NSTCP_A_LISTEN_FAMILY] ||
	    !tb[NSTCP_A_LISTEN_ADDR] || !tb[NSTCP_A_LISTEN_PORT]) {
		fprintf(stderr, "%s: a malformed listening port message\n", prog);
		return -1;
	}
	if (s->n == MAX_PORTS)
		return 0;
	p = &s->p[s->n];
	cpus = p->cpu;
	memset(p, 0, sizeof(*p));
	p->cpu = cpus;
	p->family = mnl_attr_get_u16(tb[NSTCP_A_LISTEN_FAMILY]);
	len = mnl_attr_get_payload_len(tb[NSTCP_A_LISTEN_ADDR]);
	memcpy(p->addr, mnl_attr_get_payload(tb[NSTCP_A_LISTEN_ADDR]),
	       len > 16 ? 16 : len);
	p->port = mnl_attr_get_u16(tb[NSTCP_A_LISTEN_PORT]);
	if (tb[NSTCP_A_LISTEN_KEY]) {
		len = mnl_attr_get_payload_len(tb[NSTCP_A_LISTEN_KEY]);
		if (len > NSTCP_KEY_MAX)
			len = NSTCP_KEY_MAX;
		memcpy(p->key, mnl_attr_get_payload(tb[NSTCP_A_LISTEN_KEY]), len);
		p->keyed = true;
	}
	p->key_hidden = tb[NSTCP_A_LISTEN_KEY_HIDDEN];
	p->keyed |= p->key_hidden;
	p->reuseport = tb[NSTCP_A_LISTEN_REUSEPORT];
	p->v6only = tb[NSTCP_A_LISTEN_V6ONLY];
	p->policy = nl_u32(tb[NSTCP_A_LISTEN_POLICY]);
	p->listeners = nl_u32(tb[NSTCP_A_LISTEN_LISTENERS]);
	p->owner = nl_u32(tb[NSTCP_A_LISTEN_OWNER]);
	p->ifindex = nl_u32(tb[NSTCP_A_LISTEN_IFINDEX]);
	p->migrated = nl_u64(tb[NSTCP_A_LISTEN_MIGRATED]);
	p->max_conns = nl_u32(tb[NSTCP_A_LISTEN_MAX_CONNS]);
	p->cps = nl_u32(tb[NSTCP_A_LISTEN_CPS]);
	p->conns = nl_u32(tb[NSTCP_A_LISTEN_CONNS]);
	p->lrefused = nl_u64(tb[NSTCP_A_LISTEN_LREFUSED]);
	p->per_source = nl_u32(tb[NSTCP_A_LISTEN_PER_SOURCE]);
	p->src_uncounted = nl_u64(tb[NSTCP_A_LISTEN_SRC_UNCOUNTED]);
	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		struct lcpu *c;

		if (mnl_attr_get_type(a) != NSTCP_A_LISTEN_CPU ||
		    p->ncpu == MAX_CPUS)
			continue;
		if (nl_parse_nested(a, ct, NSTCP_A_LCPU_MAX))
			return -1;
		c = &p->cpu[p->ncpu++];
		c->cpu = nl_u32(ct[NSTCP_A_LCPU_CPU]);
		c->queued = nl_u32(ct[NSTCP_A_LCPU_QUEUED]);
		c->accepted = nl_u64(ct[NSTCP_A_LCPU_ACCEPTED]);
		c->stolen = nl_u64(ct[NSTCP_A_LCPU_STOLEN]);
	}
	s->n++;
	return 0;
}

static void fill_port(struct nlmsghdr *nlh, const void *arg)
{
	int port = *(const int *)arg;

	if (port > 0)
		mnl_attr_put_u16(nlh, NSTCP_A_LISTEN_PORT, port);
}

static int read_lsnap(struct nl *nl, int port, struct lsnap *s)
{
	int err;

	s->n = 0;
	err = nl_request(nl, NSTCP_CMD_LISTEN_GET, true, fill_port, &port,
			 listen_cb, s);
	if (err) {
		fprintf(stderr, "%s: reading the listening ports: %s\n", prog,
			strerror(-err));
		return -1;
	}
	return 0;
}

static const char *key_str(const struct port *p)
{
	if (!p->keyed)
		return "-";
	return p->key_hidden ? "*" : p->key;
}

/* The same port (address and port) in another reading, or NULL. */
static const struct port *find_port(const struct lsnap *s, const struct port *p)
{
	for (int i = 0; s && i < s->n; i++)
		if (s->p[i].family == p->family && s->p[i].port == p->port &&
		    !memcmp(s->p[i].addr, p->addr, 16))
			return &s->p[i];
	return NULL;
}

static const struct lcpu *find_cpu(const struct port *p, uint32_t cpu)
{
	for (int i = 0; p && i < p->ncpu; i++)
		if (p->cpu[i].cpu == cpu)
			return &p->cpu[i];
	return NULL;
}

static double rate(uint64_t now, uint64_t then, double dt)
{
	return now >= then ? (double)(now - then) / dt : 0;
}

static struct json_object *port_json(const struct port *p, const struct port *pp,
				     double dt)
{
	struct json_object *o = json_object_new_object(), *cpus;
	char buf[80], a[64];

	out_addr(buf, sizeof(buf), p->family, p->addr, p->port);
	json_object_object_add(o, "addr", json_object_new_string(buf));
	json_object_object_add(o, "family", json_object_new_string(
				       p->family == AF_INET6 ? "inet6" : "inet"));
	inet_ntop(p->family, p->addr, a, sizeof(a));
	json_object_object_add(o, "address", json_object_new_string(a));
	json_object_object_add(o, "port", json_object_new_int(p->port));
	json_object_object_add(o, "key", p->keyed && !p->key_hidden ?
			       json_object_new_string(p->key) : NULL);
	json_object_object_add(o, "key_hidden",
			       json_object_new_boolean(p->key_hidden));
	json_object_object_add(o, "policy",
			       json_object_new_string(out_policy(p->policy)));
	json_object_object_add(o, "listeners", json_object_new_int64(p->listeners));
	json_object_object_add(o, "owner", json_object_new_int64(p->owner));
	json_object_object_add(o, "reuseport", json_object_new_boolean(p->reuseport));
	json_object_object_add(o, "v6only", json_object_new_boolean(p->v6only));
	if (p->ifindex)
		json_object_object_add(o, "ifindex", json_object_new_int64(p->ifindex));
	if (dt > 0)
		json_object_object_add(o, "migrated", json_object_new_double(
			rate(p->migrated, pp ? pp->migrated : p->migrated, dt)));
	else
		json_object_object_add(o, "migrated",
				       json_object_new_uint64(p->migrated));
	json_object_object_add(o, "max_conns", json_object_new_int64(p->max_conns));
	json_object_object_add(o, "cps", json_object_new_int64(p->cps));
	json_object_object_add(o, "conns", json_object_new_int64(p->conns));
	json_object_object_add(o, "lrefused", json_object_new_uint64(p->lrefused));
	json_object_object_add(o, "per_source", json_object_new_int64(p->per_source));
	json_object_object_add(o, "src_uncounted",
			       json_object_new_uint64(p->src_uncounted));
	cpus = json_object_new_array();
	for (int i = 0; i < p->ncpu; i++) {
		const struct lcpu *c = &p->cpu[i], *pc = find_cpu(pp, c->cpu);
		struct json_object *co = json_object_new_object();

		json_object_object_add(co, "cpu", json_object_new_int64(c->cpu));
		json_object_object_add(co, "queued", json_object_new_int64(c->queued));
		if (dt > 0) {
			json_object_object_add(co, "accepted", json_object_new_double(
				rate(c->accepted, pc ? pc->accepted : c->accepted, dt)));
			json_object_object_add(co, "stolen", json_object_new_double(
				rate(c->stolen, pc ? pc->stolen : c->stolen, dt)));
		} else {
			json_object_object_add(co, "accepted",
					       json_object_new_uint64(c->accepted));
			json_object_object_add(co, "stolen",
					       json_object_new_uint64(c->stolen));
		}
		json_object_array_add(cpus, co);
	}
	json_object_object_add(o, "cpus", cpus);
	return o;
}

static void port_text(const struct port *p, const struct port *pp, double dt)
{
	uint64_t q = 0;
	double acc = 0, st = 0;
	char buf[80];

	out_addr(buf, sizeof(buf), p->family, p->addr, p->port);
	printf("%s key %s policy %s listeners %u owner %u%s%s\n", buf,
	       key_str(p), out_policy(p->policy), p->listeners, p->owner,
	       p->reuseport ? " reuseport" : "", p->v6only ? " v6only" : "");
	printf("  %-5s %10s %12s %12s\n", "CPU", "QUEUED",
	       dt > 0 ? "ACCEPTED/s" : "ACCEPTED", dt > 0 ? "STOLEN/s" : "STOLEN");
	for (int i = 0; i < p->ncpu; i++) {
		const struct lcpu *c = &p->cpu[i], *pc = find_cpu(pp, c->cpu);
		double a = c->accepted, s = c->stolen;

		if (dt > 0) {
			a = rate(c->accepted, pc ? pc->accepted : c->accepted, dt);
			s = rate(c->stolen, pc ? pc->stolen : c->stolen, dt);
		}
		q += c->queued;
		acc += a;
		st += s;
		printf("  %-5u %10u %12.*f %12.*f\n", c->cpu, c->queued,
		       dt > 0, a, dt > 0, s);
	}
	printf("  %-5s %10llu %12.*f %12.*f  migrated %llu\n", "total",
	       (unsigned long long)q, dt > 0, acc, dt > 0, st,
	       (unsigned long long)p->migrated);
	if (p->max_conns || p->cps || p->per_source || p->lrefused)
		printf("  limits max_conns %u per_source %u cps %u conns %u lrefused %llu src_uncounted %llu\n",
		       p->max_conns, p->per_source, p->cps, p->conns,
		       (unsigned long long)p->lrefused,
		       (unsigned long long)p->src_uncounted);
}

static void lreport(const struct lsnap *s, const struct lsnap *prev, double dt)
{
	struct json_object *arr;

	if (opt.json) {
		arr = json_object_new_array();
		for (int i = 0; i < s->n; i++)
			json_object_array_add(arr, port_json(&s->p[i],
					      find_port(prev, &s->p[i]), dt));
		if (prev) {
			struct json_object *r = json_object_new_object();

			json_object_object_add(r, "interval", json_object_new_double(dt));
			json_object_object_add(r, "ports", arr);
			arr = r;
		}
		out_json(arr);
		return;
	}
	if (prev)
		printf("AF_NSTCP listening ports: %d; per second over %.2f s\n",
		       s->n, dt);
	else
		printf("AF_NSTCP listening ports: %d\n", s->n);
	for (int i = 0; i < s->n; i++)
		port_text(&s->p[i], find_port(prev, &s->p[i]), dt);
	fflush(stdout);
}

static int lsnap_alloc(struct lsnap *s)
{
	for (int i = 0; i < MAX_PORTS; i++) {
		s->p[i].cpu = calloc(MAX_CPUS, sizeof(struct lcpu));
		if (!s->p[i].cpu)
			return -1;
	}
	return 0;
}

static int watch_read(struct nl *nl, const void *arg, void *snap)
{
	return read_lsnap(nl, *(const long *)arg, snap);
}

static void watch_report(const void *cur, const void *prev, double dt)
{
	lreport(cur, prev, dt);
}

int do_listen(int argc, char **argv)
{
	static struct lsnap a, b;
	long port = 0;
	char *end;

	if (argc > 0 && strcmp(argv[0], "show") && strcmp(argv[0], "list"))
		usage_error("unknown command \"%s\" for listen (show)", argv[0]);
	argc -= argc > 0;
	argv += 1;
	while (argc > 0) {
		if (!strcmp(argv[0], "port") && argc > 1) {
			port = strtol(argv[1], &end, 10);
			if (end == argv[1] || *end || port < 1 || port > 65535)
				usage_error("bad port \"%s\" (1 to 65535)", argv[1]);
			argc -= 2;
			argv += 2;
			continue;
		}
		usage_error("unexpected \"%s\" (listen show [port N])", argv[0]);
	}
	if (lsnap_alloc(&a) || lsnap_alloc(&b)) {
		fprintf(stderr, "%s: out of memory\n", prog);
		return 1;
	}
	return out_watch(watch_read, watch_report, &port, &a, &b);
}
