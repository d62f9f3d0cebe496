/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the hand-off selftests (handoff_*.c): give and take,
 * a stream of 16 KiB chunks both ends can regenerate from any offset, a
 * pipe to pass tokens and partial checksums between processes, child
 * processes reaped with a deadline, and a 1 MiB transfer each way across
 * a hand-off from a giver to a child taker (handoff_basic, _takefd).
 */
#ifndef NSTCP_SELFTEST_HANDOFF_UTIL_H
#define NSTCP_SELFTEST_HANDOFF_UTIL_H

#include <sys/wait.h>

#include "listen_util.h"

#define HO_CHUNK	16384
#define HO_MIB		(1 << 20)
#define HO_NCHUNK	(HO_MIB / HO_CHUNK)

/* give: 0 and the token, or the errno. */
static inline int ho_give(int fd, unsigned int flags, unsigned int id,
			  unsigned int timeout_ms, uint64_t *token)
{
	struct nstcp_give g = { .ng_flags = flags, .ng_id = id,
				.ng_timeout_ms = timeout_ms };
	socklen_t len = sizeof(g);

	if (getsockopt(fd, SOL_NSTCP, NSTCP_GIVE, &g, &len))
		return errno;
	if (len != sizeof(g) || !g.ng_token)
		return -1;
	*token = g.ng_token;
	return 0;
}

static inline int ho_give_pid(int fd, pid_t pid, unsigned int ms,
			      uint64_t *token)
{
	return ho_give(fd, NSTCP_GIVE_PID, pid, ms, token);
}

/* take: 0 or the errno. */
static inline int ho_take(int fd, uint64_t token)
{
	return setsockopt(fd, SOL_NSTCP, NSTCP_TAKE, &token, sizeof(token)) ?
	       errno : 0;
}

/* A fresh AF_NSTCP socket that takes token; -1 with errno set. */
static inline int ho_take_new(uint64_t token)
{
	int fd = fam_socket(AF_NSTCP, 0), err;

	if (fd < 0)
		return -1;
	err = ho_take(fd, token);
	if (err) {
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

/*
 * NSTCP_TAKE_FD on socket via: the new descriptor, or -1 with errno set
 * (EPROTO when optlen did not come back as the structure's size).
 */
static inline int ho_take_fd(int via, uint64_t token, unsigned int flags)
{
	struct nstcp_take_fd tf = { .ntf_token = token, .ntf_flags = flags,
				    .ntf_fd = -1 };
	socklen_t len = sizeof(tf);

	if (getsockopt(via, SOL_NSTCP, NSTCP_TAKE_FD, &tf, &len))
		return -1;
	if (len != sizeof(tf) || tf.ntf_fd < 0) {
		if (tf.ntf_fd >= 0)
			close(tf.ntf_fd);
		errno = EPROTO;
		return -1;
	}
	return tf.ntf_fd;
}

static inline unsigned int ho_info_flags(int fd)
{
	struct nstcp_info info;
	socklen_t len = sizeof(info);

	if (getsockopt(fd, SOL_NSTCP, NSTCP_INFO, &info, &len))
		return ~0u;
	return info.nsi_flags;
}

/* Chunk i of stream seed. */
static inline void ho_chunk(char *buf, uint32_t seed, int i)
{
	fam_fill(buf, HO_CHUNK, seed * 7919 + i);
}

/* The checksum of the whole 1 MiB stream seed. */
static inline uint64_t ho_stream_sum(uint32_t seed)
{
	static char buf[HO_CHUNK];
	uint64_t h = FAM_SUM_INIT;

	for (int i = 0; i < HO_NCHUNK; i++) {
		ho_chunk(buf, seed, i);
		h = fam_sum(h, buf, HO_CHUNK);
	}
	return h;
}

/* Send chunks [from, to) of stream seed; pause_us after each. */
static inline int ho_send_chunks(int fd, uint32_t seed, int from, int to,
				 int pause_us)
{
	char buf[HO_CHUNK];

	for (int i = from; i < to; i++) {
		ho_chunk(buf, seed, i);
		if (fam_send_all(fd, buf, HO_CHUNK) != HO_CHUNK) {
			tap_diag("send chunk %d: %s", i, strerror(errno));
			return -1;
		}
		if (pause_us)
			usleep(pause_us);
	}
	return 0;
}

/* Receive len bytes into the running checksum *h; 0 or -1. */
static inline int ho_recv_sum(int fd, size_t len, uint64_t *h)
{
	char buf[HO_CHUNK];

	while (len) {
		ssize_t n = recv(fd, buf, len < sizeof(buf) ? len : sizeof(buf),
				 0);

		if (n <= 0) {
			tap_diag("recv: %s with %zu bytes to go",
				 n ? strerror(errno) : "EOF", len);
			return -1;
		}
		*h = fam_sum(*h, buf, n);
		len -= n;
	}
	return 0;
}

/* What a giver tells its taker. */
struct ho_msg {
	uint64_t token;
	uint64_t sum;		/* checksum of what the giver received */
	int64_t val;
};

static inline int ho_put(int fd, const struct ho_msg *m)
{
	return write(fd, m, sizeof(*m)) == sizeof(*m) ? 0 : -1;
}

/* Read one message within ms; 0 or -1. */
static inline int ho_get(int fd, struct ho_msg *m, int ms)
{
	if (!(fam_wait(fd, POLLIN, ms) & POLLIN))
		return -1;
	return read(fd, m, sizeof(*m)) == sizeof(*m) ? 0 : -1;
}

/* Reap a child within ms (killed after); its exit status, or -1. */
static inline int ho_reap(pid_t pid, int ms)
{
	long long end = lst_now_ms() + ms;
	int st;

	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		if (r < 0 || lst_now_ms() > end)
			break;
		lst_sleep_ms(5);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

/* An instance counter (PROC_GIVEN, ...) summed over the CPUs, or -1. */
static inline long ho_stat(int col)
{
	struct proc_stats st;

	if (proc_read_stats(&st) < 0)
		return -1;
	return st.sum[col];
}

/* Pending hand-off tokens in the namespace (netlink), or -1. */
static inline int ho_pending(void)
{
	return nl_handoffs_pending();
}

/* Wait until cond holds, polling, at most ms; its last value. */
#define HO_WAIT(cond, ms) ({ long long __end = lst_now_ms() + (ms); int __c; \
	while (!(__c = !!(cond)) && lst_now_ms() < __end) lst_sleep_ms(5); __c; })

/*
 * The peer's two directions of a 1 MiB stream across a hand-off, each a
 * thread pinned on cpu: ho_peer_send paced HO_NCHUNK chunks of stream 1,
 * ho_peer_recv checks stream 2's checksum.  ok: it all went right.
 */
struct ho_peer {
	int fd;
	int cpu;
	int ok;
	pthread_t th;
};

static inline void *ho_peer_send(void *arg)
{
	struct ho_peer *p = arg;

	lst_pin(p->cpu);
	/* Paced: the stream runs across the give and the take. */
	p->ok = !ho_send_chunks(p->fd, 1, 0, HO_NCHUNK, 2000);
	return NULL;
}

static inline void *ho_peer_recv(void *arg)
{
	struct ho_peer *p = arg;
	uint64_t h = FAM_SUM_INIT;

	lst_pin(p->cpu);
	p->ok = !ho_recv_sum(p->fd, HO_MIB, &h) && h == ho_stream_sum(2);
	return NULL;
}

/*
 * A 1 MiB transfer each way across a hand-off: the peer on cfd runs
 * ho_peer_send and ho_peer_recv; the giver on sfd exchanges the first
 * HO_GIVER_CHUNKS chunks each way, then hands the connection to a child,
 * the taker, which receives and sends the rest.  in and out: the pipe
 * ends this process (giver or taker) reads and writes.
 */
#define HO_GIVER_CHUNKS 8

struct ho_xfer {
	int cfd, sfd;		/* the peer's end, the giver's */
	int in, out;
	pid_t pid;		/* the taker, in the giver */
	uint64_t h;		/* checksum of what the giver received */
	struct ho_peer ps, pr;
};

/* Pipes and the fork: the taker's pid, 0 in the taker (cfd, sfd closed). */
static inline pid_t ho_xfer_fork(struct ho_xfer *x, int cfd, int sfd)
{
	int p2c[2], c2p[2];

	memset(x, 0, sizeof(*x));
	x->cfd = cfd;
	x->sfd = sfd;
	x->h = FAM_SUM_INIT;
	if (pipe(p2c) || pipe(c2p)) {
		printf("Bail out! pipes: %s\n", strerror(errno));
		exit(1);
	}
	x->pid = fork();
	if (x->pid == 0) {
		close(p2c[1]);
		close(c2p[0]);
		close(cfd);
		close(sfd);
		x->in = p2c[0];
		x->out = c2p[1];
		return 0;
	}
	close(p2c[0]);
	close(c2p[1]);
	x->in = c2p[0];
	x->out = p2c[1];
	return x->pid;
}

/* The giver: the peer's threads start, the giver's share each way. */
static inline void ho_xfer_before(struct ho_xfer *x, int peer_cpu,
				  const char *how)
{
	int rc;

	x->ps.fd = x->pr.fd = x->cfd;
	x->ps.cpu = x->pr.cpu = peer_cpu;
	pthread_create(&x->ps.th, NULL, ho_peer_send, &x->ps);
	pthread_create(&x->pr.th, NULL, ho_peer_recv, &x->pr);
	rc = ho_send_chunks(x->sfd, 2, 0, HO_GIVER_CHUNKS, 0);
	rc = rc ?: ho_recv_sum(x->sfd, HO_GIVER_CHUNKS * HO_CHUNK, &x->h);
	FAM_OK(!rc, "%s: giver exchanged %d KiB each way before the hand-off",
	       how, HO_GIVER_CHUNKS * HO_CHUNK / 1024);
}

/* The giver: token and checksum to the taker; 0 and its answer in m. */
static inline int ho_xfer_hand(struct ho_xfer *x, uint64_t token,
			       struct ho_msg *m)
{
	m->token = token;
	m->sum = x->h;
	ho_put(x->out, m);
	return ho_get(x->in, m, FAM_TIMEOUT_MS);
}

/*
 * The giver, after its checks: lets the taker go on, checks both streams
 * and the taker's close at the peer; closes cfd and the pipes.
 */
static inline void ho_xfer_finish(struct ho_xfer *x, const char *how)
{
	struct ho_msg m = { 0 };
	char c;
	int st;

	ho_put(x->out, &m);	/* go on */
	pthread_join(x->ps.th, NULL);
	pthread_join(x->pr.th, NULL);
	FAM_OK(x->ps.ok, "%s: peer sent 1 MiB across the hand-off", how);
	FAM_OK(x->pr.ok, "%s: peer received 1 MiB, checksum right (giver's part, then the taker's)",
	       how);
	ho_put(x->out, &m);
	st = ho_reap(x->pid, FAM_TIMEOUT_MS * 2);
	FAM_OK(st == 0, "%s: taker received the rest of 1 MiB, checksum right (status %d)",
	       how, st);
	FAM_OK(fam_recv_all(x->cfd, &c, 1) == 0, "%s: peer sees the taker's close: EOF",
	       how);
	close(x->cfd);
	close(x->out);
	close(x->in);
}

/* The taker: tells the giver how its take went (err) and its CPU; 0 or -1. */
static inline int ho_xfer_taken(struct ho_xfer *x, struct ho_msg *m, int fd,
				int err)
{
	m->val = fd < 0 ? err : 0;
	m->sum = sched_getcpu();
	return ho_put(x->out, m) || fd < 0 ? -1 : 0;
}

/*
 * The taker, once it has fd: waits for the giver's go, receives the rest
 * of stream 1 onto h (what the giver received), sends the rest of 2, stays
 * until the peer has it all, closes fd.  Its exit status: rc, or 13 to 17.
 */
static inline int ho_xfer_rest(struct ho_xfer *x, int fd, uint64_t h, int rc)
{
	struct ho_msg m;

	/* Go on once the giver checked its detached socket. */
	if (ho_get(x->in, &m, FAM_TIMEOUT_MS))
		rc = 13;
	if (!rc && ho_recv_sum(fd, HO_MIB - HO_GIVER_CHUNKS * HO_CHUNK, &h))
		rc = 14;
	if (!rc && h != ho_stream_sum(1))
		rc = 15;
	if (!rc && ho_send_chunks(fd, 2, HO_GIVER_CHUNKS, HO_NCHUNK, 0))
		rc = 16;
	/* Stay until the peer has it all. */
	if (ho_get(x->in, &m, FAM_TIMEOUT_MS * 2))
		rc = rc ?: 17;
	close(fd);
	return rc;
}

#endif
