/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of the inbox selftests (handoff_inbox.c, handoff_inbox_bad.c,
 * helpers/inbox_queued.c): an inbox made and read, NSTCP_ACCEPT_TO,
 * /proc/net/nstcp_inbox's rows, a thread blocked in accept() or
 * NSTCP_ACCEPT_TO.
 */
#ifndef NSTCP_SELFTEST_INBOX_UTIL_H
#define NSTCP_SELFTEST_INBOX_UTIL_H

#include <inttypes.h>
#include <sys/syscall.h>

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
 * The rows of /proc/net/nstcp_inbox (the calling thread's namespace)
 * whose id column is key (an id in hex, "*", "total"), their columns
 * found by the header's names; the last one in r when r is not NULL.
 * How many; -1 if unreadable.
 */
static inline int ib_scan(const char *key, struct ib_row *r)
{
	static const char *const names[] = { "id", "owner", "backlog", "queued",
					     "given", "accepted", "dropped" };
	char hdr[256], line[256], *tok, *save, *f[16];
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
	found = 0;
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
		found++;
		if (!r)
			continue;
		r->owner = strtoul(f[col[1]], NULL, 10);
		r->backlog = strtoul(f[col[2]], NULL, 10);
		r->queued = strtol(f[col[3]], NULL, 10);
		r->given = strtol(f[col[4]], NULL, 10);
		r->accepted = strtol(f[col[5]], NULL, 10);
		r->dropped = strtol(f[col[6]], NULL, 10);
	}
out:
	fclose(fp);
	return found;
}

/* The row of inbox id (0: the "total" row); 0 or -1. */
static inline int ib_proc(uint64_t id, struct ib_row *r)
{
	char key[32];

	if (id)
		snprintf(key, sizeof(key), "%" PRIx64, id);
	else
		snprintf(key, sizeof(key), "total");
	return ib_scan(key, r) > 0 ? 0 : -1;
}

/* given == accepted + dropped + queued on the row (id 0: the total). */
static inline int ib_balanced(uint64_t id)
{
	struct ib_row r;

	return !ib_proc(id, &r) && r.given == r.accepted + r.dropped + r.queued;
}

/* The rows whose id column is key (ib_scan()); -1 if unreadable. */
static inline int ib_proc_count(const char *key)
{
	return ib_scan(key, NULL);
}

static inline int ib_proc_has(uint64_t id)
{
	char key[32];

	snprintf(key, sizeof(key), "%" PRIx64, id);
	return ib_proc_count(key);
}

/*
 * A thread blocked in accept() (fd an inbox or a listener) or in
 * NSTCP_ACCEPT_TO (fd the listener, to inbox id).
 */
struct blocked {
	pthread_t th;
	int fd;
	uint64_t id;
	int rc;		/* 0 or the errno */
	long long ms;	/* the call's time */
	long long end;	/* lst_now_ms() at its return */
	int tid, done;	/* __atomic */
};

static inline void ib_block_end(struct blocked *b, int rc, long long t)
{
	b->rc = rc;
	b->end = lst_now_ms();
	b->ms = b->end - t;
	__atomic_store_n(&b->done, 1, __ATOMIC_RELEASE);
}

static inline void *block_accept_to(void *arg)
{
	struct blocked *b = arg;
	long long t = lst_now_ms();

	__atomic_store_n(&b->tid, (int)syscall(SYS_gettid), __ATOMIC_RELEASE);
	ib_block_end(b, ib_accept_to(b->fd, b->id, NULL), t);
	return NULL;
}

static inline void *block_accept(void *arg)
{
	struct blocked *b = arg;
	long long t = lst_now_ms();
	int fd;

	__atomic_store_n(&b->tid, (int)syscall(SYS_gettid), __ATOMIC_RELEASE);
	fd = accept(b->fd, NULL, NULL);
	if (fd >= 0)
		close(fd);
	ib_block_end(b, fd < 0 ? errno : 0, t);
	return NULL;
}

static inline int ib_block_done(struct blocked *b)
{
	return __atomic_load_n(&b->done, __ATOMIC_ACQUIRE);
}

/* Whether b's call returned within ms. */
static inline int ib_block_wait(struct blocked *b, int ms)
{
	long long end = lst_now_ms() + ms;

	while (!ib_block_done(b) && lst_now_ms() < end)
		lst_sleep_ms(5);
	return ib_block_done(b);
}

/*
 * Whether b's thread sleeps in accept() within ms: its
 * /proc/self/task/TID/syscall names accept or accept4 only while it is
 * blocked in it ("running" otherwise).  Without that file (no
 * CONFIG_HAVE_ARCH_TRACEHOOK): 300 ms, then whether it has not returned.
 */
static inline int ib_in_accept(struct blocked *b, int ms)
{
	long long end = lst_now_ms() + ms;
	char path[64], buf[64];
	int tid, fd;
	ssize_t n;
	long nr;

	do {
		tid = __atomic_load_n(&b->tid, __ATOMIC_ACQUIRE);
		if (ib_block_done(b))
			return 0;
		if (!tid) {
			lst_sleep_ms(5);
			continue;
		}
		snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", tid);
		fd = open(path, O_RDONLY);
		if (fd < 0) {
			lst_sleep_ms(300);
			return !ib_block_done(b);
		}
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		buf[n > 0 ? n : 0] = 0;
		nr = n > 0 && buf[0] >= '0' && buf[0] <= '9' ? strtol(buf, NULL, 10) : -1;
#ifdef SYS_accept
		if (nr == SYS_accept)
			return 1;
#endif
		if (nr == SYS_accept4)
			return 1;
		lst_sleep_ms(5);
	} while (lst_now_ms() < end);
	return 0;
}

#endif
