/* SPDX-License-Identifier: GPL-2.0 */
/*
 * nstcp: the AF_NSTCP control tool.  What its files share: the options,
 * the netlink requests (nl.c), the output (out.c) and one entry point per
 * object (instance.c, listen.c, handoff.c, queue.c).
 */
#ifndef NSTCP_TOOL_H
#define NSTCP_TOOL_H

#include <stdbool.h>
#include <stdint.h>
#include <json-c/json.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/nstcp.h>
#include <linux/nstcp_netlink.h>

/* Exit statuses: 1 a failure, 2 a usage error. */
#define EXIT_USAGE	2

struct opts {
	bool json;
	bool pretty;
	const char *netns;
	double watch;		/* seconds between reports, 0: once */
	long count;		/* reports in watch mode, 0: until killed */
};

extern struct opts opt;
extern const char *prog;

/* nl.c: one netlink socket to the family, in the chosen namespace. */
struct nl {
	struct mnl_socket *sock;
	uint16_t family;
	unsigned int seq;
	unsigned int portid;
	uint8_t version;
	bool intr;	/* the last dump's list changed while it was read */
};

typedef int (*nl_msg_cb)(const struct nlmsghdr *nlh, void *data);

int nl_open(struct nl *nl);
/* Any generic netlink family: 0, -ENOENT (not there, nothing printed) or
 * -1 (a message printed).
 */
int nl_open_family(struct nl *nl, const char *name, uint8_t version);
void nl_close(struct nl *nl);
/*
 * The room for a request nl_request builds (on its stack): fill may put
 * up to NL_REQ_SIZE bytes from nlh, the header included; a fill whose
 * size depends on its input checks it (mnl_attr_put_*_check).
 */
#define NL_REQ_SIZE	16384
/* A request of cmd with the attributes put by fill (may be NULL); each
 * answer goes to cb.  0, or -errno (with a message printed). */
int nl_request(struct nl *nl, uint8_t cmd, bool dump,
	       void (*fill)(struct nlmsghdr *nlh, const void *arg),
	       const void *arg, nl_msg_cb cb, void *data);
/* The attributes of a family message, by type, up to max. */
int nl_parse(const struct nlmsghdr *nlh, const struct nlattr **tb, int max);
int nl_parse_nested(const struct nlattr *nest, const struct nlattr **tb,
		    int max);
/*
 * One dump of cmd shown: opens the family, runs the dump through cb
 * (which fills arr with -j, or prints text after head), closes, and
 * prints arr (freed).  Returns the exit status; what names the data in
 * the error message.
 */
int nl_show(uint8_t cmd, void (*fill)(struct nlmsghdr *nlh, const void *arg),
	    const void *arg, nl_msg_cb cb, void *data, struct json_object *arr,
	    const char *head, const char *what);
uint64_t nl_u64(const struct nlattr *a);
uint32_t nl_u32(const struct nlattr *a);

/* out.c */
void out_json(struct json_object *o);
void out_sleep(double seconds);
double out_now(void);
int out_netns_enter(const char *name);
const char *out_policy(uint32_t p);
void out_addr(char *buf, size_t len, int family, const void *addr,
	      int port);
void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * Reads a snapshot into a and reports it; in watch mode (opt.watch) reads
 * again every opt.watch seconds into the other buffer and reports the
 * rates against the one before, opt.count times or until killed.  Returns
 * the exit status: 1 when a read fails.
 */
int out_watch(int (*read)(struct nl *nl, const void *arg, void *snap),
	      void (*report)(const void *cur, const void *prev, double dt),
	      const void *arg, void *a, void *b);

/* Objects: argc/argv start after the object's name. */
int do_instance(int argc, char **argv);
int do_listen(int argc, char **argv);
int do_handoff(int argc, char **argv);
int do_queue(int argc, char **argv);

#endif
