// SPDX-License-Identifier: GPL-2.0
/*
 * nstcp: the AF_NSTCP control tool, in iproute2's object-verb style
 * (nstcp(8)).  Its data comes from the module's generic netlink family.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nstcp.h"

struct opts opt;
const char *prog = "nstcp";

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s [OPTIONS] OBJECT [COMMAND [ARGS]]\n"
		"       %s help\n"
		"OBJECT and COMMAND:\n"
		"  instance show [cpu N]    the per-CPU protocol instances: listeners,\n"
		"                           queued and accepted connections, hops,\n"
		"                           calls and the other counters, queues owned\n"
		"  listen show [port N]     the listening ports, per CPU instance\n"
		"  handoff show             the hand-offs given and not yet taken\n"
		"  queue show [dev DEV]     the device queue <-> CPU instance maps\n"
		"  queue show dev DEV check whether DEV's settings are still those\n"
		"                           bind made (exit 1 if not: bind again)\n"
		"  queue bind dev DEV [cpus LIST] [dry-run]\n"
		"                           one queue pair per CPU: channels, IRQ\n"
		"                           affinity, RSS, XPS, RPS, RFS, ntuple, map\n"
		"  queue restore dev DEV    the settings from before the first bind\n"
		"OPTIONS:\n"
		"  -j, --json               JSON output\n"
		"  -p, --pretty             indented JSON (with -j)\n"
		"  -n, --netns NETNS        in network namespace NETNS (ip netns name\n"
		"                           or a path such as /proc/PID/ns/net)\n"
		"  -w, --watch SECONDS      report every SECONDS the counters' rates\n"
		"                           per second (instance, listen)\n"
		"  -c, --count N            with -w: stop after N reports\n"
		"  -h, --help               this help\n"
		"Exit status: 0 done, 1 failed (e.g. the module is not loaded), 2 usage.\n",
		prog, prog);
}

/* OBJECT names may be abbreviated, as in ip(8). */
static bool matches(const char *arg, const char *name)
{
	return *arg && !strncmp(name, arg, strlen(arg));
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "netns", required_argument, NULL, 'n' },
		{ "watch", required_argument, NULL, 'w' },
		{ "count", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "+jpn:w:c:h", lopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			opt.json = true;
			break;
		case 'p':
			opt.pretty = true;
			break;
		case 'n':
			opt.netns = optarg;
			break;
		case 'w':
			opt.watch = strtod(optarg, &end);
			if (end == optarg || *end || !(opt.watch > 0) ||
			    opt.watch > 86400)
				usage_error("bad watch interval \"%s\" (seconds, > 0)",
					    optarg);
			break;
		case 'c':
			opt.count = strtol(optarg, &end, 10);
			if (end == optarg || *end || opt.count <= 0)
				usage_error("bad count \"%s\"", optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "Try \"%s help\".\n", prog);
			return EXIT_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[0], "help")) {
		usage(stdout);
		return 0;
	}
	if (opt.count && !opt.watch)
		usage_error("-c needs -w");
	if (opt.netns && out_netns_enter(opt.netns))
		return 1;
	if (matches(argv[0], "instance"))
		return do_instance(argc - 1, argv + 1);
	if (matches(argv[0], "listen"))
		return do_listen(argc - 1, argv + 1);
	if (matches(argv[0], "handoff"))
		return do_handoff(argc - 1, argv + 1);
	if (matches(argv[0], "queue"))
		return do_queue(argc - 1, argv + 1);
	usage_error("unknown object \"%s\"", argv[0]);
	return EXIT_USAGE;
}
