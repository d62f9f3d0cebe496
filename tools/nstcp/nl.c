// SPDX-License-Identifier: GPL-2.0
/*
 * nstcp: requests to the "nstcp" generic netlink family, with libmnl.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/genetlink.h>

#include "nstcp.h"

/* The family's id from the controller; 0 if unknown, -errno on failure. */
static int ctrl_attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;

	if (mnl_attr_type_valid(a, CTRL_ATTR_MAX) > 0)
		tb[mnl_attr_get_type(a)] = a;
	return MNL_CB_OK;
}

static int ctrl_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[CTRL_ATTR_MAX + 1] = {};
	uint16_t *id = data;

	mnl_attr_parse(nlh, sizeof(struct genlmsghdr), ctrl_attr_cb, tb);
	if (tb[CTRL_ATTR_FAMILY_ID])
		*id = mnl_attr_get_u16(tb[CTRL_ATTR_FAMILY_ID]);
	return MNL_CB_OK;
}

/* Whether a part of a dump says the list changed under it. */
static void nl_note_intr(struct nl *nl, const char *buf, ssize_t n)
{
	const struct nlmsghdr *h = (const struct nlmsghdr *)buf;
	int len = n;

	for (; mnl_nlmsg_ok(h, len); h = mnl_nlmsg_next(h, &len))
		if (h->nlmsg_flags & NLM_F_DUMP_INTR)
			nl->intr = true;
}

/*
 * Sends nlh and runs the answers through cb; 0 or -errno.  After a
 * failure the rest of the answer is read and dropped, so the socket is
 * ready for the next request.
 */
static int nl_talk(struct nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb,
		   void *data)
{
	/* Room for the largest dump message the kernel makes (32 KiB). */
	static char buf[65536];
	unsigned int seq = nlh->nlmsg_seq;
	int ret, err = 0;
	ssize_t n;

	nl->intr = false;
	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		n = mnl_socket_recvfrom(nl->sock, buf, sizeof(buf));
		if (n < 0)
			return err ? err : -errno;
		nl_note_intr(nl, buf, n);
		/*
		 * errno is the kernel's error; a callback refusing a message
		 * sets none, and its failure must not read as success.
		 */
		errno = 0;
		ret = mnl_cb_run(buf, n, seq, nl->portid, err ? NULL : cb,
				 data);
		if (ret < 0) {
			if (!err)
				err = errno ? -errno : -EPROTO;
			/* The kernel's own error ends the answer. */
			if (errno)
				return err;
			continue;	/* a callback refused: drain the rest */
		}
		if (ret == MNL_CB_STOP)
			return err;
	}
}

int nl_open_family(struct nl *nl, const char *name, uint8_t version)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct genlmsghdr *g;
	struct nlmsghdr *nlh;
	int err, one = 1;

	memset(nl, 0, sizeof(*nl));
	nl->version = version;
	nl->sock = mnl_socket_open(NETLINK_GENERIC);
	if (!nl->sock) {
		fprintf(stderr, "%s: netlink socket: %s\n", prog, strerror(errno));
		return -1;
	}
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		fprintf(stderr, "%s: netlink bind: %s\n", prog, strerror(errno));
		goto err;
	}
	nl->portid = mnl_socket_get_portid(nl->sock);
	nl->seq = time(NULL);
	/* Extended acks: the kernel's reason for a refusal. */
	mnl_socket_setsockopt(nl->sock, NETLINK_EXT_ACK, &one, sizeof(one));
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = GENL_ID_CTRL;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = ++nl->seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = CTRL_CMD_GETFAMILY;
	g->version = 1;
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, name);
	err = nl_talk(nl, nlh, ctrl_cb, &nl->family);
	if (err == -ENOENT || (!err && !nl->family)) {
		mnl_socket_close(nl->sock);
		nl->sock = NULL;
		return -ENOENT;
	}
	if (err) {
		fprintf(stderr, "%s: looking up the family %s: %s\n", prog, name,
			strerror(-err));
		goto err;
	}
	return 0;
err:
	mnl_socket_close(nl->sock);
	nl->sock = NULL;
	return -1;
}

int nl_open(struct nl *nl)
{
	int err = nl_open_family(nl, NSTCP_GENL_NAME, NSTCP_GENL_VERSION);

	if (err == -ENOENT)
		fprintf(stderr,
			"%s: the generic netlink family \"%s\" is not there: is the nstcp module loaded? (modprobe nstcp)\n",
			prog, NSTCP_GENL_NAME);
	return err ? -1 : 0;
}

void nl_close(struct nl *nl)
{
	if (nl->sock)
		mnl_socket_close(nl->sock);
	nl->sock = NULL;
}

struct req_ctx {
	uint16_t family;
	nl_msg_cb cb;
	void *data;
};

static int req_cb(const struct nlmsghdr *nlh, void *data)
{
	struct req_ctx *c = data;

	if (nlh->nlmsg_type != c->family)
		return MNL_CB_OK;
	return c->cb(nlh, c->data) < 0 ? MNL_CB_ERROR : MNL_CB_OK;
}

int nl_request(struct nl *nl, uint8_t cmd, bool dump,
	       void (*fill)(struct nlmsghdr *nlh, const void *arg),
	       const void *arg, nl_msg_cb cb, void *data)
{
	char buf[NL_REQ_SIZE];
	struct req_ctx c = { nl->family, cb, data };
	struct genlmsghdr *g;
	struct nlmsghdr *nlh;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = nl->family;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (dump ? NLM_F_DUMP : 0);
	nlh->nlmsg_seq = ++nl->seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = cmd;
	g->version = nl->version;
	if (fill)
		fill(nlh, arg);
	return nl_talk(nl, nlh, req_cb, &c);
}

struct parse_ctx {
	const struct nlattr **tb;
	int max;
};

static int parse_cb(const struct nlattr *a, void *data)
{
	struct parse_ctx *p = data;
	int t = mnl_attr_get_type(a);

	if (t <= p->max)
		p->tb[t] = a;	/* the last of repeated ones */
	return MNL_CB_OK;
}

int nl_parse(const struct nlmsghdr *nlh, const struct nlattr **tb, int max)
{
	struct parse_ctx p = { tb, max };

	memset(tb, 0, sizeof(*tb) * (max + 1));
	return mnl_attr_parse(nlh, sizeof(struct genlmsghdr), parse_cb, &p) < 0 ?
	       -1 : 0;
}

int nl_parse_nested(const struct nlattr *nest, const struct nlattr **tb,
		    int max)
{
	struct parse_ctx p = { tb, max };

	memset(tb, 0, sizeof(*tb) * (max + 1));
	return mnl_attr_parse_nested(nest, parse_cb, &p) < 0 ? -1 : 0;
}

uint64_t nl_u64(const struct nlattr *a)
{
	return a && mnl_attr_get_payload_len(a) == 8 ? mnl_attr_get_u64(a) : 0;
}

uint32_t nl_u32(const struct nlattr *a)
{
	return a && mnl_attr_get_payload_len(a) == 4 ? mnl_attr_get_u32(a) : 0;
}

int nl_show(uint8_t cmd, void (*fill)(struct nlmsghdr *nlh, const void *arg),
	    const void *arg, nl_msg_cb cb, void *data, struct json_object *arr,
	    const char *head, const char *what)
{
	struct nl nl;
	int err;

	if (nl_open(&nl)) {
		if (arr)
			json_object_put(arr);
		return 1;
	}
	if (!arr && head)
		fputs(head, stdout);
	err = nl_request(&nl, cmd, true, fill, arg, cb, data);
	if (!err && nl.intr)
		fprintf(stderr, "%s: %s changed while being read: an entry may be missing or shown twice; run again\n",
			prog, what);
	nl_close(&nl);
	if (err) {
		fprintf(stderr, "%s: reading %s: %s\n", prog, what, strerror(-err));
		if (arr)
			json_object_put(arr);
		return 1;
	}
	if (arr)
		out_json(arr);
	return 0;
}
