/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The benchmarks' machine-readable results, for `make bench`'s report
 * (tests/bench/report): when $NSTCP_BENCH_TSV names a file, each figure a
 * benchmark prints is also appended to it as one tab-separated row
 *
 *	case  scenario  variant  metric  value
 *
 * where case is $NSTCP_BENCH_CASE (which run of the suite: say "crr" or
 * "crr-client-closes"), and scenario, variant and metric are the
 * benchmark's own names.  Nothing is written without the variable.
 */
#ifndef NSTCP_BENCH_ROWS_H
#define NSTCP_BENCH_ROWS_H

#include <stdio.h>
#include <stdlib.h>

static inline void bench_row(const char *scenario, const char *variant,
			     const char *metric, double value)
{
	const char *path = getenv("NSTCP_BENCH_TSV");
	const char *bcase = getenv("NSTCP_BENCH_CASE");
	FILE *f;

	if (!path || !*path)
		return;
	f = fopen(path, "a");
	if (!f) {
		perror(path);
		return;
	}
	fprintf(f, "%s\t%s\t%s\t%s\t%.6g\n", bcase && *bcase ? bcase : "-",
		scenario, variant, metric, value);
	if (fclose(f))
		perror(path);
}

#endif
