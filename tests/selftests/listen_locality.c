// SPDX-License-Identifier: GPL-2.0
/*
 * Selftest: accept locality.  A veth pair joins two network namespaces,
 * "srv" (198.18.0.1/24) and "cli" (198.18.0.2/24); RPS on the srv side's
 * receive queue spreads arriving flows over every CPU, standing in for a
 * NIC's RSS.  The server has one AF_NSTCP listening socket and one acceptor
 * thread pinned per CPU; client threads in "cli" make 200 connections,
 * each sending a byte that the server reads before it looks at the accepted
 * socket's SO_INCOMING_CPU (so that is the CPU the flow's packets are
 * processed on).  It must be the acceptor's own CPU for at least 99% of
 * them, with net.nstcp.accept_steal=0 and with stealing on after
 * accept_steal_delay_ms, which leaves a busy acceptor time to come back for
 * its CPU's connection.  The delay is set to 250 ms here: the default 20 ms
 * is shorter than an acceptor's turn can be on the debug kernel under TCG.
 *
 * The namespaces are made with ip(8) by this process, which runs the test
 * in a child and deletes them afterwards, however the child ended.
 */
#include <sys/wait.h>

#include "listen_util.h"

#define SRV_IP		"198.18.0.1"
#define CLI_IP		"198.18.0.2"
#define CONNS		200	/* connections per phase */
#define MIN_PCT		99
#define CHILD_CASES	(5 + 3)		/* + fam_finish()'s 3 */
#define NCASES		(2 + CHILD_CASES + 3 + 1)

static char srv_ns[32], cli_ns[32], srv_dev[16], cli_dev[16];
static int ncpus;
static pid_t child_pid;

static void kill_child(int sig)
{
	(void)sig;
	if (child_pid > 0)
		kill(child_pid, SIGKILL);
}

static int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	r = system(cmd);
	if (r)
		tap_diag("`%s` failed (%d)", cmd, r);
	return r;
}

static int setup(char *mask, size_t len)
{
	char got[64] = "", cmd[256];
	FILE *p;

	snprintf(mask, len, "%llx",
		 ncpus >= 64 ? ~0ULL : (1ULL << ncpus) - 1);
	if (sh("ip netns add %s && ip netns add %s", srv_ns, cli_ns) ||
	    sh("ip -n %s link add %s type veth peer name %s netns %s",
	       srv_ns, srv_dev, cli_dev, cli_ns) ||
	    sh("ip -n %s addr add %s/24 dev %s && ip -n %s link set %s up && ip -n %s link set lo up",
	       srv_ns, SRV_IP, srv_dev, srv_ns, srv_dev, srv_ns) ||
	    sh("ip -n %s addr add %s/24 dev %s && ip -n %s link set %s up && ip -n %s link set lo up",
	       cli_ns, CLI_IP, cli_dev, cli_ns, cli_dev, cli_ns) ||
	    sh("ip netns exec %s sh -c 'echo %s > /sys/class/net/%s/queues/rx-0/rps_cpus'",
	       srv_ns, mask, srv_dev))
		return -1;
	snprintf(cmd, sizeof(cmd),
		 "ip netns exec %s cat /sys/class/net/%s/queues/rx-0/rps_cpus",
		 srv_ns, srv_dev);
	p = popen(cmd, "r");
	if (p) {
		if (!fgets(got, sizeof(got), p))
			got[0] = 0;
		pclose(p);
	}
	/* Read back with leading zeros and commas, as sysfs prints masks. */
	{
		char *s = got, *d = got;

		for (; *s; s++)
			if (*s != ',' && *s != '\n')
				*d++ = *s;
		*d = 0;
		for (s = got; *s == '0' && s[1]; s++)
			;
		if (strcmp(s, mask)) {
			tap_diag("rps_cpus reads %s, want %s", got, mask);
			return -1;
		}
	}
	return 0;
}

static int cleanup(void)
{
	char path[64];
	int gone = 1;

	sh("ip netns del %s 2>/dev/null; ip netns del %s 2>/dev/null; true",
	   srv_ns, cli_ns);
	snprintf(path, sizeof(path), "/run/netns/%s", srv_ns);
	gone &= access(path, F_OK) != 0;
	snprintf(path, sizeof(path), "/run/netns/%s", cli_ns);
	gone &= access(path, F_OK) != 0;
	return gone;
}

/*
 * One phase on a listener of its own: accept_steal as given, an acceptor
 * pinned per CPU (serving itself, or with handoff through a worker pinned
 * to its CPU), nclients client threads in "cli" making CONNS connections
 * between them.  With check, at least MIN_PCT% must be local.
 */
static void phase(int cli, const char *steal, int nclients, int handoff,
		  int check)
{
	struct lst_acceptor ac[LST_MAXCPU];
	struct lst_client cl[LST_MAXCPU];
	int served = 0, local = 0, ok = 0, fail = 0, first = 0, offcpu = 0;
	int spread = 1, errs = 0, lfd, port = 0;
	const char *how = handoff ? "handing off to workers" : "serving";
	struct lst_port st;
	char buf[16];

	lst_sysctl_write("accept_steal", steal);
	lst_sysctl_write("accept_steal_delay_ms", "250");
	lst_sysctl_read("accept_steal", buf, sizeof(buf));
	lfd = lst_member(SRV_IP, 0, NULL, 0, &port);
	for (int c = 0; lfd >= 0 && c < ncpus; c++)
		lst_acceptor_start_ex(&ac[c], lfd, c, NULL, 0, handoff);
	lst_sleep_ms(100);
	for (int t = 0; lfd >= 0 && t < nclients; t++)
		lst_client_start_in(&cl[t], cli, SRV_IP, port, -1,
				    CONNS / nclients + (t < CONNS % nclients),
				    FAM_TIMEOUT_MS, NULL);
	for (int t = 0; lfd >= 0 && t < nclients; t++) {
		lst_client_join(&cl[t]);
		ok += cl[t].ok;
		fail += cl[t].fail;
		if (!first)
			first = cl[t].first_err;
	}
	lst_proc(port, &st);
	if (lfd >= 0)
		shutdown(lfd, SHUT_RD);		/* ends the blocked accepts */
	for (int c = 0; lfd >= 0 && c < ncpus; c++) {
		lst_acceptor_stop(&ac[c]);
		served += atomic_load(&ac[c].served);
		local += atomic_load(&ac[c].local);
		offcpu += atomic_load(&ac[c].offcpu);
		errs += atomic_load(&ac[c].errors);
		spread &= atomic_load(&ac[c].served) > 0;
	}
	if (lfd >= 0)
		close(lfd);
	tap_diag("accept_steal=%s, acceptors %s, %d clients: CPU served/local/stolen from:",
		 buf, how, nclients);
	for (int c = 0; lfd >= 0 && c < ncpus; c++)
		tap_diag("  CPU %d: %d/%d/%ld", c, atomic_load(&ac[c].served),
			 atomic_load(&ac[c].local), st.stolen[c]);

	FAM_OK(lfd >= 0 && ok == CONNS && !fail && served == CONNS && !errs,
	       "accept_steal=%s, acceptors %s, %d clients: all %d connections served (%d ok, %d failed: %s; %d server errors)",
	       buf, how, nclients, CONNS, ok, fail,
	       first ? strerror(first) : "none", errs);
	if (check)
		FAM_OK(served && local * 100 >= served * MIN_PCT,
		       "accept_steal=%s, acceptors %s: SO_INCOMING_CPU is the acceptor's CPU for %d of %d (%.1f%%, want >= %d%%)",
		       buf, how, local, served,
		       served ? 100.0 * local / served : 0.0, MIN_PCT);
	else
		tap_diag("accept_steal=%s, acceptors %s: SO_INCOMING_CPU is the acceptor's CPU for %d of %d (%.1f%%; not checked: a busy or stalled acceptor's connections go to an idle one)",
			 buf, how, local, served,
			 served ? 100.0 * local / served : 0.0);
	FAM_OK(spread && !offcpu,
	       "accept_steal=%s, acceptors %s: RPS spread the flows over all %d CPUs, each acceptor on its own",
	       buf, how, ncpus);
	FAM_OK(st.sum_stolen == served - local,
	       "accept_steal=%s, acceptors %s: /proc counts %ld stolen, as the acceptors saw (%d)",
	       buf, how, st.sum_stolen, served - local);
}

static int child(void)
{
	int srv, cli;
	char path[64];

	snprintf(path, sizeof(path), "/run/netns/%s", srv_ns);
	srv = open(path, O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "/run/netns/%s", cli_ns);
	cli = open(path, O_RDONLY | O_CLOEXEC);
	if (srv < 0 || cli < 0 || setns(srv, CLONE_NEWNET)) {
		printf("Bail out! namespaces: %s\n", strerror(errno));
		return 1;
	}
	/* fam_start() without the plan, which the parent printed. */
	fam_planned = tap_n + CHILD_CASES;	/* the cases before its 3 */
	signal(SIGALRM, fam_watchdog);
	signal(SIGPIPE, SIG_IGN);
	alarm(50);
	fam_fds_at_start = fam_count_fds();
	fam_read_stats(&fam_stats_at_start);

	phase(cli, "0", ncpus, 0, 1);
	phase(cli, "1", ncpus, 1, 1);
	lst_sleep_ms(200);
	return fam_finish();
}

int main(void)
{
	char mask[32];
	int status = 0, pfd[2], n, ok;
	pid_t pid;

	setvbuf(stdout, NULL, _IOLBF, 0);
	ncpus = lst_ncpus();
	if (ncpus > LST_MAXCPU)
		ncpus = LST_MAXCPU;
	snprintf(srv_ns, sizeof(srv_ns), "nstcp-srv-%d", getpid());
	snprintf(cli_ns, sizeof(cli_ns), "nstcp-cli-%d", getpid());
	snprintf(srv_dev, sizeof(srv_dev), "nsv%ds", getpid());
	snprintf(cli_dev, sizeof(cli_dev), "nsv%dc", getpid());
	tap_plan(NCASES);
	if (ncpus < 2) {
		for (int i = 0; i < NCASES; i++)
			tap_skip("needs 2 CPUs", "accept locality");
		return tap_done();
	}
	ok = !setup(mask, sizeof(mask));
	FAM_OK(ok, "namespaces %s and %s joined by veth %s/%s", srv_ns, cli_ns,
	       srv_dev, cli_dev);
	FAM_OK(ok, "RPS on %s rx-0: rps_cpus %s (%d CPUs)", srv_dev, mask, ncpus);
	if (!ok) {
		for (int i = 0; i < CHILD_CASES + 3; i++)
			tap_ok(0, "setup failed");
	} else if (pipe(pfd) == 0) {
		pid = fork();
		if (pid == 0) {
			close(pfd[0]);
			status = child();
			n = tap_n;
			if (write(pfd[1], &n, sizeof(n)) != sizeof(n))
				status = 1;
			_exit(status);
		}
		close(pfd[1]);
		child_pid = pid;
		sigaction(SIGALRM, &(struct sigaction){ .sa_handler = kill_child },
			  NULL);
		alarm(58);	/* the child's watchdog fires first */
		if (pid < 0 || read(pfd[0], &n, sizeof(n)) != sizeof(n))
			n = -1;
		close(pfd[0]);
		if (pid > 0)
			waitpid(pid, &status, 0);
		alarm(0);
		if (n < 0) {
			tap_diag("the test child did not report (status %#x)",
				 status);
			while (tap_n < NCASES - 1)
				tap_ok(0, "test child");
		} else {
			tap_n = n;
			if (!WIFEXITED(status) || WEXITSTATUS(status))
				tap_failed++;
		}
	}
	FAM_OK(cleanup(), "namespaces %s and %s deleted", srv_ns, cli_ns);
	return tap_done();
}
