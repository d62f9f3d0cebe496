// SPDX-License-Identifier: GPL-2.0
/*
 * Selftest: races and lifetimes of listening sockets, each compared with
 * AF_INET where AF_INET has the same operation.
 *
 *  - listen() and connect() on one socket from two threads at once: the
 *    socket ends a listener (SO_ACCEPTCONN 1, connect EISCONN, a group in
 *    /proc/net/nstcp_listen) or connected (listen EINVAL, no group), never
 *    both;
 *  - NSTCP_SHARE_KEY and NSTCP_POLICY racing listen(): the key is there iff
 *    it was set before the socket was bound, the policy always is, and
 *    /proc/net/nstcp_listen agrees;
 *  - shutdown(SHUT_RD) of a listener ends a blocked accept() with EINVAL,
 *    and listen() again on the same port accepts new connections;
 *  - closing a listener and listening on its port at once with a new
 *    socket, 100 times: the new one gets every new connection;
 *  - bind() then connect() of a keyed socket keeps the bound port;
 *  - the least policy over 40 members: everyone gets some, a stalled one
 *    holds few;
 *  - a process with 64 listeners exits quickly.
 *
 * Runs in a network namespace of its own.
 */
#include <sys/wait.h>

#include "listen_util.h"

#define RACE_ROUNDS	150
#define KEY_ROUNDS	100
#define RELISTEN_ROUNDS	100
#define LEAST_MEMBERS	40
#define LEAST_CONNS	200
#define LEAST_STALLED_MAX 4
#define EXIT_LISTENERS	64
#define NCASES		(2 * 2 + 2 + 2 * 5 + 2 * 2 + 2 + 2 + 2 * 2)

/* A drainer: accepts and closes until told to stop. */
struct drainer {
	pthread_t tid;
	int lfd;
	atomic_int stop, n;
};

static void *drainer_main(void *arg)
{
	struct drainer *d = arg;
	struct timeval tv = { .tv_usec = 100000 };

	setsockopt(d->lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (!atomic_load(&d->stop)) {
		int fd = accept(d->lfd, NULL, NULL);

		if (fd >= 0) {
			close(fd);
			atomic_fetch_add(&d->n, 1);
		}
	}
	return NULL;
}

/* ---- listen() vs connect() ---- */

struct racer {
	pthread_t tid;
	pthread_barrier_t *go, *done;
	int domain, tport, rounds;
	atomic_int *fd;		/* the socket of the round */
	int is_listen;
	int rc[RACE_ROUNDS], err[RACE_ROUNDS];
};

static void *racer_main(void *arg)
{
	struct racer *r = arg;
	struct fam_addr a = fam_addr(LST_IP, r->tport);

	for (int i = 0; i < r->rounds; i++) {
		int fd;

		pthread_barrier_wait(r->go);
		fd = atomic_load(r->fd);
		errno = 0;
		if (r->is_listen)
			r->rc[i] = listen(fd, 16);
		else
			r->rc[i] = connect(fd, &a.sa, a.len);
		r->err[i] = r->rc[i] ? errno : 0;
		pthread_barrier_wait(r->done);
	}
	return NULL;
}

static void race_listen_connect(int domain)
{
	const char *fam = lst_fam(domain);
	pthread_barrier_t go, done;
	struct racer rl, rc;
	struct drainer d = { 0 };
	atomic_int cur = -1;
	int tport = 0, listeners = 0, connected = 0, bad = 0, setup = 1;
	int tfd = fam_listen(AF_INET, LST_IP, 0, &tport);

	memset(&rl, 0, sizeof(rl));
	memset(&rc, 0, sizeof(rc));
	d.lfd = tfd;
	if (tfd < 0 || pthread_create(&d.tid, NULL, drainer_main, &d)) {
		tap_ok(0, "%s: listen/connect race setup", fam);
		tap_ok(0, "%s: listen/connect race setup", fam);
		fam_close(&tfd);
		return;
	}
	pthread_barrier_init(&go, NULL, 3);
	pthread_barrier_init(&done, NULL, 3);
	rl = (struct racer){ .go = &go, .done = &done, .domain = domain,
			     .tport = tport, .rounds = RACE_ROUNDS, .fd = &cur,
			     .is_listen = 1 };
	rc = rl;
	rc.is_listen = 0;
	pthread_create(&rl.tid, NULL, racer_main, &rl);
	pthread_create(&rc.tid, NULL, racer_main, &rc);
	for (int i = 0; i < RACE_ROUNDS; i++) {
		struct fam_addr peer = { .len = sizeof(peer.ss) };
		int fd = fam_socket(domain, 0), acc, peer_ok, lport, rows = 0;
		struct lst_port st;

		if (fd < 0)
			setup = 0;
		atomic_store(&cur, fd);
		pthread_barrier_wait(&go);
		pthread_barrier_wait(&done);
		if (fd < 0)
			continue;
		if (fam_getint(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc))
			acc = -1;
		peer_ok = !getpeername(fd, &peer.sa, &peer.len);
		lport = fam_local_port(fd);
		if (domain == AF_NSTCP)
			rows = lst_proc(lport, &st);
		if (!rl.rc[i] && rc.rc[i] && rc.err[i] == EISCONN && acc == 1 &&
		    !peer_ok && (domain != AF_NSTCP || (rows > 0 && st.listeners == 1))) {
			/* A listener: a second connect fails too. */
			struct fam_addr a = fam_addr(LST_IP, tport);

			if (FAM_ERR(connect(fd, &a.sa, a.len)) == EISCONN)
				listeners++;
			else
				bad++;
		} else if (!rc.rc[i] && rl.rc[i] && rl.err[i] == EINVAL &&
			   acc == 0 && peer_ok && fam_port(&peer.sa) == tport &&
			   rows == 0) {
			if (FAM_ERR(listen(fd, 16)) == EINVAL)
				connected++;
			else
				bad++;
		} else {
			if (bad++ < 5)
				tap_diag("%s round %d: listen %d (%s), connect %d (%s), SO_ACCEPTCONN %d, peer %s, /proc rows %d",
					 fam, i, rl.rc[i], strerror(rl.err[i]),
					 rc.rc[i], strerror(rc.err[i]), acc,
					 peer_ok ? "yes" : "no", rows);
		}
		close(fd);
	}
	pthread_join(rl.tid, NULL);
	pthread_join(rc.tid, NULL);
	pthread_barrier_destroy(&go);
	pthread_barrier_destroy(&done);
	atomic_store(&d.stop, 1);
	pthread_join(d.tid, NULL);
	close(tfd);
	FAM_OK(setup && !bad && listeners + connected == RACE_ROUNDS,
	       "%s: listen() vs connect() on one socket, %d rounds: %d listeners, %d connected, %d inconsistent",
	       fam, RACE_ROUNDS, listeners, connected, bad);
	/* Both outcomes are possible; a round of each shows the race ran. */
	FAM_OK(listeners + connected == RACE_ROUNDS,
	       "%s: every round ended as a listener or as connected (%d + %d of %d; both seen: %s)",
	       fam, listeners, connected, RACE_ROUNDS,
	       listeners && connected ? "yes" : "no");
}

/* ---- key/policy setsockopt vs listen() ---- */

struct keyracer {
	pthread_t tid;
	pthread_barrier_t *go, *done;
	atomic_int *fd;
	int with_key, rounds;
	int key_rc[KEY_ROUNDS], pol_rc[KEY_ROUNDS], pol[KEY_ROUNDS];
};

static void *keyracer_main(void *arg)
{
	struct keyracer *k = arg;

	for (int i = 0; i < k->rounds; i++) {
		int fd;

		pthread_barrier_wait(k->go);
		fd = atomic_load(k->fd);
		k->pol[i] = 1 + i % 3;
		k->key_rc[i] = k->with_key ? FAM_ERR(lst_set_key(fd, "race1")) : 0;
		k->pol_rc[i] = FAM_ERR(fam_setint(fd, SOL_NSTCP, NSTCP_POLICY,
						  k->pol[i]));
		pthread_barrier_wait(k->done);
	}
	return NULL;
}

static const char *pol_name(int p)
{
	return p == NSTCP_POLICY_CPU ? "cpu" : p == NSTCP_POLICY_ROUNDROBIN ?
	       "roundrobin" : p == NSTCP_POLICY_LEAST ? "least" : "?";
}

/*
 * with_key: an unbound socket; the other thread sets the key and then the
 * policy while this one listens (autobinding).  Else a keyed, bound
 * socket; the other thread sets the policy.
 */
static void race_key_policy(int with_key)
{
	const char *what = with_key ? "key and policy" : "policy";
	pthread_barrier_t go, done;
	struct keyracer k;
	atomic_int cur = -1;
	int bad = 0, keyed = 0, unkeyed = 0;

	memset(&k, 0, sizeof(k));
	pthread_barrier_init(&go, NULL, 2);
	pthread_barrier_init(&done, NULL, 2);
	k.go = &go;
	k.done = &done;
	k.fd = &cur;
	k.with_key = with_key;
	k.rounds = KEY_ROUNDS;
	pthread_create(&k.tid, NULL, keyracer_main, &k);
	for (int i = 0; i < KEY_ROUNDS; i++) {
		struct fam_addr a = fam_addr(LST_IP, 0);
		int fd = fam_socket(AF_NSTCP, 0), lrc, p, acc, port, rows;
		char key[16] = "";
		socklen_t klen = sizeof(key) - 1;
		struct lst_port st;
		int ok;

		if (fd >= 0 && !with_key &&
		    (lst_set_key(fd, "race2") || bind(fd, &a.sa, a.len)))
			fam_close(&fd);
		atomic_store(&cur, fd);
		pthread_barrier_wait(&go);
		lrc = FAM_ERR(listen(fd, 16));
		pthread_barrier_wait(&done);
		if (fd < 0) {
			bad++;
			continue;
		}
		if (getsockopt(fd, SOL_NSTCP, NSTCP_SHARE_KEY, key, &klen))
			klen = 99;
		else
			key[klen] = 0;
		p = lst_policy(fd);
		if (fam_getint(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc))
			acc = -1;
		port = fam_local_port(fd);
		rows = lst_proc(port, &st);
		ok = !lrc && acc == 1 && rows > 0 && st.listeners == 1 &&
		     !k.pol_rc[i] && p == k.pol[i] &&
		     !strcmp(st.policy, pol_name(k.pol[i]));
		if (with_key) {
			if (!k.key_rc[i]) {
				ok &= !strcmp(key, "race1") && !strcmp(st.key, "race1");
				keyed++;
			} else {
				/* Only a bound socket refuses a key. */
				ok &= k.key_rc[i] == EINVAL && klen == 0 &&
				      !strcmp(st.key, "-");
				unkeyed++;
			}
		} else {
			ok &= !strcmp(key, "race2") && !strcmp(st.key, "race2");
		}
		if (!ok && bad++ < 5)
			tap_diag("%s round %d: listen %s, key set %s, policy set %s (want %d, reads %d), key reads '%s' (len %d), SO_ACCEPTCONN %d, /proc rows %d key %s policy %s listeners %d",
				 what, i, strerror(lrc), strerror(k.key_rc[i]),
				 strerror(k.pol_rc[i]), k.pol[i], p, key,
				 (int)klen, acc, rows, st.key, st.policy,
				 st.listeners);
		close(fd);
		if (lst_wait_unlisted(port, 2000) != 0 && bad++ < 5)
			tap_diag("%s round %d: port %d still listed after close",
				 what, i, port);
	}
	pthread_join(k.tid, NULL);
	pthread_barrier_destroy(&go);
	pthread_barrier_destroy(&done);
	if (with_key)
		FAM_OK(!bad, "AF_NSTCP: NSTCP_SHARE_KEY and NSTCP_POLICY vs listen(), %d rounds: consistent (%d keyed, %d bound first, %d inconsistent)",
		       KEY_ROUNDS, keyed, unkeyed, bad);
	else
		FAM_OK(!bad, "AF_NSTCP: NSTCP_POLICY vs listen() of a keyed socket, %d rounds: consistent (%d inconsistent)",
		       KEY_ROUNDS, bad);
}

/* ---- shutdown(SHUT_RD) and listen() again ---- */

struct blocked {
	pthread_t tid;
	int lfd, rc, err;
	atomic_int finished;
};

static void *blocked_main(void *arg)
{
	struct blocked *b = arg;

	b->rc = accept(b->lfd, NULL, NULL);
	b->err = errno;
	if (b->rc >= 0)
		close(b->rc);
	atomic_store(&b->finished, 1);
	return NULL;
}

/* An exchange over a fresh connection to port, served from lfd. */
static int serve_one(int domain, int lfd, int port, const char **why)
{
	struct fam_addr peer;
	int c = fam_connect(AF_INET, LST_IP, port), s = -1, ok = 0;
	char b = 0;

	*why = "connect";
	if (c < 0)
		return 0;
	*why = "accept";
	s = fam_accept(lfd, &peer);
	if (s >= 0) {
		*why = "peer address";
		if (fam_port(&peer.sa) == fam_local_port(c)) {
			*why = "data";
			ok = send(c, "x", 1, 0) == 1 && recv(s, &b, 1, 0) == 1 &&
			     b == 'x';
		}
	}
	(void)domain;
	fam_close(&s);
	close(c);
	return ok;
}

static void relisten(int domain)
{
	const char *fam = lst_fam(domain), *why = "";
	int port = lst_free_port(LST_IP), lfd, r, ok;
	struct blocked b = { 0 };
	long long t0;
	struct lst_port st;

	lfd = lst_listen_on(domain, LST_IP, port, 16);
	FAM_OK(lfd >= 0 && serve_one(domain, lfd, port, &why),
	       "%s: listener on port %d serves (%s)", fam, port,
	       lfd < 0 ? strerror(errno) : why);
	if (lfd < 0) {
		for (int i = 0; i < 4; i++)
			tap_ok(0, "%s: relisten setup", fam);
		return;
	}
	b.lfd = lfd;
	fam_timeouts(lfd, FAM_TIMEOUT_MS);
	pthread_create(&b.tid, NULL, blocked_main, &b);
	lst_sleep_ms(200);
	t0 = lst_now_ms();
	r = FAM_ERR(shutdown(lfd, SHUT_RD));
	while (!atomic_load(&b.finished) && lst_now_ms() - t0 < 3000)
		lst_sleep_ms(5);
	FAM_OK(!r && atomic_load(&b.finished) && b.rc < 0 && b.err == EINVAL,
	       "%s: shutdown(SHUT_RD) (%s) ends a blocked accept() with EINVAL (%s after %lld ms)",
	       fam, strerror(r),
	       !atomic_load(&b.finished) ? "still blocked" :
	       b.rc >= 0 ? "accepted" : strerror(b.err), lst_now_ms() - t0);
	pthread_join(b.tid, NULL);
	r = lst_connect(LST_IP, port, FAM_TIMEOUT_MS);
	FAM_OK(r < 0 && errno == ECONNREFUSED && fam_local_port(lfd) == port &&
	       (domain != AF_NSTCP || lst_proc(port, &st) == 0),
	       "%s: after shutdown the port refuses (%s), the socket stays bound to it (%d)",
	       fam, r < 0 ? strerror(errno) : "connected", fam_local_port(lfd));
	fam_close(&r);
	r = FAM_ERR(listen(lfd, 16));
	ok = !r && fam_local_port(lfd) == port;
	FAM_OK(ok && serve_one(domain, lfd, port, &why),
	       "%s: listen() again (%s) on port %d accepts a new connection (%s)",
	       fam, strerror(r), fam_local_port(lfd), ok ? why : "no listener");
	/* And once more, shutdown with nothing blocked. */
	r = FAM_ERR(shutdown(lfd, SHUT_RD));
	ok = !r && !FAM_ERR(listen(lfd, 16));
	FAM_OK(ok && serve_one(domain, lfd, port, &why),
	       "%s: a second shutdown and listen() serve again (%s)", fam,
	       ok ? why : "shutdown/listen failed");
	close(lfd);
}

/* ---- close and listen at once on the same port ---- */

static void close_relisten(int domain)
{
	const char *fam = lst_fam(domain), *why = "";
	int port = lst_free_port(LST_IP), lfd, fails = 0, keep = -1, served = 0;

	lfd = lst_listen_on(domain, LST_IP, port, 16);
	for (int i = 0; i < RELISTEN_ROUNDS && lfd >= 0; i++) {
		struct fam_addr peer;
		int c, s, nfd;

		/* The old listener had a connection, still open. */
		c = fam_connect(AF_INET, LST_IP, port);
		s = c >= 0 ? fam_accept(lfd, &peer) : -1;
		close(lfd);
		nfd = lst_listen_on(domain, LST_IP, port, 16);
		fam_close(&keep);
		keep = s;
		fam_close(&c);
		lfd = nfd;
		if (lfd < 0) {
			tap_diag("%s round %d: listen on port %d: %s", fam, i,
				 port, strerror(errno));
			fails++;
			break;
		}
		if (serve_one(domain, lfd, port, &why)) {
			served++;
		} else if (fails++ < 5) {
			tap_diag("%s round %d: the new listener: %s", fam, i, why);
		}
	}
	int r, rows;

	fam_close(&keep);
	fam_close(&lfd);
	FAM_OK(!fails && served == RELISTEN_ROUNDS,
	       "%s: close a listener and listen on its port at once, %d rounds: the new one served %d",
	       fam, RELISTEN_ROUNDS, served);
	rows = domain == AF_NSTCP ? lst_wait_unlisted(port, 2000) : 0;
	r = lst_connect(LST_IP, port, FAM_TIMEOUT_MS);
	FAM_OK(rows == 0 && r < 0 && errno == ECONNREFUSED,
	       "%s: after the last close port %d refuses (%s), no group left (%d rows)",
	       fam, port, r < 0 ? strerror(errno) : "connected", rows);
	fam_close(&r);
}

/* ---- bind() then connect() of a keyed socket ---- */

static void bind_connect(int domain)
{
	const char *fam = lst_fam(domain);
	struct fam_addr a = fam_addr(LST_IP, 0), peer, t;
	int tport = 0, tfd = fam_listen(AF_INET, LST_IP, 0, &tport), one = 1;
	int fd = fam_socket(domain, 0), bport = -1, cport = -1, pport = -1;
	int s = -1, r = -1;

	if (fd >= 0 && domain == AF_NSTCP)
		r = lst_set_key(fd, "bc1");
	else if (fd >= 0)
		r = setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (!r && !bind(fd, &a.sa, a.len)) {
		bport = fam_local_port(fd);
		t = fam_addr(LST_IP, tport);
		if (!connect(fd, &t.sa, t.len)) {
			cport = fam_local_port(fd);
			s = fam_accept(tfd, &peer);
			if (s >= 0)
				pport = fam_port(&peer.sa);
		}
	}
	FAM_OK(bport > 0 && cport == bport && pport == bport,
	       "%s: bind() (%s) then connect(): local port %d after bind, %d after connect, the peer sees %d",
	       fam, domain == AF_NSTCP ? "share key" : "SO_REUSEPORT", bport,
	       cport, pport);
	fam_close(&s);
	fam_close(&fd);
	fam_close(&tfd);
}

/* ---- least policy over many members ---- */

static void least(void)
{
	struct lst_acceptor *ac = calloc(LEAST_MEMBERS, sizeof(*ac));
	int lfd[LEAST_MEMBERS], port = 0, ok = 1, cfd[LEAST_CONNS];
	int min = 1 << 30, max = 0, held, got, pass;
	atomic_int total = 0;
	long long end;

	for (int i = 0; i < LEAST_MEMBERS; i++) {
		lfd[i] = lst_member(LST_IP, port, "least1",
				    NSTCP_POLICY_LEAST, &port);
		ok &= lfd[i] >= 0;
	}
	for (pass = 0; pass < 2; pass++) {
		int want = 0;

		atomic_store(&total, 0);
		/* Pass 1: member 0 takes none. */
		for (int i = pass; ok && i < LEAST_MEMBERS; i++)
			ok &= !lst_acceptor_start(&ac[i], lfd[i], -1, &total);
		lst_sleep_ms(100);
		for (int i = 0; i < LEAST_CONNS; i++) {
			cfd[i] = ok ? lst_connect(LST_IP, port, FAM_TIMEOUT_MS) : -1;
			if (cfd[i] >= 0 && lst_request(cfd[i]))
				fam_close(&cfd[i]);
			want += cfd[i] >= 0;
			if (pass == 0 && cfd[i] >= 0)
				lst_reply(cfd[i]);	/* one at a time */
		}
		end = lst_now_ms() + 10000;
		held = 0;
		if (pass == 1) {
			/* Until the others served all but what member 0 holds. */
			for (;;) {
				int fd = lst_try_accept(lfd[0]);

				if (fd >= 0) {
					held++;
					close(fd);
				}
				if (atomic_load(&total) + held >= want ||
				    lst_now_ms() > end)
					break;
				if (fd < 0)
					lst_sleep_ms(20);
			}
		} else {
			while (atomic_load(&total) < want && lst_now_ms() < end)
				lst_sleep_ms(10);
		}
		got = atomic_load(&total);
		for (int i = pass; i < LEAST_MEMBERS; i++)
			lst_acceptor_stop(&ac[i]);
		for (int i = 0; i < LEAST_CONNS; i++)
			fam_close(&cfd[i]);
		if (pass == 0) {
			for (int i = 0; i < LEAST_MEMBERS; i++) {
				int n = atomic_load(&ac[i].served);

				min = n < min ? n : min;
				max = n > max ? n : max;
			}
			FAM_OK(ok && want == LEAST_CONNS && got == want && min > 0,
			       "least: %d connections over %d members all served (%d), every member got some (min %d, max %d)",
			       LEAST_CONNS, LEAST_MEMBERS, got, min, max);
		} else {
			FAM_OK(ok && want == LEAST_CONNS && got + held == want &&
			       held <= LEAST_STALLED_MAX,
			       "least: with member 0 not accepting, the others served %d of %d and member 0 held %d (at most %d)",
			       got, want, held, LEAST_STALLED_MAX);
		}
	}
	for (int i = 0; i < LEAST_MEMBERS; i++)
		fam_close(&lfd[i]);
	free(ac);
}

/* ---- a process with many listeners exits ---- */

static void many_exit(int domain)
{
	const char *fam = lst_fam(domain);
	int p1[2], p2[2], status = -1, made = -1, ports[EXIT_LISTENERS];
	long long t0, ms = -1;
	char c = 0;
	pid_t pid;

	if (pipe(p1) || pipe(p2)) {
		tap_ok(0, "%s: pipes", fam);
		tap_ok(0, "%s: pipes", fam);
		return;
	}
	pid = fork();
	if (pid == 0) {
		int n = 0;

		close(p1[0]);
		close(p2[1]);
		for (int i = 0; i < EXIT_LISTENERS; i++) {
			int port = 0, fd = domain == AF_NSTCP ?
				lst_member(LST_IP, 0, NULL, 0, &port) :
				fam_listen(domain, LST_IP, 0, &port);

			ports[i] = port;
			n += fd >= 0;
		}
		if (write(p1[1], &n, sizeof(n)) != sizeof(n) ||
		    write(p1[1], ports, sizeof(ports)) != sizeof(ports))
			_exit(1);
		if (read(p2[0], &c, 1) != 1)
			_exit(1);
		_exit(0);	/* closes the listeners */
	}
	close(p1[1]);
	close(p2[0]);
	if (pid > 0 && read(p1[0], &made, sizeof(made)) == sizeof(made) &&
	    read(p1[0], ports, sizeof(ports)) == sizeof(ports)) {
		t0 = lst_now_ms();
		if (write(p2[1], "x", 1) == 1) {
			/* Bounded: the watchdog ends the test. */
			waitpid(pid, &status, 0);
			ms = lst_now_ms() - t0;
		}
	}
	close(p1[0]);
	close(p2[1]);
	if (pid > 0 && ms < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	FAM_OK(made == EXIT_LISTENERS && WIFEXITED(status) &&
	       !WEXITSTATUS(status) && ms >= 0 && ms < 2000,
	       "%s: a process with %d listeners (%d made) exits in %lld ms (< 2000)",
	       fam, EXIT_LISTENERS, made, ms);
	if (domain == AF_NSTCP) {
		int left = 0;

		for (int i = 0; made == EXIT_LISTENERS && i < EXIT_LISTENERS; i++)
			left += lst_wait_unlisted(ports[i], 2000) != 0;
		FAM_OK(made == EXIT_LISTENERS && !left && lst_proc_rows() == 0,
		       "%s: its ports left /proc/net/nstcp_listen (%d still listed, %d rows)",
		       fam, left, lst_proc_rows());
	} else {
		int refused = 0;

		for (int i = 0; made == EXIT_LISTENERS && i < EXIT_LISTENERS; i++) {
			int fd = lst_connect(LST_IP, ports[i], FAM_TIMEOUT_MS);

			refused += fd < 0 && errno == ECONNREFUSED;
			fam_close(&fd);
		}
		FAM_OK(refused == EXIT_LISTENERS,
		       "%s: its ports refuse connections (%d of %d)", fam,
		       refused, EXIT_LISTENERS);
	}
}

int main(void)
{
	lst_private_netns();
	fam_start(NCASES, 85);

	race_listen_connect(AF_INET);
	race_listen_connect(AF_NSTCP);
	race_key_policy(1);
	race_key_policy(0);
	relisten(AF_INET);
	relisten(AF_NSTCP);
	close_relisten(AF_INET);
	close_relisten(AF_NSTCP);
	bind_connect(AF_INET);
	bind_connect(AF_NSTCP);
	least();
	many_exit(AF_INET);
	many_exit(AF_NSTCP);
	return fam_finish();
}
