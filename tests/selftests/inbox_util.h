/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of the inbox selftests (handoff_inbox.c, helpers/inbox_queued.c):
 * an inbox made and read, NSTCP_ACCEPT_TO, /proc/net/nstcp_inbox's rows.
 */
#ifndef NSTCP_SELFTEST_INBOX_UTIL_H
#define NSTCP_SELFTEST_INBOX_UTIL_H

#include <inttypes.h>

#include "handoff_util.h"

/* A client of the listener on @port (LST_IP); the listener holds it. */
static inline int ib_client(int port)
{
	return fam_connect(AF_NSTCP, LST_IP, port);
}

/* Whether @fd and @afd talk both ways (one byte each). */
static inline int ib_talks(int fd, int afd)
{
	char c = 0;

	return send(fd, "a", 1, 0) == 1 && recv(afd, &c, 1, 0) == 1 &&
	       c == 'a' && send(afd, "b", 1, 0) == 1 &&
	       recv(fd, &c, 1, 0) == 1 && c == 'b';
}

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

/* The index of column name in header line hdr, or -1. */
static inline int ib_col(const char *hdr, const char *name)
{
	char buf[256], *tok, *save;
	int i = 0;

	snprintf(buf, sizeof(buf), "%s", hdr);
	for (tok = strtok_r(buf, " \n", &save); tok;
	     tok = strtok_r(NULL, " \n", &save), i++)
		if (!strcmp(tok, name))
			return i;
	return -1;
}

/*
 * The row of inbox id (0: the "total" row) in the calling thread's
 * namespace, its columns found by the header's names; 0 or -1.
 */
static inline int ib_proc(uint64_t id, struct ib_row *r)
{
	static const char *const names[] = { "id", "owner", "backlog", "queued",
					     "given", "accepted", "dropped" };
	char hdr[256], line[256], key[32], *tok, *save, *f[16];
	FILE *fp = fopen("/proc/net/nstcp_inbox", "r");
	int col[7], found = -1, n;
	unsigned int i;

	if (!fp)
		return -1;
	if (!fgets(hdr, sizeof(hdr), fp))
		goto out;
	for (i = 0; i < 7; i++)
		if ((col[i] = ib_col(hdr, names[i])) < 0)
			goto out;
	if (id)
		snprintf(key, sizeof(key), "%" PRIx64, id);
	else
		snprintf(key, sizeof(key), "total");
	while (fgets(line, sizeof(line), fp)) {
		n = 0;
		for (tok = strtok_r(line, " \n", &save); tok && n < 16;
		     tok = strtok_r(NULL, " \n", &save))
			f[n++] = tok;
		for (i = 0; i < 7; i++)
			if (col[i] >= n)
				break;
		if (i < 7 || strcmp(f[col[0]], key))
			continue;
		r->owner = strtoul(f[col[1]], NULL, 10);
		r->backlog = strtoul(f[col[2]], NULL, 10);
		r->queued = strtol(f[col[3]], NULL, 10);
		r->given = strtol(f[col[4]], NULL, 10);
		r->accepted = strtol(f[col[5]], NULL, 10);
		r->dropped = strtol(f[col[6]], NULL, 10);
		found = 0;
	}
out:
	fclose(fp);
	return found;
}

/* given == accepted + dropped + queued on the row (id 0: the total). */
static inline int ib_balanced(uint64_t id)
{
	struct ib_row r;

	return !ib_proc(id, &r) && r.given == r.accepted + r.dropped + r.queued;
}

#endif
