// SPDX-License-Identifier: GPL-2.0
/*
 * nstcp queue bind: what sysfs and procfs say of a device's queues and
 * interrupts and of the CPUs, and the CPU lists and masks they use.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qbind.h"

int cpuset_parse_list(const char *s, struct cpuset *set)
{
	const char *p = s;
	char *end;
	long a, b;

	memset(set, 0, sizeof(*set));
	if (!*p)
		return -EINVAL;
	for (;;) {
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		a = strtol(p, &end, 10);
		b = a;
		if (*end == '-') {
			p = end + 1;
			if (!isdigit((unsigned char)*p))
				return -EINVAL;
			b = strtol(p, &end, 10);
		}
		if (a > b || b >= QB_CPUS)
			return b >= QB_CPUS ? -ERANGE : -EINVAL;
		for (long c = a; c <= b; c++)
			cpuset_add(set, c);
		if (!*end)
			return 0;
		if (*end != ',')
			return -EINVAL;
		p = end + 1;
	}
}

int cpuset_count(const struct cpuset *s)
{
	int n = 0;

	for (int c = 0; c < QB_CPUS; c++)
		n += cpuset_has(s, c);
	return n;
}

void cpuset_list(const struct cpuset *s, char *buf, size_t len)
{
	size_t at = 0;

	buf[0] = 0;
	for (int c = 0; c < QB_CPUS && at < len; c++) {
		int e = c;

		if (!cpuset_has(s, c))
			continue;
		while (e + 1 < QB_CPUS && cpuset_has(s, e + 1))
			e++;
		if (e > c)
			at += snprintf(buf + at, len - at, "%s%d-%d", at ? "," : "", c, e);
		else
			at += snprintf(buf + at, len - at, "%s%d", at ? "," : "", c);
		c = e;
	}
}

void cpuset_mask(const struct cpuset *s, char *buf, size_t len)
{
	int top = -1;
	size_t at = 0;

	for (int g = 0; g < QB_CPUS / 32; g++)
		if ((uint32_t)(s->w[g / 2] >> (g % 2 * 32)))
			top = g;
	if (top < 0) {
		snprintf(buf, len, "0");
		return;
	}
	for (int g = top; g >= 0 && at < len; g--)
		at += snprintf(buf + at, len - at, g == top ? "%x" : ",%08x",
			       (uint32_t)(s->w[g / 2] >> (g % 2 * 32)));
}

int qd_read(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	int err;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	err = errno;
	close(fd);
	if (n < 0)
		return -err;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

/* Whether open @fd is a regular file of root's that only root may use. */
bool qd_root_private(int fd)
{
	struct stat st;

	return !fstat(fd, &st) && S_ISREG(st.st_mode) && !st.st_uid &&
	       !(st.st_mode & 077);
}

/*
 * Reads the record file @path, root's and private, into @buf (NUL
 * ended): its length, or -errno (-EPERM not root's and private, -EINVAL
 * empty).
 */
ssize_t qd_read_private(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	if (!qd_root_private(fd)) {
		close(fd);
		return -EPERM;
	}
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return -EINVAL;
	buf[n] = 0;
	return n;
}

/*
 * Writes @text as the record file @path, root's and private (mode 0600):
 * into a new file beside it (PATH.PID, O_EXCL, not through a link) renamed
 * over @path, so that a reader finds the old record or the new one whole.
 * 0 or -errno; on failure the temporary file is removed (a stale one of
 * an earlier process with our pid too).
 */
int qd_write_private(const char *path, const char *text)
{
	size_t len = strlen(text);
	char tmp[PATH_MAX];
	int fd, err = 0;
	ssize_t n;

	if (snprintf(tmp, sizeof(tmp), "%s.%d", path, (int)getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = errno;
	} else {
		n = write(fd, text, len);
		if (n < 0)
			err = errno;
		else if ((size_t)n != len)
			err = EIO;
		if (close(fd) && !err)
			err = errno;
	}
	if (!err && rename(tmp, path))
		err = errno;
	if (err)
		unlink(tmp);
	return -err;
}

int qd_write(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;
	int err;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	err = errno;
	if (close(fd) < 0 && n >= 0)
		return -errno;
	if (n < 0)
		return -err;
	return (size_t)n == strlen(s) ? 0 : -EIO;
}

int qd_read_long(const char *path, long *v)
{
	char buf[64], *end;
	int err = qd_read(path, buf, sizeof(buf));

	if (err)
		return err;
	*v = strtol(buf, &end, 10);
	return end == buf ? -EINVAL : 0;
}

/*
 * The queue an interrupt's name gives, with its kind: virtio's
 * "virtioN-input.Q" / "-output.Q", and the usual "DEV-TxRx-Q",
 * "DEV-rx-Q", "DEV-tx-Q" of other drivers.  -1 if it names no queue.
 */
static int irq_queue(const char *name, const char *dev, char *kind)
{
	static const struct {
		const char *tag;
		char kind;
		bool dev;	/* the name must also have the device's */
	} tags[] = {
		{ "-input.", 'r', false }, { "-output.", 't', false },
		{ "-TxRx-", 'b', true }, { "-txrx-", 'b', true },
		{ "-rx-", 'r', true }, { "-tx-", 't', true },
	};
	const char *p;
	char *end;
	long q;

	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		p = strstr(name, tags[i].tag);
		if (!p || (tags[i].dev && strncmp(name, dev, strlen(dev))))
			continue;
		p += strlen(tags[i].tag);
		q = strtol(p, &end, 10);
		if (end == p || *end || q < 0 || q >= QB_QUEUES)
			continue;
		*kind = tags[i].kind;
		return q;
	}
	return -1;
}

/* The name /proc/interrupts gives irq (its last column). */
static int irq_name(FILE *f, int irq, char *name, size_t len)
{
	char line[8192], *p, *last;

	rewind(f);
	while (fgets(line, sizeof(line), f)) {
		if (strtol(line, &p, 10) != irq || *p != ':')
			continue;
		line[strcspn(line, "\n")] = 0;
		last = strrchr(line, ' ');
		snprintf(name, len, "%s", last ? last + 1 : "");
		return 0;
	}
	return -ENOENT;
}

static int by_queue(const void *a, const void *b)
{
	const struct qirq *x = a, *y = b;

	return x->queue != y->queue ? x->queue - y->queue : x->kind - y->kind;
}

int qd_irqs(const char *dev, struct qirq *irqs, int max)
{
	static const char *const dirs[] = { "device/msi_irqs", "device/../msi_irqs" };
	char path[512];
	struct dirent *de;
	int n = 0;
	DIR *d = NULL;
	FILE *f;

	for (size_t i = 0; !d && i < 2; i++) {
		snprintf(path, sizeof(path), "/sys/class/net/%s/%s", dev, dirs[i]);
		d = opendir(path);
	}
	if (!d)
		return 0;
	f = fopen("/proc/interrupts", "re");
	if (!f) {
		closedir(d);
		return -errno;
	}
	while ((de = readdir(d)) && n < max) {
		struct qirq *q = &irqs[n];

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		q->irq = atoi(de->d_name);
		if (irq_name(f, q->irq, q->name, sizeof(q->name)))
			continue;
		q->queue = irq_queue(q->name, dev, &q->kind);
		if (q->queue >= 0)
			n++;
	}
	fclose(f);
	closedir(d);
	qsort(irqs, n, sizeof(*irqs), by_queue);
	return n;
}

int qd_queues(const char *dev, bool rx)
{
	char path[512];
	int n = 0;

	for (;;) {
		snprintf(path, sizeof(path), "/sys/class/net/%s/queues/%s-%d", dev,
			 rx ? "rx" : "tx", n);
		if (access(path, F_OK))
			return n;
		n++;
	}
}
