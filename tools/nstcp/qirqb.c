// SPDX-License-Identifier: GPL-2.0
/*
 * nstcp queue bind|restore|show check: keeping irqbalance off the bound
 * interrupts at run time, through the control socket irqbalance (1.7 and
 * later, built with its UI) offers to irqbalance-ui.
 *
 * The protocol, as irqbalance 1.9 implements it: a stream socket at
 * /run/irqbalance/irqbalance<PID>.sock (or, when that directory cannot be
 * bound, the abstract address of all zero bytes); one command per
 * connection, at most 500 bytes, taken only with SCM_CREDENTIALS of uid
 * 0 (anything else is dropped without an answer).  "setup" answers
 * "SLEEP <s> [IRQ <n> LOAD <l> DIFF <d> CLASS <c>]... BANNED <cpumask>",
 * the IRQs being its list of banned interrupts (those of --banirq and of
 * the socket); "settings ban irqs <n> <n>..." replaces that list ("NONE"
 * empties it) and answers nothing, so every change is read back.
 *
 * Bind merges the bound IRQs into the list (the administrator's bans
 * stay) and records in /run/nstcp/queue-DEV.irqb the daemon's pid, its
 * start time and the IRQs it added; restore removes those only.  Both hold
 * /run/nstcp/irqbalance.lock across their read, change, read-back and
 * record, so binds of several devices at once keep each other's bans.  A runtime ban is gone when
 * irqbalance restarts: bind also prints the lasting setting.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "qbind.h"

#define QI_SOCK_DIR	"/run/irqbalance"
#define QI_CMD_MAX	500	/* irqbalance reads one command of this many bytes */
#define QI_REPLY_MAX	65536
#define QI_LIST		(QB_IRQS * 12)	/* a list of IRQs as text */
#define QI_TXT		(QI_LIST + 512)

bool irqs_has(const struct irqs *l, int irq)
{
	for (int i = 0; i < l->n; i++)
		if (l->v[i] == irq)
			return true;
	return false;
}

void irqs_add(struct irqs *l, int irq)
{
	if (!irqs_has(l, irq) && l->n < QB_IRQS)
		l->v[l->n++] = irq;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* "24,25,26" (sorted), or "none". */
void irqs_str(struct irqs *l, char *buf, size_t len, char sep)
{
	const char between[2] = { sep, 0 };
	size_t at = 0;

	qsort(l->v, l->n, sizeof(l->v[0]), cmp_int);
	snprintf(buf, len, "none");
	for (int i = 0; i < l->n && at < len; i++)
		at += snprintf(buf + at, len - at, "%s%d", i ? between : "", l->v[i]);
}

/*
 * A connection to irqbalance pid's socket, whose peer is that pid: the fd,
 * or -ENOENT (no socket: irqbalance built without it, or older), -errno.
 */
static int qi_connect(int pid)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 15 };	/* a rescan blocks it a sleep interval */
	struct ucred peer;
	socklen_t plen = sizeof(peer);
	int fd, err = -ENOENT;

	for (int abstract = 0; abstract < 2; abstract++) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		memset(a.sun_path, 0, sizeof(a.sun_path));
		if (!abstract)
			snprintf(a.sun_path, sizeof(a.sun_path), "%s/irqbalance%d.sock",
				 QI_SOCK_DIR, pid);
		if (!connect(fd, (struct sockaddr *)&a, sizeof(a))) {
			/* anyone may bind the abstract name: it must be irqbalance */
			if (!getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &plen) &&
			    peer.pid == pid && peer.uid == 0)
				return fd;
			if (err == -ENOENT)
				err = -EPERM;
		} else if (errno != ENOENT && errno != ECONNREFUSED && err == -ENOENT) {
			err = -errno;	/* the path's error, not the abstract one's */
		}
		close(fd);
	}
	return err;
}

/*
 * Sends cmd with root's credentials; with reply, reads the answer to its
 * end (malloc()ed, NUL-terminated).  0 or -errno.
 */
static int qi_cmd(int pid, const char *cmd, char **reply)
{
	struct ucred cr = { .pid = getpid(), .uid = geteuid(), .gid = getegid() };
	union {
		char buf[CMSG_SPACE(sizeof(struct ucred))];
		struct cmsghdr align;
	} c;
	struct iovec iov = { .iov_base = (void *)cmd, .iov_len = strlen(cmd) };
	struct msghdr m = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = c.buf, .msg_controllen = sizeof(c.buf),
	};
	struct cmsghdr *h;
	size_t len = 0;
	ssize_t n;
	char *r;
	int fd, err = 0;

	memset(&c, 0, sizeof(c));
	h = CMSG_FIRSTHDR(&m);
	h->cmsg_level = SOL_SOCKET;
	h->cmsg_type = SCM_CREDENTIALS;
	h->cmsg_len = CMSG_LEN(sizeof(cr));
	memcpy(CMSG_DATA(h), &cr, sizeof(cr));
	fd = qi_connect(pid);
	if (fd < 0)
		return fd;
	if (sendmsg(fd, &m, MSG_NOSIGNAL) != (ssize_t)iov.iov_len) {
		err = -errno;
		goto out;
	}
	if (!reply)
		goto out;
	r = malloc(QI_REPLY_MAX);
	if (!r) {
		err = -ENOMEM;
		goto out;
	}
	while (len < QI_REPLY_MAX - 1 &&
	       (n = recv(fd, r + len, QI_REPLY_MAX - 1 - len, 0)) > 0)
		len += n;
	if (n < 0 && len < QI_REPLY_MAX - 1)
		err = errno == EAGAIN ? -ETIMEDOUT : -errno;
	r[len] = 0;
	*reply = r;
out:
	close(fd);
	return err;
}

/*
 * irqbalance's list of banned IRQs: 0, -EACCES when it did not answer
 * (it takes commands from root only), -EPROTO when the answer is not
 * its "setup" one, -errno.
 */
static int qi_bans_get(int pid, struct irqs *l)
{
	char *r = NULL, *tok, *save;
	int err;

	l->n = 0;
	err = qi_cmd(pid, "setup", &r);
	if (err)
		goto out;
	if (!r[0]) {
		err = -EACCES;
		goto out;
	}
	tok = strtok_r(r, " ", &save);
	if (!tok || strcmp(tok, "SLEEP")) {
		err = -EPROTO;
		goto out;
	}
	while ((tok = strtok_r(NULL, " ", &save)) && strcmp(tok, "BANNED")) {
		if (strcmp(tok, "IRQ"))
			continue;
		tok = strtok_r(NULL, " ", &save);
		if (tok)
			irqs_add(l, atoi(tok));
	}
out:
	free(r);
	return err;
}

/*
 * Replaces the list with l and reads it back: 0 or -errno.  When the list
 * read back differs, prev (the list read before) is sent back: -ESTALE.
 */
static int qi_bans_set(int pid, struct irqs *l, struct irqs *prev)
{
	char cmd[QI_CMD_MAX + 64], list[QI_CMD_MAX + 64];
	struct irqs back;
	int err, len;

	irqs_str(l, list, sizeof(list), ' ');
	/* sorted: an IRQ 0 comes first, where irqbalance's parser takes it */
	len = snprintf(cmd, sizeof(cmd), "settings ban irqs %s",
		       l->n ? list : "NONE");
	if (len >= QI_CMD_MAX)
		return -E2BIG;
	err = qi_cmd(pid, cmd, NULL);
	if (err)
		return err;
	err = qi_bans_get(pid, &back);
	if (err)
		return err;
	if (!back.n && l->n)
		return -EACCES;	/* nothing taken: a caller not root's */
	err = back.n != l->n;
	for (int i = 0; i < l->n; i++)
		err |= !irqs_has(&back, l->v[i]);
	if (!err)
		return 0;
	irqs_str(prev, list, sizeof(list), ' ');
	len = snprintf(cmd, sizeof(cmd), "settings ban irqs %s",
		       prev->n ? list : "NONE");
	if (len < QI_CMD_MAX)
		qi_cmd(pid, cmd, NULL);
	return -ESTALE;
}

static const char *qi_strerror(int err)
{
	switch (err) {
	case -ENOENT:
		return "it has no control socket: an irqbalance older than 1.7, or built without its UI";
	case -EACCES:
		return "it did not take the request: it takes commands from root only";
	case -EPERM:
		return "its socket is not held by irqbalance: refused";
	case -EPROTO:
		return "its socket answered something else than irqbalance's setup";
	case -ESTALE:
		return "the list read back differs from the one sent (another writer, or a command cut short): the list read before was sent back";
	case -E2BIG:
		return "the ban list is longer than the 500 bytes irqbalance takes in one command";
	default:
		return strerror(-err);
	}
}

static const char *lock_strerror(int err)
{
	if (err == -EPERM)
		return "not a regular file of root's of mode 0600 in a directory only root writes (refused)";
	return strerror(-err);
}

static void advice(int pid, const struct irqs *bound, const char *cpus)
{
	char bans[QB_IRQS * 16] = "";
	size_t at = 0;

	for (int i = 0; i < bound->n && at < sizeof(bans); i++)
		at += snprintf(bans + at, sizeof(bans) - at, "%s--banirq=%d",
			       at ? " " : "", bound->v[i]);
	fprintf(stderr,
		"  To keep irqbalance (pid %d) off them for good: in /etc/default/irqbalance set\n"
		"  IRQBALANCE_ARGS=\"%s\"\n"
		"  (or IRQBALANCE_BANNED_CPULIST=%s to keep it off these CPUs),\n"
		"  then restart irqbalance.\n", pid, bans, cpus);
}

static struct json_object *json_irqs(const struct irqs *l)
{
	struct json_object *a = json_object_new_array();

	for (int i = 0; i < l->n; i++)
		json_object_array_add(a, json_object_new_int(l->v[i]));
	return a;
}

/*
 * Bind's step (between the channels and the interrupts' affinity, so the
 * ban holds before the affinity is written): bound holds the IRQs bind
 * pins.  In a check, the ban missing is a drift.  With jres (bind with -j)
 * the outcome is also an object there.
 */
void qi_bind(const char *dev, const int *bound_irqs, int nbound, const char *cpus,
	     struct qb_out *o, struct json_object **jres)
{
	struct irqs *bound = calloc(1, sizeof(*bound)), *bans = calloc(1, sizeof(*bans));
	struct qi_rec *rec = calloc(1, sizeof(*rec));
	char d[QI_TXT], why[QI_TXT], list[QI_LIST];
	struct irqs *add = calloc(1, sizeof(*add));
	unsigned long long start;
	int pid = qd_irqbalance(&start), err = 0, lock = -1, lerr = 0;
	struct irqs prev;
	const char *state;
	bool runtime = false;

	if (!pid || !bound || !bans || !rec || !add)
		goto out;
	if (!nbound) {
		if (!o->check)
			fprintf(stderr, "%s: note: irqbalance is running (pid %d); bind pins no interrupts of %s: nothing to keep it off\n",
				prog, pid, dev);
		goto out;
	}
	for (int i = 0; i < nbound; i++)
		irqs_add(bound, bound_irqs[i]);
	/* held to the record's write: a bind elsewhere waits for this one */
	if (!o->check && !o->dry_run) {
		lock = qd_irqb_lock();
		lerr = lock < 0 ? lock : 0;
	}
	err = lerr ? lerr : qi_bans_get(pid, bans);
	for (int i = 0; !err && i < bound->n; i++)
		if (!irqs_has(bans, bound->v[i]))
			irqs_add(add, bound->v[i]);
	irqs_str(add, list, sizeof(list), ',');
	snprintf(d, sizeof(d), "irqbalance pid %d: ban %s", pid, list);
	if (lerr) {
		snprintf(why, sizeof(why), "the lock %s/irqbalance.lock: %s",
			 QB_STATE_DIR, lock_strerror(lerr));
		qb_step(o, "irqbalance", d, QB_SKIPPED, why);
		state = "unlocked";
	} else if (err) {
		snprintf(why, sizeof(why), "irqbalance's bans cannot be read: %s",
			 qi_strerror(err));
		qb_step(o, "irqbalance", d, QB_SKIPPED, why);
		state = "unreadable";
	} else if (!add->n) {
		qb_step(o, "irqbalance", d, QB_UNCHANGED, NULL);
		runtime = true;
		state = "unchanged";
	} else if (o->dry_run) {
		qb_step(o, "irqbalance", d, QB_PLANNED, NULL);
		state = "planned";
	} else {
		prev = *bans;
		for (int i = 0; i < add->n; i++)
			irqs_add(bans, add->v[i]);
		err = qi_bans_set(pid, bans, &prev);
		snprintf(why, sizeof(why), "banning at run time: %s (not banned)",
			 qi_strerror(err));
		qb_step(o, "irqbalance", d, err ? QB_SKIPPED : QB_DONE, err ? why : NULL);
		runtime = !err;
		state = err ? "refused" : "banned";
	}
	if (o->check)
		goto out;
	if (runtime && !o->dry_run) {
		/* what an earlier bind added under the same daemon is ours too */
		if (!rec_read(dev, rec) && rec->pid == pid &&
		    (!rec->start || rec->start == start))
			for (int i = 0; i < rec->added.n; i++)
				irqs_add(add, rec->added.v[i]);
		rec->pid = pid;
		rec->start = start;
		rec->added = *add;
		rec_write(dev, rec);
	}
	if (lock >= 0)
		close(lock);
	lock = -1;
	irqs_str(bound, list, sizeof(list), ',');
	if (runtime)
		fprintf(stderr, "%s: irqbalance (pid %d): IRQs %s banned at runtime; a runtime ban does not survive an irqbalance restart.\n",
			prog, pid, list);
	else if (o->dry_run && !err)
		fprintf(stderr, "%s: irqbalance (pid %d): IRQs %s would be banned at runtime.\n",
			prog, pid, list);
	else
		fprintf(stderr, "%s: note: irqbalance is running (pid %d) and may move the bound interrupts again;\n"
			"  it could not be told at run time: %s; it is not stopped here.\n",
			prog, pid, qi_strerror(err));
	advice(pid, bound, cpus);
	if (jres) {
		struct json_object *j = json_object_new_object();

		irqs_str(add, list, sizeof(list), ',');
		json_object_object_add(j, "pid", json_object_new_int(pid));
		json_object_object_add(j, "state", json_object_new_string(state));
		json_object_object_add(j, "runtime_ban", json_object_new_boolean(runtime));
		json_object_object_add(j, "added", json_irqs(add));
		json_object_object_add(j, "banned", json_irqs(bans));
		if (err)
			json_object_object_add(j, "reason",
					       json_object_new_string(qi_strerror(err)));
		*jres = j;
	}
out:
	if (lock >= 0)
		close(lock);
	free(bound);
	free(bans);
	free(rec);
	free(add);
}

/*
 * Restore's step: the IRQs bind added leave the list, the others stay.
 * The record goes when its work is done (or cannot be: irqbalance gone or
 * restarted); a refusal keeps it for the next restore.
 */
void qi_restore(const char *dev, struct qb_out *o)
{
	struct irqs *bans = calloc(1, sizeof(*bans)), *keep = calloc(1, sizeof(*keep));
	struct qi_rec *rec = calloc(1, sizeof(*rec));
	char d[QI_TXT], why[QI_TXT], list[QI_LIST], path[300];
	struct irqs gone = { 0 };
	unsigned long long start;
	int pid, err, lock = -1;
	bool same;

	rec_path(dev, path, sizeof(path));
	if (!bans || !keep || !rec || access(path, F_OK))
		goto out;
	lock = qd_irqb_lock();
	if (lock < 0) {
		snprintf(why, sizeof(why), "the lock %s/irqbalance.lock: %s (the record %s is kept)",
			 QB_STATE_DIR, lock_strerror(lock), path);
		qb_step(o, "irqbalance", "irqbalance: unban", QB_FAILED, why);
		goto out;
	}
	if (rec_read(dev, rec))
		goto out;
	irqs_str(&rec->added, list, sizeof(list), ',');
	snprintf(d, sizeof(d), "irqbalance pid %d: unban %s", rec->pid, list);
	/* the recorded daemon, if it still runs, whatever else is named so */
	same = qd_irqbalance_is(rec->pid, rec->start);
	pid = same ? rec->pid : qd_irqbalance(&start);
	if (!same) {
		if (pid)
			snprintf(why, sizeof(why), "irqbalance restarted (pid %d now%s): the runtime bans of pid %d went with it",
				 pid, pid == rec->pid ? ", started anew" : "", rec->pid);
		else
			snprintf(why, sizeof(why), "irqbalance (pid %d) is gone: its runtime bans went with it",
				 rec->pid);
		qb_step(o, "irqbalance", d, QB_SKIPPED, why);
		unlink(path);
		goto out;
	}
	err = qi_bans_get(pid, bans);
	for (int i = 0; !err && i < bans->n; i++) {
		if (irqs_has(&rec->added, bans->v[i]))
			irqs_add(&gone, bans->v[i]);
		else
			irqs_add(keep, bans->v[i]);
	}
	if (!err && !gone.n) {
		qb_step(o, "irqbalance", d, QB_UNCHANGED, "no longer banned");
		unlink(path);
		goto out;
	}
	err = err ? err : qi_bans_set(pid, keep, bans);
	irqs_str(keep, list, sizeof(list), ',');
	snprintf(why, sizeof(why), "%s (the record %s is kept)", qi_strerror(err), path);
	if (!err) {
		snprintf(why, sizeof(why), "still banned: %s", list);
		unlink(path);
	}
	qb_step(o, "irqbalance", d, err ? QB_FAILED : QB_DONE, why);
out:
	if (lock >= 0)
		close(lock);
	free(bans);
	free(keep);
	free(rec);
}
