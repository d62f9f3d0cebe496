// SPDX-License-Identifier: GPL-2.0
/*
 * A front's log of the connections it closes unrelayed because their back
 * end could not be connected (relay.c): at most a line a second.  Those
 * closed meanwhile are counted and told by the next such line or, when
 * none comes, by a line of their own once the second is over (the front's
 * loop sleeps no longer than nd_unrel_wait() says) and when the front
 * exits (drain, SIGTERM): never left untold until the next event.  Each
 * line is one write: the other fronts log to the same file.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "distributor.h"

#define UNREL_MS	1000

static struct {
	const char *name;
	int index;
	long long last;			/* ms of the last line; -1: none */
	unsigned long long untold;	/* closed since, not told */
	int back, err;			/* the last of those */
	const char *path;
} u = { .last = -1 };

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

void nd_unrel_init(const char *name, int index)
{
	u.name = name;
	u.index = index;
}

/* A connection closed: back end @back (@path) not connected, @err. */
void nd_unrel_tell(int back, const char *path, int err)
{
	long long now = now_ms();
	char more[64] = "";

	if (u.last >= 0 && now - u.last < UNREL_MS) {
		u.untold++;
		u.back = back;
		u.path = path;
		u.err = err;
		return;
	}
	if (u.untold)
		snprintf(more, sizeof(more), " (and %llu more since the last line)",
			 u.untold);
	fprintf(stderr, "nstcpd[%s]: front %d: back end %d (%s): connect: %s: connection closed%s\n",
		u.name, u.index, back, path, strerror(err), more);
	u.last = now;
	u.untold = 0;
}

/* Ms until the untold ones are due (0: now), -1 with none untold. */
long long nd_unrel_wait(void)
{
	long long left;

	if (!u.untold)
		return -1;
	left = u.last + UNREL_MS - now_ms();
	return left > 0 ? left : 0;
}

/* Tells the untold ones if their second is over, or now (@now). */
void nd_unrel_flush(int now)
{
	if (!u.untold || (!now && nd_unrel_wait() > 0))
		return;
	fprintf(stderr, "nstcpd[%s]: front %d: %llu more closed unrelayed since the last line (the last: back end %d (%s): connect: %s)\n",
		u.name, u.index, u.untold, u.back, u.path, strerror(u.err));
	u.last = now_ms();
	u.untold = 0;
}
