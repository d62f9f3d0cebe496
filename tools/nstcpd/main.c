// SPDX-License-Identifier: GPL-2.0
/*
 * nstcpd: the listener helper (Documentation/nstcpd.rst).
 *
 *   nstcpd [-c FILE] [--check] [-f] [-s STATUS_FILE]
 *   nstcpd status [-s STATUS_FILE] [-j]
 *   nstcpd reload|restart [-s STATUS_FILE]
 *
 * SIGHUP reloads the configuration, SIGUSR2 restarts nstcpd: both keep
 * every listening socket (handover.c).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "distributor.h"
#include "nstcpd.h"

#define CONFIG_DEF	"/etc/nstcp/nstcpd.conf"
#define STATUS_MS	250	/* status file rewritten at most this often */

static void usage(void)
{
	fprintf(stderr,
		"usage: nstcpd [-c FILE] [--check] [-f] [-s STATUS_FILE]\n"
		"       nstcpd status [-s STATUS_FILE] [-j]\n"
		"       nstcpd reload|restart [-s STATUS_FILE]\n");
}

/* The command line of a new image: foreground, absolute paths. */
static char *reexec_argv[8];

/* @p from the working directory in @buf (daemon() leaves it), else @p. */
static char *absolute(const char *p, char *buf, size_t len)
{
	size_t n;

	if (p[0] == '/' || !getcwd(buf, len))
		return (char *)p;
	n = strlen(buf);
	if (snprintf(buf + n, len - n, "/%s", p) >= (int)(len - n))
		return (char *)p;
	return buf;
}

/*
 * The acceptors stopped first and what they accepted handed on, so that
 * no accepted connection goes with this image; the hybrid connections not
 * yet taken passed to the new image (NSTCPD_GIVEN), and the brokers'
 * fresh reports (NSTCPD_BKLOADS); the acceptors restarted if the exec
 * fails.
 */
static void reexec(struct nd_config *cfg, int reload)
{
	size_t cap = 1, len = 0;
	char *given;
	int i, n;

	nd_acceptors_stop(cfg, 0);
	for (i = 0; i < cfg->nsvc; i++) {
		struct nd_service *s = &cfg->svc[i];
		int k;

		if (s->model != ND_MODEL_HYBRID)
			continue;
		/*
		 * Every report read first (they are read in batches): a token
		 * already taken is not re-given to the new image (a failed
		 * take there), and the old workers do not find their channel
		 * closed on unread reports (ECONNRESET before their tokens).
		 */
		for (k = 0; k < s->ncopies; k++)
			for (n = 0; n < 64 && nd_hybrid_read(s, k); n++)
				;	/* bounded: a worker may flood */
		nd_hybrid_lock(s);
		cap += 64 * (nd_hybrid_load(s) + 1);
		nd_hybrid_unlock(s);
	}
	given = malloc(cap);
	if (given) {
		given[0] = 0;
		for (i = 0; i < cfg->nsvc; i++)
			if (cfg->svc[i].model == ND_MODEL_HYBRID)
				len = nd_hybrid_given(&cfg->svc[i], given, cap, len);
		/* A memfd (envfd.c): any number of words, no E2BIG. */
		if (nd_envfd_put("NSTCPD_GIVEN", given))
			nd_log("NSTCPD_GIVEN: %s: the hybrid connections not taken stay here",
			       strerror(errno));
		free(given);
	}
	/* The brokers' fresh reports: the new brokers answer at once. */
	given = nd_broker_loads(cfg);
	if (given && *given && nd_envfd_put("NSTCPD_BKLOADS", given))
		nd_log("NSTCPD_BKLOADS: %s: the new brokers wait for new reports",
		       strerror(errno));
	free(given);
	nd_reexec(reexec_argv, cfg, reload);
	nd_envfd_drop();
	if (nd_acceptors_start(cfg))
		nd_log("acceptors: %s", strerror(errno));
}

/*
 * SIGHUP: the configuration file read again; when valid, a new image
 * started on it (nd_reexec), else nothing changes.
 */
static void reload(struct nd_config *cfg)
{
	struct nd_config next;
	int fd;

	nd_log("SIGHUP: reloading %s", cfg->path);
	fd = nd_config_snapshot(cfg->path);
	if (fd < 0 || nd_config_load_fd(&next, cfg->path, fd)) {
		nd_log("reload: %s: configuration refused, the running services unchanged",
		       cfg->path);
		if (fd >= 0)
			close(fd);
		return;
	}
	nd_config_free(&next);
	/* The new image reads the bytes validated here (NSTCPD_CONFIG_FD). */
	nd_handover_config(fd);
	reexec(cfg, 1);
	nd_handover_config(-1);
	close(fd);
}

/* Acceptors that did not stop: the configuration is then not freed. */
static int acceptors_left;

/* Runs the services until SIGTERM or SIGINT. */
static int run(struct nd_config *cfg)
{
	struct owner {
		struct nd_service *s;
		int slot;		/* the hybrid worker of the channel */
	} *own;
	struct pollfd *pfd;
	struct timespec last = { 0, 0 }, quiet = { 0, 0 };
	sigset_t set;
	int sfd, i, n, stop = 0, dirty = 1;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		nd_handover_abort(cfg->status_path);
		return 1;
	}
	nd_handover_prune(cfg);
	if (nd_services_start(cfg) || nd_acceptors_start(cfg)) {
		nd_log("cannot start: %s", strerror(errno));
		/* Those started read the configuration main() frees. */
		acceptors_left = nd_acceptors_stop(cfg, 1) != 0;
		nd_services_stop(cfg);
		nd_handover_abort(cfg->status_path);
		return 1;
	}
	nd_handover_done();
	nd_handover_store();
	nd_hybrid_adopt(cfg, nd_handover_given());
	for (i = 0, n = 3; i < cfg->nsvc; i++)
		n += 1 + cfg->svc[i].ncopies;
	pfd = calloc(n, sizeof(*pfd));
	own = calloc(n, sizeof(*own));
	if (!pfd || !own) {
		acceptors_left = nd_acceptors_stop(cfg, 1) != 0;
		nd_services_stop(cfg);
		nd_handover_abort(cfg->status_path);
		return 1;
	}
	while (!stop) {
		long long wait = nd_services_tick(cfg), since, hush;
		struct signalfd_siginfo si;
		int reports = 0, more = 0;

		since = -nd_ms_until(&last);
		if (dirty && since >= STATUS_MS) {
			if (nd_status_write(cfg))
				nd_log("status file %s: %s", cfg->status_path,
				       strerror(errno));
			nd_now(&last);
			dirty = 0;
		} else if (dirty && (wait < 0 || wait > STATUS_MS - since)) {
			wait = STATUS_MS - since;
		}
		n = 0;
		pfd[n].fd = sfd;
		pfd[n++].events = POLLIN;
		pfd[n].fd = nd_status_pipe;
		pfd[n++].events = POLLIN;
		pfd[n].fd = nd_arrival_pipe;
		pfd[n++].events = POLLIN;
		/*
		 * The hybrid workers' reports are read in batches, at most
		 * every ND_REPORT_BATCH_MS, not a wake-up each: the hand-off
		 * paths read the reports themselves when the loads matter
		 * (nd_hybrid_direct, nd_hybrid_reports).
		 */
		hush = nd_ms_until(&quiet);
		if (hush > 0 && (wait < 0 || wait > hush))
			wait = hush;
		for (i = 0; i < cfg->nsvc && hush <= 0; i++) {
			struct nd_service *s = &cfg->svc[i];
			int k;

			for (k = 0; k < s->ncopies && s->model == ND_MODEL_HYBRID; k++) {
				if (s->copies[k].chan < 0)
					continue;
				own[n] = (struct owner){ s, k };
				pfd[n].fd = s->copies[k].chan;
				pfd[n++].events = POLLIN;
			}
		}
		if (poll(pfd, n, wait > 1000 || wait < 0 ? 1000 : (int)wait) < 0 &&
		    errno != EINTR)
			break;
		/* Periodic rewrite: monolithic counters come from /proc. */
		if (-nd_ms_until(&last) >= 1000)
			dirty = 1;
		if (pfd[1].revents) {
			nd_standard_reports(cfg);
			dirty = 1;
		}
		/* The workers' reports first: their loads for the arrivals. */
		for (i = 3; i < n; i++) {
			if (!pfd[i].revents)
				continue;
			if (own[i].s->copies[own[i].slot].chan == pfd[i].fd)
				more |= nd_hybrid_read(own[i].s, own[i].slot);
			dirty = 1;
			reports = 1;
		}
		/*
		 * The pause only when every channel read was drained: one
		 * that stopped at the batch bound is polled again at once,
		 * else a busy worker's reports pile up and its sends block.
		 */
		if (reports && !more) {
			nd_after_ms(&quiet, ND_REPORT_BATCH_MS);
		}
		if (pfd[2].revents) {
			nd_arrivals(cfg);
			dirty = 1;
		}
		while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
			switch (si.ssi_signo) {
			case SIGCHLD:
				nd_reap(cfg);
				dirty = 1;
				break;
			case SIGHUP:
				reload(cfg);
				dirty = 1;
				break;
			case SIGUSR2:
				nd_log("SIGUSR2: restarting");
				reexec(cfg, 0);
				break;
			default:
				nd_log("signal %d: stopping", si.ssi_signo);
				stop = 1;
			}
		}
	}
	/*
	 * The acceptors first, before any SIGTERM: nothing more accepted
	 * (under a store of descriptors the queued connections stay in the
	 * kernel for the next nstcpd), none handed to a dying worker, and
	 * the threads gone before the configuration they read is freed.
	 */
	acceptors_left = nd_acceptors_stop(cfg, 1) != 0;
	nd_handover_stop();
	nd_services_stop(cfg);
	unlink(cfg->status_path);
	free(pfd);
	free(own);
	close(sfd);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'k' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "status-file", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = CONFIG_DEF, *status = NULL;
	int check = 0, fg = 0, c, r;
	struct nd_config cfg;

	nd_self_path();
	if (argc > 1 && (!strcmp(argv[1], "status") ||
			 !strcmp(argv[1], "reload") || !strcmp(argv[1], "restart")))
		return nd_status_main(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "front"))
		return nd_front_main(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "broker"))
		return nd_broker_main(argc - 1, argv + 1);
	while ((c = getopt_long(argc, argv, "c:fs:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'k':
			check = 1;
			break;
		case 'f':
			fg = 1;
			break;
		case 's':
			status = optarg;
			break;
		case 'h':
			usage();
			return 0;
		default:
			usage();
			return 2;
		}
	}
	if (optind != argc) {
		usage();
		return 2;
	}
	if (!check) {
		static char cfgabs[PATH_MAX], stabs[PATH_MAX];
		int k = 0;

		reexec_argv[k++] = argv[0];
		reexec_argv[k++] = "-f";
		reexec_argv[k++] = "-c";
		reexec_argv[k++] = absolute(path, cfgabs, sizeof(cfgabs));
		if (status) {
			reexec_argv[k++] = "-s";
			reexec_argv[k++] = absolute(status, stabs, sizeof(stabs));
		}
		nd_handover_load();
	}
	r = check ? -1 : nd_handover_config_in();
	if (r >= 0)
		nd_log("%s: read as the reload validated it", path);
	c = nd_config_load_fd(&cfg, path, r);
	if (r >= 0)
		close(r);
	if (c) {
		fprintf(stderr, "nstcpd: %s: configuration refused, nothing started\n",
			path);
		nd_handover_abort(status);
		return 1;
	}
	if (status)
		snprintf(cfg.status_path, sizeof(cfg.status_path), "%s", status);
	if (check) {
		printf("%s: %d service%s, configuration valid\n", path, cfg.nsvc,
		       cfg.nsvc == 1 ? "" : "s");
		nd_config_free(&cfg);
		return 0;
	}
	if (!fg && daemon(0, 1)) {
		perror("nstcpd: daemon");
		return 1;
	}
	r = run(&cfg);
	if (!acceptors_left)
		nd_config_free(&cfg);
	return r;
}
