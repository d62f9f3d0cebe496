// SPDX-License-Identifier: GPL-2.0
/*
 * The hybrid model across a re-exec (reload or restart; Documentation/
 * nstcpd.rst): the connections handed to a worker and not yet taken, and
 * those waiting for one, passed to the new image, which hands them to its
 * own workers.  The rest of the model is hybrid.c and hybrid_give.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nstcpd.h"

/*
 * Before a re-exec: the connections of @s handed to a worker and not yet
 * taken, and those waiting for a worker, as "NAME:TOKEN:CPU:GIVES " words
 * appended to @buf (of @cap bytes, from @len): the new image hands them
 * to its own workers (nd_hybrid_adopt), so that none waits on an old
 * worker busy to the end of a long connection (its expiry would reset
 * it).  An old worker that takes one first serves it; the other's take
 * fails.  The new length.
 */
size_t nd_hybrid_given(struct nd_service *s, char *buf, size_t cap,
		       size_t len)
{
	const struct nd_pending *p;
	int i, k, n;

	nd_hybrid_lock(s);
	for (i = -1; i < s->ncopies; i++) {
		p = i < 0 ? s->wait : s->copies[i].pend;
		n = i < 0 ? s->nwait : s->copies[i].npend;
		for (k = 0; k < n && len < cap; k++)
			len += snprintf(buf + len, cap - len, "%s:%llu:%d:%d ",
					s->name,
					(unsigned long long)p[k].token,
					p[k].cpu, p[k].gives);
	}
	nd_hybrid_unlock(s);
	return len < cap ? len : cap - 1;
}

/* In the new image, its workers started: the NSTCPD_GIVEN @words handed. */
void nd_hybrid_adopt(struct nd_config *cfg, const char *words)
{
	char *copy = words ? strdup(words) : NULL, *w, *save;
	unsigned long long token;
	int i, cpu, gives, n, pos;

	for (w = copy ? strtok_r(copy, " ", &save) : NULL; w;
	     w = strtok_r(NULL, " ", &save)) {
		char *colon = strchr(w, ':');

		n = 0;
		if (colon) {
			*colon = 0;
			pos = 0;
			n = sscanf(colon + 1, "%llu:%d:%d%n", &token, &cpu,
				   &gives, &pos) == 3 && !colon[1 + pos];
		}
		for (i = 0; n && i < cfg->nsvc; i++) {
			struct nd_service *s = &cfg->svc[i];

			if (strcmp(s->name, w) || s->model != ND_MODEL_HYBRID)
				continue;
			/* A pending token on its last give has one more. */
			if (cpu < 0 || cpu >= ND_MAX_CPUS || gives < 0 ||
			    gives > ND_REGIVE_MAX + 1)
				break;
			nd_hybrid_lock(s);
			nd_hybrid_give(s, token, cpu, gives);
			nd_hybrid_unlock(s);
			n = 2;
			break;
		}
		if (n != 2)
			nd_log("NSTCPD_GIVEN: \"%s\": no hybrid service's connection: ignored",
			       w);
	}
	free(copy);
}
