// SPDX-License-Identifier: GPL-2.0
/*
 * nstcpd's listening sockets across a reload or a restart: every socket
 * nstcpd listens on is held under an identity (model, share key, policy,
 * address and port).  A reload (SIGHUP, once the new configuration is
 * valid) re-executes /proc/self/exe (the same code), a restart (SIGUSR2)
 * the path the running binary had at start (the binary now installed
 * there, after an upgrade), with those
 * sockets inherited (close-on-exec cleared for them alone) and named in
 * NSTCPD_FDS; under systemd they are also in its file descriptor store
 * (sd_notify FDSTORE=1, done by hand: a datagram with SCM_RIGHTS) and come
 * back as LISTEN_FDS/LISTEN_FDNAMES.  The new image checks each (AF_NSTCP,
 * listening, its address, key and policy those of its name), adopts those
 * its configuration wants and closes the rest; the processes of the old
 * image, named in NSTCPD_RETIRE, retire once the new ones are started:
 * the distributor's fronts and the brokers drain (SIGUSR1: they stop
 * accepting, finish what they hold and exit), hybrid workers end when
 * their channel closes, the distributor's back ends get SIGTERM once the
 * fronts are gone, the others SIGTERM at once; each within its service's
 * drain_timeout (then SIGTERM, SIGKILL).
 * Identities, the socket check and the binary's path: handover_id.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/types.h>
#include <linux/nstcp.h>

#include "nstcp.h"
#include "nstcpd.h"

struct held {
	int fd;
	char id[ND_ID_MAX];
};

static struct held *pool;	/* inherited, not (yet) adopted */
static int npool;
static struct held *heldv;	/* listening now */
static int nheld, held_cap;
static int fdstore;		/* the service manager holds our sockets */
static int handed;		/* started by nd_reexec (NSTCPD_PID ours) */
static char old_status[PATH_MAX];	/* the previous image's status file */
static char *given;		/* NSTCPD_GIVEN: hybrid connections in hand */
static int config_out = -1;	/* the configuration validated, for the next */
static int config_in = -1;	/* NSTCPD_CONFIG_FD: the one validated before */

unsigned long long nd_reloads, nd_reexecs, nd_adopted, nd_refused_fds;

/* @w, all of it, a decimal in [@min, @max]: 0 and *@out, else -1. */
int nd_word_int(const char *w, long min, long max, long *out)
{
	char *end;
	long v;

	if (!w || !*w)
		return -1;
	errno = 0;
	v = strtol(w, &end, 10);
	if (errno || *end || end == w || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static void pool_add(int fd, const char *id)
{
	const char *why;
	struct held *p;
	int i;

	for (i = 0; i < npool; i++)
		if (pool[i].fd == fd) {
			nd_log("inherited descriptor %d (%s): named twice: ignored",
			       fd, id);
			nd_refused_fds++;
			return;
		}
	if (nd_handover_check(fd, id, &why)) {
		nd_log("inherited descriptor %d (%s): %s: closed", fd, id, why);
		close(fd);
		nd_refused_fds++;
		return;
	}
	p = realloc(pool, (npool + 1) * sizeof(*pool));
	if (!p) {
		close(fd);
		return;
	}
	pool = p;
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	pool[npool].fd = fd;
	snprintf(pool[npool++].id, ND_ID_MAX, "%s", id);
}

/* NSTCPD_FDS: "FD=ID" words, FD from 3 to the descriptor limit. */
static void load_fds(const char *v, long fdmax)
{
	char *copy = v ? strdup(v) : NULL, *w, *save, *eq;
	long fd;

	for (w = copy ? strtok_r(copy, " ", &save) : NULL; w;
	     w = strtok_r(NULL, " ", &save)) {
		eq = strchr(w, '=');
		if (eq)
			*eq = 0;
		if (!eq || nd_word_int(w, 3, fdmax, &fd)) {
			nd_log("NSTCPD_FDS: word \"%s\": not FD=ID: ignored", w);
			nd_refused_fds++;
			continue;
		}
		pool_add(fd, eq + 1);
	}
	free(copy);
}

/* LISTEN_FDS (when LISTEN_PID is ours), named by LISTEN_FDNAMES. */
static void load_listen_fds(const char *v, long fdmax)
{
	const char *pid = getenv("LISTEN_PID"), *names;
	char *copy, *w;
	long n, p, i;

	if (!v || nd_word_int(pid, 1, INT_MAX, &p) || p != getpid())
		return;
	if (nd_word_int(v, 0, fdmax - 3, &n)) {
		nd_log("LISTEN_FDS=%s: not a count of descriptors: ignored", v);
		return;
	}
	names = getenv("LISTEN_FDNAMES");
	copy = strdup(names ? names : "");
	w = copy;
	for (i = 0; i < n && copy; i++) {
		char *colon = w ? strchr(w, ':') : NULL;

		if (colon)
			*colon = 0;
		pool_add(3 + i, w ? w : "unknown");
		w = colon ? colon + 1 : NULL;
	}
	free(copy);
}

/* NSTCPD_CONFIG_FD: a descriptor from 3 of a regular file (a memfd), or -1. */
static int config_fd(const char *v, long fdmax)
{
	struct stat st;
	long fd;

	if (!v)
		return -1;
	if (nd_word_int(v, 3, fdmax, &fd) || fstat(fd, &st) ||
	    !S_ISREG(st.st_mode)) {
		nd_log("NSTCPD_CONFIG_FD=%s: not a file: ignored, %s read", v,
		       "the configuration file");
		return -1;
	}
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	return fd;
}

/*
 * The sockets and processes a previous nstcpd left: NSTCPD_FDS ("FD=ID"
 * words), LISTEN_FDS with LISTEN_FDNAMES (systemd's store), NSTCPD_RETIRE
 * and NSTCPD_COUNTS.  NSTCPD_* count only with NSTCPD_PID our pid (set
 * with them by nd_reexec, as LISTEN_PID).  The variables are removed: no
 * child sees them.
 */
void nd_handover_load(void)
{
	long fdmax = sysconf(_SC_OPEN_MAX), pid;
	const char *v = getenv("NSTCPD_COUNTS");
	int mine;

	if (fdmax < 4 || fdmax > INT_MAX)
		fdmax = INT_MAX;
	mine = !nd_word_int(getenv("NSTCPD_PID"), 1, INT_MAX, &pid) &&
	       pid == getpid();
	if (!mine && (getenv("NSTCPD_FDS") || getenv("NSTCPD_RETIRE") ||
		      getenv("NSTCPD_FDS_FD") || getenv("NSTCPD_RETIRE_FD")))
		nd_log("NSTCPD_FDS/NSTCPD_RETIRE without NSTCPD_PID=%d: ignored",
		       (int)getpid());
	if (mine) {
		char *w;

		handed = 1;
		v = getenv("NSTCPD_STATUS");
		if (v && v[0] == '/')
			snprintf(old_status, sizeof(old_status), "%s", v);
		v = getenv("NSTCPD_COUNTS");
		w = nd_envfd_get("NSTCPD_FDS", fdmax);
		load_fds(w, fdmax);
		free(w);
		w = nd_envfd_get("NSTCPD_RETIRE", fdmax);
		nd_retire_load(w);
		free(w);
		given = nd_envfd_get("NSTCPD_GIVEN", fdmax);
		nd_broker_handover_load(fdmax);
		config_in = config_fd(getenv("NSTCPD_CONFIG_FD"), fdmax);
		/* 2 numbers from an nstcpd before the drain counters. */
		if (!v || sscanf(v, "%llu %llu %llu %llu %llu", &nd_reloads,
				 &nd_reexecs, &nd_drained, &nd_drain_expired,
				 &nd_retire_killed) < 2) {
			nd_reloads = 0;
			nd_reexecs = 0;
			nd_drained = 0;
			nd_drain_expired = 0;
			nd_retire_killed = 0;
		}
	}
	load_listen_fds(getenv("LISTEN_FDS"), fdmax);
	unsetenv("NSTCPD_PID");
	unsetenv("NSTCPD_STATUS");
	nd_envfd_unset("NSTCPD_FDS");
	nd_envfd_unset("NSTCPD_RETIRE");
	unsetenv("NSTCPD_COUNTS");
	nd_envfd_unset("NSTCPD_GIVEN");
	nd_envfd_unset("NSTCPD_BKLOADS");
	unsetenv("NSTCPD_CONFIG_FD");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDNAMES");
}

/* Records @fd as a listening socket nstcpd holds. */
static void held_add(int fd, const char *id)
{
	if (nheld == held_cap) {
		int cap = held_cap ? held_cap * 2 : 16;
		struct held *h = realloc(heldv, cap * sizeof(*h));

		if (!h)
			return;	/* kept open, not handed over */
		heldv = h;
		held_cap = cap;
	}
	heldv[nheld].fd = fd;
	snprintf(heldv[nheld++].id, ND_ID_MAX, "%s", id);
}

/*
 * A listening socket of @m, @key, @policy on @a: an inherited one of that
 * identity, else made by @make(@arg).  Either way held for handing over.
 */
int nd_listen_held(enum nd_model m, const char *key, int policy,
		   const struct sockaddr_storage *a,
		   int (*make)(const void *arg), const void *arg)
{
	char id[ND_ID_MAX];
	int i, fd;

	if (nd_ident(id, m, key, policy, a))
		return make(arg);
	for (i = 0; i < npool; i++) {
		if (strcmp(pool[i].id, id))
			continue;
		fd = pool[i].fd;
		pool[i] = pool[--npool];
		nd_adopted++;
		held_add(fd, id);
		return fd;
	}
	fd = make(arg);
	if (fd >= 0)
		held_add(fd, id);
	return fd;
}

/*
 * Closes inherited socket @h.  Under a service manager (NOTIFY_SOCKET),
 * which may hold a copy in its store, it is shut down first (the listener
 * leaves its port whoever holds it; the manager sees POLLHUP) and removed
 * from the store by name (FDSTOREREMOVE=1): the copies kept under the same
 * name go back by nd_handover_store.
 */
static void pool_close(const struct held *h)
{
	char msg[ND_ID_MAX + 32];

	if (getenv("NOTIFY_SOCKET")) {
		shutdown(h->fd, SHUT_RDWR);
		snprintf(msg, sizeof(msg), "FDSTOREREMOVE=1\nFDNAME=%s", h->id);
		nd_sd_notify(msg, -1);
	}
	close(h->fd);
}

/*
 * Before the services start: closes the inherited sockets whose identity
 * no service of the configuration has (so that a port whose key, policy
 * or model changed can be listened on anew).
 */
void nd_handover_prune(const struct nd_config *cfg)
{
	char id[ND_ID_MAX];
	int i, j, keep;

	for (i = 0; i < npool; i++) {
		for (j = 0, keep = 0; j < cfg->nsvc && !keep; j++) {
			const struct nd_service *s = &cfg->svc[j];
			const char *key = s->model == ND_MODEL_MONOLITHIC ||
					  s->model == ND_MODEL_DISTRIBUTOR ||
					  s->model == ND_MODEL_BROKER ? s->key : "";

			/* Brokers' servers: other ports; matched by prefix. */
			if (s->model == ND_MODEL_BROKER)
				keep = !strncmp(pool[i].id, "nd.broker.", 10);
			else if (!nd_ident(id, s->model, key, s->policy, &s->addr))
				keep = !strcmp(id, pool[i].id);
		}
		if (keep)
			continue;
		nd_log("inherited socket %s: not in the configuration: closed",
		       pool[i].id);
		pool_close(&pool[i]);
		pool[i--] = pool[--npool];
	}
}

/*
 * Once the services started: the inherited sockets left (a service with
 * fewer copies now) closed, their connections going to the port's other
 * members; the old image's processes told to retire (struct retiree).
 */
void nd_handover_done(void)
{
	int i;

	for (i = 0; i < npool; i++) {
		nd_log("inherited socket %s: not needed: closed", pool[i].id);
		pool_close(&pool[i]);
	}
	npool = 0;
	nd_retire_start();
}

/* @path, when a regular file of ours, removed. */
static void unlink_ours(const char *path)
{
	struct stat st;

	if (path && path[0] && !lstat(path, &st) && S_ISREG(st.st_mode) &&
	    st.st_uid == geteuid())
		unlink(path);
}

/*
 * A new image (started by nd_reexec) that cannot start: nothing is rolled
 * back, but the previous image's processes are not left unsupervised:
 * SIGTERM, SIGKILL after 2 s; the status file (@status, and the previous
 * image's) removed.  The caller exits non-zero.  Does nothing in an
 * nstcpd that was not re-executed.
 */
void nd_handover_abort(const char *status)
{
	if (!handed)
		return;
	nd_log("the new nstcpd cannot start: stopping the %d processes of the previous one; nstcpd exits, the service is down",
	       nd_handover_retiring());
	nd_retire_abort();
	unlink_ours(status);
	unlink_ours(old_status);
}

/* The configuration a reload validated (a memfd) for the new image, or -1. */
void nd_handover_config(int fd)
{
	config_out = fd;
}

/* The configuration the previous image validated, or -1: read the file. */
int nd_handover_config_in(void)
{
	return config_in;
}

/* The hybrid connections the previous image had in hand (nd_hybrid_adopt). */
const char *nd_handover_given(void)
{
	return given;
}

/* 1 when the service manager holds the sockets: stopping leaves them be. */
int nd_handover_fdstore(void)
{
	return fdstore;
}

/*
 * Under systemd ($NOTIFY_SOCKET): every held socket to the file descriptor
 * store (FDSTORE=1, FDNAME its identity; the manager keeps one copy of a
 * socket stored twice), so that `systemctl restart` keeps the ports.
 */
void nd_handover_store(void)
{
	char msg[ND_ID_MAX + 32];
	int i, n = 0;

	if (!getenv("NOTIFY_SOCKET"))
		return;
	for (i = 0; i < nheld; i++) {
		snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s", heldv[i].id);
		if (!nd_sd_notify(msg, heldv[i].fd))
			n++;
	}
	fdstore = n == nheld && n > 0;
	nd_log("%d of %d listening sockets in the service manager's store", n,
	       nheld);
}

/*
 * Replaces nstcpd by a new image (@argv, in the foreground), the held
 * sockets and the running processes handed over: of /proc/self/exe (the
 * same code) for a reload, of the path recorded at start (the binary now
 * installed there) for a restart.  Returns only on failure, with
 * everything as it was.
 */
void nd_reexec(char **argv, const struct nd_config *cfg, int reload)
{
	const char *exe = !reload && nd_self()[0] ? nd_self() : "/proc/self/exe";
	size_t cap = 64 + nheld * (ND_ID_MAX + 16), len = 0;
	char *fds = malloc(cap), *pids, counts[128], self[16];
	int i, nfd;

	pids = nd_retire_words(cfg);
	if (!fds || !pids)
		goto out;
	fds[0] = 0;
	for (i = 0, nfd = 0; i < nheld; i++) {
		const char *why;

		if (nd_handover_check(heldv[i].fd, heldv[i].id, &why)) {
			nd_log("socket %d (%s): %s: not handed over",
			       heldv[i].fd, heldv[i].id, why);
			heldv[i].fd = -heldv[i].fd - 1;
			continue;
		}
		len += snprintf(fds + len, cap - len, "%s%d=%s", len ? " " : "",
				heldv[i].fd, heldv[i].id);
		nfd++;
	}
	snprintf(counts, sizeof(counts), "%llu %llu %llu %llu %llu",
		 nd_reloads + !!reload, nd_reexecs + !reload, nd_drained,
		 nd_drain_expired, nd_retire_killed);
	snprintf(self, sizeof(self), "%d", (int)getpid());
	/* The word lists grow with the load: memfds (envfd.c), no E2BIG. */
	if (nd_envfd_put("NSTCPD_FDS", fds) ||
	    nd_envfd_put("NSTCPD_RETIRE", pids) ||
	    setenv("NSTCPD_COUNTS", counts, 1) || setenv("NSTCPD_PID", self, 1) ||
	    setenv("NSTCPD_STATUS", cfg->status_path, 1))
		goto out;
	/* A reload: the configuration it validated, for a restart the file. */
	snprintf(self, sizeof(self), "%d", config_out);
	if (reload && config_out >= 0 &&
	    (setenv("NSTCPD_CONFIG_FD", self, 1) ||
	     fcntl(config_out, F_SETFD, 0)))
		goto out;
	if (nd_envfd_inherit(1))
		goto out;
	for (i = 0; i < nheld; i++)
		if (heldv[i].fd >= 0)
			fcntl(heldv[i].fd, F_SETFD, 0);
	nd_log("%s: executing %s with %d listening sockets, processes to retire: %s",
	       reload ? "reload" : "restart", exe, nfd, pids);
	fflush(NULL);
	execv(exe, argv);
	nd_log("exec %s: %s: nstcpd goes on unchanged", exe, strerror(errno));
	for (i = 0; i < nheld; i++)
		if (heldv[i].fd >= 0)
			fcntl(heldv[i].fd, F_SETFD, FD_CLOEXEC);
out:
	for (i = 0; i < nheld; i++)
		if (heldv[i].fd < 0)
			heldv[i].fd = -heldv[i].fd - 1;
	nd_envfd_drop();
	unsetenv("NSTCPD_PID");
	unsetenv("NSTCPD_STATUS");
	unsetenv("NSTCPD_COUNTS");
	unsetenv("NSTCPD_CONFIG_FD");
	if (config_out >= 0)
		fcntl(config_out, F_SETFD, FD_CLOEXEC);
	free(fds);
	free(pids);
}
