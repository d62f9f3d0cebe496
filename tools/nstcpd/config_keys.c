// SPDX-License-Identifier: GPL-2.0
/*
 * The keys of a [service NAME] block of nstcpd's configuration file and
 * their values (Documentation/man/nstcpd.conf.5.rst).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/types.h>
#include <linux/nstcp.h>

#include "broker_proto.h"
#include "config.h"

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

int nd_addr_port(const struct nd_service *s)
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
	s->argc = argc;
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

/* servers = ADDR:PORT, the first server's; the others' ports follow. */
static void parse_servers(struct parser *p, const char *v, struct nd_service *s)
{
	static struct nd_service t;

	memset(&t, 0, sizeof(t));
	if (parse_listen(v, &t)) {
		perr(p, p->line, "servers: \"%s\" is not PORT, ADDR:PORT or [ADDR]:PORT", v);
		return;
	}
	s->srv_addr = t.addr;
	s->srv_addrlen = t.addrlen;
}

const char *const nd_keys[K_NKEYS] = {
	"listen", "model", "exec", "cpus", "workers", "key", "policy",
	"max_conns", "per_source", "cps", "stdio", "take", "timeout_ms",
	"backlog", "busy", "user", "group", "buffer_kb", "servers", "expire_ms",
	"drain_timeout", "takeback_ms", "lease_ms",
};

/* user = NAME|UID: a user of the passwd database, or a bare uid. */
static void parse_user(struct parser *p, const char *v, struct nd_service *s)
{
	struct passwd *pw;
	unsigned int u;

	s->user_line = p->line;
	pw = getpwnam(v);
	if (!pw && !parse_uint(v, 0x7fffffff, &u)) {
		pw = getpwuid(u);
		if (!pw) {
			s->uid = u;
			s->user_name[0] = 0;
			return;
		}
	}
	if (!pw) {
		perr(p, p->line, "user: \"%s\" is not a user of this system", v);
		return;
	}
	s->uid = pw->pw_uid;
	s->user_gid = pw->pw_gid;
	snprintf(s->user_name, sizeof(s->user_name), "%s", pw->pw_name);
}

/* group = NAME|GID. */
static void parse_group(struct parser *p, const char *v, struct nd_service *s)
{
	struct group *gr = getgrnam(v);
	unsigned int u;

	s->group_line = p->line;
	if (gr)
		s->gid = gr->gr_gid;
	else if (!parse_uint(v, 0x7fffffff, &u))
		s->gid = u;
	else
		perr(p, p->line, "group: \"%s\" is not a group of this system", v);
}

/*
 * At the end of a block: the gid of its user (the group key's, else the
 * user's own) and the user's supplementary groups, as initgroups() would
 * set them, read now so that the child needs no lookup.
 */
void nd_service_ids(struct parser *p, struct nd_service *s)
{
	int n = ND_MAX_GROUPS;

	if (!s->user_line)
		return;
	/* Resolved here, so "group" wins whichever of the two came first. */
	if (!s->group_line)
		s->gid = s->user_gid;
	if (!s->user_name[0]) {
		if (!s->group_line)
			perr(p, s->user_line, "user: uid %u is not in the passwd database: give its \"group\"",
			     (unsigned int)s->uid);
		s->ngroups = 0;
		return;
	}
	if (getgrouplist(s->user_name, s->gid, s->groups, &n) < 0) {
		perr(p, s->user_line, "user: %s is in more than %d groups",
		     s->user_name, ND_MAX_GROUPS);
		return;
	}
	s->ngroups = n;
}

void nd_service_key(struct parser *p, const char *k, const char *v)
{
	struct nd_service *s = p->cur;
	unsigned int u;
	int i;

	for (i = 0; i < K_NKEYS; i++)
		if (!strcmp(k, nd_keys[i]))
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
		else if (!strcmp(v, "distributor"))
			s->model = ND_MODEL_DISTRIBUTOR;
		else if (!strcmp(v, "broker"))
			s->model = ND_MODEL_BROKER;
		else
			perr(p, p->line, "model: \"%s\" is not standard, monolithic, distributor, hybrid or broker", v);
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
	case K_USER:
		parse_user(p, v, s);
		break;
	case K_GROUP:
		parse_group(p, v, s);
		break;
	case K_BUFFER:
		if (parse_uint(v, 4096, &u) || u < 4)
			perr(p, p->line, "buffer_kb: \"%s\" is not 4 to 4096", v);
		else
			s->buf_kb = u;
		break;
	case K_SERVERS:
		parse_servers(p, v, s);
		break;
	case K_EXPIRE:
		if (parse_uint(v, 600000, &u) || u < 10)
			perr(p, p->line, "expire_ms: \"%s\" is not 10 to 600000", v);
		else
			s->expire_ms = u;
		break;
	case K_LEASE:
		if (parse_uint(v, NSTCP_BROKER_LEASE_MAX, &u))
			perr(p, p->line, "lease_ms: \"%s\" is not 0 to %u", v,
			     NSTCP_BROKER_LEASE_MAX);
		else
			s->lease_ms = u;
		break;
	case K_DRAIN:
		if (parse_uint(v, ND_DRAIN_MAX_S, &u) || !u)
			perr(p, p->line, "drain_timeout: \"%s\" is not 1 to %d seconds",
			     v, ND_DRAIN_MAX_S);
		else
			s->drain_s = u;
		break;
	case K_TAKEBACK:
		if (parse_uint(v, ND_TAKEBACK_MAX_MS, &u))
			perr(p, p->line, "takeback_ms: \"%s\" is not 0 to %d", v,
			     ND_TAKEBACK_MAX_MS);
		else
			s->takeback_ms = u;
		break;
	case K_BACKLOG:
		if (parse_uint(v, 65535, &u) || !u)
			perr(p, p->line, "backlog: \"%s\" is not 1 to 65535", v);
		else
			s->backlog = u;
		break;
	}
}
