// SPDX-License-Identifier: GPL-2.0
/*
 * Selftest: bad input to per-CPU listening fails with the documented errno
 * and changes nothing: NSTCP_SHARE_KEY (length, bytes, too late),
 * NSTCP_POLICY (value, length, connected sockets), the listen_policy and
 * accept_steal sysctls, unknown SOL_NSTCP options, connect() and a second
 * bind() on a listener.  Runs in a network namespace of its own.
 */
#include "listen_util.h"

#define NCASES 53

/* A socket bound to an ephemeral loopback port, not listening. */
static int bound(void)
{
	struct fam_addr a = fam_addr(LST_IP, 0);
	int fd = fam_socket(AF_NSTCP, 0);

	if (fd >= 0 && bind(fd, &a.sa, a.len)) {
		tap_diag("bind: %s", strerror(errno));
		fam_close(&fd);
	}
	return fd;
}

static int keylen(int fd, char *key)
{
	socklen_t len = NSTCP_KEY_MAX;

	if (getsockopt(fd, SOL_NSTCP, NSTCP_SHARE_KEY, key, &len))
		return -1;
	return len;
}

static void test_key_bytes(void)
{
	static const struct { const char *k; int len; const char *what; } bad[] = {
		{ "", 0, "an empty key" },
		{ "abcdefghi", 9, "a 9-byte key" },
		{ "abcdefghijklmnop", 16, "a 16-byte key" },
		{ "a-b", 3, "a key with '-'" },
		{ "a b", 3, "a key with a space" },
		{ "a_b", 3, "a key with '_'" },
		{ "a\0b", 3, "a key with a NUL byte" },
		{ "ab\n", 3, "a key with a newline" },
		{ "caf\xe9", 4, "a key with a Latin-1 byte (0xe9)" },
		{ "\xc3\xa9t\xc3\xa9", 6, "a key with UTF-8 bytes" },
	};
	char key[NSTCP_KEY_MAX];
	int fd = fam_socket(AF_NSTCP, 0);

	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		TAP_ERRNO(setsockopt(fd, SOL_NSTCP, NSTCP_SHARE_KEY, bad[i].k,
				     bad[i].len), EINVAL,
			  "NSTCP_SHARE_KEY: %s is EINVAL", bad[i].what);
	FAM_OK(keylen(fd, key) == 0,
	       "after the refused keys the socket has no key (length %d)",
	       keylen(fd, key));
	TAP_ERRNO(setsockopt(fd, SOL_NSTCP, NSTCP_SHARE_KEY, NULL, 4), EFAULT,
		  "NSTCP_SHARE_KEY from a bad pointer is EFAULT");
	FAM_OK(lst_set_key(fd, "Z") == 0 && keylen(fd, key) == 1 &&
	       key[0] == 'Z', "a 1-character key is taken and reads back");
	FAM_OK(lst_set_key(fd, "Ab3De6G8") == 0 && keylen(fd, key) == 8 &&
	       !memcmp(key, "Ab3De6G8", 8),
	       "an 8-character key replaces it and reads back");
	fam_close(&fd);
}

static void test_key_late(void)
{
	int fd, lfd, port, cfd, afd;

	fd = bound();
	TAP_ERRNO(lst_set_key(fd, "late"), EINVAL,
		  "NSTCP_SHARE_KEY after bind() is EINVAL");
	fam_close(&fd);

	lfd = lst_member(LST_IP, 0, NULL, 0, &port);
	TAP_ERRNO(lst_set_key(lfd, "late"), EINVAL,
		  "NSTCP_SHARE_KEY on a listening socket is EINVAL");

	cfd = fam_socket(AF_NSTCP, 0);
	{
		struct fam_addr a = fam_addr(LST_IP, port);

		if (connect(cfd, &a.sa, a.len))
			tap_diag("connect: %s", strerror(errno));
	}
	afd = fam_accept(lfd, NULL);
	TAP_ERRNO(lst_set_key(cfd, "late"), EINVAL,
		  "NSTCP_SHARE_KEY on a connected socket is EINVAL");
	TAP_ERRNO(lst_set_key(afd, "late"), EINVAL,
		  "NSTCP_SHARE_KEY on an accepted socket is EINVAL");

	/* Policy on connected sockets, while we have them. */
	TAP_ERRNO(fam_setint(cfd, SOL_NSTCP, NSTCP_POLICY, NSTCP_POLICY_LEAST),
		  EINVAL, "NSTCP_POLICY on a connected socket is EINVAL");
	TAP_ERRNO(fam_setint(afd, SOL_NSTCP, NSTCP_POLICY, NSTCP_POLICY_LEAST),
		  EINVAL, "NSTCP_POLICY on an accepted socket is EINVAL");
	TAP_ERRNO(connect(lfd, (struct sockaddr *)&(struct sockaddr_in){
				  .sin_family = AF_INET,
				  .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) },
			  sizeof(struct sockaddr_in)),
		  EISCONN, "connect() on a listening socket is EISCONN");
	fam_close(&afd);
	fam_close(&cfd);
	fam_close(&lfd);

	/* A socket that joined a keyed port by bind() has its key fixed. */
	lfd = lst_member(LST_IP, 0, "joinme", 0, &port);
	fd = fam_socket(AF_NSTCP, 0);
	{
		struct fam_addr a = fam_addr(LST_IP, port);

		if (lst_set_key(fd, "joinme") || bind(fd, &a.sa, a.len))
			tap_diag("join: %s", strerror(errno));
		TAP_ERRNO(lst_set_key(fd, "other"), EINVAL,
			  "NSTCP_SHARE_KEY on a socket that joined a port is EINVAL");
		TAP_ERRNO(bind(fd, &a.sa, a.len), EINVAL,
			  "a second bind() of a joined socket is EINVAL, as on AF_INET");
	}
	fam_close(&fd);
	fam_close(&lfd);
}

static void test_policy(void)
{
	static const int bad[] = { 0, 4, -1, 1000 };
	int fd = fam_socket(AF_NSTCP, 0), p = NSTCP_POLICY_LEAST, lfd, port;
	socklen_t len;
	struct lst_port st;

	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		TAP_ERRNO(fam_setint(fd, SOL_NSTCP, NSTCP_POLICY, bad[i]), EINVAL,
			  "NSTCP_POLICY %d is EINVAL", bad[i]);
	for (int l = 0; l < (int)sizeof(int); l += 3)
		TAP_ERRNO(setsockopt(fd, SOL_NSTCP, NSTCP_POLICY, &p, l), EINVAL,
			  "NSTCP_POLICY with optlen %d is EINVAL", l);
	TAP_ERRNO(setsockopt(fd, SOL_NSTCP, NSTCP_POLICY, &p, 2), EINVAL,
		  "NSTCP_POLICY with optlen 2 is EINVAL");
	FAM_OK(lst_policy(fd) == NSTCP_POLICY_CPU,
	       "after the refused values the policy reads the default cpu (%d)",
	       lst_policy(fd));
	len = 3;
	TAP_ERRNO(getsockopt(fd, SOL_NSTCP, NSTCP_POLICY, &p, &len), EINVAL,
		  "getsockopt NSTCP_POLICY with optlen 3 is EINVAL");
	{
		int ok = 1;

		for (p = NSTCP_POLICY_CPU; p <= NSTCP_POLICY_LEAST; p++)
			ok &= !fam_setint(fd, SOL_NSTCP, NSTCP_POLICY, p) &&
			      lst_policy(fd) == p;
		FAM_OK(ok, "NSTCP_POLICY 1, 2 and 3 are taken and read back");
	}
	fam_close(&fd);

	/* On a listener: a bad value leaves the port's policy alone. */
	lfd = lst_member(LST_IP, 0, NULL, NSTCP_POLICY_ROUNDROBIN, &port);
	TAP_ERRNO(fam_setint(lfd, SOL_NSTCP, NSTCP_POLICY, 7), EINVAL,
		  "NSTCP_POLICY 7 on a listener is EINVAL");
	lst_proc(port, &st);
	FAM_OK(lst_policy(lfd) == NSTCP_POLICY_ROUNDROBIN && st.rows > 0 &&
	       !strcmp(st.policy, "roundrobin"),
	       "the port keeps its policy (%d, /proc says %s)", lst_policy(lfd),
	       st.policy);
	FAM_OK(!fam_setint(lfd, SOL_NSTCP, NSTCP_POLICY, NSTCP_POLICY_LEAST) &&
	       lst_proc(port, &st) > 0 && !strcmp(st.policy, "least") &&
	       lst_policy(lfd) == NSTCP_POLICY_LEAST,
	       "a good value on a listener changes the port's policy (%s)",
	       st.policy);

	TAP_ERRNO(fam_setint(lfd, SOL_NSTCP, 99, 1), ENOPROTOOPT,
		  "an unknown SOL_NSTCP option is ENOPROTOOPT (set)");
	len = sizeof(p);
	TAP_ERRNO(getsockopt(lfd, SOL_NSTCP, 99, &p, &len), ENOPROTOOPT,
		  "an unknown SOL_NSTCP option is ENOPROTOOPT (get)");
	fam_close(&lfd);
}

static void test_sysctls(void)
{
	static const char *const bad_policy[] = { "bogus", "CPU", "round",
						  "cpu least", "4" };
	static const char *const bad_steal[] = { "2", "-1", "abc" };
	char buf[64];
	int e, lfd, port;
	struct lst_port st;

	FAM_OK(!strcmp(lst_sysctl_read("listen_policy", buf, sizeof(buf)), "cpu") &&
	       !strcmp(lst_sysctl_read("accept_steal", buf, sizeof(buf)), "1"),
	       "defaults: listen_policy cpu, accept_steal 1");
	for (unsigned int i = 0; i < sizeof(bad_policy) / sizeof(bad_policy[0]); i++) {
		e = lst_sysctl_write("listen_policy", bad_policy[i]);
		lst_sysctl_read("listen_policy", buf, sizeof(buf));
		FAM_OK(e == EINVAL && !strcmp(buf, "cpu"),
		       "listen_policy=\"%s\" is EINVAL (%s), value kept (%s)",
		       bad_policy[i], strerror(e), buf);
	}
	e = lst_sysctl_write("listen_policy", "least\n");
	lst_sysctl_read("listen_policy", buf, sizeof(buf));
	FAM_OK(e == 0 && !strcmp(buf, "least"),
	       "listen_policy=least is taken (%s)", buf);
	lfd = lst_member(LST_IP, 0, NULL, 0, &port);
	lst_proc(port, &st);
	FAM_OK(lst_policy(lfd) == NSTCP_POLICY_LEAST && st.rows > 0 &&
	       !strcmp(st.policy, "least"),
	       "a new port starts with it (%d, /proc %s)", lst_policy(lfd),
	       st.policy);
	fam_close(&lfd);
	e = lst_sysctl_write("listen_policy", "roundrobin");
	lst_sysctl_read("listen_policy", buf, sizeof(buf));
	FAM_OK(e == 0 && !strcmp(buf, "roundrobin"),
	       "listen_policy=roundrobin is taken (%s)", buf);
	e = lst_sysctl_write("listen_policy", "cpu");
	lst_sysctl_read("listen_policy", buf, sizeof(buf));
	FAM_OK(e == 0 && !strcmp(buf, "cpu"), "listen_policy=cpu is taken (%s)",
	       buf);

	for (unsigned int i = 0; i < sizeof(bad_steal) / sizeof(bad_steal[0]); i++) {
		e = lst_sysctl_write("accept_steal", bad_steal[i]);
		lst_sysctl_read("accept_steal", buf, sizeof(buf));
		FAM_OK(e == EINVAL && !strcmp(buf, "1"),
		       "accept_steal=%s is EINVAL (%s), value kept (%s)",
		       bad_steal[i], strerror(e), buf);
	}
	e = lst_sysctl_write("accept_steal", "0");
	lst_sysctl_read("accept_steal", buf, sizeof(buf));
	FAM_OK(e == 0 && !strcmp(buf, "0"), "accept_steal=0 is taken (%s)", buf);
	e = lst_sysctl_write("accept_steal", "1");
	lst_sysctl_read("accept_steal", buf, sizeof(buf));
	FAM_OK(e == 0 && !strcmp(buf, "1"), "accept_steal=1 is taken (%s)", buf);
}

int main(void)
{
	lst_private_netns();
	fam_start(NCASES, 50);
	test_key_bytes();
	test_key_late();
	test_policy();
	test_sysctls();
	return fam_finish();
}
