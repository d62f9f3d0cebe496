// SPDX-License-Identifier: GPL-2.0
/*
 * The distributor model (a proxy): a front process per configured CPU
 * (front.c), pinned there, each with its own AF_NSTCP listening socket of
 * the service's shared port (a member of its share key), so per-CPU
 * listening gives each front the connections its CPU processes.  A front
 * accepts, connects to the least loaded back end over AF_UNIX and relays
 * the data both ways.  The back ends are copies of the program, started,
 * pinned and supervised as the monolithic model's copies are, each passed
 * its own AF_UNIX listening socket by LISTEN_FDS.  nstcpd holds every
 * socket: a front or a back end that exits is restarted (with backoff) on
 * the same one, and the connections queued meanwhile wait for it (or go
 * to the other fronts).  The connections a dead process was relaying or
 * serving end with it.  The fronts are nstcpd itself, executed again
 * (`nstcpd front ...`), so that nothing but async-signal-safe calls runs
 * between the fork and the exec of a threaded nstcpd.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <json-c/json.h>

#include "distributor.h"
#include "nstcpd.h"

#define FRONT_ARGS	5	/* nstcpd front NAME INDEX BUFFER */

struct nd_dist {
	struct nd_service *s;
	int shm;			/* the memfd of the counters */
	struct nd_dview v;
	struct nd_copy *front;		/* cpu, lfd, pid, backoff */
	unsigned long long *front_restarts;
	unsigned long long dropped;	/* relays of fronts that died */
	int nfront;
	char (*path)[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char **argv;			/* per front: FRONT_ARGS + nback + 1 */
	char (*num)[2][24];		/* per front: INDEX, BUFFER */
};

/*
 * The back ends' socket directory @dir, opened (O_PATH: searching it is
 * all that is done through it, so a directory of mode 0300 will do): a
 * directory, not a symbolic link, owned by nstcpd's effective uid or root
 * and writable by its owner only, so that nobody else can put a link or
 * another file under a socket's name between its bind and its rename
 * (/tmp is refused).  The sockets are made through the descriptor
 * (backend_socket()), so /proc/self/fd/N must be it: without /proc
 * mounted, the start fails (the fronts need /proc/self/exe anyway).  Any
 * refusal or failure is logged with the rule; -1 with errno set.
 */
static int socket_dir(struct nd_service *s, const char *dir)
{
	char proc[32], why[160];
	uid_t me = geteuid();
	struct stat st, pst;
	int dfd, err;

	dfd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		err = errno;
		if (err == ELOOP || err == ENOTDIR)
			snprintf(why, sizeof(why), "a symbolic link or not a directory");
		else
			snprintf(why, sizeof(why), "cannot be opened: %s", strerror(err));
		goto refuse;
	}
	if (fstat(dfd, &st)) {
		err = errno;
		snprintf(why, sizeof(why), "fstat: %s", strerror(err));
		goto refuse;
	}
	if (!S_ISDIR(st.st_mode)) {
		err = ENOTDIR;
		snprintf(why, sizeof(why), "a symbolic link or not a directory");
		goto refuse;
	}
	if ((st.st_uid != me && st.st_uid != 0) || (st.st_mode & 022)) {
		err = EPERM;
		snprintf(why, sizeof(why), "owned by uid %u, mode %04o",
			 (unsigned int)st.st_uid, (unsigned int)(st.st_mode & 07777));
		goto refuse;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", dfd);
	if (stat(proc, &pst)) {
		err = errno;
		snprintf(why, sizeof(why), "%s: %s: nstcpd needs /proc mounted",
			 proc, strerror(err));
		goto refuse;
	}
	if (pst.st_dev != st.st_dev || pst.st_ino != st.st_ino) {
		err = ESTALE;
		snprintf(why, sizeof(why), "%s is another file: nstcpd needs its own /proc mounted",
			 proc);
		goto refuse;
	}
	return dfd;
refuse:
	nd_log("service %s: socket directory %s refused: %s: it must be a directory of uid %u or root, writable by its owner only",
	       s->name, dir, why, (unsigned int)me);
	if (dfd >= 0)
		close(dfd);
	errno = err;
	return -1;
}

/*
 * Back end @i's AF_UNIX listening socket, at @dir/NAME.I.sock, root's
 * only: made 0600 by its bind (umask 0177), never open to others for an
 * instant.  The umask is the process's: nstcpd has no other thread yet
 * (the services start before the acceptor threads, and a reload or restart
 * starts a new image), so nothing else creates a file meanwhile.  It is
 * bound in @dfd, the directory socket_dir() checked, by its descriptor
 * (/proc/self/fd/DFD/NAME.I.new): no path is resolved again, so a
 * directory renamed or replaced at @dir since the check gets nothing.  It
 * listens at NAME.I.new first and is renamed over NAME.I.sock (in @dfd
 * too): at a reload the old image's fronts, which accept until the new
 * image's are started, find at that path the old back end's socket or
 * this one, both listening, never no socket (a connection a front cannot
 * pass on to a back end is closed: its client sees it refused).
 */
static int backend_socket(struct nd_dist *d, int i, const char *dir, int dfd)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	char *path = d->path[i], name[2][128];
	struct stat st;
	int fd, err, r;
	mode_t mask;

	if (snprintf(path, sizeof(d->path[i]), "%s/%s.%d.sock", dir,
		     d->s->name, i) >= (int)sizeof(d->path[i]) ||
	    snprintf(un.sun_path, sizeof(un.sun_path), "/proc/self/fd/%d/%s.%d.new",
		     dfd, d->s->name, i) >= (int)sizeof(un.sun_path) ||
	    snprintf(name[0], sizeof(name[0]), "%s.%d.new", d->s->name, i) >=
		     (int)sizeof(name[0]) ||
	    snprintf(name[1], sizeof(name[1]), "%s.%d.sock", d->s->name, i) >=
		     (int)sizeof(name[1])) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* Only a socket is replaced (anything else: the port is not ours). */
	if (!fstatat(dfd, name[1], &st, AT_SYMLINK_NOFOLLOW) &&
	    !S_ISSOCK(st.st_mode)) {
		errno = EADDRINUSE;
		return -1;
	}
	if (!fstatat(dfd, name[0], &st, AT_SYMLINK_NOFOLLOW) &&
	    S_ISSOCK(st.st_mode))
		unlinkat(dfd, name[0], 0);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	mask = umask(0177);
	r = bind(fd, (struct sockaddr *)&un, sizeof(un));
	err = errno;
	umask(mask);
	if (r) {
		close(fd);
		errno = err;
		return -1;
	}
	if (listen(fd, 4096) || renameat(dfd, name[0], dfd, name[1])) {
		err = errno;
		unlinkat(dfd, name[0], 0);
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

/* The arguments of front @i, built once: they do not change. */
static char **front_argv(struct nd_dist *d, int i)
{
	int nb = d->s->ncopies, k;
	char **a = d->argv + (size_t)i * (FRONT_ARGS + nb + 1);

	snprintf(d->num[i][0], sizeof(d->num[i][0]), "%d", i);
	snprintf(d->num[i][1], sizeof(d->num[i][1]), "%u", d->s->buf_kb * 1024);
	a[0] = "nstcpd";
	a[1] = "front";
	a[2] = d->s->name;
	a[3] = d->num[i][0];
	a[4] = d->num[i][1];
	for (k = 0; k < nb; k++)
		a[FRONT_ARGS + k] = d->path[k];
	a[FRONT_ARGS + nb] = NULL;
	return a;
}

/* Starts front @i: nstcpd again, pinned, its socket on 3, counters on 4. */
static void start_front(struct nd_service *s, int i)
{
	struct nd_dist *d = s->dist;
	struct nd_copy *c = &d->front[i];
	char **argv = front_argv(d, i), **envp = nd_env_clean();
	struct nd_proc *p = envp ? nd_proc_add(s) : NULL;
	sigset_t none;

	c->restart_at.tv_sec = 0;
	c->restart_at.tv_nsec = 0;
	if (!p)
		goto later;
	sigemptyset(&none);
	fflush(NULL);
	p->pid = fork();
	if (p->pid == 0) {
		sigprocmask(SIG_SETMASK, &none, NULL);
		nd_pin(c->cpu);
		if (dup2(c->lfd, 3) < 0 || dup2(d->shm, 4) < 0)
			_exit(126);
		execve("/proc/self/exe", argv, envp);
		_exit(127);
	}
	free(envp);
	envp = NULL;
	if (p->pid < 0) {
		nd_log("service %s: fork: %s", s->name, strerror(errno));
		nd_proc_del(s, p);
		goto later;
	}
	p->slot = -1 - i;
	p->drain = 1;
	p->cpu = c->cpu;
	c->pid = p->pid;
	nd_now(&c->started);
	return;
later:
	free(envp);
	nd_now(&c->restart_at);
	c->restart_at.tv_sec += 1;
}

/* Starts @s: the counters, its back ends (sockets in @rundir), its fronts. */
int nd_distributor_start(struct nd_service *s, const char *rundir)
{
	int n = s->workers ? s->workers : s->ncpus, i, c, dfd;
	struct nd_dist *d;
	size_t size;
	void *base;

	d = calloc(1, sizeof(*d));
	if (!d)
		return -1;
	s->dist = d;
	d->s = s;
	d->shm = -1;
	d->path = calloc(n, sizeof(*d->path));
	s->copies = calloc(n, sizeof(*s->copies));
	d->front = calloc(s->ncpus, sizeof(*d->front));
	d->front_restarts = calloc(s->ncpus, sizeof(*d->front_restarts));
	d->argv = calloc((size_t)s->ncpus * (FRONT_ARGS + n + 1), sizeof(char *));
	d->num = calloc(s->ncpus, sizeof(*d->num));
	if (!d->path || !s->copies || !d->front || !d->front_restarts ||
	    !d->argv || !d->num)
		return -1;
	size = nd_dshm_size(s->ncpus, n);
	d->shm = memfd_create("nstcpd-distributor", MFD_CLOEXEC);
	if (d->shm < 0 || d->shm == 3 || ftruncate(d->shm, size))
		return -1;
	base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, d->shm, 0);
	if (base == MAP_FAILED)
		return -1;
	((struct nd_dshm *)base)->nfront = s->ncpus;
	((struct nd_dshm *)base)->nback = n;
	nd_dview(&d->v, base);
	if (nd_dlimit_init(d->v.m, s->max_conns, s->per_source, s->cps))
		return -1;
	if (mkdir(rundir, 0755) && errno != EEXIST)
		return -1;
	dfd = socket_dir(s, rundir);
	if (dfd < 0)
		return -1;
	for (i = 0, c = 0; i < n; i++, c++) {
		while (!CPU_ISSET(c % CPU_SETSIZE, &s->cpus))
			c++;
		s->copies[i].cpu = c % CPU_SETSIZE;
		s->copies[i].chan = -1;
		s->copies[i].lfd = backend_socket(d, i, rundir, dfd);
		if (s->copies[i].lfd < 0)
			break;
		s->ncopies++;
		s->copies[i].restart_at.tv_sec = 1;
	}
	c = errno;
	close(dfd);
	errno = c;
	if (i < n)
		return -1;
	for (c = 0; c < CPU_SETSIZE && c < ND_MAX_CPUS; c++) {
		struct nd_copy *f;

		if (!CPU_ISSET(c, &s->cpus))
			continue;
		f = &d->front[d->nfront];
		f->cpu = c;
		f->chan = -1;
		f->lfd = nd_listen_socket(s);
		if (f->lfd < 0)
			return -1;
		/* Non-blocking accepts: a front sleeps in epoll only. */
		if (fcntl(f->lfd, F_SETFL, O_NONBLOCK))
			return -1;
		f->restart_at.tv_sec = 1;
		d->nfront++;
	}
	nd_distributor_tick(s);
	return 0;
}

/*
 * A front or a back end exited.  A back end is restarted as a monolithic
 * copy is; a front too, after nstcpd takes what it was relaying off the
 * back ends' counts (those connections ended with it).
 */
void nd_distributor_exited(struct nd_service *s, struct nd_proc *p, int status)
{
	struct nd_dist *d = s->dist;
	struct nd_dview *v = &d->v;
	struct nd_copy *c;
	int i = -1 - p->slot, b;

	if (p->slot >= 0) {
		SET(v->up[p->slot], 0);
		nd_monolithic_exited(s, p, status);
		return;
	}
	c = &d->front[i];
	nd_proc_del(s, p);
	c->pid = 0;
	for (b = 0; b < s->ncopies; b++) {
		unsigned long long *l = &v->load[(size_t)i * s->ncopies + b];

		SUB(v->active[b], GET(*l));
		SET(*l, 0);
	}
	d->dropped += GET(v->front[i].active);
	nd_dlimit_front_gone(v->m, i, GET(v->front[i].active));
	SET(v->front[i].active, 0);
	if (WIFEXITED(status) && WEXITSTATUS(status) >= 125)
		s->failed++;
	nd_log("service %s: front on CPU %d %s %d; restarting", s->name, c->cpu,
	       WIFSIGNALED(status) ? "killed by signal" : "exited",
	       WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	s->restarts++;
	d->front_restarts[i]++;
	nd_backoff(c);
}

/* Starts the fronts and back ends whose time has come; ms until the next. */
long long nd_distributor_tick(struct nd_service *s)
{
	struct nd_dist *d = s->dist;
	long long next = nd_monolithic_tick(s), t;
	int i;

	for (i = 0; i < s->ncopies; i++)
		SET(d->v.up[i], s->copies[i].pid > 0);
	for (i = 0; i < d->nfront; i++) {
		struct nd_copy *c = &d->front[i];

		if (c->pid || (!c->restart_at.tv_sec && !c->restart_at.tv_nsec))
			continue;
		t = nd_ms_until(&c->restart_at);
		if (t <= 0) {
			start_front(s, i);
			continue;
		}
		if (next < 0 || t < next)
			next = t;
	}
	return next;
}

/* Stops the fronts accepting: their listening sockets shut down. */
void nd_distributor_quiesce(struct nd_service *s)
{
	int i;

	for (i = 0; s->dist && i < s->dist->nfront; i++)
		shutdown(s->dist->front[i].lfd, SHUT_RD);
}

/* Removes the back ends' sockets (the fronts end with nstcpd). */
void nd_distributor_stop(struct nd_service *s)
{
	int i;

	if (!s->dist)
		return;
	for (i = 0; i < s->ncopies; i++)
		unlink(s->dist->path[i]);
}

static void add(json_object *o, const char *k, unsigned long long v)
{
	json_object_object_add(o, k, json_object_new_int64((int64_t)v));
}

/* The service's totals from its fronts' counters. */
void nd_distributor_totals(struct nd_service *s)
{
	struct nd_dist *d = s->dist;
	int i;

	s->served = 0;
	s->dropped = d ? d->dropped : 0;
	s->refused = 0;
	s->given = 0;
	for (i = 0; d && i < d->nfront; i++) {
		struct nd_fctr *f = &d->v.front[i];

		s->served += GET(f->served);
		s->dropped += GET(f->aborted);
		s->refused += GET(f->refused);
		s->given += GET(f->accepted);
	}
}

/* The fronts as the service's "workers", and its "backends". */
void nd_distributor_json(struct nd_service *s, struct json_object *o,
			 struct json_object *ws)
{
	json_object *bs = json_object_new_array();
	struct nd_dist *d = s->dist;
	unsigned long long active = 0;
	int i;

	for (i = 0; d && i < d->nfront; i++) {
		struct nd_fctr *f = &d->v.front[i];
		json_object *w = json_object_new_object();

		add(w, "cpu", d->front[i].cpu);
		add(w, "pid", d->front[i].pid);
		add(w, "accepted", GET(f->accepted));
		add(w, "active", GET(f->active));
		add(w, "served", GET(f->served));
		add(w, "aborted", GET(f->aborted));
		add(w, "refused", GET(f->refused));
		add(w, "local", GET(f->local));
		add(w, "hops", GET(f->accepted) - GET(f->local));
		add(w, "bytes_in", GET(f->bytes_in));
		add(w, "bytes_out", GET(f->bytes_out));
		add(w, "restarts", d->front_restarts[i]);
		json_object_array_add(ws, w);
		active += GET(f->active);
	}
	for (i = 0; d && i < s->ncopies; i++) {
		json_object *b = json_object_new_object();

		add(b, "backend", i);
		add(b, "cpu", s->copies[i].cpu);
		add(b, "pid", s->copies[i].pid);
		add(b, "active", GET(d->v.active[i]));
		add(b, "served", GET(d->v.served[i]));
		json_object_array_add(bs, b);
	}
	json_object_object_add(o, "backends", bs);
	json_object_object_add(o, "relaying", json_object_new_int64(active));
	if (d && s->per_source)
		add(o, "per_source_uncounted", GET(d->v.m->src_full));
}
