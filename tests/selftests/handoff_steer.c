// SPDX-License-Identifier: GPL-2.0
/*
 * Selftest: steering follows the taker.  With RFS configured on lo, a
 * connection given from CPU 0 to a taker pinned on CPU 1 is counted
 * rehomed, its packets are processed on CPU 1 from the first exchange on
 * (NSTCP_HOME_CPU), and the taker's calls make no hop.  Runs in the initial
 * network namespace (RFS's table is global, lo's queues are its) and puts
 * the RFS settings back.
 */
#include "handoff_util.h"

#define NCASES 6
#define NX 20	/* request/reply exchanges after the take */

static const char *const flow_entries = "/proc/sys/net/core/rps_sock_flow_entries";
static const char *const flow_cnt = "/sys/class/net/lo/queues/rx-0/rps_flow_cnt";

static int file_rw(const char *path, char *old, size_t len, const char *val)
{
	int fd = open(path, O_RDWR);
	ssize_t n;

	if (fd < 0)
		return -1;
	if (old) {
		n = read(fd, old, len - 1);
		old[n > 0 ? n : 0] = 0;
	}
	n = pwrite(fd, val, strlen(val), 0);	/* a sysctl ignores a write past 0 */
	close(fd);
	return n < 0 ? -1 : 0;
}

/* The taker, on CPU 1: takes, then answers NX requests, waiting for each. */
static int taker(int in, int out)
{
	long calls, hops;
	struct ho_msg m;
	int fd, home = -1, i;
	char c;

	lst_pin(1);
	if (ho_get(in, &m, FAM_TIMEOUT_MS))
		return 10;
	fd = ho_take_new(m.token);
	if (fd < 0 || ho_put(out, &m))
		return 11;
	calls = ho_stat("calls");
	hops = ho_stat("hops");
	for (i = 0; i < NX; i++) {
		/* Called once the request is here: its CPU is known. */
		if (!(fam_wait(fd, POLLIN, FAM_TIMEOUT_MS) & POLLIN) ||
		    recv(fd, &c, 1, 0) != 1 || send(fd, &c, 1, 0) != 1)
			return 12;
		if (!i)
			fam_getint(fd, SOL_NSTCP, NSTCP_HOME_CPU, &home);
	}
	m.val = ho_stat("calls") - calls;
	m.sum = ho_stat("hops") - hops;
	m.token = home;
	close(fd);
	return ho_put(out, &m) ? 13 : 0;
}

int main(void)
{
	char old_entries[32] = "", old_cnt[32] = "", c = 'q';
	long rehomed = ho_stat("rehomed");
	int cfd, sfd, p2c[2], c2p[2], st, i, ok = 1;
	struct ho_msg m = { 0 };
	pid_t pid;

	fam_start(NCASES, 60);
	if (lst_ncpus() < 2 || file_rw(flow_entries, old_entries, sizeof(old_entries), "4096") ||
	    file_rw(flow_cnt, old_cnt, sizeof(old_cnt), "4096")) {
		for (i = 0; i < NCASES; i++)
			tap_skip("needs 2 CPUs and RFS settings", "steering");
		return fam_finish();
	}
	lst_pin(0);
	/* The peer is AF_INET: only the taker's calls are counted. */
	if (fam_pair_of(AF_INET, AF_NSTCP, LST_IP, &cfd, &sfd) || pipe(p2c) ||
	    pipe(c2p)) {
		printf("Bail out! pair: %s\n", strerror(errno));
		return 1;
	}
	pid = fork();
	if (pid == 0) {
		close(cfd);
		close(sfd);
		close(p2c[1]);
		close(c2p[0]);
		_exit(taker(p2c[0], c2p[1]));
	}
	close(p2c[0]);
	close(c2p[1]);
	FAM_OK(!ho_give_pid(sfd, pid, 5000, &m.token), "give to the taker on CPU 1");
	ho_put(p2c[1], &m);
	/* Requests sent before the take would be processed where RFS said. */
	if (ho_get(c2p[0], &m, FAM_TIMEOUT_MS))
		tap_diag("the taker did not say it took");
	lst_pin(2 % lst_ncpus());
	for (i = 0; i < NX && ok; i++)
		ok = send(cfd, &c, 1, 0) == 1 && recv(cfd, &c, 1, 0) == 1;
	FAM_OK(ok, "%d request/reply exchanges with the taker", NX);
	st = ho_reap(pid, FAM_TIMEOUT_MS);
	FAM_OK(st == 0 && !ho_get(c2p[0], &m, FAM_TIMEOUT_MS), "the taker answered all (%d)", st);
	FAM_OK(ho_stat("rehomed") - rehomed == 1, "the take was counted rehomed");
	FAM_OK((long)m.token == 1, "the flow's packets were processed on CPU 1 from the first exchange (home %ld)",
	       (long)m.token);
	FAM_OK(m.val >= 2 * NX && m.sum == 0,
	       "the taker's %ld calls made %ld hops", (long)m.val, (long)m.sum);
	close(cfd);
	close(sfd);
	close(p2c[1]);
	close(c2p[0]);
	file_rw(flow_cnt, NULL, 0, old_cnt);
	file_rw(flow_entries, NULL, 0, old_entries);
	return fam_finish();
}
