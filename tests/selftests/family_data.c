// SPDX-License-Identifier: GPL-2.0
/*
 * Selftest: data over AF_NSTCP connections.  Every way in and out of a
 * stream socket (send/recv, read/write, readv/writev, sendmsg/recvmsg,
 * sendmmsg, sendfile, splice), the receive flags, EPIPE/SIGPIPE, shutdown,
 * abortive close, the queue ioctls, 1 MiB each way under checksum, and the
 * SOL_SOCKET, SOL_TCP, SOL_IP and SOL_IPV6 options passing through.
 */
#include <linux/sockios.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>

#include "family_util.h"

#define NCASES 65
#define MIB (1 << 20)

/* One direction of a transfer, run in a thread or inline. */
struct xfer {
	int fd;
	size_t len;
	uint32_t seed;
	ssize_t done;
	uint64_t sum;
	int delay_ms;	/* sender: pause between chunks */
	size_t chunk;
};

static void *xfer_send(void *arg)
{
	struct xfer *x = arg;
	size_t chunk = x->chunk ? x->chunk : 65536;
	char *buf = malloc(chunk);

	x->done = 0;
	x->sum = FAM_SUM_INIT;
	if (!buf) {
		x->done = -1;
		return NULL;
	}
	for (size_t off = 0; off < x->len; off += chunk) {
		size_t n = x->len - off < chunk ? x->len - off : chunk;

		fam_fill(buf, n, x->seed + off / chunk);
		x->sum = fam_sum(x->sum, buf, n);
		if (fam_send_all(x->fd, buf, n) != (ssize_t)n) {
			tap_diag("sender: %s after %zd bytes", strerror(errno),
				 x->done);
			break;
		}
		x->done += n;
		if (x->delay_ms)
			usleep(x->delay_ms * 1000);
	}
	free(buf);
	return NULL;
}

static void *xfer_recv(void *arg)
{
	struct xfer *x = arg;
	char *buf = malloc(65536);

	x->done = 0;
	x->sum = FAM_SUM_INIT;
	if (!buf) {
		x->done = -1;
		return NULL;
	}
	while ((size_t)x->done < x->len) {
		size_t want = x->len - x->done < 65536 ? x->len - x->done : 65536;
		ssize_t n = recv(x->fd, buf, want, 0);

		if (n <= 0) {
			if (n < 0)
				tap_diag("receiver: %s after %zd bytes",
					 strerror(errno), x->done);
			break;
		}
		x->sum = fam_sum(x->sum, buf, n);
		x->done += n;
	}
	free(buf);
	return NULL;
}

static int pair4(int *c, int *s)
{
	if (fam_pair("127.0.0.1", c, s)) {
		tap_ok(0, "a connected IPv4 pair");
		return -1;
	}
	return 0;
}

static void test_basic_io(void)
{
	char out[64], in[64], a[7], b[5], d[20];
	struct iovec iov[3];
	struct msghdr msg;
	int c, s;
	ssize_t n;

	if (pair4(&c, &s))
		return;
	fam_fill(out, sizeof(out), 1);
	memset(in, 0, sizeof(in));
	n = send(c, out, sizeof(out), 0);
	FAM_OK(n == sizeof(out) && fam_recv_all(s, in, sizeof(in)) == sizeof(in) &&
	       !memcmp(in, out, sizeof(in)), "send/recv client to server");
	fam_fill(out, sizeof(out), 2);
	n = send(s, out, sizeof(out), 0);
	FAM_OK(n == sizeof(out) && fam_recv_all(c, in, sizeof(in)) == sizeof(in) &&
	       !memcmp(in, out, sizeof(in)), "send/recv server to client");
	fam_fill(out, sizeof(out), 3);
	memset(in, 0, sizeof(in));
	n = write(c, out, 40);
	FAM_OK(n == 40 && read(s, in, sizeof(in)) == 40 && !memcmp(in, out, 40),
	       "write/read");

	/* writev 3 pieces, readv into 3 differently sized ones. */
	fam_fill(out, 32, 4);
	iov[0] = (struct iovec){ out, 10 };
	iov[1] = (struct iovec){ out + 10, 0 };
	iov[2] = (struct iovec){ out + 10, 22 };
	n = writev(c, iov, 3);
	iov[0] = (struct iovec){ a, sizeof(a) };
	iov[1] = (struct iovec){ b, sizeof(b) };
	iov[2] = (struct iovec){ d, sizeof(d) };
	fam_wait(s, POLLIN, FAM_TIMEOUT_MS);
	usleep(20000);
	{
		ssize_t r = readv(s, iov, 3);

		FAM_OK(n == 32 && r == 32 && !memcmp(a, out, 7) &&
		       !memcmp(b, out + 7, 5) && !memcmp(d, out + 12, 20),
		       "writev of 3 iovecs, readv into 3 (%zd, %zd)", n, r);
	}

	/* sendmsg/recvmsg with iovecs. */
	fam_fill(out, 48, 5);
	memset(&msg, 0, sizeof(msg));
	iov[0] = (struct iovec){ out, 16 };
	iov[1] = (struct iovec){ out + 16, 32 };
	msg.msg_iov = iov;
	msg.msg_iovlen = 2;
	n = sendmsg(s, &msg, 0);
	memset(in, 0, sizeof(in));
	{
		struct sockaddr_storage from;
		ssize_t r;

		memset(&msg, 0, sizeof(msg));
		iov[0] = (struct iovec){ in, 48 };
		msg.msg_iov = iov;
		msg.msg_iovlen = 1;
		msg.msg_name = &from;
		msg.msg_namelen = sizeof(from);
		msg.msg_flags = -1;
		r = recvmsg(c, &msg, MSG_WAITALL);
		FAM_OK(n == 48 && r == 48 && !memcmp(in, out, 48) &&
		       msg.msg_flags == 0 && msg.msg_namelen == 0,
		       "sendmsg/recvmsg (%zd, %zd, flags %#x, namelen %u)", n, r,
		       msg.msg_flags, (unsigned int)msg.msg_namelen);
	}

	/* sendmmsg on a stream: both messages, in order. */
	{
		struct mmsghdr mm[2];
		struct iovec v[2] = { { out, 8 }, { out + 8, 8 } };
		int r;

		memset(mm, 0, sizeof(mm));
		mm[0].msg_hdr.msg_iov = &v[0];
		mm[0].msg_hdr.msg_iovlen = 1;
		mm[1].msg_hdr.msg_iov = &v[1];
		mm[1].msg_hdr.msg_iovlen = 1;
		r = sendmmsg(c, mm, 2, 0);
		FAM_OK(r == 2 && mm[0].msg_len == 8 && mm[1].msg_len == 8 &&
		       fam_recv_all(s, in, 16) == 16 && !memcmp(in, out, 16),
		       "sendmmsg of 2 messages (%d)", r);
	}

	/*
	 * sendto/recvfrom on a connected socket: TCP ignores the address
	 * given and fills none.
	 */
	{
		struct sockaddr_in to = fam_sin("192.0.2.1", 9);
		struct sockaddr_storage from;
		socklen_t flen = sizeof(from);
		ssize_t r;

		n = sendto(c, "ab", 2, 0, (struct sockaddr *)&to, sizeof(to));
		fam_wait(s, POLLIN, FAM_TIMEOUT_MS);
		r = recvfrom(s, in, 2, MSG_WAITALL, (struct sockaddr *)&from, &flen);
		FAM_OK(n == 2 && r == 2 && !memcmp(in, "ab", 2) && flen == 0,
		       "sendto with an address on a connected socket; recvfrom gives no address (%zd %zd %u)",
		       n, r, (unsigned int)flen);
	}
	{
		struct sockaddr_un un = { .sun_family = AF_UNIX };
		int v6c, v6s, en, ei;

		fam_pair_of(AF_INET6, AF_INET6, "::1", &v6c, &v6s);
		en = FAM_ERR(sendto(c, "cd", 2, 0, (struct sockaddr *)&un,
				    sizeof(un)));
		ei = FAM_ERR(sendto(v6c, "cd", 2, 0, (struct sockaddr *)&un,
				    sizeof(un)));
		FAM_OK(en == 0 && ei == 0 && fam_recv_all(s, in, 2) == 2 &&
		       !memcmp(in, "cd", 2),
		       "sendto with an AF_UNIX address on a connected socket is ignored, as on AF_INET6 (%d %d)",
		       en, ei);
		fam_close(&v6c);
		fam_close(&v6s);
	}

	/* MSG_PEEK, MSG_TRUNC, MSG_DONTWAIT. */
	send(c, "peekaboo", 8, 0);
	fam_wait(s, POLLIN, FAM_TIMEOUT_MS);
	usleep(20000);
	memset(in, 0, sizeof(in));
	n = recv(s, in, 4, MSG_PEEK);
	{
		ssize_t r = recv(s, in + 10, 8, 0);

		FAM_OK(n == 4 && !memcmp(in, "peek", 4) && r == 8 &&
		       !memcmp(in + 10, "peekaboo", 8),
		       "MSG_PEEK sees data that recv then reads (%zd %zd)", n, r);
	}
	send(c, "0123456789", 10, 0);
	fam_wait(s, POLLIN, FAM_TIMEOUT_MS);
	usleep(20000);
	n = recv(s, NULL, 6, MSG_TRUNC);
	FAM_OK(n == 6 && recv(s, in, 10, 0) == 4 && !memcmp(in, "6789", 4),
	       "MSG_TRUNC discards data (%zd)", n);
	TAP_ERRNO(recv(s, in, 10, MSG_DONTWAIT), EAGAIN,
		  "MSG_DONTWAIT on an empty blocking socket fails EAGAIN");
	n = send(c, in, 0, 0);
	FAM_OK(n == 0, "zero-length send returns 0 (%zd)", n);
	fam_close(&c);
	fam_close(&s);
}

static void test_waitall_timeout(void)
{
	struct xfer x = { .len = 3000, .seed = 7, .delay_ms = 60, .chunk = 1000 };
	char buf[4000];
	struct timespec t0, t1;
	pthread_t th;
	int c, s, e;
	ssize_t n;
	long ms;

	if (pair4(&c, &s))
		return;
	x.fd = c;
	pthread_create(&th, NULL, xfer_send, &x);
	n = recv(s, buf, 3000, MSG_WAITALL);
	pthread_join(th, NULL);
	FAM_OK(n == 3000 && x.done == 3000 &&
	       fam_sum(FAM_SUM_INIT, buf, 3000) == x.sum,
	       "MSG_WAITALL collects 3 delayed chunks into one recv (%zd)", n);

	fam_timeouts(s, 200);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	n = recv(s, buf, 1, 0);
	e = errno;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	FAM_OK(n == -1 && e == EAGAIN && ms >= 150,
	       "SO_RCVTIMEO expires with EAGAIN (%zd, errno %d, %ld ms)", n, e, ms);
	fam_close(&c);
	fam_close(&s);
}

static volatile sig_atomic_t sigpipes;

static void on_sigpipe(int sig)
{
	(void)sig;
	sigpipes++;
}

static void test_epipe_shutdown_reset(void)
{
	struct sigaction sa = { .sa_handler = on_sigpipe }, old;
	char buf[16];
	int c, s, rev, n0, v6c, v6s;
	ssize_t n;

	/* SIGPIPE and EPIPE once the peer has gone. */
	if (pair4(&c, &s))
		return;
	sigaction(SIGPIPE, &sa, &old);
	fam_close(&s);
	n = recv(c, buf, sizeof(buf), 0);
	FAM_OK(n == 0, "recv after the peer closed gives EOF (%zd)", n);
	/* The first send draws the peer's RST. */
	n = send(c, "x", 1, MSG_NOSIGNAL);
	rev = fam_wait(c, POLLERR, FAM_TIMEOUT_MS);
	FAM_OK(n == 1 && (rev & (POLLERR | POLLHUP)),
	       "send to a closed peer succeeds once, then POLLERR|POLLHUP (%#x)", rev);
	n0 = sigpipes;
	TAP_ERRNO(send(c, "x", 1, MSG_NOSIGNAL), EPIPE,
		  "send with MSG_NOSIGNAL after the reset fails EPIPE");
	FAM_OK(sigpipes == n0, "... without SIGPIPE (%d)", (int)sigpipes - n0);
	TAP_ERRNO(send(c, "x", 1, 0), EPIPE, "send without it fails EPIPE");
	FAM_OK(sigpipes == n0 + 1, "... and raises SIGPIPE (%d)", (int)sigpipes - n0);
	TAP_ERRNO(write(c, "x", 1), EPIPE, "write fails EPIPE");
	FAM_OK(sigpipes == n0 + 2, "... and raises SIGPIPE (%d)", (int)sigpipes - n0);
	fam_close(&c);
	sigaction(SIGPIPE, &old, NULL);

	/* SHUT_WR: the peer reads EOF, the other direction still works. */
	if (pair4(&c, &s))
		return;
	send(c, "last", 4, 0);
	FAM_OK(!shutdown(c, SHUT_WR) && fam_recv_all(s, buf, sizeof(buf)) == 4 &&
	       !memcmp(buf, "last", 4), "SHUT_WR: the peer reads the data then EOF");
	FAM_OK(send(s, "back", 4, 0) == 4 && recv(c, buf, sizeof(buf), 0) == 4 &&
	       !memcmp(buf, "back", 4), "after SHUT_WR the socket still receives");
	TAP_ERRNO(send(c, "x", 1, MSG_NOSIGNAL), EPIPE,
		  "send after SHUT_WR fails EPIPE");

	/* SHUT_RD: recv returns EOF at once. */
	FAM_OK(!shutdown(s, SHUT_RD) && recv(s, buf, sizeof(buf), 0) == 0,
	       "SHUT_RD: recv gives EOF at once");
	fam_pair_of(AF_INET6, AF_INET6, "::1", &v6c, &v6s);
	{
		int en = FAM_ERR(shutdown(s, 3)), ei = FAM_ERR(shutdown(v6s, 3));

		FAM_OK(en == EINVAL && ei == EINVAL,
		       "shutdown(3) fails EINVAL, as AF_INET6 (%d %d)", en, ei);
	}
	fam_close(&v6c);
	fam_close(&v6s);
	fam_close(&c);
	fam_close(&s);

	/* SO_LINGER {1, 0}: close resets, the peer gets ECONNRESET. */
	if (pair4(&c, &s))
		return;
	{
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		send(c, "gone", 4, 0);
		fam_wait(s, POLLIN, FAM_TIMEOUT_MS);
		usleep(20000);
		fam_close(&c);
		rev = fam_wait(s, POLLERR, FAM_TIMEOUT_MS);
		FAM_OK((rev & (POLLERR | POLLHUP)) == (POLLERR | POLLHUP),
		       "SO_LINGER {1,0} close: the peer sees POLLERR|POLLHUP (%#x)", rev);
		n = recv(s, buf, sizeof(buf), 0);
		FAM_OK(n == 4 && !memcmp(buf, "gone", 4),
		       "... still reads the data queued before the reset (%zd)", n);
		TAP_ERRNO(recv(s, buf, sizeof(buf), 0), ECONNRESET,
			  "... then recv fails ECONNRESET");
		n = recv(s, buf, sizeof(buf), 0);
		FAM_OK(n == 0, "... then gives EOF (%zd)", n);
	}
	fam_close(&s);
}

static void test_queue_ioctls(void)
{
	int c, s, l, v = -1, port, rcv = 4096, snd = 4096, v6, l6;
	char buf[1000];
	ssize_t n, total = 0;
	long waited;

	if (pair4(&c, &s))
		return;
	fam_fill(buf, sizeof(buf), 9);
	send(c, buf, 1000, 0);
	for (waited = 0; waited < FAM_TIMEOUT_MS; waited += 10) {
		if (!ioctl(s, FIONREAD, &v) && v == 1000)
			break;
		usleep(10000);
	}
	FAM_OK(v == 1000, "FIONREAD counts the 1000 bytes queued (%d)", v);
	recv(s, buf, 400, 0);
	FAM_OK(!ioctl(s, SIOCINQ, &v) && v == 600, "SIOCINQ after reading 400 (%d)", v);
	for (waited = 0; waited < FAM_TIMEOUT_MS; waited += 10) {
		if (!ioctl(c, SIOCOUTQ, &v) && v == 0)
			break;
		usleep(10000);
	}
	FAM_OK(v == 0, "SIOCOUTQ is 0 once the peer acknowledged (%d)", v);
	fam_close(&c);
	fam_close(&s);

	/* Small buffers, so that a few sends fill the connection. */
	l = fam_socket(AF_NSTCP, 0);
	{
		struct fam_addr a = fam_addr("127.0.0.1", 0);

		setsockopt(l, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
		bind(l, &a.sa, a.len);
		listen(l, 1);
		port = fam_local_port(l);
	}
	c = fam_socket(AF_NSTCP, SOCK_NONBLOCK);
	setsockopt(c, SOL_SOCKET, SO_SNDBUF, &snd, sizeof(snd));
	{
		struct fam_addr a = fam_addr("127.0.0.1", port);

		connect(c, &a.sa, a.len);
	}
	s = fam_accept(l, NULL);
	fam_wait(c, POLLOUT, FAM_TIMEOUT_MS);
	while ((n = send(c, buf, sizeof(buf), MSG_NOSIGNAL)) > 0 && total < 8 * MIB)
		total += n;
	FAM_OK(n < 0 && errno == EAGAIN && total > 0,
	       "non-blocking send fills the connection, then EAGAIN (%zd bytes)",
	       total);
	v = 0;
	FAM_OK(!ioctl(c, SIOCOUTQ, &v) && v > 0 && v <= total,
	       "SIOCOUTQ counts the unacknowledged bytes (%d)", v);
	{
		int nsd = -1;

		FAM_OK(!ioctl(c, SIOCOUTQNSD, &nsd) && nsd >= 0 && nsd <= v,
		       "SIOCOUTQNSD is at most SIOCOUTQ (%d)", nsd);
	}
	{
		ssize_t got = 0;

		while (got < total && (n = recv(s, buf, sizeof(buf), 0)) > 0)
			got += n;
		for (waited = 0; waited < FAM_TIMEOUT_MS; waited += 10) {
			if (!ioctl(c, SIOCOUTQ, &v) && v == 0)
				break;
			usleep(10000);
		}
		FAM_OK(got == total && v == 0,
		       "once the peer drained it, SIOCOUTQ is back to 0 (%zd, %d)",
		       got, v);
	}
	l6 = fam_listen(AF_INET6, "::1", 0, NULL);
	{
		int en = FAM_ERR(ioctl(l, SIOCINQ, &v));
		int ei = FAM_ERR(ioctl(l6, SIOCINQ, &v));

		FAM_OK(en == EINVAL && ei == EINVAL,
		       "SIOCINQ on a listener fails EINVAL, as AF_INET6 (%d %d)", en, ei);
		v6 = fam_socket(AF_INET6, 0);
		en = FAM_ERR(ioctl(c, SIOCGIFINDEX, NULL));
		ei = FAM_ERR(ioctl(v6, SIOCGIFINDEX, NULL));
		FAM_OK(en == ei && en != 0,
		       "SIOCGIFINDEX with a NULL argument fails as on AF_INET6 (%d %d)",
		       en, ei);
		fam_close(&v6);
	}
	fam_close(&l6);
	fam_close(&c);
	fam_close(&s);
	fam_close(&l);
}

/* 1 MiB each way, concurrently, under checksum. */
static void test_bulk(const char *ip)
{
	struct xfer up = { .len = MIB, .seed = 11 }, down = { .len = MIB, .seed = 12 };
	struct xfer up_rx = { .len = MIB }, down_rx = { .len = MIB };
	pthread_t t[3];
	int c, s;

	if (fam_pair(ip, &c, &s)) {
		tap_ok(0, "%s pair for the bulk transfer", ip);
		tap_ok(0, "%s pair for the bulk transfer", ip);
		return;
	}
	up.fd = c;
	up_rx.fd = s;
	down.fd = s;
	down_rx.fd = c;
	pthread_create(&t[0], NULL, xfer_send, &up);
	pthread_create(&t[1], NULL, xfer_recv, &up_rx);
	pthread_create(&t[2], NULL, xfer_send, &down);
	xfer_recv(&down_rx);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	FAM_OK(up.done == MIB && up_rx.done == MIB && up.sum == up_rx.sum,
	       "1 MiB client to server over %s, checksum %016llx matches (%zd/%zd)",
	       ip, (unsigned long long)up_rx.sum, up.done, up_rx.done);
	FAM_OK(down.done == MIB && down_rx.done == MIB && down.sum == down_rx.sum,
	       "1 MiB server to client over %s, checksum %016llx matches (%zd/%zd)",
	       ip, (unsigned long long)down_rx.sum, down.done, down_rx.done);
	fam_close(&c);
	fam_close(&s);
}

static void test_sendfile_splice(void)
{
	enum { FLEN = 256 * 1024 };
	char path[] = "/tmp/nstcp-family-data-XXXXXX";
	struct xfer rx = { .len = FLEN };
	char *data = malloc(FLEN);
	int c, s, f, p[2] = { -1, -1 };
	off_t off = 0;
	ssize_t n, total = 0;
	pthread_t th;
	uint64_t want;

	if (!data || pair4(&c, &s)) {
		free(data);
		return;
	}
	fam_fill(data, FLEN, 21);
	want = fam_sum(FAM_SUM_INIT, data, FLEN);
	f = mkstemp(path);
	if (f >= 0) {
		unlink(path);
		if (write(f, data, FLEN) != FLEN)
			fam_close(&f);
	}
	rx.fd = s;
	pthread_create(&th, NULL, xfer_recv, &rx);
	while (f >= 0 && total < FLEN &&
	       (n = sendfile(c, f, &off, FLEN - total)) > 0)
		total += n;
	pthread_join(th, NULL);
	FAM_OK(f >= 0 && total == FLEN && rx.done == FLEN && rx.sum == want,
	       "sendfile of 256 KiB from a file arrives intact (%zd, %zd)", total,
	       rx.done);
	fam_close(&f);

	/* socket -> pipe. */
	if (pipe(p)) {
		tap_ok(0, "pipe");
		goto out;
	}
	{
		struct xfer tx = { .fd = s, .len = 48 * 1024, .seed = 22 };
		uint64_t sum = FAM_SUM_INIT;
		char buf[4096];
		ssize_t got = 0;

		pthread_create(&th, NULL, xfer_send, &tx);
		while (got < (ssize_t)tx.len) {
			n = splice(c, NULL, p[1], NULL, 4096, 0);
			if (n <= 0 || read(p[0], buf, n) != n)
				break;
			sum = fam_sum(sum, buf, n);
			got += n;
		}
		pthread_join(th, NULL);
		FAM_OK(got == (ssize_t)tx.len && sum == tx.sum,
		       "splice from the socket into a pipe, 48 KiB intact (%zd)", got);
	}
	/* pipe -> socket. */
	{
		struct xfer rx2 = { .fd = s, .len = 48 * 1024 };
		uint64_t sum = FAM_SUM_INIT;
		char buf[4096];
		ssize_t sent = 0;

		pthread_create(&th, NULL, xfer_recv, &rx2);
		for (int i = 0; i < 12; i++) {
			fam_fill(buf, sizeof(buf), 100 + i);
			sum = fam_sum(sum, buf, sizeof(buf));
			if (write(p[1], buf, sizeof(buf)) != sizeof(buf))
				break;
			n = splice(p[0], NULL, c, NULL, sizeof(buf), SPLICE_F_MORE);
			if (n != sizeof(buf))
				break;
			sent += n;
		}
		pthread_join(th, NULL);
		FAM_OK(sent == 48 * 1024 && rx2.done == sent && rx2.sum == sum,
		       "splice from a pipe into the socket, 48 KiB intact (%zd, %zd)",
		       sent, rx2.done);
	}
out:
	fam_close(&p[0]);
	fam_close(&p[1]);
	fam_close(&c);
	fam_close(&s);
	free(data);
}

static void test_oob(void)
{
	char b = 0, buf[8];
	int c, s;
	ssize_t n;

	if (pair4(&c, &s))
		return;
	send(c, "ab", 2, 0);
	send(c, "c", 1, MSG_OOB);
	fam_wait(s, POLLPRI, FAM_TIMEOUT_MS);
	n = recv(s, &b, 1, MSG_OOB);
	FAM_OK(n == 1 && b == 'c' && recv(s, buf, sizeof(buf), 0) == 2 &&
	       !memcmp(buf, "ab", 2), "MSG_OOB byte arrives out of band (%zd '%c')",
	       n, b);
	fam_close(&c);
	fam_close(&s);
}

static void test_options(void)
{
	int c, s, v, c6, s6, fd, v6;
	struct tcp_info ti;
	socklen_t len;
	char cc[16];

	if (pair4(&c, &s))
		return;
	FAM_OK(!fam_setint(c, SOL_SOCKET, SO_RCVBUF, 65536) &&
	       !fam_getint(c, SOL_SOCKET, SO_RCVBUF, &v) && v == 2 * 65536,
	       "SO_RCVBUF 65536 reads back doubled (%d)", v);
	FAM_OK(!fam_setint(c, SOL_SOCKET, SO_SNDBUF, 32768) &&
	       !fam_getint(c, SOL_SOCKET, SO_SNDBUF, &v) && v == 2 * 32768,
	       "SO_SNDBUF 32768 reads back doubled (%d)", v);
	FAM_OK(!fam_getint(c, SOL_SOCKET, SO_KEEPALIVE, &v) && v == 0 &&
	       !fam_setint(c, SOL_SOCKET, SO_KEEPALIVE, 1) &&
	       !fam_getint(c, SOL_SOCKET, SO_KEEPALIVE, &v) && v == 1,
	       "SO_KEEPALIVE off, then on (%d)", v);
	FAM_OK(!fam_setint(c, SOL_TCP, TCP_KEEPIDLE, 77) &&
	       !fam_getint(c, SOL_TCP, TCP_KEEPIDLE, &v) && v == 77,
	       "TCP_KEEPIDLE 77 (%d)", v);
	FAM_OK(!fam_getint(c, SOL_TCP, TCP_NODELAY, &v) && v == 0 &&
	       !fam_setint(c, SOL_TCP, TCP_NODELAY, 1) &&
	       !fam_getint(c, SOL_TCP, TCP_NODELAY, &v) && v == 1,
	       "TCP_NODELAY off, then on (%d)", v);
	FAM_OK(!fam_getint(c, SOL_TCP, TCP_MAXSEG, &v) && v > 0 && v < 65536,
	       "TCP_MAXSEG of the connection (%d)", v);
	len = sizeof(ti);
	memset(&ti, 0, sizeof(ti));
	FAM_OK(!getsockopt(c, SOL_TCP, TCP_INFO, &ti, &len) &&
	       ti.tcpi_state == TCP_ESTABLISHED && ti.tcpi_snd_mss > 0,
	       "TCP_INFO: ESTABLISHED (%u), mss %u", ti.tcpi_state, ti.tcpi_snd_mss);
	len = sizeof(cc);
	memset(cc, 0, sizeof(cc));
	FAM_OK(!setsockopt(c, SOL_TCP, TCP_CONGESTION, "reno", 4) &&
	       !getsockopt(c, SOL_TCP, TCP_CONGESTION, cc, &len) &&
	       !strcmp(cc, "reno"), "TCP_CONGESTION reno (%s)", cc);
	FAM_OK(!fam_setint(c, SOL_IP, IP_TOS, 0x10) &&
	       !fam_getint(c, SOL_IP, IP_TOS, &v) && v == 0x10,
	       "IP_TOS 0x10 on an IPv4 connection (%#x)", v);
	FAM_OK(!fam_getint(c, SOL_IP, IP_TTL, &v) && v > 0 && v < 256,
	       "IP_TTL reads (%d)", v);
	fam_close(&s);
	len = sizeof(ti);
	memset(&ti, 0, sizeof(ti));
	fam_wait(c, POLLIN, FAM_TIMEOUT_MS);
	FAM_OK(!getsockopt(c, SOL_TCP, TCP_INFO, &ti, &len) &&
	       ti.tcpi_state == TCP_CLOSE_WAIT,
	       "TCP_INFO: CLOSE_WAIT after the peer closed (%u)", ti.tcpi_state);
	fam_close(&c);

	if (fam_pair("::1", &c6, &s6)) {
		tap_ok(0, "IPv6 pair");
	} else {
		FAM_OK(!fam_setint(c6, SOL_IPV6, IPV6_TCLASS, 0x20) &&
		       !fam_getint(c6, SOL_IPV6, IPV6_TCLASS, &v) && v == 0x20,
		       "IPV6_TCLASS 0x20 on an IPv6 connection (%#x)", v);
	}
	fam_close(&c6);
	fam_close(&s6);

	fd = fam_socket(AF_NSTCP, 0);
	v6 = fam_socket(AF_INET6, 0);
	FAM_OK(!fam_getint(fd, SOL_IPV6, IPV6_V6ONLY, &v) && v == 0 &&
	       !fam_setint(fd, SOL_IPV6, IPV6_V6ONLY, 1) &&
	       !fam_getint(fd, SOL_IPV6, IPV6_V6ONLY, &v) && v == 1,
	       "IPV6_V6ONLY off by default, settable before bind (%d)", v);
	{
		struct fam_addr a = fam_addr("::1", 0);
		int en, ei;

		bind(fd, &a.sa, a.len);
		bind(v6, &a.sa, a.len);
		en = FAM_ERR(fam_setint(fd, SOL_IPV6, IPV6_V6ONLY, 0));
		ei = FAM_ERR(fam_setint(v6, SOL_IPV6, IPV6_V6ONLY, 0));
		FAM_OK(en == EINVAL && ei == EINVAL,
		       "IPV6_V6ONLY after bind fails EINVAL, as AF_INET6 (%d %d)",
		       en, ei);
	}
	fam_close(&fd);
	fam_close(&v6);
}

/* mmap and SIOCGSTAMP reach TCP's own handlers, as on AF_INET6. */
static void test_mmap_stamp(void)
{
	int c, s, v6c, v6s, en, ei;
	struct timeval tv;
	void *m;

	if (pair4(&c, &s))
		return;
	fam_pair_of(AF_INET6, AF_INET6, "::1", &v6c, &v6s);
	m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, s, 0);
	FAM_OK(m != MAP_FAILED, "read-only mmap of the socket succeeds (TCP zerocopy receive)");
	if (m != MAP_FAILED)
		munmap(m, 4096);
	m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, s, 0);
	en = m == MAP_FAILED ? errno : 0;
	if (m != MAP_FAILED)
		munmap(m, 4096);
	m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, v6s, 0);
	ei = m == MAP_FAILED ? errno : 0;
	if (m != MAP_FAILED)
		munmap(m, 4096);
	FAM_OK(en == EPERM && ei == EPERM,
	       "writable mmap fails EPERM, as AF_INET6 (%d %d)", en, ei);
	send(c, "t", 1, 0);
	send(v6c, "t", 1, 0);
	fam_wait(s, POLLIN, FAM_TIMEOUT_MS);
	fam_wait(v6s, POLLIN, FAM_TIMEOUT_MS);
	en = FAM_ERR(ioctl(s, SIOCGSTAMP, &tv));
	ei = FAM_ERR(ioctl(v6s, SIOCGSTAMP, &tv));
	FAM_OK(en == ei && (en == 0 || en == ENOENT),
	       "SIOCGSTAMP behaves as on AF_INET6 (%d %d)", en, ei);
	fam_close(&v6c);
	fam_close(&v6s);
	fam_close(&c);
	fam_close(&s);
}

int main(void)
{
	fam_start(NCASES, 55);
	test_basic_io();
	test_waitall_timeout();
	test_epipe_shutdown_reset();
	test_queue_ioctls();
	test_bulk("127.0.0.1");
	test_bulk("::1");
	test_sendfile_splice();
	test_oob();
	test_options();
	test_mmap_stamp();
	return fam_finish();
}
