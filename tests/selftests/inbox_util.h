/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of the inbox selftests (handoff_inbox.c, helpers/inbox_queued.c):
 * an inbox made and read, NSTCP_ACCEPT_TO, /proc/net/nstcp_inbox's rows.
 */
#ifndef NSTCP_SELFTEST_INBOX_UTIL_H
#define NSTCP_SELFTEST_INBOX_UTIL_H

#include <inttypes.h>

#include "handoff_util.h"

/* An AF_NSTCP socket made an inbox of backlog; -1 with errno set. */
static inline int ib_make(int backlog)
{
	int fd = fam_socket(AF_NSTCP, 0);

	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_NSTCP, NSTCP_INBOX, &backlog, sizeof(backlog))) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* NSTCP_INBOX's info: 0 or the errno. */
static inline int ib_info(int fd, struct nstcp_inbox_info *info)
{
	socklen_t len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	if (getsockopt(fd, SOL_NSTCP, NSTCP_INBOX, info, &len))
		return errno;
	return len == sizeof(*info) ? 0 : EPROTO;
}

static inline uint64_t ib_id(int fd)
{
	struct nstcp_inbox_info info;

	return ib_info(fd, &info) ? 0 : info.nii_id;
}

/* NSTCP_ACCEPT_TO from listener lfd to inbox id: 0 or the errno. */
static inline int ib_accept_to(int lfd, uint64_t id, struct nstcp_accept_to *a)
{
	struct nstcp_accept_to tmp;
	socklen_t len = sizeof(*a);

	if (!a)
		a = &tmp;
	memset(a, 0, sizeof(*a));
	a->nto_inbox = id;
	if (getsockopt(lfd, SOL_NSTCP, NSTCP_ACCEPT_TO, a, &len))
		return errno;
	return len == sizeof(*a) ? 0 : EPROTO;
}

/* A row of /proc/net/nstcp_inbox. */
struct ib_row {
	long queued, given, accepted, dropped;
	unsigned int owner, backlog;
};

/*
 * The row of inbox id (0: the "total" row) in the calling thread's
 * namespace; 0 or -1.
 */
static inline int ib_proc(uint64_t id, struct ib_row *r)
{
	char line[256], key[32], o[16], b[16];
	FILE *f = fopen("/proc/net/nstcp_inbox", "r");
	int found = -1;

	if (!f)
		return -1;
	if (id)
		snprintf(key, sizeof(key), "%" PRIx64, id);
	else
		snprintf(key, sizeof(key), "total");
	while (fgets(line, sizeof(line), f)) {
		char name[32];

		if (sscanf(line, "%31s %15s %15s %ld %ld %ld %ld", name, o, b,
			   &r->queued, &r->given, &r->accepted,
			   &r->dropped) != 7 || strcmp(name, key))
			continue;
		r->owner = strtoul(o, NULL, 10);
		r->backlog = strtoul(b, NULL, 10);
		found = 0;
	}
	fclose(f);
	return found;
}

/* given == accepted + dropped + queued on the row (id 0: the total). */
static inline int ib_balanced(uint64_t id)
{
	struct ib_row r;

	return !ib_proc(id, &r) && r.given == r.accepted + r.dropped + r.queued;
}

#endif
