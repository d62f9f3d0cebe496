// SPDX-License-Identifier: GPL-2.0
/*
 * nstcp queue show: which CPU instance owns each queue of a device, as
 * `nstcp queue bind` recorded it in the module; with check, whether the
 * device's settings are still those bind made (qcheck.c).
 */
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include "qbind.h"

struct q_ctx {
	struct json_object *arr;
};

static int q_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[NSTCP_A_QUEUE_MAX + 1], *et[NSTCP_A_QENT_MAX + 1];
	struct json_object *o = NULL, *ents = NULL;
	struct q_ctx *c = data;
	char name[IF_NAMESIZE];
	const struct nlattr *a;
	uint32_t ifindex;

	if (nl_parse(nlh, tb, NSTCP_A_QUEUE_MAX) || !tb[NSTCP_A_QUEUE_IFINDEX]) {
		fprintf(stderr, "%s: a malformed queue map message\n", prog);
		return -1;
	}
	ifindex = nl_u32(tb[NSTCP_A_QUEUE_IFINDEX]);
	if (!if_indextoname(ifindex, name))
		snprintf(name, sizeof(name), "if%u", ifindex);
	if (c->arr) {
		o = json_object_new_object();
		ents = json_object_new_array();
		json_object_object_add(o, "ifindex", json_object_new_int64(ifindex));
		json_object_object_add(o, "dev", json_object_new_string(name));
	} else {
		printf("dev %s:", name);
	}
	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		if (mnl_attr_get_type(a) != NSTCP_A_QUEUE_ENTRY ||
		    nl_parse_nested(a, et, NSTCP_A_QENT_MAX))
			continue;
		if (ents) {
			struct json_object *e = json_object_new_object();

			json_object_object_add(e, "queue", json_object_new_int64(
					       nl_u32(et[NSTCP_A_QENT_QUEUE])));
			json_object_object_add(e, "cpu", json_object_new_int64(
					       nl_u32(et[NSTCP_A_QENT_CPU])));
			json_object_array_add(ents, e);
		} else {
			printf(" queue %u cpu %u", nl_u32(et[NSTCP_A_QENT_QUEUE]),
			       nl_u32(et[NSTCP_A_QENT_CPU]));
		}
	}
	if (o) {
		json_object_object_add(o, "queues", ents);
		json_object_array_add(c->arr, o);
	} else {
		printf("\n");
	}
	return 0;
}

static void fill_dev(struct nlmsghdr *nlh, const void *arg)
{
	uint32_t ifindex = *(const uint32_t *)arg;

	if (ifindex)
		mnl_attr_put_u32(nlh, NSTCP_A_QUEUE_IFINDEX, ifindex);
}

int do_queue(int argc, char **argv)
{
	struct q_ctx c = { 0 };
	uint32_t ifindex = 0;

	if (argc > 0 && !strcmp(argv[0], "bind"))
		return do_queue_bind(argc - 1, argv + 1);
	if (argc > 0 && !strcmp(argv[0], "restore"))
		return do_queue_restore(argc - 1, argv + 1);
	if (argc > 0 && strcmp(argv[0], "show") && strcmp(argv[0], "list"))
		usage_error("unknown command \"%s\" for queue (show, bind, restore)",
			    argv[0]);
	argc -= argc > 0;
	argv += 1;
	if (argc == 3 && !strcmp(argv[0], "dev") && !strcmp(argv[2], "check")) {
		if (opt.watch)
			usage_error("queue show check has no watch mode");
		return do_queue_check(argv[1]);
	}
	if (argc == 2 && !strcmp(argv[0], "dev")) {
		ifindex = if_nametoindex(argv[1]);
		if (!ifindex) {
			fprintf(stderr, "%s: no device \"%s\"\n", prog, argv[1]);
			return 1;
		}
	} else if (argc) {
		usage_error("unexpected \"%s\" (queue show [dev DEV [check]])", argv[0]);
	}
	if (opt.watch)
		usage_error("queue show has no watch mode");
	if (opt.json)
		c.arr = json_object_new_array();
	return nl_show(NSTCP_CMD_QUEUE_GET, fill_dev, &ifindex, q_cb, &c, c.arr,
		       NULL, "the queue maps");
}
