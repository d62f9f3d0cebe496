// SPDX-License-Identifier: GPL-2.0
/*
 * Selftest: bad input to inboxes and NSTCP_ACCEPT_TO (Documentation/inbox.rst),
 * and what an inbox refuses to become: connected by sendto() with an
 * address, by MSG_FASTOPEN or by TCP_FASTOPEN_CONNECT and connect(), given
 * with NSTCP_GIVE.
 */
#include <netinet/tcp.h>
#include <sys/mman.h>

#include "inbox_util.h"

#define NCASES 28

static int lfd, port;

/* Connect a client; the listener holds the connection. */
static int client(void)
{
	return fam_connect(AF_NSTCP, LST_IP, port);
}

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
	t = client();
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
	fam_close(&ib);
	close(lfd);
	return fam_finish();
}
