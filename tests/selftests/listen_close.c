// SPDX-License-Identifier: GPL-2.0
/*
 * Selftest: closing listening sockets of a shared port under continuous
 * connection load.  Three members share a port; a client thread per CPU
 * connects continuously (connect, send a byte, read the reply).  One member
 * closes, another is shut down for reading (its blocked accept fails
 * EINVAL) and closes, and the last one serves on: the clients see no reset,
 * refusal or timeout, and the connections the leaving members had been
 * given are served by the others (migrated, under roundrobin).  Then the
 * last member closes with connections queued: those are reset, as closing
 * an AF_INET listener does, and the port refuses connections.  Runs under
 * the cpu and the roundrobin policies, in a network namespace of its own.
 */
#include "listen_util.h"

#define PER_ROUND	10
#define NCASES		(2 * PER_ROUND)
#define STEP		15	/* connections served between the steps */
#define CLIENT_MS	10000	/* a client's wait for each step */
#define LAST_N		3	/* connections queued at the last close */

static int ncpus;

/* Waits up to ms for *total to reach want; returns it. */
static int wait_total(atomic_int *total, int want, int ms)
{
	long long end = lst_now_ms() + ms;

	while (atomic_load(total) < want && lst_now_ms() < end)
		lst_sleep_ms(5);
	return atomic_load(total);
}

/* Waits up to ms for the thread to end; 1 if it did (and is joined). */
static int wait_thread(pthread_t tid, int ms)
{
	long long end = lst_now_ms() + ms;

	while (lst_now_ms() < end) {
		if (!pthread_tryjoin_np(tid, NULL))
			return 1;
		lst_sleep_ms(5);
	}
	return 0;
}

static void round_(int policy)
{
	const char *pname = policy == NSTCP_POLICY_CPU ? "cpu" : "roundrobin";
	struct lst_client cl[LST_MAXCPU];
	struct lst_acceptor ac[3];
	atomic_int total = 0, stop = 0;
	int lfd[3], port = 0, ok = 1, n, got, fail = 0, cok = 0, first = 0;
	int resets = 0, refused = 0, timeouts = 0, cfd[LAST_N];
	struct lst_port st;
	long long t0;

	for (int k = 0; k < 3; k++) {
		lfd[k] = lst_member(LST_IP, port, "close", k ? 0 : policy, &port);
		ok &= lfd[k] >= 0;
	}
	lst_proc(port, &st);
	FAM_OK(ok && st.listeners == 3 && !strcmp(st.policy, pname),
	       "%s: 3 members share port %d (/proc: %d listeners, %s)", pname,
	       port, st.listeners, st.policy);
	if (!ok) {
		for (int k = 0; k < 3; k++)
			fam_close(&lfd[k]);
		for (int i = 1; i < PER_ROUND; i++)
			tap_ok(0, "%s: setup", pname);
		return;
	}
	for (int k = 0; k < 3; k++)
		lst_acceptor_start(&ac[k], lfd[k], -1, &total);
	for (int c = 0; c < ncpus; c++)
		lst_client_start(&cl[c], LST_IP, port, c, 0, CLIENT_MS, &stop);

	/* Member 0 stops accepting, and closes holding what it was given. */
	n = wait_total(&total, STEP, 10000);
	lst_acceptor_stop(&ac[0]);
	if (policy == NSTCP_POLICY_ROUNDROBIN) {
		/* Until a connection is assigned to it. */
		t0 = lst_now_ms();
		while (!(fam_wait(lfd[0], POLLIN, 100) & POLLIN) &&
		       lst_now_ms() - t0 < 5000)
			;
	} else {
		lst_sleep_ms(100);
	}
	fam_close(&lfd[0]);
	got = wait_total(&total, atomic_load(&total) + STEP, 10000);
	lst_proc(port, &st);
	FAM_OK(n >= STEP && got >= n + STEP && st.listeners == 2,
	       "%s: after a member closed under load the port serves on (%d served before, %d after; %d listeners)",
	       pname, n, got, st.listeners);

	/* Member 1: shutdown(SHUT_RD) from here ends its blocked accept. */
	t0 = lst_now_ms();
	shutdown(lfd[1], SHUT_RD);
	n = wait_thread(ac[1].tid, 3000);
	if (n)
		ac[1].tid = 0;
	FAM_OK(n && ac[1].exit_err == EINVAL && lst_now_ms() - t0 < 2000,
	       "%s: shutdown(SHUT_RD) ends the member's blocked accept with EINVAL (%s, %lld ms)",
	       pname, n ? strerror(ac[1].exit_err) : "still running",
	       lst_now_ms() - t0);
	lst_acceptor_stop(&ac[1]);
	fam_close(&lfd[1]);
	n = atomic_load(&total);
	got = wait_total(&total, n + STEP, 10000);
	lst_proc(port, &st);
	FAM_OK(got >= n + STEP && st.listeners == 1,
	       "%s: the last member serves on alone (%d more; %d listener)", pname,
	       got - n, st.listeners);

	atomic_store(&stop, 1);
	for (int c = 0; c < ncpus; c++) {
		lst_client_join(&cl[c]);
		cok += cl[c].ok;
		fail += cl[c].fail;
		resets += cl[c].resets;
		refused += cl[c].refused;
		timeouts += cl[c].timeouts;
		if (!first)
			first = cl[c].first_err;
	}
	lst_acceptor_stop(&ac[2]);
	FAM_OK(!fail, "%s: %d client exchanges, %d failed (%d resets, %d refused, %d timeouts; first %s)",
	       pname, cok, fail, resets, refused, timeouts,
	       first ? strerror(first) : "none");
	n = atomic_load(&ac[0].served) + atomic_load(&ac[1].served) +
	    atomic_load(&ac[2].served);
	FAM_OK(n == cok && !atomic_load(&ac[0].errors) &&
	       !atomic_load(&ac[1].errors) && !atomic_load(&ac[2].errors),
	       "%s: the servers answered every one (%d: %d, %d, %d)", pname, n,
	       atomic_load(&ac[0].served), atomic_load(&ac[1].served),
	       atomic_load(&ac[2].served));
	lst_proc(port, &st);
	if (policy == NSTCP_POLICY_ROUNDROBIN)
		FAM_OK(st.migrated > 0,
		       "%s: what the leaving members held went to the others (migrated %ld)",
		       pname, st.migrated);
	else
		FAM_OK(st.migrated == 0,
		       "%s: nothing is assigned, so nothing migrates (migrated %ld)",
		       pname, st.migrated);

	/* The last member closes with connections queued: they are reset. */
	for (int i = 0; i < LAST_N; i++) {
		cfd[i] = lst_connect(LST_IP, port, FAM_TIMEOUT_MS);
		if (cfd[i] >= 0 && lst_request(cfd[i]))
			fam_close(&cfd[i]);
	}
	lst_wait_queued(port, LAST_N, 3000);
	fam_close(&lfd[2]);
	resets = 0;
	for (int i = 0; i < LAST_N; i++) {
		int e = cfd[i] >= 0 ? lst_reply(cfd[i]) : -1;

		resets += e == ECONNRESET;
		fam_close(&cfd[i]);
	}
	FAM_OK(resets == LAST_N,
	       "%s: the last member's close resets the %d queued connections (%d)",
	       pname, LAST_N, resets);
	n = lst_connect(LST_IP, port, FAM_TIMEOUT_MS);
	FAM_OK(n < 0 && errno == ECONNREFUSED, "%s: then the port refuses (%s)",
	       pname, n < 0 ? strerror(errno) : "connected");
	if (n >= 0)
		close(n);
	FAM_OK(lst_proc(port, &st) == 0,
	       "%s: /proc/net/nstcp_listen no longer lists it", pname);
}

int main(void)
{
	lst_private_netns();
	ncpus = lst_ncpus();
	if (ncpus > LST_MAXCPU)
		ncpus = LST_MAXCPU;
	fam_start(NCASES, 55);
	round_(NSTCP_POLICY_CPU);
	round_(NSTCP_POLICY_ROUNDROBIN);
	return fam_finish();
}
