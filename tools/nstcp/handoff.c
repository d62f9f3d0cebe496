// SPDX-License-Identifier: GPL-2.0
/*
 * nstcp handoff show: the connections given and not yet taken (never
 * their tokens).
 */
#include <stdio.h>
#include <string.h>

#include "nstcp.h"

struct ho_ctx {
	struct json_object *arr;
	int n;
};

static void addr_of(const struct nlattr *fam, const struct nlattr *addr,
		    const struct nlattr *port, char *buf, size_t len)
{
	unsigned char a[16] = { 0 };
	size_t l;

	if (!fam || !addr || !port) {
		snprintf(buf, len, "-");
		return;
	}
	l = mnl_attr_get_payload_len(addr);
	memcpy(a, mnl_attr_get_payload(addr), l > 16 ? 16 : l);
	out_addr(buf, len, mnl_attr_get_u16(fam), a, mnl_attr_get_u16(port));
}

static int ho_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[NSTCP_A_HANDOFF_MAX + 1];
	struct ho_ctx *c = data;
	char local[80], peer[80], taker[32];
	int32_t cpu;

	if (nl_parse(nlh, tb, NSTCP_A_HANDOFF_MAX)) {
		fprintf(stderr, "%s: a malformed hand-off message\n", prog);
		return -1;
	}
	addr_of(tb[NSTCP_A_HANDOFF_FAMILY], tb[NSTCP_A_HANDOFF_LOCAL_ADDR],
		tb[NSTCP_A_HANDOFF_LOCAL_PORT], local, sizeof(local));
	addr_of(tb[NSTCP_A_HANDOFF_FAMILY], tb[NSTCP_A_HANDOFF_PEER_ADDR],
		tb[NSTCP_A_HANDOFF_PEER_PORT], peer, sizeof(peer));
	if (tb[NSTCP_A_HANDOFF_TAKER_PID])
		snprintf(taker, sizeof(taker), "pid:%u",
			 nl_u32(tb[NSTCP_A_HANDOFF_TAKER_PID]));
	else
		snprintf(taker, sizeof(taker), "uid:%u",
			 nl_u32(tb[NSTCP_A_HANDOFF_TAKER_UID]));
	cpu = (int32_t)nl_u32(tb[NSTCP_A_HANDOFF_CPU]);
	c->n++;
	if (c->arr) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "giver", json_object_new_int64(
				       nl_u32(tb[NSTCP_A_HANDOFF_GIVER])));
		if (tb[NSTCP_A_HANDOFF_TAKER_PID])
			json_object_object_add(o, "taker_pid", json_object_new_int64(
					       nl_u32(tb[NSTCP_A_HANDOFF_TAKER_PID])));
		else
			json_object_object_add(o, "taker_uid", json_object_new_int64(
					       nl_u32(tb[NSTCP_A_HANDOFF_TAKER_UID])));
		json_object_object_add(o, "age_ms", json_object_new_int64(
				       nl_u32(tb[NSTCP_A_HANDOFF_AGE_MS])));
		json_object_object_add(o, "left_ms", json_object_new_int64(
				       nl_u32(tb[NSTCP_A_HANDOFF_LEFT_MS])));
		json_object_object_add(o, "cpu", json_object_new_int(cpu));
		json_object_object_add(o, "local", json_object_new_string(local));
		json_object_object_add(o, "peer", json_object_new_string(peer));
		json_object_array_add(c->arr, o);
		return 0;
	}
	printf("%-8u %-12s %8u %8u %4d %-24s %s\n",
	       nl_u32(tb[NSTCP_A_HANDOFF_GIVER]), taker,
	       nl_u32(tb[NSTCP_A_HANDOFF_AGE_MS]),
	       nl_u32(tb[NSTCP_A_HANDOFF_LEFT_MS]), cpu, local, peer);
	return 0;
}

int do_handoff(int argc, char **argv)
{
	struct ho_ctx c = { 0 };
	char head[96];

	if (argc > 0 && strcmp(argv[0], "show") && strcmp(argv[0], "list"))
		usage_error("unknown command \"%s\" for handoff (show)", argv[0]);
	if (argc > 1)
		usage_error("unexpected \"%s\" (handoff show)", argv[1]);
	if (opt.watch)
		usage_error("handoff show has no watch mode");
	if (opt.json)
		c.arr = json_object_new_array();
	snprintf(head, sizeof(head), "%-8s %-12s %8s %8s %4s %-24s %s\n", "GIVER",
		 "TAKER", "AGE_MS", "LEFT_MS", "CPU", "LOCAL", "PEER");
	return nl_show(NSTCP_CMD_HANDOFF_GET, NULL, NULL, ho_cb, &c, c.arr, head,
		       "the hand-offs");
}
