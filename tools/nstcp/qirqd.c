// SPDX-License-Identifier: GPL-2.0
/*
 * nstcp queue bind|restore: which process is irqbalance, and the lock
 * bind and restore hold around their read-modify-write of its ban list.
 *
 * Anyone may name a process "irqbalance": only a process whose real and
 * effective uid are 0 is taken, and among those one whose control socket
 * /run/irqbalance/irqbalance<PID>.sock exists as a socket of root's comes
 * first (qi_connect() then checks the peer's credentials on connect).
 * The start time tells a reused pid from the daemon bind talked to.
 * Also the record of what bind banned, /run/nstcp/queue-DEV.irqb.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qbind.h"

#define QD_SOCK_DIR	"/run/irqbalance"
#define QD_LOCK		QB_STATE_DIR "/irqbalance.lock"

/* pid's start time in clock ticks since boot, 0 if unknown. */
static unsigned long long start_time(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long long v = 0;
	int f = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (qd_read(path, buf, sizeof(buf)))
		return 0;
	/* the name may hold spaces and ')': fields count from the last ')' */
	p = strrchr(buf, ')');
	if (!p)
		return 0;
	/* p + 2 is field 3 (state); field 22 is 19 fields on */
	for (p += 2; *p && f < 19; p++)
		if (*p == ' ')
			f++;
	if (f == 19)
		v = strtoull(p, NULL, 10);
	return v;
}

/* pid's real and effective uid are 0. */
static bool root_proc(int pid)
{
	char path[64], line[256];
	unsigned int r = 1, e = 1;
	bool ok = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Uid: %u %u", &r, &e) == 2) {
			ok = !r && !e;
			break;
		}
	fclose(f);
	return ok;
}

static bool named_irqbalance(int pid)
{
	char path[64], comm[64];

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	return !qd_read(path, comm, sizeof(comm)) && !strcmp(comm, "irqbalance");
}

/* irqbalance pid's socket file exists, a socket of root's. */
static bool root_sock(int pid)
{
	char path[128];
	struct stat st;

	snprintf(path, sizeof(path), "%s/irqbalance%d.sock", QD_SOCK_DIR, pid);
	return !lstat(path, &st) && S_ISSOCK(st.st_mode) && !st.st_uid;
}

bool qd_irqbalance_is(int pid, unsigned long long start)
{
	unsigned long long now;

	if (pid <= 0 || !named_irqbalance(pid) || !root_proc(pid))
		return false;
	now = start_time(pid);
	return !start || (now && now == start);
}

int qd_irqbalance(unsigned long long *start)
{
	DIR *d = opendir("/proc");
	int pid = 0, first = 0, p;
	struct dirent *de;

	*start = 0;
	if (!d)
		return 0;
	while (!pid && (de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		p = atoi(de->d_name);
		if (!qd_irqbalance_is(p, 0))
			continue;
		if (root_sock(p))
			pid = p;
		else if (!first)
			first = p;	/* no socket file: abstract, or none */
	}
	closedir(d);
	pid = pid ? pid : first;
	if (pid)
		*start = start_time(pid);
	return pid;
}

int qd_irqb_lock(void)
{
	struct stat st;
	int fd;

	if (mkdir(QB_STATE_DIR, 0700) && errno != EEXIST)
		return -errno;
	if (lstat(QB_STATE_DIR, &st) || !S_ISDIR(st.st_mode) || st.st_uid ||
	    (st.st_mode & 022))
		return -EPERM;
	fd = open(QD_LOCK, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (!qd_root_private(fd)) {
		close(fd);
		return -EPERM;
	}
	if (flock(fd, LOCK_EX)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

void rec_path(const char *dev, char *buf, size_t len)
{
	snprintf(buf, len, "%s/queue-%s.irqb", QB_STATE_DIR, dev);
}

/* 0, -ENOENT when there is none, -errno. */
int rec_read(const char *dev, struct qi_rec *r)
{
	char path[300], buf[4096], *tok, *save;
	ssize_t n;

	memset(r, 0, sizeof(*r));
	rec_path(dev, path, sizeof(path));
	n = qd_read_private(path, buf, sizeof(buf));
	if (n < 0)
		return n;
	tok = strtok_r(buf, "\n ", &save);
	if (!tok || strcmp(tok, "pid"))
		return -EINVAL;
	tok = strtok_r(NULL, "\n ", &save);
	r->pid = tok ? atoi(tok) : 0;
	tok = strtok_r(NULL, "\n ", &save);
	if (tok && !strcmp(tok, "start")) {
		tok = strtok_r(NULL, "\n ", &save);
		r->start = tok ? strtoull(tok, NULL, 10) : 0;
		tok = strtok_r(NULL, "\n ", &save);
	}
	if (!tok || strcmp(tok, "added") || r->pid <= 0)
		return -EINVAL;
	while ((tok = strtok_r(NULL, "\n ", &save)))
		irqs_add(&r->added, atoi(tok));
	return 0;
}

void rec_write(const char *dev, struct qi_rec *r)
{
	char path[300], text[QB_IRQS * 12 + 64], list[QB_IRQS * 12];
	int err;

	rec_path(dev, path, sizeof(path));
	irqs_str(&r->added, list, sizeof(list), ' ');
	snprintf(text, sizeof(text), "pid %d\nstart %llu\nadded %s\n", r->pid,
		 r->start, r->added.n ? list : "");
	err = qd_write_private(path, text);
	if (err)
		fprintf(stderr, "%s: note: recording irqbalance's bans in %s: %s (restore will not lift them)\n",
			prog, path, strerror(-err));
}
