// SPDX-License-Identifier: GPL-2.0
/*
 * nstcpd's configuration file (Documentation/man/nstcpd.conf.5.rst): an
 * INI-like file of [global] and [service NAME] blocks of `key = value`
 * lines.  Every error is printed as FILE:LINE: message; a file with any
 * error is refused whole.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <linux/types.h>
#include <linux/nstcp.h>

#include "config.h"

void perr(struct parser *p, int line, const char *fmt, ...)
{
	struct perror *e = realloc(p->err, (p->errors + 1) * sizeof(*e));
	va_list ap;

	if (!e) {
		fprintf(stderr, "%s:%d: (out of memory for the message)\n",
			p->file, line);
		return;
	}
	p->err = e;
	e = &e[p->errors];
	e->line = line;
	e->seq = p->errors++;
	va_start(ap, fmt);
	vsnprintf(e->text, sizeof(e->text), fmt, ap);
	va_end(ap);
}

static int perror_cmp(const void *a, const void *b)
{
	const struct perror *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Prints the errors as FILE:LINE: message, in line order. */
static void perr_flush(struct parser *p)
{
	int i;

	qsort(p->err, p->errors, sizeof(*p->err), perror_cmp);
	for (i = 0; i < p->errors; i++)
		fprintf(stderr, "%s:%d: %s\n", p->file, p->err[i].line,
			p->err[i].text);
	free(p->err);
	p->err = NULL;
}

const char *nd_model_name(enum nd_model m)
{
	switch (m) {
	case ND_MODEL_STANDARD:
		return "standard";
	case ND_MODEL_MONOLITHIC:
		return "monolithic";
	case ND_MODEL_HYBRID:
		return "hybrid";
	case ND_MODEL_DISTRIBUTOR:
		return "distributor";
	case ND_MODEL_BROKER:
		return "broker";
	default:
		return "none";
	}
}

const char *nd_policy_name(int policy)
{
	switch (policy) {
	case NSTCP_POLICY_CPU:
		return "cpu";
	case NSTCP_POLICY_ROUNDROBIN:
		return "roundrobin";
	case NSTCP_POLICY_LEAST:
		return "least";
	default:
		return "default";
	}
}

/*
 * The broker model's keys, checked when a block ends: "servers" needed,
 * its ports (one per worker) within 65535 and apart from the listening
 * ports; "servers", "expire_ms" and "lease_ms" for this model only.
 * max_conns, per_source and cps are each server's port's limits.
 */
static void broker_check(struct parser *p)
{
	const struct nd_service *s = p->cur;
	int broker = s->model == ND_MODEL_BROKER, i, n, base, lp;

	if (!broker) {
		for (i = K_SERVERS; i <= K_EXPIRE; i++)
			if (s->model != ND_MODEL_NONE && (p->seen & (1u << i)))
				perr(p, p->key_line[i], "\"%s\" is for the broker model",
				     nd_keys[i]);
		if (s->model != ND_MODEL_NONE && (p->seen & (1u << K_LEASE)))
			perr(p, p->key_line[K_LEASE], "\"%s\" is for the broker model",
			     nd_keys[K_LEASE]);
		return;
	}
	if (!(p->seen & (1u << K_SERVERS))) {
		perr(p, s->line, "service %s: the broker model needs \"servers\"",
		     s->name);
		return;
	}
	n = s->workers ? s->workers : s->ncpus;
	if (!n) {	/* one per CPU nstcpd may run on, as finish() sets */
		cpu_set_t set;

		n = sched_getaffinity(0, sizeof(set), &set) ? 1 : CPU_COUNT(&set);
	}
	base = ntohs(((const struct sockaddr_in *)&s->srv_addr)->sin_port);
	if (base + n - 1 > 65535)
		perr(p, p->key_line[K_SERVERS],
		     "servers: ports %d to %d: beyond 65535", base, base + n - 1);
	for (i = 0; i < p->cfg->nsvc; i++) {
		const struct nd_service *o = &p->cfg->svc[i];

		if (!o->listen_line)
			continue;
		lp = nd_addr_port(o);
		if (lp >= base && lp < base + n)
			perr(p, p->key_line[K_SERVERS],
			     "servers: ports %d to %d include port %d of service %s (line %d)",
			     base, base + n - 1, lp, o->name, o->listen_line);
	}
}

static void service_end(struct parser *p)
{
	struct nd_service *s = p->cur;
	int i;

	if (!s)
		return;
	if (!s->listen_line)
		perr(p, s->line, "service %s: no \"listen\"", s->name);
	if (!s->exec_line)
		perr(p, s->line, "service %s: no \"exec\"", s->name);
	if (!s->model_line)
		perr(p, s->line, "service %s: no \"model\"", s->name);
	if (s->model != ND_MODEL_STANDARD && s->model != ND_MODEL_NONE) {
		static const int std_only[] = { K_STDIO, K_TAKE, K_PER_SOURCE };

		/*
		 * per_source: the distributor's fronts count sources too, and
		 * the kernel for the monolithic model's port and the broker
		 * model's servers' ports.
		 */
		for (i = 0; i < (s->model == ND_MODEL_DISTRIBUTOR ||
				 s->model == ND_MODEL_MONOLITHIC ||
				 s->model == ND_MODEL_BROKER ? 2 : 3); i++)
			if (p->seen & (1u << std_only[i]))
				perr(p, p->key_line[std_only[i]],
				     "\"%s\" is for the standard model (service %s is %s)",
				     nd_keys[std_only[i]], s->name,
				     nd_model_name(s->model));
	}
	if (s->model == ND_MODEL_DISTRIBUTOR) {
		static const int no_dist[] = { K_TIMEOUT };

		for (i = 0; i < 1; i++)
			if (p->seen & (1u << no_dist[i]))
				perr(p, p->key_line[no_dist[i]],
				     "\"%s\" is not for the distributor model",
				     nd_keys[no_dist[i]]);
	} else if (s->model != ND_MODEL_NONE && (p->seen & (1u << K_BUFFER))) {
		perr(p, p->key_line[K_BUFFER], "\"buffer_kb\" is for the distributor model");
	}
	nd_service_ids(p, s);
	if (s->model != ND_MODEL_HYBRID && s->model != ND_MODEL_NONE &&
	    (p->seen & (1u << K_BUSY)))
		perr(p, p->key_line[K_BUSY], "\"busy\" is for the hybrid model");
	if (s->model != ND_MODEL_HYBRID && s->model != ND_MODEL_NONE &&
	    (p->seen & (1u << K_TAKEBACK)))
		perr(p, p->key_line[K_TAKEBACK], "\"takeback_ms\" is for the hybrid model");
	else if (s->takeback_ms && s->takeback_ms >= s->timeout_ms / 2 &&
		 (p->seen & (1u << K_TAKEBACK)))
		perr(p, p->key_line[K_TAKEBACK],
		     "takeback_ms: %u is not below half of timeout_ms (%u)",
		     s->takeback_ms, s->timeout_ms);
	else if (s->takeback_ms >= s->timeout_ms / 2)
		s->takeback_ms = 0;	/* the default: half the timeout first */
	if (s->model == ND_MODEL_STANDARD && (p->seen & (1u << K_WORKERS)))
		perr(p, p->key_line[K_WORKERS],
		     "\"workers\" is not for the standard model (a process per connection)");
	broker_check(p);
	if (s->stdio && s->take_program)
		perr(p, p->key_line[K_TAKE], "\"take = program\" cannot go with \"stdio = yes\" (line %d)",
		     p->key_line[K_STDIO]);
	if (!s->listen_line)
		return;
	for (i = 0; i < p->cfg->nsvc - 1; i++) {
		const struct nd_service *o = &p->cfg->svc[i];

		if (o->listen_line && nd_addr_port(o) == nd_addr_port(s))
			perr(p, s->listen_line, "service %s: port %d is service %s's (line %d)",
			     s->name, nd_addr_port(s), o->name, o->listen_line);
	}
}

static void section(struct parser *p, char *text)
{
	struct nd_service *s;
	char *name;
	size_t n;
	int i;

	service_end(p);
	p->cur = NULL;
	p->in_global = 0;
	p->seen = 0;
	if (!strcmp(text, "global")) {
		p->in_global = 1;
		return;
	}
	if (strncmp(text, "service", 7) || !isspace((unsigned char)text[7])) {
		perr(p, p->line, "unknown section [%s] (want [global] or [service NAME])",
		     text);
		return;
	}
	name = text + 8;
	while (isspace((unsigned char)*name))
		name++;
	n = strlen(name);
	if (!n || n > ND_NAME_MAX || strspn(name,
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") != n) {
		perr(p, p->line, "service name \"%s\" is not 1 to %d of [A-Za-z0-9_.-]",
		     name, ND_NAME_MAX);
		return;
	}
	for (i = 0; i < p->cfg->nsvc; i++)
		if (!strcmp(p->cfg->svc[i].name, name))
			perr(p, p->line, "service %s defined again (first at line %d)",
			     name, p->cfg->svc[i].line);
	s = realloc(p->cfg->svc, (p->cfg->nsvc + 1) * sizeof(*s));
	if (!s) {
		perr(p, p->line, "out of memory");
		return;
	}
	p->cfg->svc = s;
	s = &s[p->cfg->nsvc++];
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->line = p->line;
	s->timeout_ms = 5000;
	s->takeback_ms = ND_TAKEBACK_DEF_MS;
	s->busy = 1;
	s->backlog = 128;
	s->expire_ms = 3000;
	s->lease_ms = ND_LEASE_DEF_MS;
	s->lfd = -1;
	s->buf_kb = 64;
	s->drain_s = ND_DRAIN_DEF_S;
	p->cur = s;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

/* Defaults that depend on the machine, once the file parsed. */
static void finish(struct nd_config *cfg)
{
	int i, k;

	for (i = 0; i < cfg->nsvc; i++) {
		struct nd_service *s = &cfg->svc[i];
		char *w = s->exec_buf;

		/*
		 * The array of services moved as it grew: point argv at this
		 * copy's words (exec_buf holds them one after the other).
		 */
		for (k = 0; k < s->argc; k++) {
			s->argv[k] = w;
			w += strlen(w) + 1;
		}
		s->argv[s->argc] = NULL;

		if (!s->ncpus) {
			if (sched_getaffinity(0, sizeof(s->cpus), &s->cpus))
				CPU_SET(0, &s->cpus);
			s->ncpus = CPU_COUNT(&s->cpus);
		}
		if (!s->key[0])
			snprintf(s->key, sizeof(s->key), "nd%d",
				 ntohs(((struct sockaddr_in *)&s->addr)->sin_port));
	}
}

/*
 * nstcpd run as root takes its programs and users from the file: refuse
 * a file, or a directory holding it, that anyone but root may change (as
 * sshd's StrictModes does).
 */
static int strict_modes(const char *path, int fd)
{
	char dir[512], *slash;
	struct stat st;

	if (geteuid() != 0)
		return 0;
	if (fstat(fd, &st))
		return -1;
	if (st.st_uid != 0 || (st.st_mode & 022)) {
		fprintf(stderr, "%s: refused: owned by uid %u, mode %04o: it must be root's and writable by root only\n",
			path, (unsigned int)st.st_uid, st.st_mode & 07777);
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = 0;
	else
		*slash = 0;
	if (stat(dir, &st)) {
		fprintf(stderr, "%s: %s\n", dir, strerror(errno));
		return -1;
	}
	if (st.st_uid != 0 || (st.st_mode & 022)) {
		fprintf(stderr, "%s: refused: its directory %s is owned by uid %u, mode %04o: it must be root's and writable by root only\n",
			path, dir, (unsigned int)st.st_uid, st.st_mode & 07777);
		return -1;
	}
	return 0;
}

/*
 * A copy of the file at @path (checked as nd_config_load does) in a
 * memfd, at offset 0: the bytes a reload validates are the bytes the new
 * image reads (nd_config_load_fd), whatever happens to the file between.
 */
int nd_config_snapshot(const char *path)
{
	int in = open(path, O_RDONLY | O_CLOEXEC), out = -1;
	char buf[8192];
	ssize_t n;

	if (in < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	if (strict_modes(path, in))
		goto fail;
	out = memfd_create("nstcpd-config", MFD_CLOEXEC);
	if (out < 0)
		goto fail;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, n) != n)
			goto fail;
	if (n < 0 || lseek(out, 0, SEEK_SET))
		goto fail;
	close(in);
	return out;
fail:
	fprintf(stderr, "%s: %s\n", path, strerror(errno));
	close(in);
	if (out >= 0)
		close(out);
	return -1;
}

int nd_config_load(struct nd_config *cfg, const char *path)
{
	return nd_config_load_fd(cfg, path, -1);
}

/*
 * The configuration of file @path; read from @fd (a snapshot, duplicated
 * here: @fd stays open) instead when @fd >= 0.
 */
int nd_config_load_fd(struct nd_config *cfg, const char *path, int fd)
{
	struct parser p = { .cfg = cfg, .file = path };
	char buf[1024];
	FILE *f;

	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->path, sizeof(cfg->path), "%s", path);
	snprintf(cfg->status_path, sizeof(cfg->status_path), "%s", ND_STATUS_DEF);
	if (fd >= 0) {
		int d = fcntl(fd, F_DUPFD_CLOEXEC, 3);

		f = d >= 0 && !lseek(d, 0, SEEK_SET) ? fdopen(d, "r") : NULL;
		if (!f && d >= 0)
			close(d);
	} else {
		f = fopen(path, "re");
	}
	if (!f) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fd < 0 && strict_modes(path, fileno(f))) {
		fclose(f);
		return -1;
	}
	while (fgets(buf, sizeof(buf), f)) {
		char *l, *eq, *k, *v;

		p.line++;
		if (!strchr(buf, '\n') && !feof(f)) {
			perr(&p, p.line, "line longer than %zu characters",
			     sizeof(buf) - 2);
			while (fgets(buf, sizeof(buf), f) && !strchr(buf, '\n'))
				;
			continue;
		}
		l = trim(buf);
		if (!*l || *l == '#' || *l == ';')
			continue;
		if (*l == '[') {
			char *e = strchr(l, ']');

			if (!e || e[1]) {
				perr(&p, p.line, "section header without its closing ]");
				continue;
			}
			*e = 0;
			section(&p, trim(l + 1));
			continue;
		}
		eq = strchr(l, '=');
		if (!eq) {
			perr(&p, p.line, "expected \"key = value\"");
			continue;
		}
		*eq = 0;
		k = trim(l);
		v = trim(eq + 1);
		if (!*v) {
			perr(&p, p.line, "\"%s\" has no value", k);
			continue;
		}
		if (p.in_global) {
			if (!strcmp(k, "status"))
				snprintf(cfg->status_path, sizeof(cfg->status_path),
					 "%s", v);
			else
				perr(&p, p.line, "unknown key \"%s\" in [global]", k);
		} else if (p.cur) {
			nd_service_key(&p, k, v);
		} else {
			perr(&p, p.line, "\"%s\" outside a [service NAME] block", k);
		}
	}
	service_end(&p);
	fclose(f);
	if (!p.errors && !cfg->nsvc)
		perr(&p, p.line, "no service defined");
	if (p.errors) {
		perr_flush(&p);
		nd_config_free(cfg);
		return -1;
	}
	finish(cfg);
	return 0;
}

void nd_config_free(struct nd_config *cfg)
{
	int i;

	for (i = 0; i < cfg->nsvc; i++) {
		free(cfg->svc[i].procs);
		free(cfg->svc[i].copies);
		free(cfg->svc[i].cpu);
		nd_broker_stop(&cfg->svc[i]);
	}
	free(cfg->svc);
	cfg->svc = NULL;
	cfg->nsvc = 0;
}

