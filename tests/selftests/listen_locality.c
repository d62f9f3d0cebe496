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
#include "listen_util.h"
#include "rps_pair.h"

#define CONNS		200	/* connections per phase */
#define MIN_PCT		99
#define CHILD_CASES	8		/* two phases of 4; then fam_finish()'s 3 */
#define NCASES		(2 + CHILD_CASES + 3 + 1)

static int ncpus;

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
	struct lst_client all = {};
	int served = 0, local = 0, offcpu = 0;
	int spread = 1, errs = 0, lfd, port = 0;
	const char *how = handoff ? "handing off to workers" : "serving";
	struct lst_port st;
	char buf[16];

	lst_sysctl_write("accept_steal", steal);
	lst_sysctl_write("accept_steal_delay_ms", "250");
	lst_sysctl_read("accept_steal", buf, sizeof(buf));
	lfd = lst_member(RPS_SRV_IP, 0, NULL, 0, &port);
	for (int c = 0; lfd >= 0 && c < ncpus; c++)
		lst_acceptor_start_ex(&ac[c], lfd, c, NULL, 0, handoff);
	lst_sleep_ms(100);
	if (lfd >= 0)
		lst_clients_run(cl, nclients, cli, RPS_SRV_IP, port, CONNS,
				FAM_TIMEOUT_MS, &all);
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

	FAM_OK(lfd >= 0 && all.ok == CONNS && !all.fail && served == CONNS && !errs,
	       "accept_steal=%s, acceptors %s, %d clients: all %d connections served (%d ok, %d failed: %s; %d server errors)",
	       buf, how, nclients, CONNS, all.ok,
	       all.fail, all.first_err ? strerror(all.first_err) : "none", errs);
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

static int child(int cli)
{
	fam_start_child(CHILD_CASES, 50);	/* the cases before its 3 */

	phase(cli, "0", ncpus, 0, 1);
	phase(cli, "1", ncpus, 1, 1);
	lst_sleep_ms(200);
	return fam_finish();
}

int main(void)
{
	struct rps_pair p;

	setvbuf(stdout, NULL, _IOLBF, 0);
	ncpus = lst_plan_cpus(NCASES, 2, "accept locality");
	if (!ncpus)
		return tap_done();
	/* The child's watchdog fires first. */
	rps_pair_run(&p, ncpus, CHILD_CASES + 3, 58, child);
	return tap_done();
}
