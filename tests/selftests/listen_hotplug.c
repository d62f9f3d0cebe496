// SPDX-License-Identifier: GPL-2.0
/*
 * Selftest: a listening port under CPU hotplug.  Network namespace "srv"
 * (198.18.0.1/24 on a veth whose peer is in "cli", 198.18.0.2/24) has one
 * listening socket with an acceptor thread pinned per CPU (it re-pins
 * itself when its CPU comes back), each echoing 4 KiB per connection;
 * client threads, one pinned per CPU in srv over loopback (so each CPU
 * receives connections), open fresh connections continuously and check
 * the echo's checksum, while another thread takes CPUs 1 to 3 offline and
 * online in turn, one step every 0.3 s, for 8 s.
 *
 * NSTCP_HOTPLUG_RPS=1 runs the clients in cli instead, over the veth with
 * RPS on the srv side spreading the flows over every CPU (as a NIC's RSS
 * would).  Not the default: on 6.1 an RPS IPI to a CPU going offline is
 * skipped (net_rps_send_ipi() checks cpu_online()) leaving that CPU's
 * backlog NAPI marked scheduled but on no poll list, which dev_cpu_dead()
 * does not clear; once the CPU is back every packet queued to its backlog
 * stays there: connections whose packets land on it time out, AF_INET's
 * as well.  Then, with every CPU online again, a client
 * pinned to each CPU in srv (over loopback, so its packets are processed
 * on that CPU) must be accepted: the CPU has its listener back.
 *
 * It runs for AF_INET, then for AF_NSTCP with net.nstcp.accept_steal 1 and
 * 0.  AF_NSTCP must have no client error (connect failure, reset, checksum
 * mismatch, wait over 5 s), leave no connection queued once the clients
 * stop, and raise TcpExtListenDrops, TcpExtListenOverflows and TcpOutRsts
 * of srv by no more than AF_INET did, plus 2.
 *
 * This process makes the namespaces, runs the test in a child, and
 * afterwards, however the child ended, brings every CPU back online and
 * deletes the namespaces.  Needs root and 2 CPUs.
 * NSTCP_HOTPLUG_OFF=1 leaves every CPU online (a diagnostic: the same load
 * without hotplug; the offline-step checks then fail).  Each phase's Tcp
 * and TcpExt counters that changed are printed.  NSTCP_HOTPLUG_CLIENTS
 * sets the number of client threads (default: one per CPU; with RPS half
 * the CPUs, at least 2).
 */
#include <sys/wait.h>

#include "listen_util.h"
#include "rps_pair.h"

#define SRV_IP		"198.18.0.1"
#define CLI_IP		"198.18.0.2"
#define RUN_MS		8000
#define STEP_MS		300
#define MSG		4096
#define MAX_HOT		3
#define MARGIN		2
#define CHILD_CASES	(2 + 4 + 4 + 3)
#define NCASES		(1 + CHILD_CASES + 2)

static char srv_ns[32], cli_ns[32], srv_dev[16], cli_dev[16];
static int ncpus, nhot, nclients, use_rps;
static atomic_int plug_down;		/* the CPU offline now, 0 if none */
static long long phase_t0;

/* ---- CPU hotplug ---- */

static int cpu_set_online(int cpu, int on)
{
	char path[96];
	int fd, err = 0;

	snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/online", cpu);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return errno;
	if (write(fd, on ? "1" : "0", 1) != 1)
		err = errno;
	close(fd);
	return err;
}

static int cpu_online(int cpu)
{
	char path[96], c = '?';
	int fd;

	snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/online", cpu);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	if (read(fd, &c, 1) != 1)
		c = '?';
	close(fd);
	return c == '1';
}

/* Every CPU back online, with retries (a write can meet EBUSY); 1 if so. */
static int all_online(void)
{
	int ok = 1;

	for (int c = 1; c < ncpus; c++) {
		for (int i = 0; i < 50 && cpu_online(c) == 0; i++) {
			if (cpu_set_online(c, 1))
				lst_sleep_ms(20);
		}
		if (cpu_online(c) == 0) {
			tap_diag("CPU %d stays offline", c);
			ok = 0;
		}
	}
	return ok;
}

struct plugger {
	pthread_t tid;
	atomic_int stop;
	int offline, failed;
};

static void *plugger_main(void *arg)
{
	struct plugger *p = arg;
	int down = -1;

	for (int i = 0; !atomic_load(&p->stop); i++) {
		int c = 1 + i % nhot;

		if (down > 0 && cpu_set_online(down, 1))
			p->failed++;
		down = -1;
		atomic_store(&plug_down, 0);
		if (!cpu_set_online(c, 0)) {
			p->offline++;
			down = c;
			atomic_store(&plug_down, c);
		} else {
			p->failed++;
		}
		lst_sleep_ms(STEP_MS);
	}
	if (!all_online())
		p->failed++;
	atomic_store(&plug_down, 0);
	return NULL;
}

/* ---- the namespaces ---- */

static int setup(char *mask, size_t len)
{
	snprintf(mask, len, "%llx", ncpus >= 64 ? ~0ULL : (1ULL << ncpus) - 1);
	return rps_sh("ip netns add %s && ip netns add %s", srv_ns, cli_ns) ||
	       rps_sh("ip -n %s link add %s type veth peer name %s netns %s",
		      srv_ns, srv_dev, cli_dev, cli_ns) ||
	       rps_sh("ip -n %s addr add %s/24 dev %s && ip -n %s link set %s up && ip -n %s link set lo up",
		      srv_ns, SRV_IP, srv_dev, srv_ns, srv_dev, srv_ns) ||
	       rps_sh("ip -n %s addr add %s/24 dev %s && ip -n %s link set %s up && ip -n %s link set lo up",
		      cli_ns, CLI_IP, cli_dev, cli_ns, cli_dev, cli_ns) ||
	       rps_sh("ip netns exec %s sh -c 'echo %s > /sys/class/net/%s/queues/rx-0/rps_cpus'",
		      srv_ns, mask, srv_dev) ? -1 : 0;
}

static int cleanup(void)
{
	char path[64];
	int gone = 1;

	rps_sh("ip netns del %s 2>/dev/null; ip netns del %s 2>/dev/null; true",
	       srv_ns, cli_ns);
	snprintf(path, sizeof(path), "/run/netns/%s", srv_ns);
	gone &= access(path, F_OK) != 0;
	snprintf(path, sizeof(path), "/run/netns/%s", cli_ns);
	gone &= access(path, F_OK) != 0;
	return gone;
}

/* ---- nstat counters of the calling thread's namespace ---- */

static long nstat(const char *file, const char *prefix, const char *name)
{
	char path[96], names[4096], vals[4096];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/thread-self/net/%s", file);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(names, sizeof(names), f) && fgets(vals, sizeof(vals), f)) {
		char *sn, *sv, *n, *x;

		if (strncmp(names, prefix, strlen(prefix)))
			continue;
		n = strtok_r(names, " \n", &sn);
		x = strtok_r(vals, " \n", &sv);
		while ((n = strtok_r(NULL, " \n", &sn)) &&
		       (x = strtok_r(NULL, " \n", &sv)))
			if (!strcmp(n, name))
				v = atol(x);
	}
	fclose(f);
	return v;
}

/* Every Tcp and TcpExt counter, for a diagnostic of what changed. */
#define NS_MAX	256
struct nsnap {
	int n;
	char name[NS_MAX][40];
	long val[NS_MAX];
};

static void nsnap(struct nsnap *sn)
{
	static const char *const files[] = { "netstat", "snmp" };
	static const char *const prefixes[] = { "TcpExt:", "Tcp:" };
	char path[96], names[4096], vals[4096];

	sn->n = 0;
	for (int i = 0; i < 2; i++) {
		FILE *f;

		snprintf(path, sizeof(path), "/proc/thread-self/net/%s", files[i]);
		f = fopen(path, "r");
		if (!f)
			continue;
		while (fgets(names, sizeof(names), f) &&
		       fgets(vals, sizeof(vals), f)) {
			char *sn1, *sv, *n, *x;

			if (strncmp(names, prefixes[i], strlen(prefixes[i])))
				continue;
			strtok_r(names, " \n", &sn1);
			strtok_r(vals, " \n", &sv);
			while ((n = strtok_r(NULL, " \n", &sn1)) &&
			       (x = strtok_r(NULL, " \n", &sv)) && sn->n < NS_MAX) {
				snprintf(sn->name[sn->n], sizeof(sn->name[0]), "%s", n);
				sn->val[sn->n++] = atol(x);
			}
		}
		fclose(f);
	}
}

static void nsnap_diff(const char *what, const struct nsnap *a,
		       const struct nsnap *b)
{
	char line[1024];
	int len = 0;

	line[0] = 0;
	for (int i = 0; i < a->n && i < b->n; i++)
		if (b->val[i] != a->val[i] && !strcmp(a->name[i], b->name[i]) &&
		    len < (int)sizeof(line) - 64)
			len += snprintf(line + len, sizeof(line) - len, " %s%+ld",
					a->name[i], b->val[i] - a->val[i]);
	tap_diag("%s: counters that changed:%s", what, line);
}

enum { C_DROPS, C_OVERFLOWS, C_RSTS, C_N };
static const char *const c_names[C_N] = { "ListenDrops", "ListenOverflows",
					  "OutRsts" };

static void counters(long *c)
{
	c[C_DROPS] = nstat("netstat", "TcpExt:", "ListenDrops");
	c[C_OVERFLOWS] = nstat("netstat", "TcpExt:", "ListenOverflows");
	c[C_RSTS] = nstat("snmp", "Tcp:", "OutRsts");
}

/* ---- server and clients ---- */

struct echo_acceptor {
	pthread_t tid;
	int lfd, cpu;
	atomic_int *stop;
	atomic_int served, errors;
	atomic_int by_cpu[LST_MAXCPU];	/* by SO_INCOMING_CPU */
};

static void repin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);	/* EINVAL while offline */
}

static void *acceptor_main(void *arg)
{
	struct echo_acceptor *ac = arg;
	char buf[MSG];

	repin(ac->cpu);
	while (!atomic_load(ac->stop)) {
		int fd, icpu;

		if (sched_getcpu() != ac->cpu)
			repin(ac->cpu);
		fd = accept(ac->lfd, NULL, NULL);	/* SO_RCVTIMEO 200 ms */
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR) {
				atomic_fetch_add(&ac->errors, 1);
				lst_sleep_ms(10);
			}
			continue;
		}
		icpu = lst_incoming_cpu(fd);
		if (fam_timeouts(fd, FAM_TIMEOUT_MS) ||
		    fam_recv_all(fd, buf, MSG) != MSG ||
		    fam_send_all(fd, buf, MSG) != MSG) {
			atomic_fetch_add(&ac->errors, 1);
		} else {
			atomic_fetch_add(&ac->served, 1);
			if (icpu >= 0 && icpu < LST_MAXCPU)
				atomic_fetch_add(&ac->by_cpu[icpu], 1);
		}
		close(fd);
	}
	return NULL;
}

struct echo_client {
	pthread_t tid;
	int netns, port, cpu;
	unsigned int seed;
	atomic_int *stop;
	int once;
	int ok, connfail, resets, mismatch, timeouts, slow, first_err;
	long long max_ms;
	int nlog;
	char log[3][96];	/* the first errors: when, what */
};

/* One echo exchange; 0 or the errno of what failed (EBADMSG: mismatch). */
static int echo_once(const char *ip, int port, unsigned int seed, int *conn)
{
	char out[MSG], in[MSG];
	int fd = fam_socket(AF_INET, 0), err = 0;
	struct fam_addr a = fam_addr(ip, port);
	ssize_t n;

	*conn = 0;
	if (fd < 0)
		return errno;
	if (connect(fd, &a.sa, a.len)) {
		err = errno;
		*conn = 1;
		close(fd);
		return err;
	}
	fam_fill(out, MSG, seed);
	if (fam_send_all(fd, out, MSG) != MSG) {
		err = errno ? errno : EPIPE;
	} else {
		n = fam_recv_all(fd, in, MSG);
		if (n < 0)
			err = errno;
		else if (n < MSG)
			err = EPIPE;	/* an early EOF */
		else if (fam_sum(FAM_SUM_INIT, in, MSG) !=
			 fam_sum(FAM_SUM_INIT, out, MSG))
			err = EBADMSG;
	}
	close(fd);
	return err;
}

static void *client_main(void *arg)
{
	struct echo_client *cl = arg;

	if (cl->netns > 0 && setns(cl->netns, CLONE_NEWNET)) {
		cl->connfail++;
		cl->first_err = errno;
		return NULL;
	}
	if (cl->cpu >= 0)
		repin(cl->cpu);
	do {
		long long t0 = lst_now_ms(), ms;

		if (cl->cpu >= 0 && sched_getcpu() != cl->cpu)
			repin(cl->cpu);	/* it lost its CPU to hotplug */
		int conn, err = echo_once(cl->netns > 0 ? SRV_IP : SRV_IP,
					  cl->port, cl->seed++, &conn);

		ms = lst_now_ms() - t0;
		if (ms > cl->max_ms)
			cl->max_ms = ms;
		if (!err && ms > FAM_TIMEOUT_MS)
			err = ETIME;
		if (!err) {
			cl->ok++;
			continue;
		}
		if (!cl->first_err)
			cl->first_err = err;
		if (cl->nlog < 3)
			snprintf(cl->log[cl->nlog++], sizeof(cl->log[0]),
				 "at %lld ms, %lld ms long: %s%s (CPU %d offline at the end)",
				 t0 - phase_t0, ms, conn ? "connect: " : "",
				 strerror(err), atomic_load(&plug_down));
		if (conn)
			cl->connfail++;
		else if (err == EBADMSG)
			cl->mismatch++;
		else if (err == EAGAIN || err == ETIME || err == ETIMEDOUT)
			cl->timeouts++;
		else
			cl->resets++;
	} while (!cl->once && !atomic_load(cl->stop));
	return NULL;
}

struct result {
	int exchanges, errors, offline;
	long delta[C_N];
};

static void phase(int cli, int domain, const char *steal, struct result *ref)
{
	char name[48];
	struct echo_acceptor ac[LST_MAXCPU];
	struct echo_client cl[LST_MAXCPU];
	struct plugger pl = { 0 };
	atomic_int stop = 0, cstop = 0;
	struct timeval tv = { .tv_usec = 200000 };
	long before[C_N], after[C_N];
	static struct nsnap snap0, snap1;
	int lfd, port = 0, ok = 0, connfail = 0, resets = 0, mismatch = 0;
	int timeouts = 0, serrs = 0, first = 0, percpu = 0, queued = -1;
	long long max_ms = 0;
	struct lst_port st;
	struct result res = { 0 };

	snprintf(name, sizeof(name), "%s%s%s", lst_fam(domain),
		 steal ? ", accept_steal=" : "", steal ? steal : "");
	if (steal)
		lst_sysctl_write("accept_steal", steal);
	counters(before);
	nsnap(&snap0);
	lfd = domain == AF_NSTCP ? lst_member(SRV_IP, 0, NULL, 0, &port) :
		fam_listen(AF_INET, SRV_IP, 0, &port);
	if (lfd >= 0)
		setsockopt(lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	memset(ac, 0, sizeof(ac));
	memset(cl, 0, sizeof(cl));
	for (int c = 0; lfd >= 0 && c < ncpus; c++) {
		ac[c].lfd = lfd;
		ac[c].cpu = c;
		ac[c].stop = &stop;
		pthread_create(&ac[c].tid, NULL, acceptor_main, &ac[c]);
	}
	lst_sleep_ms(100);
	phase_t0 = lst_now_ms();
	for (int t = 0; lfd >= 0 && t < nclients; t++) {
		cl[t].netns = use_rps ? cli : 0;
		cl[t].port = port;
		cl[t].cpu = use_rps ? -1 : t % ncpus;
		cl[t].seed = t * 100003 + 1;
		cl[t].stop = &cstop;
		pthread_create(&cl[t].tid, NULL, client_main, &cl[t]);
	}
	if (lfd >= 0 && !getenv("NSTCP_HOTPLUG_OFF"))
		pthread_create(&pl.tid, NULL, plugger_main, &pl);
	lst_sleep_ms(RUN_MS);
	if (lfd >= 0 && !getenv("NSTCP_HOTPLUG_OFF")) {
		atomic_store(&pl.stop, 1);
		pthread_join(pl.tid, NULL);	/* all CPUs online again */
	}
	atomic_store(&cstop, 1);
	for (int t = 0; lfd >= 0 && t < nclients; t++) {
		pthread_join(cl[t].tid, NULL);
		for (int k = 0; k < cl[t].nlog; k++)
			tap_diag("%s: client %d error %s", name, t, cl[t].log[k]);
		ok += cl[t].ok;
		connfail += cl[t].connfail;
		resets += cl[t].resets;
		mismatch += cl[t].mismatch;
		timeouts += cl[t].timeouts;
		if (cl[t].max_ms > max_ms)
			max_ms = cl[t].max_ms;
		if (!first)
			first = cl[t].first_err;
	}
	res.exchanges = ok;
	res.errors = connfail + resets + mismatch + timeouts;
	res.offline = pl.offline;
	tap_diag("%s: %d exchanges, %d CPU offline steps (%d hotplug failures); client errors: %d connect, %d reset, %d checksum, %d timeout (first %s, longest %lld ms)",
		 name, ok, pl.offline, pl.failed, connfail, resets, mismatch,
		 timeouts, first ? strerror(first) : "none", max_ms);
	if (domain == AF_NSTCP) {
		FAM_OK(lfd >= 0 && ok > 0 && pl.offline > 0 && !res.errors,
		       "%s: %d echo exchanges while CPUs went offline and online (%d steps), no client error (%d)",
		       name, ok, pl.offline, res.errors);
		/* Every connection queued is accepted: the acceptors run on. */
		for (long long end = lst_now_ms() + 2000;;) {
			lst_proc(port, &st);
			queued = st.rows > 0 ? (int)st.sum_queued : -1;
			if (queued == 0 || lst_now_ms() > end)
				break;
			lst_sleep_ms(20);
		}
		FAM_OK(queued == 0,
		       "%s: nothing left queued once the clients stopped (%d)",
		       name, queued);
	} else {
		FAM_OK(lfd >= 0 && ok > 0 && pl.offline > 0,
		       "%s (reference): %d echo exchanges while CPUs went offline and online (%d steps), %d client errors",
		       name, ok, pl.offline, res.errors);
	}

	/*
	 * Every CPU online: a connection processed on each is accepted.  A
	 * CPU just brought back can be slow to serve under TCG (AF_INET too):
	 * a second and a settling time before, one retry after a diagnostic.
	 */
	lst_sleep_ms(1000);
	for (int c = 0, retry = 1; lfd >= 0 && c < ncpus; c++) {
		int before_c = 0, after_c = 0, got = 0;
		struct echo_client one = { .netns = 0, .port = port, .cpu = c,
					   .seed = 7 + c, .stop = &cstop,
					   .once = 1 };
		long acc0 = 0, acc1 = 0;

		if (domain == AF_NSTCP && lst_proc(port, &st) > 0)
			acc0 = st.accepted[c];
		for (int k = 0; k < ncpus; k++)
			before_c += atomic_load(&ac[k].by_cpu[c]);
		pthread_create(&one.tid, NULL, client_main, &one);
		pthread_join(one.tid, NULL);
		for (long long end = lst_now_ms() + 1000; lst_now_ms() < end;) {
			after_c = 0;
			for (int k = 0; k < ncpus; k++)
				after_c += atomic_load(&ac[k].by_cpu[c]);
			if (after_c > before_c)
				break;
			lst_sleep_ms(10);
		}
		if (domain == AF_NSTCP && lst_proc(port, &st) > 0)
			acc1 = st.accepted[c];
		got = one.ok == 1 && after_c == before_c + 1 &&
		      (domain != AF_NSTCP || acc1 == acc0 + 1);
		if (!got)
			tap_diag("%s: CPU %d%s: exchange %s, SO_INCOMING_CPU %d count %d -> %d, /proc accepted[%d] %ld -> %ld",
				 name, c, retry ? "" : " (retry)",
				 one.ok ? "ok" : strerror(one.first_err),
				 c, before_c, after_c, c, acc0, acc1);
		if (!got && retry) {
			retry = 0;
			c--;
			continue;
		}
		retry = 1;
		percpu += got;
	}
	FAM_OK(lfd >= 0 && percpu == ncpus,
	       "%s: after hotplug a connection processed on each CPU is accepted from that CPU's queue (%d of %d)",
	       name, percpu, ncpus);

	atomic_store(&stop, 1);
	for (int c = 0; lfd >= 0 && c < ncpus; c++) {
		pthread_join(ac[c].tid, NULL);
		serrs += atomic_load(&ac[c].errors);
	}
	if (serrs)
		tap_diag("%s: %d server-side exchange errors", name, serrs);
	fam_close(&lfd);
	lst_sleep_ms(100);
	counters(after);
	nsnap(&snap1);
	nsnap_diff(name, &snap0, &snap1);
	for (int i = 0; i < C_N; i++)
		res.delta[i] = after[i] - before[i];
	tap_diag("%s: ListenDrops +%ld, ListenOverflows +%ld, OutRsts +%ld",
		 name, res.delta[C_DROPS], res.delta[C_OVERFLOWS],
		 res.delta[C_RSTS]);
	if (domain == AF_NSTCP) {
		int worse = before[0] < 0 || after[0] < 0 || before[C_RSTS] < 0;

		for (int i = 0; i < C_N; i++)
			if (res.delta[i] > ref->delta[i] + MARGIN) {
				tap_diag("%s: %s +%ld, AF_INET +%ld", name,
					 c_names[i], res.delta[i], ref->delta[i]);
				worse = 1;
			}
		FAM_OK(!worse,
		       "%s: ListenDrops/ListenOverflows/OutRsts grew by %ld/%ld/%ld, AF_INET's %ld/%ld/%ld (+%d)",
		       name, res.delta[0], res.delta[1], res.delta[2],
		       ref->delta[0], ref->delta[1], ref->delta[2], MARGIN);
	} else {
		*ref = res;
	}
}

static int child(void *arg __attribute__((unused)))
{
	char path[64];
	int cli, srv, n;
	struct result ref = { .delta = { 0, 0, 0 } };

	snprintf(path, sizeof(path), "/run/netns/%s", cli_ns);
	cli = open(path, O_RDONLY);
	snprintf(path, sizeof(path), "/run/netns/%s", srv_ns);
	srv = open(path, O_RDONLY);
	if (cli < 0 || srv < 0 || setns(srv, CLONE_NEWNET)) {
		printf("Bail out! namespaces: %s\n", strerror(errno));
		return 1;
	}
	close(srv);
	/*
	 * Each phase leaves thousands of connections in TIME_WAIT for 60 s;
	 * past tcp_max_tw_buckets they close at once and their late segments
	 * draw resets, which would be charged to the later phases.
	 */
	{
		int fd = open("/proc/sys/net/ipv4/tcp_max_tw_buckets", O_WRONLY);

		if (fd < 0 || write(fd, "1000000", 7) != 7)
			tap_diag("tcp_max_tw_buckets: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	fam_start_child(CHILD_CASES - 3, 80);

	phase(cli, AF_INET, NULL, &ref);
	phase(cli, AF_NSTCP, "1", &ref);
	phase(cli, AF_NSTCP, "0", &ref);
	lst_sysctl_write("accept_steal", "1");
	n = fam_finish();
	close(cli);
	return n;
}

int main(void)
{
	char mask[32], path[96];
	int ok;

	setvbuf(stdout, NULL, _IOLBF, 0);
	ncpus = lst_ncpus();
	if (ncpus > LST_MAXCPU)
		ncpus = LST_MAXCPU;
	nhot = ncpus - 1 < MAX_HOT ? ncpus - 1 : MAX_HOT;
	use_rps = getenv("NSTCP_HOTPLUG_RPS") &&
		  atoi(getenv("NSTCP_HOTPLUG_RPS")) > 0;
	/* Over RPS half as many as CPUs: TCG guests starve under more. */
	nclients = !use_rps ? ncpus : ncpus / 2 < 2 ? 2 : ncpus / 2;
	if (getenv("NSTCP_HOTPLUG_CLIENTS") &&
	    atoi(getenv("NSTCP_HOTPLUG_CLIENTS")) > 0)
		nclients = atoi(getenv("NSTCP_HOTPLUG_CLIENTS"));
	if (nclients > LST_MAXCPU)
		nclients = LST_MAXCPU;
	snprintf(srv_ns, sizeof(srv_ns), "nstcp-hsrv-%d", getpid());
	snprintf(cli_ns, sizeof(cli_ns), "nstcp-hcli-%d", getpid());
	snprintf(srv_dev, sizeof(srv_dev), "nsh%ds", getpid());
	snprintf(cli_dev, sizeof(cli_dev), "nsh%dc", getpid());
	snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu1/online");
	tap_plan(NCASES);
	if (ncpus < 2 || geteuid() != 0 || access(path, W_OK)) {
		for (int i = 0; i < NCASES; i++)
			tap_skip(ncpus < 2 ? "needs 2 CPUs" :
				 "needs root and a hot-pluggable CPU 1",
				 "listen under CPU hotplug");
		return tap_done();
	}
	ok = !setup(mask, sizeof(mask));
	FAM_OK(ok, "namespaces %s and %s joined by veth, RPS on %s: %s (%d CPUs, %d hot-plugged; %d clients %s)",
	       srv_ns, cli_ns, srv_dev, mask, ncpus, nhot, nclients,
	       use_rps ? "over the veth with RPS" : "pinned per CPU over loopback");
	if (!ok) {
		for (int i = 0; i < CHILD_CASES; i++)
			tap_ok(0, "setup failed");
	} else {
		rps_run_child(child, NULL, NCASES - 2, 84);
	}
	FAM_OK(all_online(), "every CPU is online at the end");
	FAM_OK(cleanup(), "namespaces %s and %s deleted", srv_ns, cli_ns);
	return tap_done();
}
