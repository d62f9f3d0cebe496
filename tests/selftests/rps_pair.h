/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Two network namespaces joined by a veth pair, "srv" (198.18.0.1/24) and
 * "cli" (198.18.0.2/24), with RPS on the srv side's receive queue spreading
 * arriving flows over every CPU, standing in for a NIC's RSS.  Made with
 * ip(8) by the test's parent process, which deletes them however its child
 * ended.
 */
#ifndef NSTCP_SELFTEST_RPS_PAIR_H
#define NSTCP_SELFTEST_RPS_PAIR_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"

#define RPS_SRV_IP	"198.18.0.1"
#define RPS_CLI_IP	"198.18.0.2"

struct rps_pair {
	char srv_ns[32], cli_ns[32], srv_dev[16], cli_dev[16];
	char mask[32];
};

static inline int rps_sh(const char *fmt, ...)
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

/* The rps_cpus mask as sysfs prints it, without commas and leading zeros. */
static inline void rps_read_mask(const struct rps_pair *p, char *got,
				 size_t len)
{
	char cmd[256], *s, *d;
	FILE *f;

	snprintf(cmd, sizeof(cmd),
		 "ip netns exec %s cat /sys/class/net/%s/queues/rx-0/rps_cpus",
		 p->srv_ns, p->srv_dev);
	got[0] = 0;
	f = popen(cmd, "r");
	if (f) {
		if (!fgets(got, len, f))
			got[0] = 0;
		pclose(f);
	}
	for (s = d = got; *s; s++)
		if (*s != ',' && *s != '\n')
			*d++ = *s;
	*d = 0;
	for (s = got; *s == '0' && s[1]; s++)
		;
	memmove(got, s, strlen(s) + 1);
}

/* Makes the pair for @ncpus CPUs, names unique to this process.  0 or -1. */
static inline int rps_pair_setup(struct rps_pair *p, int ncpus)
{
	char got[64];

	snprintf(p->srv_ns, sizeof(p->srv_ns), "nstcp-srv-%d", getpid());
	snprintf(p->cli_ns, sizeof(p->cli_ns), "nstcp-cli-%d", getpid());
	snprintf(p->srv_dev, sizeof(p->srv_dev), "nsv%ds", getpid());
	snprintf(p->cli_dev, sizeof(p->cli_dev), "nsv%dc", getpid());
	snprintf(p->mask, sizeof(p->mask), "%llx",
		 ncpus >= 64 ? ~0ULL : (1ULL << ncpus) - 1);
	if (rps_sh("ip netns add %s && ip netns add %s", p->srv_ns, p->cli_ns) ||
	    rps_sh("ip -n %s link add %s type veth peer name %s netns %s",
		   p->srv_ns, p->srv_dev, p->cli_dev, p->cli_ns) ||
	    rps_sh("ip -n %s addr add %s/24 dev %s && ip -n %s link set %s up && ip -n %s link set lo up",
		   p->srv_ns, RPS_SRV_IP, p->srv_dev, p->srv_ns, p->srv_dev,
		   p->srv_ns) ||
	    rps_sh("ip -n %s addr add %s/24 dev %s && ip -n %s link set %s up && ip -n %s link set lo up",
		   p->cli_ns, RPS_CLI_IP, p->cli_dev, p->cli_ns, p->cli_dev,
		   p->cli_ns) ||
	    rps_sh("ip netns exec %s sh -c 'echo %s > /sys/class/net/%s/queues/rx-0/rps_cpus'",
		   p->srv_ns, p->mask, p->srv_dev))
		return -1;
	rps_read_mask(p, got, sizeof(got));
	if (strcmp(got, p->mask)) {
		tap_diag("rps_cpus reads %s, want %s", got, p->mask);
		return -1;
	}
	return 0;
}

/* Deletes the pair; 1 when both namespaces are gone. */
static inline int rps_pair_cleanup(const struct rps_pair *p)
{
	char path[64];
	int gone = 1;

	rps_sh("ip netns del %s 2>/dev/null; ip netns del %s 2>/dev/null; true",
	       p->srv_ns, p->cli_ns);
	snprintf(path, sizeof(path), "/run/netns/%s", p->srv_ns);
	gone &= access(path, F_OK) != 0;
	snprintf(path, sizeof(path), "/run/netns/%s", p->cli_ns);
	gone &= access(path, F_OK) != 0;
	return gone;
}

/*
 * Moves the calling process into srv; returns an fd of cli for setns() by
 * client threads, or -1.
 */
static inline int rps_pair_enter(const struct rps_pair *p)
{
	char path[64];
	int srv, cli;

	snprintf(path, sizeof(path), "/run/netns/%s", p->srv_ns);
	srv = open(path, O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "/run/netns/%s", p->cli_ns);
	cli = open(path, O_RDONLY | O_CLOEXEC);
	if (srv < 0 || cli < 0 || setns(srv, CLONE_NEWNET)) {
		if (cli >= 0)
			close(cli);
		cli = -1;
	}
	if (srv >= 0)
		close(srv);
	return cli;
}

static pid_t rps_child_pid;

static inline void rps_kill_child(int sig)
{
	(void)sig;
	if (rps_child_pid > 0)
		kill(rps_child_pid, SIGKILL);
}

/*
 * Runs @fn(@arg) in a child process that prints TAP cases of its own (its
 * watchdog must fire before @seconds); the parent then counts on from the
 * child's last case, or, when the child could not report, fails the cases
 * up to number @pad_to.
 */
static inline void rps_run_child(int (*fn)(void *), void *arg, int pad_to,
				 int seconds)
{
	int status = 0, pfd[2], n;
	pid_t pid;

	if (pipe(pfd)) {
		while (tap_n < pad_to)
			tap_ok(0, "pipe: %s", strerror(errno));
		return;
	}
	pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		status = fn(arg);
		n = tap_n;
		if (write(pfd[1], &n, sizeof(n)) != sizeof(n))
			status = 1;
		_exit(status);
	}
	close(pfd[1]);
	rps_child_pid = pid;
	sigaction(SIGALRM, &(struct sigaction){ .sa_handler = rps_kill_child },
		  NULL);
	alarm(seconds);
	if (pid < 0 || read(pfd[0], &n, sizeof(n)) != sizeof(n))
		n = -1;
	close(pfd[0]);
	if (pid > 0)
		waitpid(pid, &status, 0);
	alarm(0);
	if (n < 0) {
		tap_diag("the test child did not report (status %#x)", status);
		while (tap_n < pad_to)
			tap_ok(0, "test child");
	} else {
		tap_n = n;
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			tap_failed++;
	}
}

struct rps_child {
	struct rps_pair *p;
	int (*child)(int cli);
};

/* In the child: into srv, then the test with cli's descriptor. */
static inline int rps_child_main(void *arg)
{
	struct rps_child *c = arg;
	int cli = rps_pair_enter(c->p);

	if (cli < 0) {
		printf("Bail out! namespaces: %s\n", strerror(errno));
		return 1;
	}
	return c->child(cli);
}

/*
 * Runs a test on the pair: sets it up (2 cases), runs @child(cli fd) in a
 * child process moved into srv, which reports @child_cases cases (its
 * watchdog must fire before @seconds), and deletes the pair (1 case).
 * Cases the child could not report count as failed.
 */
static inline void rps_pair_run(struct rps_pair *p, int ncpus,
				int child_cases, int seconds,
				int (*child)(int cli))
{
	struct rps_child c = { .p = p, .child = child };
	int ok = !rps_pair_setup(p, ncpus);

	tap_ok(ok, "namespaces %s and %s joined by veth %s/%s", p->srv_ns,
	       p->cli_ns, p->srv_dev, p->cli_dev);
	tap_ok(ok, "RPS on %s rx-0: rps_cpus %s (%d CPUs)", p->srv_dev,
	       p->mask, ncpus);
	if (ok) {
		rps_run_child(rps_child_main, &c, tap_n + child_cases, seconds);
	} else {
		for (int i = 0; i < child_cases; i++)
			tap_ok(0, "setup failed");
	}
	tap_ok(rps_pair_cleanup(p), "namespaces %s and %s deleted", p->srv_ns,
	       p->cli_ns);
}

#endif /* NSTCP_SELFTEST_RPS_PAIR_H */
