// SPDX-License-Identifier: GPL-2.0
/*
 * The broker model: brokers, one per configured CPU, pinned there, each
 * with its member of the service's shared port (its share key), answer
 * clients which server replica to contact; the replicas (`workers`, one
 * per CPU by default) each listen on their own port, `servers` + index,
 * on an AF_NSTCP socket nstcpd holds and passes by the systemd convention,
 * and report their load to the brokers (libnstcp's nstcp_report_load).
 * The brokers share the reports through a table nstcpd maps before it
 * starts them (broker.h).  nstcpd supervises both: a broker or a server
 * that exits is restarted with backoff on its held socket; a server's slot
 * is cleared when it exits, so no broker sends clients to it meanwhile.
 * The service's max_conns, per_source and cps are set on each server's
 * socket as the kernel's limits of its port, as the monolithic model sets
 * them (nd_port_limits): each server has its own; the service's refused
 * is the sum of the servers' ports' lrefused.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <json-c/json.h>
#include <linux/types.h>
#include <linux/nstcp.h>

#include "broker.h"
#include "nstcp.h"
#include "nstcpd.h"

/* A listening AF_NSTCP socket: the brokers' shared port or server @i's. */
struct bk_sock {
	const struct nd_service *s;
	int server;
	struct sockaddr_storage ss;
};

static int bk_make(const void *arg)
{
	const struct bk_sock *b = arg;
	const struct nd_service *s = b->s;
	int server = b->server;
	socklen_t sl = server ? s->srv_addrlen : s->addrlen;
	int fd, one = 1, err;

	fd = socket(nstcp_family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		goto fail;
	if (!server &&
	    setsockopt(fd, SOL_NSTCP, NSTCP_SHARE_KEY, s->key, strlen(s->key)))
		goto fail;
	if (!server && s->policy &&
	    setsockopt(fd, SOL_NSTCP, NSTCP_POLICY, &s->policy, sizeof(int)))
		goto fail;
	if (bind(fd, (const struct sockaddr *)&b->ss, sl) ||
	    listen(fd, s->backlog))
		goto fail;
	return fd;
fail:
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

/* A broker's or server's socket, an inherited one of its identity if any. */
static int bk_socket(const struct nd_service *s, int server, int i)
{
	struct bk_sock b = { .s = s, .server = server };
	struct sockaddr_in *a = (struct sockaddr_in *)&b.ss;

	memcpy(&b.ss, server ? &s->srv_addr : &s->addr, sizeof(b.ss));
	a->sin_port = htons(ntohs(a->sin_port) + i);
	return nd_listen_held(ND_MODEL_BROKER, server ? "" : s->key,
			      server ? 0 : s->policy, &b.ss, bk_make, &b);
}

/* ADDR:PORT of @ss with @port, [V6]:PORT for IPv6, loopback for *. */
static void addr_text(const struct sockaddr_storage *ss, int port, char *buf,
		      size_t len)
{
	char host[INET6_ADDRSTRLEN] = "127.0.0.1";
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)ss;

	if (ss->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr,
			  host, sizeof(host));
	else if (!IN6_IS_ADDR_UNSPECIFIED(&a6->sin6_addr))
		inet_ntop(AF_INET6, &a6->sin6_addr, host, sizeof(host));
	snprintf(buf, len, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
}

static int bk_table(struct nd_service *s, struct nd_bk *bk, int nslots)
{
	struct nd_bk_shm *m;

	bk->size = nd_bk_size(nslots, bk->nbrokers);
	bk->memfd = memfd_create("nstcpd-broker",
				 MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (bk->memfd < 0 || ftruncate(bk->memfd, bk->size) ||
	    fcntl(bk->memfd, F_ADD_SEALS,
		  F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL))
		return -1;
	m = mmap(NULL, bk->size, PROT_READ | PROT_WRITE, MAP_SHARED,
		 bk->memfd, 0);
	if (m == MAP_FAILED)
		return -1;
	bk->nslots = nslots;
	bk->base_port = ntohs(((struct sockaddr_in *)&s->srv_addr)->sin_port);
	bk->expire_ms = s->expire_ms;
	bk->lease_ms = s->lease_ms;
	bk->slot = m->slot;
	bk->count = (struct nd_bk_count *)&m->slot[nslots];
	m->magic = ND_BK_MAGIC;
	m->nslots = nslots;
	m->nbrokers = bk->nbrokers;
	m->expire_ms = s->expire_ms;
	m->lease_ms = s->lease_ms;
	m->base_port = bk->base_port;
	m->addr = s->srv_addr;
	m->wildcard = s->srv_addr.ss_family == AF_INET6 &&
		IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&s->srv_addr)->sin6_addr);
	snprintf(m->name, sizeof(m->name), "%s", s->name);
	bk->m = m;
	return 0;
}

int nd_broker_start(struct nd_service *s)
{
	int nservers = s->workers ? s->workers : s->ncpus, n, i, c = 0;
	struct nd_bk *bk = calloc(1, sizeof(*bk));

	if (!bk)
		return -1;
	s->bk = bk;
	bk->memfd = -1;
	bk->nbrokers = s->ncpus;
	n = bk->nbrokers + nservers;
	memcpy(bk->broker_env, "NSTCP_BROKER=", 13);
	addr_text(&s->addr, ntohs(((struct sockaddr_in *)&s->addr)->sin_port),
		  bk->broker_env + 13,
		  sizeof(bk->broker_env) - 13);
	if (bk_table(s, bk, nservers))
		return -1;
	nd_broker_adopt(s, bk);
	s->copies = calloc(n, sizeof(*s->copies));
	bk->restarts = calloc(n, sizeof(*bk->restarts));
	bk->refused = calloc(nservers, sizeof(*bk->refused));
	if (!s->copies || !bk->restarts || !bk->refused)
		return -1;
	for (i = 0; i < n; i++) {
		struct nd_copy *k = &s->copies[i];

		if (i == bk->nbrokers)
			c = 0;
		while (!CPU_ISSET(c % CPU_SETSIZE, &s->cpus))
			c++;
		k->cpu = c % CPU_SETSIZE;
		c++;
		k->chan = -1;
		k->lfd = i < bk->nbrokers ? bk_socket(s, 0, 0) :
			 bk_socket(s, 1, i - bk->nbrokers);
		if (k->lfd < 0)
			return -1;	/* nd_services_stop closes those made */
		s->ncopies++;
		/* A server's port: its limits (new values after a reload). */
		if (i >= bk->nbrokers && nd_port_limits(s, k->lfd))
			return -1;
		/* Everything listens before the first process runs. */
		k->restart_at.tv_sec = 1;
	}
	nd_broker_tick(s);
	return 0;
}

/*
 * fork and exec of `nstcpd broker I`, the child async-signal-safe only:
 * pinned, its descriptors placed, as the service's user and groups.
 */
static pid_t spawn_broker(struct nd_service *s, int i)
{
	struct nd_bk *bk = s->bk;
	struct nd_copy *k = &s->copies[i];
	char idx[16], *argv[] = { "nstcpd", "broker", idx, NULL };
	char *envp[] = { NULL };
	cpu_set_t set;
	sigset_t none;
	pid_t pid, parent;
	int lfd, mfd;

	snprintf(idx, sizeof(idx), "%d", i);
	CPU_ZERO(&set);
	CPU_SET(k->cpu, &set);
	sigemptyset(&none);
	parent = getpid();
	pid = fork();
	if (pid)
		return pid;
	sigprocmask(SIG_SETMASK, &none, NULL);
	sched_setaffinity(0, sizeof(set), &set);
	/*
	 * Above 4 first, as either may be on 3 or 4 already; the copies are
	 * close-on-exec, so the broker gets exactly 3 and 4 (dup2 clears
	 * the flag on those).
	 */
	lfd = fcntl(k->lfd, F_DUPFD_CLOEXEC, 10);
	mfd = fcntl(bk->memfd, F_DUPFD_CLOEXEC, 10);
	if (lfd < 0 || mfd < 0 || dup2(lfd, 3) < 0 || dup2(mfd, 4) < 0)
		_exit(126);
	/* The service's user and groups, as its servers (spawn.c). */
	if ((s->user_line || s->group_line) &&
	    (setgroups(s->ngroups, s->groups) || setgid(s->gid) ||
	     (s->user_line && setuid(s->uid)) ||
	     (s->user_line && s->uid && !setuid(0))))
		_exit(126);
	/* After the change of user, which clears it. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)	/* nstcpd left before the prctl */
		_exit(0);
	/* Not a path: still nstcpd's own image after a package upgrade. */
	execve("/proc/self/exe", argv, envp);
	_exit(127);
}

static void start(struct nd_service *s, int i)
{
	struct nd_copy *k = &s->copies[i];
	struct nd_bk *bk = s->bk;
	struct nd_proc *p = nd_proc_add(s);
	char srv[96], srv_env[112];
	const char *extra[] = { srv_env, bk->broker_env, NULL };

	k->restart_at.tv_sec = 0;
	k->restart_at.tv_nsec = 0;
	if (!p)
		goto later;
	p->slot = i;
	p->cpu = k->cpu;
	if (i < bk->nbrokers) {
		p->drain = 1;
		p->pid = spawn_broker(s, i);
	} else {
		/* Its own port and the brokers', in its environment only. */
		addr_text(&s->srv_addr, bk->base_port + i - bk->nbrokers,
			  srv, sizeof(srv));
		snprintf(srv_env, sizeof(srv_env), "NSTCPD_SERVER=%s", srv);
		p->pid = nd_spawn_env(s, k->cpu, k->lfd, 0, extra);
	}
	if (p->pid < 0) {
		nd_log("service %s: fork: %s", s->name, strerror(errno));
		nd_proc_del(s, p);
		goto later;
	}
	k->pid = p->pid;
	nd_now(&k->started);
	return;
later:
	nd_now(&k->restart_at);
	k->restart_at.tv_sec += 1;
}

void nd_broker_exited(struct nd_service *s, struct nd_proc *p, int status)
{
	struct nd_bk *bk = s->bk;
	struct nd_copy *k = &s->copies[p->slot];
	int server = p->slot >= bk->nbrokers;

	nd_proc_del(s, p);
	k->pid = 0;
	if (server) {
		struct nd_bk_slot *sl = &bk->slot[k - s->copies - bk->nbrokers];

		/* Not chosen again before the new process reports. */
		__atomic_store_n(&sl->stamp_ms, 0, __ATOMIC_RELEASE);
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) >= 125) {
		s->failed++;
		s->cpu[k->cpu].failed++;
	}
	nd_log("service %s: %s %d on CPU %d %s %d; restarting", s->name,
	       server ? "server" : "broker",
	       (int)(k - s->copies) - (server ? bk->nbrokers : 0), k->cpu,
	       WIFSIGNALED(status) ? "killed by signal" : "exited",
	       WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	s->restarts++;
	s->cpu[k->cpu].restarts++;
	bk->restarts[k - s->copies]++;
	nd_backoff(k);
}

long long nd_broker_tick(struct nd_service *s)
{
	long long next = -1, t;
	int i;

	for (i = 0; i < s->ncopies; i++) {
		struct nd_copy *k = &s->copies[i];

		if (k->pid || (!k->restart_at.tv_sec && !k->restart_at.tv_nsec))
			continue;
		t = nd_ms_until(&k->restart_at);
		if (t <= 0) {
			start(s, i);
			continue;
		}
		if (next < 0 || t < next)
			next = t;
	}
	return next;
}

static void add_u64(json_object *o, const char *k, unsigned long long v)
{
	json_object_object_add(o, k, json_object_new_int64((int64_t)v));
}

/*
 * The status of @s: "workers" the server replicas (port, pid, last
 * reported load and capacity, report age, chosen), "brokers" each
 * broker's counters, and their sums in the service.
 */
void nd_broker_json(struct nd_service *s, json_object *o, json_object *ws)
{
	struct nd_bk *bk = s->bk;
	struct nd_bk_shm *m = bk ? bk->m : NULL;
	json_object *bs = json_object_new_array();
	unsigned long long sum[ND_BK_NCOUNT] = { 0 };
	static const char *const names[ND_BK_NCOUNT] = {
		"asked", "answered", "full", "noserver", "unknown", "reports",
		"malformed", "idle", "leased", "evicted",
	};
	struct timespec now;
	int i, j;

	json_object_object_add(o, "brokers", bs);
	if (!m)
		return;
	nd_now(&now);
	for (i = 0; i < s->ncopies; i++) {
		struct nd_copy *k = &s->copies[i];
		json_object *w = json_object_new_object();

		add_u64(w, "cpu", k->cpu);
		add_u64(w, "pid", k->pid);
		add_u64(w, "restarts", bk->restarts[i]);
		if (i < bk->nbrokers) {
			const uint64_t *c = (const uint64_t *)&bk->count[i];

			for (j = 0; j < (int)ND_BK_NCOUNT; j++) {
				add_u64(w, names[j], nd_bk_ld(&c[j]));
				sum[j] += nd_bk_ld(&c[j]);
			}
			json_object_array_add(bs, w);
		} else {
			struct nd_bk_slot *sl = &bk->slot[i - bk->nbrokers];
			unsigned long long st = nd_bk_ld(&sl->stamp_ms), lc = nd_bk_ld(&sl->loadcap);
			long long nowms = now.tv_sec * 1000LL + now.tv_nsec / 1000000;
			long long age;

			/* Written by the brokers: a stamp ahead of now is none. */
			if (st > (unsigned long long)nowms)
				st = 0;
			age = nowms - (long long)st;
			add_u64(w, "port", bk->base_port + i - bk->nbrokers);
			add_u64(w, "load", lc >> 32);
			add_u64(w, "capacity", lc & 0xffffffffu);
			json_object_object_add(w, "age_ms", json_object_new_int64(st ? age : -1));
			json_object_object_add(w, "fresh",
					       json_object_new_boolean(st && age <= bk->expire_ms));
			add_u64(w, "reports", nd_bk_ld(&sl->reports));
			add_u64(w, "chosen", nd_bk_ld(&sl->chosen));
			add_u64(w, "leases", nd_bk_live(sl, nowms, bk->lease_ms));
			add_u64(w, "refused", bk->refused[i - bk->nbrokers]);
			json_object_array_add(ws, w);
		}
	}
	for (j = 0; j < (int)ND_BK_NCOUNT; j++)
		add_u64(o, names[j], sum[j]);
	add_u64(o, "lease_ms", bk->lease_ms);
}

static void bk_row(void *arg, const struct nd_listen_row *r)
{
	struct nd_bk *bk = arg;

	if (r->lrefused >= 0 && r->port >= (int)bk->base_port &&
	    r->port < (int)bk->base_port + bk->nslots)
		bk->refused[r->port - bk->base_port] = r->lrefused;
}

/*
 * The connections the servers' ports' limits reset: each server's its
 * port's lrefused (on every row of the port), the service's refused their
 * sum, from /proc/net/nstcp_listen as the monolithic model reads it.
 */
void nd_broker_proc(struct nd_service *s)
{
	struct nd_bk *bk = s->bk;
	unsigned long long sum = 0;
	int i;

	if (!bk || !bk->refused)
		return;
	nd_listen_rows(bk_row, bk);
	for (i = 0; i < bk->nslots; i++)
		sum += bk->refused[i];
	s->refused = sum;
}

void nd_broker_stop(struct nd_service *s)
{
	struct nd_bk *bk = s->bk;

	if (!bk)
		return;
	if (bk->m)
		munmap(bk->m, bk->size);
	if (bk->memfd >= 0)
		close(bk->memfd);
	free(bk->restarts);
	free(bk->refused);
	free(bk);
	s->bk = NULL;
}
