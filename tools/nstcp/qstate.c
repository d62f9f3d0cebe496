// SPDX-License-Identifier: GPL-2.0
/*
 * nstcp queue bind|restore: the settings bind may change, saved before it
 * changes any (JSON in /run/nstcp/queue-DEV.json, mode 0600, written to a
 * new file and renamed), and put back exactly by restore.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qbind.h"

int qs_path(const char *dev, char *buf, size_t len)
{
	return snprintf(buf, len, "%s/queue-%s.json", QB_STATE_DIR, dev);
}

static void add_str(struct json_object *o, const char *key, const char *path)
{
	char buf[4096];

	if (!qd_read(path, buf, sizeof(buf)))
		json_object_object_add(o, key, json_object_new_string(buf));
}

static struct json_object *queues(const char *dev, bool rx)
{
	struct json_object *arr = json_object_new_array();
	int n = qd_queues(dev, rx);
	char path[300];

	for (int q = 0; q < n; q++) {
		struct json_object *e = json_object_new_object();
		const char *base = "/sys/class/net/%s/queues/%s-%d/%s";

		json_object_object_add(e, "queue", json_object_new_int(q));
		if (rx) {
			snprintf(path, sizeof(path), base, dev, "rx", q, "rps_cpus");
			add_str(e, "rps_cpus", path);
			snprintf(path, sizeof(path), base, dev, "rx", q, "rps_flow_cnt");
			add_str(e, "rps_flow_cnt", path);
		} else {
			snprintf(path, sizeof(path), base, dev, "tx", q, "xps_cpus");
			add_str(e, "xps_cpus", path);
		}
		json_object_array_add(arr, e);
	}
	return arr;
}

static struct json_object *snapshot(const char *dev, const struct qirq *irqs,
				    int nirq)
{
	struct json_object *s = json_object_new_object(), *a;
	struct eth_channels ch;
	char path[300];
	uint32_t *t, n;

	json_object_object_add(s, "dev", json_object_new_string(dev));
	if (!eth_channels_get(dev, &ch)) {
		a = json_object_new_object();
		json_object_object_add(a, "rx", json_object_new_int64(ch.rx));
		json_object_object_add(a, "tx", json_object_new_int64(ch.tx));
		json_object_object_add(a, "combined", json_object_new_int64(ch.combined));
		json_object_object_add(a, "rx_max", json_object_new_int64(ch.rx_max));
		json_object_object_add(a, "tx_max", json_object_new_int64(ch.tx_max));
		json_object_object_add(a, "combined_max",
				       json_object_new_int64(ch.combined_max));
		json_object_object_add(s, "channels", a);
	}
	if (!eth_indir_get(dev, &t, &n)) {
		a = json_object_new_array();
		for (uint32_t i = 0; i < n; i++)
			json_object_array_add(a, json_object_new_int64(t[i]));
		json_object_object_add(s, "indir", a);
		free(t);
	}
	a = json_object_new_array();
	for (int i = 0; i < nirq; i++) {
		struct json_object *e = json_object_new_object();

		json_object_object_add(e, "irq", json_object_new_int(irqs[i].irq));
		json_object_object_add(e, "name", json_object_new_string(irqs[i].name));
		snprintf(path, sizeof(path), "/proc/irq/%d/smp_affinity_list", irqs[i].irq);
		add_str(e, "affinity", path);
		json_object_array_add(a, e);
	}
	json_object_object_add(s, "irqs", a);
	json_object_object_add(s, "rx", queues(dev, true));
	json_object_object_add(s, "tx", queues(dev, false));
	add_str(s, "rps_sock_flow_entries", "/proc/sys/net/core/rps_sock_flow_entries");
	qs_ntuple_save(dev, s);
	return s;
}

/*
 * The state directory: root's, a directory, writable by no one else (a
 * group or other writer could replace the files restore trusts).
 */
static int dir_ok(void)
{
	struct stat st;

	if (lstat(QB_STATE_DIR, &st) && errno == ENOENT)
		return -ENOENT;
	if (lstat(QB_STATE_DIR, &st) || !S_ISDIR(st.st_mode) || st.st_uid ||
	    st.st_mode & 022) {
		fprintf(stderr, "%s: %s is not a directory of root's writable only by root (refused)\n",
			prog, QB_STATE_DIR);
		return -EPERM;
	}
	return 0;
}

/* An opened state file: a regular file of root's, mode 0600. */
static int file_ok(int fd, const char *path)
{
	struct stat st;

	if (fstat(fd, &st))
		return -errno;
	if (S_ISREG(st.st_mode) && !st.st_uid && (st.st_mode & 07777) == 0600)
		return 0;
	fprintf(stderr, "%s: %s is not a regular file of root's with mode 0600 (%s, uid %u, mode %04o): refused\n",
		prog, path, S_ISREG(st.st_mode) ? "regular file" :
		S_ISFIFO(st.st_mode) ? "FIFO" : S_ISDIR(st.st_mode) ? "directory" :
		"not a regular file", (unsigned int)st.st_uid,
		(unsigned int)(st.st_mode & 07777));
	return -EPERM;
}

/* Opens a state file without following a link or blocking on a FIFO. */
static int open_checked(const char *path)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	int err;

	if (fd < 0) {
		err = -errno;
		if (err == -ELOOP)
			fprintf(stderr, "%s: %s is a symbolic link: refused\n", prog,
				path);
		return err;
	}
	err = file_ok(fd, path);
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

int qs_save(const char *dev, const struct qirq *irqs, int nirq, bool *kept)
{
	char path[300], tmp[320];
	struct json_object *s;
	struct stat st;
	const char *txt;
	ssize_t len;
	int fd, err = 0;

	*kept = false;
	qs_path(dev, path, sizeof(path));
	if (mkdir(QB_STATE_DIR, 0700) && errno != EEXIST) {
		err = -errno;
		goto fail;
	}
	err = dir_ok();
	if (err)
		return err;
	if (!lstat(path, &st)) {
		/* the first bind's: the original settings, if it is sound */
		fd = open_checked(path);
		if (fd < 0)
			return fd;
		close(fd);
		*kept = true;
		return 0;
	}
	snprintf(tmp, sizeof(tmp), "%s.%d", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = -errno;
		goto fail;
	}
	s = snapshot(dev, irqs, nirq);
	txt = json_object_to_json_string_ext(s, JSON_C_TO_STRING_PRETTY);
	len = strlen(txt);
	if (write(fd, txt, len) != len || write(fd, "\n", 1) != 1 || fsync(fd))
		err = errno ? -errno : -EIO;
	json_object_put(s);
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
	if (!err)
		return 0;
fail:
	fprintf(stderr, "%s: saving the settings in %s: %s (nothing changed)\n",
		prog, path, strerror(-err));
	return err;
}

static struct json_object *load(const char *path)
{
	static char buf[1 << 20];
	ssize_t n;
	int fd;

	fd = dir_ok();
	if (!fd)
		fd = open_checked(path);
	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0) {
		errno = EINVAL;
		return NULL;
	}
	buf[n] = 0;
	errno = EINVAL;
	return json_tokener_parse(buf);
}

static const char *get_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

static int64_t get_int(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

/* The saved table (malloc()ed). */
static uint32_t *saved_indir(struct json_object *ind, uint32_t *n)
{
	uint32_t *t;

	*n = json_object_array_length(ind);
	t = calloc(*n ? *n : 1, sizeof(*t));
	for (uint32_t i = 0; t && i < *n; i++)
		t[i] = json_object_get_int64(json_object_array_get_idx(ind, i));
	return t;
}

/* Whether t is the driver's default: the even spread over rings queues. */
static bool even_over(const uint32_t *t, uint32_t n, uint32_t rings)
{
	for (uint32_t i = 0; i < n; i++)
		if (!rings || t[i] != i % rings)
			return false;
	return n > 0;
}

/* Whether the device's table is now the saved one. */
static bool indir_is(const char *dev, const uint32_t *want, uint32_t n)
{
	uint32_t *t, m;
	bool same;

	if (eth_indir_get(dev, &t, &m))
		return false;
	same = m == n && !memcmp(t, want, n * sizeof(*t));
	free(t);
	return same;
}

/*
 * Channels, then the table.  A table configured by bind may name queues
 * the saved channel count drops, so it goes back to the driver's default
 * first; when the saved table is that default, this is its restore (a
 * driver such as 6.1's virtio_net keeps the table when channels change).
 */
static void restore_ethtool(const char *dev, struct json_object *s,
			    struct qb_out *o)
{
	struct json_object *ch, *ind = NULL;
	struct eth_channels want, cur;
	uint32_t *t = NULL, n = 0;
	bool even, reset = false;
	char d[96];
	int err;

	if (json_object_object_get_ex(s, "indir", &ind))
		t = saved_indir(ind, &n);
	if (json_object_object_get_ex(s, "channels", &ch)) {
		want.rx = get_int(ch, "rx");
		want.tx = get_int(ch, "tx");
		want.combined = get_int(ch, "combined");
		want.rx_max = get_int(ch, "rx_max");
		want.tx_max = get_int(ch, "tx_max");
		want.combined_max = get_int(ch, "combined_max");
		snprintf(d, sizeof(d), "combined %u rx %u tx %u", want.combined,
			 want.rx, want.tx);
		err = eth_channels_get(dev, &cur);
		if (!err && cur.rx == want.rx && cur.tx == want.tx &&
		    cur.combined == want.combined) {
			qb_step(o, "channels", d, QB_UNCHANGED, NULL);
		} else {
			if (t)
				reset = !eth_indir_set(dev, NULL, 0);
			err = err ? err : eth_channels_set(dev, &want);
			qb_step(o, "channels", d, err ? QB_FAILED : QB_DONE,
				err ? strerror(-err) : NULL);
		}
	}
	if (!t)
		return;
	snprintf(d, sizeof(d), "%u entries as saved", n);
	if (indir_is(dev, t, n)) {
		qb_step(o, "rss indir", d, reset ? QB_DONE : QB_UNCHANGED, NULL);
		free(t);
		return;
	}
	even = even_over(t, n, qd_queues(dev, true));
	err = eth_indir_set(dev, t, even ? 0 : n);
	if (even)
		snprintf(d, sizeof(d), "the driver's default");
	qb_step(o, "rss indir", d, err ? QB_FAILED : QB_DONE,
		err ? strerror(-err) : NULL);
	free(t);
}

static void restore_files(const char *dev, struct json_object *s,
			  struct qb_out *o)
{
	static const char *const keys[][2] = {
		{ "rx", "rps_cpus" }, { "rx", "rps_flow_cnt" }, { "tx", "xps_cpus" },
	};
	struct json_object *a, *e;
	char what[48], path[300];
	const char *v;

	if (json_object_object_get_ex(s, "irqs", &a)) {
		for (size_t i = 0; i < json_object_array_length(a); i++) {
			e = json_object_array_get_idx(a, i);
			v = get_str(e, "affinity");
			snprintf(what, sizeof(what), "irq %d", (int)get_int(e, "irq"));
			snprintf(path, sizeof(path), "/proc/irq/%d/smp_affinity_list",
				 (int)get_int(e, "irq"));
			if (v)
				qb_write_step(o, what, path, v, false);
		}
	}
	for (size_t k = 0; k < 3; k++) {
		if (!json_object_object_get_ex(s, keys[k][0], &a))
			continue;
		for (size_t i = 0; i < json_object_array_length(a); i++) {
			e = json_object_array_get_idx(a, i);
			v = get_str(e, keys[k][1]);
			snprintf(what, sizeof(what), "%s %s-%d", keys[k][1],
				 keys[k][0], (int)get_int(e, "queue"));
			snprintf(path, sizeof(path), "/sys/class/net/%s/queues/%s-%d/%s",
				 dev, keys[k][0], (int)get_int(e, "queue"), keys[k][1]);
			if (v)
				qb_write_step(o, what, path, v, false);
		}
	}
	v = get_str(s, "rps_sock_flow_entries");
	if (v)
		qb_write_step(o, "rfs", "/proc/sys/net/core/rps_sock_flow_entries", v,
			      false);
}

/*
 * Whether the saved settings name only the device's own interrupts now
 * and queues it has (or may have: its channel maximum, as restore sets
 * the channels first): a file naming others is refused before anything
 * is written.
 */
static int check_saved(const char *dev, struct json_object *s)
{
	static const char *const dirs[] = { "rx", "tx" };
	struct json_object *a, *e;
	struct eth_channels ch;
	int nirq, n, irq, q;
	struct qirq *irqs;
	size_t i;

	for (int k = 0; k < 4; k++) {
		static const char *const arrays[] = { "irqs", "rx", "tx", "indir" };

		if (json_object_object_get_ex(s, arrays[k], &a) &&
		    !json_object_is_type(a, json_type_array)) {
			fprintf(stderr, "%s: the saved \"%s\" is not a list: refused, nothing changed\n",
				prog, arrays[k]);
			return -EINVAL;
		}
	}
	irqs = calloc(QB_IRQS, sizeof(*irqs));
	if (!irqs)
		return -ENOMEM;
	nirq = qd_irqs(dev, irqs, QB_IRQS);
	if (nirq < 0)
		nirq = 0;
	if (json_object_object_get_ex(s, "irqs", &a)) {
		for (i = 0; i < json_object_array_length(a); i++) {
			irq = get_int(json_object_array_get_idx(a, i), "irq");
			for (n = 0; n < nirq && irqs[n].irq != irq; n++)
				;
			if (n == nirq) {
				fprintf(stderr, "%s: the saved settings name irq %d, not one of %s's queue interrupts: refused, nothing changed\n",
					prog, irq, dev);
				free(irqs);
				return -EINVAL;
			}
		}
	}
	free(irqs);
	for (int k = 0; k < 2; k++) {
		if (!json_object_object_get_ex(s, dirs[k], &a))
			continue;
		/* now, or as many as the channels restored first may give */
		n = qd_queues(dev, !k);
		if (!eth_channels_get(dev, &ch) &&
		    ch.combined_max + (k ? ch.tx_max : ch.rx_max) > (uint32_t)n)
			n = ch.combined_max + (k ? ch.tx_max : ch.rx_max);
		for (i = 0; i < json_object_array_length(a); i++) {
			e = json_object_array_get_idx(a, i);
			q = get_int(e, "queue");
			if (q < 0 || q >= n) {
				fprintf(stderr, "%s: the saved settings name queue %s-%d, %s has %d at most: refused, nothing changed\n",
					prog, dirs[k], q, dev, n);
				return -EINVAL;
			}
		}
	}
	return 0;
}

int do_queue_restore(int argc, char **argv)
{
	struct qb_out o = { 0 };
	struct json_object *s;
	const char *dev = NULL;
	char path[300];
	int ifindex;

	if (argc == 2 && !strcmp(argv[0], "dev"))
		dev = argv[1];
	else
		usage_error("queue restore dev DEV");
	ifindex = if_nametoindex(dev);
	if (!ifindex) {
		fprintf(stderr, "%s: no device \"%s\"\n", prog, dev);
		return 1;
	}
	if (geteuid()) {
		fprintf(stderr, "%s: queue restore dev %s: %s (it needs root)\n",
			prog, dev, strerror(EPERM));
		return 1;
	}
	qs_path(dev, path, sizeof(path));
	s = load(path);
	if (!s || strcmp(get_str(s, "dev") ? get_str(s, "dev") : "", dev)) {
		fprintf(stderr, "%s: no saved settings of %s in %s: %s\n", prog, dev,
			path, errno == ENOENT ? "nothing to restore (not bound)" :
			"unreadable or refused");
		json_object_put(s);
		return 1;
	}
	if (check_saved(dev, s)) {
		json_object_put(s);
		return 1;
	}
	if (opt.json)
		o.steps = json_object_new_array();
	else
		printf("queue restore dev %s (from %s)\n", dev, path);
	restore_ethtool(dev, s, &o);
	restore_files(dev, s, &o);
	qs_ntuple_restore(dev, s, &o);
	qi_restore(dev, &o);
	qb_map_del(ifindex, &o);
	json_object_put(s);
	if (!o.failed) {
		unlink(path);
		qb_bound_remove(dev);
	}
	if (o.steps) {
		struct json_object *r = json_object_new_object();

		json_object_object_add(r, "dev", json_object_new_string(dev));
		json_object_object_add(r, "steps", o.steps);
		out_json(r);
	} else if (o.failed) {
		printf("%d step%s failed: %s is kept\n", o.failed,
		       o.failed == 1 ? "" : "s", path);
	}
	return o.failed ? 1 : 0;
}
