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
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/types.h>
#include <linux/nstcp.h>

#include "nstcpd.h"

enum {
	K_LISTEN, K_MODEL, K_EXEC, K_CPUS, K_WORKERS, K_KEY, K_POLICY,
	K_MAX_CONNS, K_PER_SOURCE, K_CPS, K_STDIO, K_TAKE, K_TIMEOUT,
	K_BACKLOG, K_BUSY, K_NKEYS
};

struct parser {
	struct nd_config *cfg;
	const char *file;
	int line;
	int errors;
	struct nd_service *cur;		/* NULL in [global] or before any */
	int in_global;
	unsigned int seen;		/* keys seen in the current block */
	int key_line[K_NKEYS];		/* and their lines */
	struct perror {
		int line, seq;
		char text[240];
	} *err;				/* printed in line order at the end */
};

static void perr(struct parser *p, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void perr(struct parser *p, int line, const char *fmt, ...)
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

static int parse_uint(const char *v, unsigned int max, unsigned int *out)
{
	unsigned long n;
	char *end;

	if (!isdigit((unsigned char)*v))
		return -1;
	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || *end || n > max)
		return -1;
	*out = n;
	return 0;
}

static int parse_bool(const char *v, int *out)
{
	if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1"))
		*out = 1;
	else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0"))
		*out = 0;
	else
		return -1;
	return 0;
}

/* PORT, ADDR:PORT, *:PORT or [V6ADDR]:PORT. */
static int parse_listen(const char *v, struct nd_service *s)
{
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&s->addr;
	struct sockaddr_in *a4 = (struct sockaddr_in *)&s->addr;
	char host[64] = "";
	const char *port = v, *colon;
	unsigned int p;

	if (*v == '[') {
		const char *e = strchr(v, ']');

		if (!e || e[1] != ':' || (size_t)(e - v - 1) >= sizeof(host))
			return -1;
		memcpy(host, v + 1, e - v - 1);
		host[e - v - 1] = 0;
		port = e + 2;
	} else if ((colon = strrchr(v, ':'))) {
		if ((size_t)(colon - v) >= sizeof(host) || strchr(v, ':') != colon)
			return -1;
		memcpy(host, v, colon - v);
		host[colon - v] = 0;
		port = colon + 1;
	}
	if (parse_uint(port, 65535, &p) || p == 0)
		return -1;
	memset(&s->addr, 0, sizeof(s->addr));
	if (!*host || !strcmp(host, "*")) {
		a6->sin6_family = AF_INET6;
		a6->sin6_addr = in6addr_any;
		a6->sin6_port = htons(p);
		s->addrlen = sizeof(*a6);
	} else if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(p);
		s->addrlen = sizeof(*a4);
	} else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(p);
		s->addrlen = sizeof(*a6);
	} else {
		return -1;
	}
	snprintf(s->listen_text, sizeof(s->listen_text), "%s", v);
	return 0;
}

static int addr_port(const struct nd_service *s)
{
	return ntohs(((const struct sockaddr_in *)&s->addr)->sin_port);
}

/* "0-3,6": CPUs below ND_MAX_CPUS and configured on this machine. */
static int parse_cpus(const char *v, cpu_set_t *set, int *n)
{
	long conf = sysconf(_SC_NPROCESSORS_CONF);
	const char *s = v;

	CPU_ZERO(set);
	while (*s) {
		unsigned long a, b;
		char *end;

		if (!isdigit((unsigned char)*s))
			return -1;
		a = strtoul(s, &end, 10);
		b = a;
		if (*end == '-') {
			s = end + 1;
			if (!isdigit((unsigned char)*s))
				return -1;
			b = strtoul(s, &end, 10);
		}
		if (b < a || b >= (unsigned long)conf || b >= ND_MAX_CPUS ||
		    b >= CPU_SETSIZE)
			return -1;
		for (; a <= b; a++)
			CPU_SET(a, set);
		s = end;
		if (*s == ',')
			s++;
		else if (*s)
			return -1;
	}
	*n = CPU_COUNT(set);
	return *n ? 0 : -1;
}

/* Splits exec's words (double quotes group) and finds the program. */
static int parse_exec(struct parser *p, const char *v, struct nd_service *s)
{
	char *d = s->exec_buf, *end = s->exec_buf + sizeof(s->exec_buf) - 1;
	int argc = 0;

	snprintf(s->exec_text, sizeof(s->exec_text), "%s", v);
	while (*v) {
		int q = 0;

		while (isspace((unsigned char)*v))
			v++;
		if (!*v)
			break;
		if (argc == ND_MAX_ARGS) {
			perr(p, p->line, "exec: more than %d words", ND_MAX_ARGS);
			return -1;
		}
		s->argv[argc++] = d;
		while (*v && (q || !isspace((unsigned char)*v))) {
			if (*v == '"') {
				q = !q;
				v++;
				continue;
			}
			if (d == end) {
				perr(p, p->line, "exec: too long");
				return -1;
			}
			*d++ = *v++;
		}
		if (q) {
			perr(p, p->line, "exec: unterminated quote");
			return -1;
		}
		if (d == end) {
			perr(p, p->line, "exec: too long");
			return -1;
		}
		*d++ = 0;
	}
	s->argv[argc] = NULL;
	if (!argc) {
		perr(p, p->line, "exec: no program");
		return -1;
	}
	if (strchr(s->argv[0], '/')) {
		snprintf(s->program, sizeof(s->program), "%s", s->argv[0]);
	} else {
		const char *path = getenv("PATH");
		char dir[256];

		s->program[0] = 0;
		if (!path)
			path = "/usr/local/bin:/usr/bin:/bin";
		while (*path && !s->program[0]) {
			size_t n = strcspn(path, ":");

			if (n && n < sizeof(dir)) {
				memcpy(dir, path, n);
				dir[n] = 0;
				if (snprintf(s->program, sizeof(s->program),
					     "%.255s/%.200s", dir, s->argv[0]) < 0 ||
				    access(s->program, X_OK))
					s->program[0] = 0;
			}
			path += n;
			if (*path == ':')
				path++;
		}
		if (!s->program[0]) {
			perr(p, p->line, "exec: program \"%s\" not found in PATH",
			     s->argv[0]);
			return -1;
		}
	}
	if (access(s->program, X_OK)) {
		perr(p, p->line, "exec: program \"%s\": %s", s->program,
		     strerror(errno));
		return -1;
	}
	return 0;
}


static const char *const keys[K_NKEYS] = {
	"listen", "model", "exec", "cpus", "workers", "key", "policy",
	"max_conns", "per_source", "cps", "stdio", "take", "timeout_ms",
	"backlog", "busy",
};

static void service_key(struct parser *p, const char *k, const char *v)
{
	struct nd_service *s = p->cur;
	unsigned int u;
	int i;

	for (i = 0; i < K_NKEYS; i++)
		if (!strcmp(k, keys[i]))
			break;
	if (i == K_NKEYS) {
		perr(p, p->line, "unknown key \"%s\"", k);
		return;
	}
	if (p->seen & (1u << i)) {
		perr(p, p->line, "\"%s\" given twice in service %s", k, s->name);
		return;
	}
	p->seen |= 1u << i;
	p->key_line[i] = p->line;
	switch (i) {
	case K_LISTEN:
		s->listen_line = p->line;
		if (parse_listen(v, s))
			perr(p, p->line, "listen: \"%s\" is not PORT, ADDR:PORT or [ADDR]:PORT", v);
		break;
	case K_MODEL:
		s->model_line = p->line;
		if (!strcmp(v, "standard"))
			s->model = ND_MODEL_STANDARD;
		else if (!strcmp(v, "monolithic"))
			s->model = ND_MODEL_MONOLITHIC;
		else if (!strcmp(v, "hybrid"))
			s->model = ND_MODEL_HYBRID;
		else if (!strcmp(v, "distributor") || !strcmp(v, "broker"))
			perr(p, p->line, "model: \"%s\" is not implemented yet", v);
		else
			perr(p, p->line, "model: \"%s\" is not standard, monolithic or hybrid", v);
		break;
	case K_EXEC:
		s->exec_line = p->line;
		parse_exec(p, v, s);
		break;
	case K_CPUS:
		if (parse_cpus(v, &s->cpus, &s->ncpus))
			perr(p, p->line, "cpus: \"%s\" is not a list of this machine's CPUs (0-%ld)",
			     v, sysconf(_SC_NPROCESSORS_CONF) - 1);
		break;
	case K_WORKERS:
		if (parse_uint(v, 1024, &u) || !u)
			perr(p, p->line, "workers: \"%s\" is not 1 to 1024", v);
		else
			s->workers = u;
		break;
	case K_KEY:
		for (u = 0; v[u] && isalnum((unsigned char)v[u]); u++)
			;
		if (!u || v[u] || u > ND_KEY_MAX)
			perr(p, p->line, "key: \"%s\" is not 1 to %d letters and digits",
			     v, ND_KEY_MAX);
		else
			snprintf(s->key, sizeof(s->key), "%s", v);
		break;
	case K_POLICY:
		if (!strcmp(v, "cpu"))
			s->policy = NSTCP_POLICY_CPU;
		else if (!strcmp(v, "roundrobin"))
			s->policy = NSTCP_POLICY_ROUNDROBIN;
		else if (!strcmp(v, "least"))
			s->policy = NSTCP_POLICY_LEAST;
		else
			perr(p, p->line, "policy: \"%s\" is not cpu, roundrobin or least", v);
		break;
	case K_MAX_CONNS:
	case K_PER_SOURCE:
	case K_CPS:
		if (parse_uint(v, 1000000, &u))
			perr(p, p->line, "%s: \"%s\" is not 0 to 1000000", k, v);
		else if (i == K_MAX_CONNS)
			s->max_conns = u;
		else if (i == K_PER_SOURCE)
			s->per_source = u;
		else
			s->cps = u;
		break;
	case K_STDIO:
		if (parse_bool(v, &s->stdio))
			perr(p, p->line, "stdio: \"%s\" is not yes or no", v);
		break;
	case K_TAKE:
		if (!strcmp(v, "nstcpd"))
			s->take_program = 0;
		else if (!strcmp(v, "program"))
			s->take_program = 1;
		else
			perr(p, p->line, "take: \"%s\" is not nstcpd or program", v);
		break;
	case K_TIMEOUT:
		if (parse_uint(v, NSTCP_GIVE_TIMEOUT_MAX, &u) || !u)
			perr(p, p->line, "timeout_ms: \"%s\" is not 1 to %d", v,
			     NSTCP_GIVE_TIMEOUT_MAX);
		else
			s->timeout_ms = u;
		break;
	case K_BUSY:
		if (parse_uint(v, 65535, &u) || !u)
			perr(p, p->line, "busy: \"%s\" is not 1 to 65535", v);
		else
			s->busy = u;
		break;
	case K_BACKLOG:
		if (parse_uint(v, 65535, &u) || !u)
			perr(p, p->line, "backlog: \"%s\" is not 1 to 65535", v);
		else
			s->backlog = u;
		break;
	}
}

/* What a block needs as a whole, checked when it ends. */
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

		for (i = 0; i < 3; i++)
			if (p->seen & (1u << std_only[i]))
				perr(p, p->key_line[std_only[i]],
				     "\"%s\" is for the standard model (service %s is %s)",
				     keys[std_only[i]], s->name,
				     nd_model_name(s->model));
	}
	if (s->model == ND_MODEL_MONOLITHIC) {
		static const int no_mono[] = { K_MAX_CONNS, K_CPS };

		for (i = 0; i < 2; i++)
			if (p->seen & (1u << no_mono[i]))
				perr(p, p->key_line[no_mono[i]],
				     "\"%s\" is not for the monolithic model (its copies accept by themselves)",
				     keys[no_mono[i]]);
	}
	if (s->model != ND_MODEL_HYBRID && s->model != ND_MODEL_NONE &&
	    (p->seen & (1u << K_BUSY)))
		perr(p, p->key_line[K_BUSY], "\"busy\" is for the hybrid model");
	if (s->model == ND_MODEL_STANDARD && (p->seen & (1u << K_WORKERS)))
		perr(p, p->key_line[K_WORKERS],
		     "\"workers\" is not for the standard model (a process per connection)");
	if (s->stdio && s->take_program)
		perr(p, p->key_line[K_TAKE], "\"take = program\" cannot go with \"stdio = yes\" (line %d)",
		     p->key_line[K_STDIO]);
	if (!s->listen_line)
		return;
	for (i = 0; i < p->cfg->nsvc - 1; i++) {
		const struct nd_service *o = &p->cfg->svc[i];

		if (o->listen_line && addr_port(o) == addr_port(s))
			perr(p, s->listen_line, "service %s: port %d is service %s's (line %d)",
			     s->name, addr_port(s), o->name, o->listen_line);
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
	s->busy = 1;
	s->backlog = 128;
	s->lfd = -1;
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
	int i;

	for (i = 0; i < cfg->nsvc; i++) {
		struct nd_service *s = &cfg->svc[i];

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

int nd_config_load(struct nd_config *cfg, const char *path)
{
	struct parser p = { .cfg = cfg, .file = path };
	char buf[1024];
	FILE *f;

	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->path, sizeof(cfg->path), "%s", path);
	snprintf(cfg->status_path, sizeof(cfg->status_path), "%s", ND_STATUS_DEF);
	f = fopen(path, "re");
	if (!f) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
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
			service_key(&p, k, v);
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
	}
	free(cfg->svc);
	cfg->svc = NULL;
	cfg->nsvc = 0;
}
