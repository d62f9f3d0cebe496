// SPDX-License-Identifier: GPL-2.0
/*
 * The broker model across a reload or restart: the servers' fresh reports
 * of the old image's table handed to the new image (NSTCPD_BKLOADS words,
 * a memfd as the other lists: envfd.c) and written into its new table
 * before its brokers start, so that they answer at once instead of
 * NOSERVER until each new server has reported.  See
 * Documentation/nstcpd.rst, "Reload and restart".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "nstcpd.h"

/* NSTCPD_BKLOADS, in the new image: the previous image's fresh reports. */
static char *handed_loads;

void nd_broker_handover_load(long fdmax)
{
	free(handed_loads);
	handed_loads = nd_envfd_get("NSTCPD_BKLOADS", fdmax);
}

static long long mono_ms(void)
{
	struct timespec t;

	nd_now(&t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

/*
 * For the new image of a reload or restart: each broker service's servers
 * whose last report is fresh, as "NAME:PORT:LOADCAP:STAMP" words (the
 * slot's fields; STAMP in CLOCK_MONOTONIC ms, which an exec keeps),
 * malloc'ed; NULL when out of memory.  Without them the new brokers'
 * table is empty until each new server reports, and every ASK meanwhile
 * is answered NOSERVER.
 */
char *nd_broker_loads(const struct nd_config *cfg)
{
	long long now = mono_ms();
	size_t n = 0, len = 0;
	char *words;
	int i, j;

	for (i = 0; i < cfg->nsvc; i++)
		if (cfg->svc[i].bk)
			n += cfg->svc[i].bk->nslots;
	words = malloc(n * (ND_NAME_MAX + 64) + 1);
	if (!words)
		return NULL;
	words[0] = 0;
	for (i = 0; i < cfg->nsvc; i++) {
		const struct nd_service *s = &cfg->svc[i];
		const struct nd_bk *bk = s->bk;

		for (j = 0; bk && j < bk->nslots; j++) {
			unsigned long long st = nd_bk_ld(&bk->slot[j].stamp_ms);

			/* Written by the brokers: only a fresh stamp, not ahead. */
			if (!st || st > (unsigned long long)now ||
			    now - (long long)st > bk->expire_ms)
				continue;
			len += sprintf(words + len, "%s:%u:%llu:%llu ", s->name,
				       bk->base_port + j,
				       nd_bk_ld(&bk->slot[j].loadcap), st);
		}
	}
	return words;
}

/* @w, all of it, a decimal of at most 20 digits: 0 and *@v, else -1. */
static int word_u64(const char *w, unsigned long long *v)
{
	char *end;

	if (!w || !*w || strlen(w) > 20 || strspn(w, "0123456789") != strlen(w))
		return -1;
	errno = 0;
	*v = strtoull(w, &end, 10);
	return errno || *end ? -1 : 0;
}

/*
 * The previous image's reports of @s's servers (handed_loads) into the
 * new table: still fresh by @s's expire_ms, for a port of its servers.
 * The new brokers then answer at once; each new server's first report
 * replaces its slot, and a server that never reports expires as always.
 */
void nd_broker_adopt(const struct nd_service *s, struct nd_bk *bk)
{
	char *copy = handed_loads ? strdup(handed_loads) : NULL, *w, *save;
	long long now = mono_ms();
	int kept = 0;

	for (w = copy ? strtok_r(copy, " ", &save) : NULL; w;
	     w = strtok_r(NULL, " ", &save)) {
		char *f[4], *p = w;
		unsigned long long lc, st;
		long port;
		int k;

		for (k = 0; k < 4 && p; k++) {
			f[k] = p;
			p = strchr(p, ':');
			if (p)
				*p++ = 0;
		}
		if (k != 4 || p || nd_word_int(f[1], 1, 65535, &port) ||
		    word_u64(f[2], &lc) || word_u64(f[3], &st)) {
			nd_log("NSTCPD_BKLOADS: \"%s\": not NAME:PORT:LOADCAP:STAMP: ignored",
			       w);
			continue;
		}
		if (strcmp(f[0], s->name) || port < bk->base_port ||
		    port >= bk->base_port + bk->nslots || !st ||
		    st > (unsigned long long)now ||
		    now - (long long)st > bk->expire_ms)
			continue;
		port -= bk->base_port;
		__atomic_store_n(&bk->slot[port].loadcap, lc, __ATOMIC_RELAXED);
		__atomic_store_n(&bk->slot[port].stamp_ms, st, __ATOMIC_RELEASE);
		kept++;
	}
	free(copy);
	if (kept)
		nd_log("service %s: %d servers' reports kept from the previous nstcpd",
		       s->name, kept);
}
