// SPDX-License-Identifier: GPL-2.0
/*
 * libnstcp-run.so: the configuration (a file, then the environment), the
 * rules that pick the sockets to convert, addresses and the log.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shim.h"

#define SHIM_CONF_DEFAULT	"/etc/nstcp/nstcp-run.conf"
#define SHIM_FAMILY_SYSCTL	"/proc/sys/net/nstcp/family"
#define SHIM_FAMILY_DEFAULT	19

struct shim_config shim_cfg = { .nports = -1, .naddrs = -1 };
struct shim_stats shim_stats;

void shim_log(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	if (!shim_cfg.verbose)
		return;
	n = snprintf(buf, sizeof(buf), "nstcp-run[%d]: ", (int)getpid());
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(STDERR_FILENO, buf, n) < 0)
		return;
}

/* Always printed: the configuration has an error. */
static void shim_warn(const char *what, const char *val)
{
	fprintf(stderr, "nstcp-run[%d]: ignoring %s \"%s\"\n", (int)getpid(), what, val);
}

const char *shim_family_name(int family)
{
	return family == AF_INET ? "AF_INET" : family == AF_INET6 ? "AF_INET6" : "?";
}

int shim_family(void)
{
	int f = __atomic_load_n(&shim_cfg.family, __ATOMIC_RELAXED);
	FILE *fp;

	if (f > 0)
		return f;
	f = SHIM_FAMILY_DEFAULT;
	fp = fopen(SHIM_FAMILY_SYSCTL, "re");
	if (fp) {
		if (fscanf(fp, "%d", &f) != 1 || f <= 0)
			f = SHIM_FAMILY_DEFAULT;
		fclose(fp);
	}
	__atomic_store_n(&shim_cfg.family, f, __ATOMIC_RELAXED);
	return f;
}

static int parse_ports(const char *s)
{
	char *copy = strdup(s), *tok, *save = NULL, *end;
	unsigned long lo, hi;
	int n = 0;

	if (!copy)
		return -1;
	for (tok = strtok_r(copy, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
		if (!strcmp(tok, "all") || !strcmp(tok, "*")) {
			n = -1;
			break;
		}
		errno = 0;
		lo = strtoul(tok, &end, 10);
		hi = lo;
		if (*end == '-')
			hi = strtoul(end + 1, &end, 10);
		if (errno || *end || end == tok || lo > hi || hi > 65535 ||
		    n == SHIM_MAX_RULES) {
			shim_warn("port", tok);
			continue;
		}
		shim_cfg.ports[n].lo = lo;
		shim_cfg.ports[n].hi = hi;
		n++;
	}
	free(copy);
	return n;
}

static int parse_addrs(const char *s)
{
	char *copy = strdup(s), *tok, *save = NULL;
	struct in_addr a4;
	int n = 0;

	if (!copy)
		return -1;
	for (tok = strtok_r(copy, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
		if (!strcmp(tok, "all") || !strcmp(tok, "*")) {
			n = -1;
			break;
		}
		if (n == SHIM_MAX_RULES) {
			shim_warn("address", tok);
			continue;
		}
		if (inet_pton(AF_INET, tok, &a4) == 1) {
			memset(shim_cfg.addrs[n], 0, 10);
			memset(shim_cfg.addrs[n] + 10, 0xff, 2);
			memcpy(shim_cfg.addrs[n] + 12, &a4, 4);
		} else if (inet_pton(AF_INET6, tok, shim_cfg.addrs[n]) != 1) {
			shim_warn("address", tok);
			continue;
		}
		n++;
	}
	free(copy);
	return n;
}

static void set_key(const char *key, const char *val)
{
	if (!strcmp(key, "mode")) {
		if (!strcmp(val, "listen"))
			shim_cfg.mode = SHIM_MODE_LISTEN;
		else if (!strcmp(val, "all"))
			shim_cfg.mode = SHIM_MODE_ALL;
		else if (!strcmp(val, "off"))
			shim_cfg.mode = SHIM_MODE_OFF;
		else
			shim_warn("mode", val);
	} else if (!strcmp(key, "ports")) {
		shim_cfg.nports = parse_ports(val);
	} else if (!strcmp(key, "addrs")) {
		shim_cfg.naddrs = parse_addrs(val);
	} else if (!strcmp(key, "verbose")) {
		shim_cfg.verbose = atoi(val) > 0;
	} else if (!strcmp(key, "family")) {
		shim_cfg.family = atoi(val) > 0 ? atoi(val) : 0;
	} else {
		shim_warn("setting", key);
	}
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

/* Lines "key = value" (or "key value"); '#' starts a comment. */
static void load_file(const char *path)
{
	char line[1024], *k, *v, *c;
	FILE *fp;

	fp = fopen(path, "re");
	if (!fp)
		return;
	while (fgets(line, sizeof(line), fp)) {
		c = strchr(line, '#');
		if (c)
			*c = 0;
		k = trim(line);
		if (!*k)
			continue;
		v = k + strcspn(k, "= \t");
		if (*v)
			*v++ = 0;
		v = trim(v);
		if (*v == '=')
			v = trim(v + 1);
		set_key(k, v);
	}
	fclose(fp);
}

void shim_config_load(void)
{
	static const char *const keys[] = { "mode", "ports", "addrs", "verbose", "family" };
	const char *conf = getenv("NSTCP_RUN_CONF"), *v;
	char env[32];
	size_t i, j;

	if (!conf)
		conf = SHIM_CONF_DEFAULT;
	if (*conf && strcmp(conf, "none"))
		load_file(conf);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		snprintf(env, sizeof(env), "NSTCP_RUN_%s", keys[i]);
		for (j = 10; env[j]; j++)
			env[j] = toupper((unsigned char)env[j]);
		v = getenv(env);
		if (v)
			set_key(keys[i], v);
	}
}

int shim_addr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return -1;
}

/* The address as IPv6 (IPv4 v4-mapped); the wildcard for NULL. */
static void addr_v6(const struct sockaddr *sa, unsigned char *a)
{
	memset(a, 0, 16);
	if (sa && sa->sa_family == AF_INET) {
		memset(a + 10, 0xff, 2);
		memcpy(a + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa && sa->sa_family == AF_INET6) {
		memcpy(a, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	}
}

void shim_addr_str(const struct sockaddr *sa, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";

	if (!sa) {
		snprintf(buf, len, "(unbound)");
	} else if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, a, sizeof(a));
		snprintf(buf, len, "%s:%d", a, shim_addr_port(sa));
	} else {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, a, sizeof(a));
		snprintf(buf, len, "[%s]:%d", a, shim_addr_port(sa));
	}
}

/* 1 when the rules select a socket bound to sa (NULL: listen unbound). */
int shim_rules_match(const struct sockaddr *sa, char *why, size_t len)
{
	int port = sa ? shim_addr_port(sa) : 0, i, ok;
	unsigned char a[16];

	if (shim_cfg.mode == SHIM_MODE_OFF) {
		snprintf(why, len, "mode off");
		return 0;
	}
	if (shim_cfg.nports >= 0) {
		for (ok = 0, i = 0; i < shim_cfg.nports && !ok; i++)
			ok = port >= shim_cfg.ports[i].lo && port <= shim_cfg.ports[i].hi;
		if (!ok) {
			snprintf(why, len, "port %d not in the port rule", port);
			return 0;
		}
	}
	if (shim_cfg.naddrs >= 0) {
		addr_v6(sa, a);
		for (ok = 0, i = 0; i < shim_cfg.naddrs && !ok; i++)
			ok = !memcmp(a, shim_cfg.addrs[i], 16);
		if (!ok) {
			snprintf(why, len, "address not in the address rule");
			return 0;
		}
	}
	snprintf(why, len, "%s, %s", shim_cfg.nports < 0 ? "any port" : "port rule",
		 shim_cfg.naddrs < 0 ? "any address" : "address rule");
	return 1;
}

/*
 * Rewrites an address AF_NSTCP returned as the family the program's socket
 * has: an AF_INET6 socket sees IPv4 peers v4-mapped, as on AF_INET6; an
 * AF_INET socket sees a v4-mapped or unspecified IPv6 address as IPv4.
 */
void shim_addr_as(int family, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 m6;
	struct sockaddr_in m4;

	if (family == AF_INET6 && ss->ss_family == AF_INET) {
		memset(&m6, 0, sizeof(m6));
		m6.sin6_family = AF_INET6;
		m6.sin6_port = s4->sin_port;
		m6.sin6_addr.s6_addr[10] = 0xff;
		m6.sin6_addr.s6_addr[11] = 0xff;
		memcpy(&m6.sin6_addr.s6_addr[12], &s4->sin_addr, 4);
		memcpy(ss, &m6, sizeof(m6));
		*len = sizeof(m6);
	} else if (family == AF_INET && ss->ss_family == AF_INET6 &&
		   (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) ||
		    IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr))) {
		memset(&m4, 0, sizeof(m4));
		m4.sin_family = AF_INET;
		m4.sin_port = s6->sin6_port;
		memcpy(&m4.sin_addr, &s6->sin6_addr.s6_addr[12], 4);
		memcpy(ss, &m4, sizeof(m4));
		*len = sizeof(m4);
	}
}
