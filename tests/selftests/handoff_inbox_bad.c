// SPDX-License-Identifier: GPL-2.0
/*
 * Selftest: bad input to inboxes and NSTCP_ACCEPT_TO (Documentation/inbox.rst),
 * and what an inbox refuses to become: connected by sendto() with an
 * address, by MSG_FASTOPEN or by TCP_FASTOPEN_CONNECT and connect(), given
 * with NSTCP_GIVE.  After all of it the inbox still takes a connection.
 * NSTCP_ACCEPT_TO's failures leave optlen as it was, and a reply buffer
 * that cannot be written (a read-only page) fails before anything is taken:
 * the connection is still on the listener.  A listener's SO_RCVTIMEO
 * ends NSTCP_ACCEPT_TO with EAGAIN, its inbox slot given back.
 */
#include <netinet/tcp.h>
#include <sys/mman.h>

#include "inbox_util.h"

#define NCASES 42

static int lfd, port;

static void case_input(void)
{
	int s = fam_socket(AF_NSTCP, 0), v, ib = ib_make(1), t;
	struct nstcp_inbox_info info;
	struct nstcp_accept_to at = { 0 };
	struct fam_addr a = fam_addr(LST_IP, 0);
	socklen_t len;
	void *bad = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);

	v = 0;
	TAP_ERRNO(setsockopt(s, SOL_NSTCP, NSTCP_INBOX, &v, sizeof(v)), EINVAL,
		  "backlog 0: EINVAL");
	v = NSTCP_INBOX_MAX + 1;
	TAP_ERRNO(setsockopt(s, SOL_NSTCP, NSTCP_INBOX, &v, sizeof(v)), EINVAL,
		  "backlog over NSTCP_INBOX_MAX: EINVAL");
	v = 1;
	TAP_ERRNO(setsockopt(s, SOL_NSTCP, NSTCP_INBOX, &v, 2), EINVAL,
		  "optlen 2: EINVAL");
	TAP_ERRNO(setsockopt(s, SOL_NSTCP, NSTCP_INBOX, bad, sizeof(v)), EFAULT,
		  "a bad pointer: EFAULT");
	TAP_ERRNO(setsockopt(ib, SOL_NSTCP, NSTCP_INBOX, &v, sizeof(v)), EINVAL,
		  "an inbox twice: EINVAL");
	TAP_ERRNO(setsockopt(lfd, SOL_NSTCP, NSTCP_INBOX, &v, sizeof(v)), EISCONN,
		  "on a listener: EISCONN");
	t = fam_socket(AF_NSTCP, 0);
	bind(t, &a.sa, a.len);
	TAP_ERRNO(setsockopt(t, SOL_NSTCP, NSTCP_INBOX, &v, sizeof(v)), EINVAL,
		  "on a bound socket: EINVAL");
	close(t);
	t = ib_client(port);
	TAP_ERRNO(setsockopt(t, SOL_NSTCP, NSTCP_INBOX, &v, sizeof(v)), EISCONN,
		  "on a connected socket: EISCONN");
	v = fam_accept(lfd, NULL);
	if (v >= 0)
		close(v);
	close(t);

	FAM_OK(ib_info(s, &info) == EINVAL, "NSTCP_INBOX get, not an inbox: EINVAL");
	len = sizeof(info) - 1;
	TAP_ERRNO(getsockopt(ib, SOL_NSTCP, NSTCP_INBOX, &info, &len), EINVAL,
		  "NSTCP_INBOX get, optlen short: EINVAL");
	len = sizeof(info);
	TAP_ERRNO(getsockopt(ib, SOL_NSTCP, NSTCP_INBOX, bad, &len), EFAULT,
		  "NSTCP_INBOX get, a bad pointer: EFAULT");

	at.nto_inbox = ib_id(ib);
	len = sizeof(at) - 1;
	TAP_ERRNO(getsockopt(lfd, SOL_NSTCP, NSTCP_ACCEPT_TO, &at, &len), EINVAL,
		  "NSTCP_ACCEPT_TO, optlen short: EINVAL");
	len = sizeof(at);
	TAP_ERRNO(getsockopt(lfd, SOL_NSTCP, NSTCP_ACCEPT_TO, bad, &len), EFAULT,
		  "NSTCP_ACCEPT_TO, a bad pointer: EFAULT");
	at.nto_reserved = 1;
	TAP_ERRNO(getsockopt(lfd, SOL_NSTCP, NSTCP_ACCEPT_TO, &at, &len), EINVAL,
		  "NSTCP_ACCEPT_TO, reserved set: EINVAL");
	FAM_OK(ib_accept_to(s, ib_id(ib), NULL) == EINVAL,
	       "NSTCP_ACCEPT_TO on a socket that does not listen: EINVAL");
	FAM_OK(ib_accept_to(ib, ib_id(ib), NULL) == EINVAL,
	       "NSTCP_ACCEPT_TO on an inbox: EINVAL");

	TAP_ERRNO(listen(ib, 8), EINVAL, "listen() on an inbox: EINVAL");
	TAP_ERRNO(bind(ib, &a.sa, a.len), EINVAL, "bind() on an inbox: EINVAL");
	TAP_ERRNO(setsockopt(ib, SOL_NSTCP, NSTCP_SHARE_KEY, "k", 1), EINVAL,
		  "NSTCP_SHARE_KEY on an inbox: EINVAL");
	{
		struct nstcp_accept_token tok = { .nat_give.ng_flags = NSTCP_GIVE_UID };

		len = sizeof(tok);
		TAP_ERRNO(getsockopt(ib, SOL_NSTCP, NSTCP_ACCEPT_TOKEN, &tok, &len),
			  EINVAL, "NSTCP_ACCEPT_TOKEN on an inbox: EINVAL");
	}
	munmap(bad, 4096);
	close(s);
	close(ib);
}

/* An inbox never becomes a connection, nor is given as one. */
static void case_refuse(int ib)
{
	struct fam_addr a = fam_addr(LST_IP, port);
	int one = 1;
	uint64_t token = 0;

	TAP_ERRNO(sendto(ib, "x", 1, MSG_FASTOPEN | MSG_NOSIGNAL, &a.sa, a.len),
		  EINVAL, "sendto(MSG_FASTOPEN) on an inbox: EINVAL, not a connect");
	TAP_ERRNO(sendto(ib, "x", 1, MSG_FASTOPEN | MSG_NOSIGNAL, NULL, 0),
		  EINVAL, "send(MSG_FASTOPEN) without an address: EINVAL");
	TAP_ERRNO(sendto(ib, "x", 1, MSG_NOSIGNAL, &a.sa, a.len), EINVAL,
		  "sendto() with an address on an inbox: EINVAL");
	FAM_OK(!setsockopt(ib, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, &one,
			   sizeof(one)), "TCP_FASTOPEN_CONNECT set on an inbox");
	TAP_ERRNO(connect(ib, &a.sa, a.len), EINVAL,
		  "... connect() after it: EINVAL");
	TAP_ERRNO(send(ib, "x", 1, MSG_NOSIGNAL), EPIPE,
		  "... a send() after it: EPIPE, nothing connected");
	FAM_OK(ho_give(ib, NSTCP_GIVE_UID, getuid(), 1000, &token) == EINVAL,
	       "NSTCP_GIVE of an inbox: EINVAL");
	token = 1;
	TAP_ERRNO(setsockopt(ib, SOL_NSTCP, NSTCP_TAKE, &token, sizeof(token)),
		  EINVAL, "NSTCP_TAKE onto an inbox: EINVAL");
}

/*
 * A reply buffer on a read-only page: EFAULT before anything is taken,
 * optlen as it was; failures leave optlen alone; the connection stays on
 * the listener and goes to the inbox at the next NSTCP_ACCEPT_TO.
 */
static void case_efault_kept(int ib)
{
	uint64_t id = ib_id(ib);
	struct nstcp_accept_to at = { .nto_inbox = id }, *ro;
	socklen_t len = sizeof(at) + 8;
	int fd = ib_client(port), afd;
	struct ib_row r0, r;

	ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ro == MAP_FAILED)
		ro = NULL;
	if (ro) {
		*ro = at;
		mprotect(ro, 4096, PROT_READ);
	}
	FAM_OK(!ib_proc(id, &r0), "the inbox's row read");
	TAP_ERRNO(getsockopt(lfd, SOL_NSTCP, NSTCP_ACCEPT_TO, ro, &len), EFAULT,
		  "NSTCP_ACCEPT_TO, a read-only reply: EFAULT");
	FAM_OK(len == sizeof(at) + 8, "... optlen unchanged (%u)", len);
	FAM_OK(!ib_proc(id, &r) && r.given == r0.given && !r.queued,
	       "... nothing given to the inbox");
	at.nto_inbox = ~id;
	TAP_ERRNO(getsockopt(lfd, SOL_NSTCP, NSTCP_ACCEPT_TO, &at, &len), ENOENT,
		  "NSTCP_ACCEPT_TO, an unknown id: ENOENT");
	FAM_OK(len == sizeof(at) + 8, "... optlen unchanged (%u)", len);
	at.nto_inbox = id;
	FAM_OK(!getsockopt(lfd, SOL_NSTCP, NSTCP_ACCEPT_TO, &at, &len) &&
	       len == sizeof(at), "the next NSTCP_ACCEPT_TO queues it, optlen set");
	afd = fam_accept(ib, NULL);
	FAM_OK(afd >= 0 && ib_talks(fd, afd),
	       "the connection the fault left on the listener talks from the inbox");
	FAM_OK(!ib_proc(id, &r) && r.given == r0.given + 1 &&
	       r.accepted == r0.accepted + 1 && !r.queued && ib_balanced(id) &&
	       ib_balanced(0), "given %ld accepted %ld: the rows balance",
	       r.given, r.accepted);
	fam_close(&afd);
	fam_close(&fd);
	if (ro)
		munmap(ro, 4096);
}

/*
 * SO_RCVTIMEO on the listener: NSTCP_ACCEPT_TO with nothing to take ends
 * with EAGAIN and gives its slot back (an inbox of 1 takes the next one).
 */
static void case_timeout(void)
{
	struct timeval tv = { .tv_usec = 100000 }, zero = { 0 };
	int ib = ib_make(1), fd, afd, rc;
	uint64_t id = ib_id(ib);
	long long t0 = lst_now_ms(), ms;
	struct ib_row r;

	setsockopt(lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	rc = ib_accept_to(lfd, id, NULL);
	ms = lst_now_ms() - t0;
	FAM_OK(rc == EAGAIN && ms >= 90 && ms < 5000,
	       "NSTCP_ACCEPT_TO, nothing queued, SO_RCVTIMEO 100 ms: EAGAIN (%s, %lld ms)",
	       strerror(rc), ms);
	FAM_OK(!ib_proc(id, &r) && !r.given && !r.queued, "... nothing given");
	fd = ib_client(port);
	rc = ib_accept_to(lfd, id, NULL);
	FAM_OK(!rc, "the slot given back: the next one queued on the inbox of 1 (%s)",
	       strerror(rc));
	setsockopt(lfd, SOL_SOCKET, SO_RCVTIMEO, &zero, sizeof(zero));
	afd = fam_accept(ib, NULL);
	FAM_OK(afd >= 0 && ib_talks(fd, afd) && ib_balanced(id),
	       "... accepted from the inbox, talks; the row balances");
	fam_close(&afd);
	fam_close(&fd);
	fam_close(&ib);
}

int main(void)
{
	int ib;

	lst_private_netns();
	lst_pin(0);
	fam_start(NCASES, 60);
	lfd = fam_listen(AF_NSTCP, LST_IP, 0, &port);
	if (lfd < 0) {
		printf("Bail out! listen\n");
		return 1;
	}
	case_input();
	ib = ib_make(4);
	FAM_OK(ib >= 0, "an inbox");
	case_refuse(ib);
	case_efault_kept(ib);
	fam_close(&ib);
	case_timeout();
	close(lfd);
	return fam_finish();
}
