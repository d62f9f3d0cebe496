// SPDX-License-Identifier: GPL-2.0
/*
 * Starting a service's program: everything the new process needs (its
 * environment, the descriptor to pass, the user and groups to run as) is
 * prepared in nstcpd before the fork, since nstcpd is threaded and the
 * child may only make async-signal-safe calls until its exec: it pins
 * itself, drops its privileges (supplementary groups, group, user, in that
 * order, then checks it cannot become root again), takes its connection
 * (standard model), places its descriptor and execs.  A child that fails
 * says why on stderr with write(2) and exits 125 (take), 126 (privileges,
 * descriptor) or 127 (exec), which the models count as failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/types.h>
#include <linux/nstcp.h>

#include "nstcp.h"
#include "nstcpd.h"

extern char **environ;

#define ENV_OWN		8	/* variables nstcpd sets */
#define PID_DIGITS	20

/* An environment built in nstcpd: environ without ours, then ours. */
struct child_env {
	char **envp;
	char *pidvar;		/* "LISTEN_PID=" + PID_DIGITS, filled in the child */
	char own[ENV_OWN][ND_NAME_MAX + 64];
	int nown;
};

/*
 * A variable nstcpd sets (one of its own or of @extra, NAME=VALUE) or
 * keeps from its children: NOTIFY_SOCKET (the service manager's, for
 * nstcpd alone) and every NSTCPD_*.
 */
static int ours(const char *var, const char *const *extra)
{
	static const char *const names[] = {
		"LISTEN_FDS=", "LISTEN_PID=", "LISTEN_FDNAMES=", "NSTCP_TOKEN=",
		"NSTCP_WORKER_FD=", "NSTCPD_", "NOTIFY_SOCKET=",
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strncmp(var, names[i], strlen(names[i])))
			return 1;
	for (; extra && *extra; extra++) {
		const char *eq = strchr(*extra, '=');

		if (eq && !strncmp(var, *extra, eq - *extra + 1))
			return 1;
	}
	return 0;
}

static void env_add(struct child_env *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void env_add(struct child_env *e, const char *fmt, ...)
{
	va_list ap;

	if (e->nown == ENV_OWN)
		return;
	va_start(ap, fmt);
	vsnprintf(e->own[e->nown++], sizeof(e->own[0]), fmt, ap);
	va_end(ap);
}

/*
 * The environment of a process of @s on @cpu, with the variables @extra
 * (NAME=VALUE, NULL-ended, or NULL): 0, or -1 (ENOMEM).  Built here, never
 * with setenv(), which is not safe while other threads read environ.
 */
static int env_build(struct child_env *e, const struct nd_service *s,
		     int cpu, uint64_t token, const char *const *extra)
{
	int n = 0, i;
	char **v;

	memset(e, 0, sizeof(*e));
	if (token && s->take_program) {
		env_add(e, "NSTCP_TOKEN=%llx", (unsigned long long)token);
	} else if (s->model == ND_MODEL_HYBRID) {
		env_add(e, "NSTCP_WORKER_FD=%d", NSTCP_LISTEN_FDS_START);
	} else if (!s->stdio) {
		env_add(e, "LISTEN_PID=%*s", PID_DIGITS, "");
		e->pidvar = e->own[e->nown - 1];
		env_add(e, "LISTEN_FDS=1");
		env_add(e, "LISTEN_FDNAMES=%s", s->model == ND_MODEL_STANDARD ?
			"connection" : s->name);
	}
	env_add(e, "NSTCPD_CPU=%d", cpu);
	env_add(e, "NSTCPD_SERVICE=%s", s->name);
	for (i = 0; extra && extra[i]; i++)
		env_add(e, "%s", extra[i]);
	for (v = environ; v && *v; v++)
		n++;
	e->envp = calloc(n + e->nown + 1, sizeof(char *));
	if (!e->envp)
		return -1;
	n = 0;
	for (v = environ; v && *v; v++)
		if (!ours(*v, extra))
			e->envp[n++] = *v;
	for (i = 0; i < e->nown; i++)
		e->envp[n++] = e->own[i];
	return 0;
}

/*
 * environ without the variables a child must not see (ours()), for a
 * process that is nstcpd again (a distributor's front): free() it.
 */
char **nd_env_clean(void)
{
	char **v, **e;
	int n = 0;

	for (v = environ; v && *v; v++)
		n++;
	e = calloc(n + 1, sizeof(char *));
	if (!e)
		return NULL;
	n = 0;
	for (v = environ; v && *v; v++)
		if (!ours(*v, NULL))
			e[n++] = *v;
	return e;
}

/* In the child: write(2) of a message, no stdio. */
static void say(const struct nd_service *s, const char *what, int err)
{
	const char *msg = strerrorname_np(err);
	const char *const parts[] = {
		"nstcpd[", s->name, "]: ", what, ": ", msg ? msg : "error", "\n",
	};
	size_t i;

	for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		if (write(2, parts[i], strlen(parts[i])) < 0)
			return;
}

/* In the child: @v in decimal, right-aligned over @buf's PID_DIGITS. */
static void put_pid(char *buf, long v)
{
	int i = PID_DIGITS;

	while (i > 0) {
		buf[--i] = '0' + v % 10;
		v /= 10;
		if (!v)
			break;
	}
	/* Leading spaces would not parse: shift the digits left. */
	memmove(buf, buf + i, PID_DIGITS - i);
	buf[PID_DIGITS - i] = 0;
}

/* In the child: run as @s's user and groups; 0 or -1 (errno). */
static int drop_privileges(const struct nd_service *s)
{
	gid_t rg, eg, sg, now[ND_MAX_GROUPS];
	uid_t ru, eu, su;
	int n, i, j;

	if (!s->user_line && !s->group_line)
		return 0;
	if (setgroups(s->ngroups, s->groups))
		return -1;
	if (setgid(s->gid))
		return -1;
	if (s->user_line && setuid(s->uid))
		return -1;
	if (getresgid(&rg, &eg, &sg) || rg != s->gid || eg != s->gid ||
	    sg != s->gid)
		goto regained;
	if (s->user_line &&
	    (getresuid(&ru, &eu, &su) || ru != s->uid || eu != s->uid ||
	     su != s->uid))
		goto regained;
	/* The supplementary groups: those set (the kernel sorts them). */
	n = getgroups(ND_MAX_GROUPS, now);
	if (n != s->ngroups)
		goto regained;
	for (i = 0; i < n; i++) {
		for (j = 0; j < s->ngroups; j++)
			if (now[i] == s->groups[j])
				break;
		if (j == s->ngroups)
			goto regained;
	}
	/* A user other than root must not get root back. */
	if (s->user_line && s->uid != 0 && (!setuid(0) || !seteuid(0)))
		goto regained;
	return 0;
regained:
	errno = EPERM;
	return -1;
}

/* Puts @fd on descriptor @to without close-on-exec. */
static int place_fd(int fd, int to)
{
	if (fd == to)
		return fcntl(fd, F_SETFD, 0);
	return dup2(fd, to) < 0 ? -1 : 0;
}

/* In the child: the connection of @token, reported to nstcpd; or exit 125. */
static int child_take(const struct nd_service *s, uint64_t token)
{
	int fd = nstcp_take(token);
	int rep[3];

	if (fd < 0) {
		say(s, "take", errno);
		_exit(125);
	}
	rep[0] = getpid();
	rep[1] = sched_getcpu();
	rep[2] = nstcp_home_cpu(fd);
	if (nd_report_wr >= 0 &&
	    write(nd_report_wr, rep, sizeof(rep)) != sizeof(rep))
		say(s, "take report", errno);
	return fd;
}

/*
 * Starts @s's program pinned on @cpu.  The standard model passes the
 * connection of @token (taken in the child, on its CPU, after the drop of
 * privileges; or by the program itself, with NSTCP_TOKEN), the monolithic
 * and distributor models a listening socket @fd, the hybrid model its
 * worker channel @fd.
 */
pid_t nd_spawn(struct nd_service *s, int cpu, int fd, uint64_t token)
{
	return nd_spawn_env(s, cpu, fd, token, NULL);
}

/* nd_spawn() with the variables @extra (NAME=VALUE, NULL-ended) added. */
pid_t nd_spawn_env(struct nd_service *s, int cpu, int fd, uint64_t token,
		   const char *const *extra)
{
	struct child_env e;
	sigset_t none;
	pid_t pid;

	if (env_build(&e, s, cpu, token, extra))
		return -1;
	sigemptyset(&none);
	fflush(NULL);
	pid = fork();
	if (pid) {
		free(e.envp);
		return pid;
	}
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	if (nd_pin(cpu))
		say(s, "pin", errno);
	if (drop_privileges(s)) {
		say(s, "drop privileges", errno);
		_exit(126);
	}
	if (token && !s->take_program)
		fd = child_take(s, token);
	if (e.pidvar)
		put_pid(e.pidvar + strlen("LISTEN_PID="), getpid());
	if (!token || !s->take_program) {
		if (s->stdio ? place_fd(fd, 0) || place_fd(fd, 1) :
		    place_fd(fd, NSTCP_LISTEN_FDS_START))
			_exit(126);
	}
	/* Everything else of nstcpd's is close-on-exec. */
	execve(s->program, s->argv, e.envp);
	say(s, "exec", errno);
	_exit(127);
}

/*
 * Takes the connection of @token, given to @s's user: nstcpd's calling
 * thread alone (the raw system call, not glibc's, which would change every
 * thread) takes that effective uid for the take, then root again.
 */
int nd_take(const struct nd_service *s, uint64_t token)
{
	uid_t me = geteuid();
	int fd, err;

	if (!s->user_line || s->uid == me)
		return nstcp_take(token);
	if (syscall(SYS_setresuid, -1, s->uid, -1))
		return -1;
	fd = nstcp_take(token);
	err = errno;
	if (syscall(SYS_setresuid, -1, me, -1)) {
		nd_log("cannot get uid %u back: %s", me, strerror(errno));
		abort();
	}
	errno = err;
	return fd;
}

/* The uid that takes @s's connections: its user's, else nstcpd's. */
uid_t nd_taker_uid(const struct nd_service *s)
{
	return s->user_line ? s->uid : geteuid();
}
