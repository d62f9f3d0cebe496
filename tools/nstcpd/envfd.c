// SPDX-License-Identifier: GPL-2.0
/*
 * The handover's word lists for the new image (handover.c, main.c):
 * NSTCPD_FDS, NSTCPD_RETIRE and NSTCPD_GIVEN grow with the load (a word
 * per hybrid connection not yet taken, per process retiring; NSTCPD_BKLOADS
 * a word per broker server), and one
 * environment string is capped at 128 KiB (MAX_ARG_STRLEN): past it the
 * exec fails with E2BIG and the reload with it.  So each goes in a sealed
 * memfd, as the configuration does (NSTCPD_CONFIG_FD), named by NAME_FD=N
 * in the environment; close-on-exec is cleared for them only right before
 * the exec.  NAME itself is set too when it is short (ENVFD_INLINE), for
 * a restart into an older binary, which reads only that.  The new image
 * reads NAME_FD, else NAME (as an older image sets it alone), trusted only
 * under NSTCPD_PID (handover.c).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nstcpd.h"

#define ENVFD_MAX	(64 << 20)	/* bytes of words read, at most */
#define ENVFD_NAMES	8	/* FDS, RETIRE, GIVEN, BKLOADS; room to spare */
#define ENVFD_INLINE	(32 << 10)	/* NAME set too up to this length */

static struct {
	char name[24], var[32];
	int fd;
} put[ENVFD_NAMES];
static int nput;

/* Variable @name's words @v in a sealed memfd, NAME_FD set: 0, or -1. */
int nd_envfd_put(const char *name, const char *v)
{
	size_t len = strlen(v), done = 0;
	char num[16];
	ssize_t n;
	int fd;

	if (nput == ENVFD_NAMES)
		return -1;
	fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -1;
	while (done < len) {
		n = write(fd, v + done, len - done);
		if (n <= 0)
			goto fail;
		done += n;
	}
	snprintf(put[nput].name, sizeof(put[nput].name), "%s", name);
	snprintf(put[nput].var, sizeof(put[nput].var), "%s_FD", name);
	snprintf(num, sizeof(num), "%d", fd);
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
		  F_SEAL_WRITE | F_SEAL_SEAL) ||
	    setenv(put[nput].var, num, 1) ||
	    (len <= ENVFD_INLINE ? setenv(name, v, 1) : unsetenv(name))) {
		unsetenv(put[nput].var);
		goto fail;
	}
	put[nput++].fd = fd;
	return 0;
fail:
	close(fd);
	return -1;
}

/* Close-on-exec off (@on: right before the exec) or back on. */
int nd_envfd_inherit(int on)
{
	int i, r = 0;

	for (i = 0; i < nput; i++)
		r |= fcntl(put[i].fd, F_SETFD, on ? 0 : FD_CLOEXEC);
	return r ? -1 : 0;
}

/* After a failed exec: the memfds closed, their variables removed. */
void nd_envfd_drop(void)
{
	while (nput > 0) {
		nput--;
		unsetenv(put[nput].name);
		unsetenv(put[nput].var);
		close(put[nput].fd);
	}
}

/*
 * In the new image: the words of variable @name (from NAME_FD's memfd,
 * closed once read, or NAME's string), malloc'ed, or NULL.
 */
char *nd_envfd_get(const char *name, long fdmax)
{
	size_t got = 0, size;
	const char *v;
	struct stat st;
	char var[32];
	char *buf;
	ssize_t n;
	long fd;

	snprintf(var, sizeof(var), "%s_FD", name);
	v = getenv(var);
	if (!v) {
		v = getenv(name);
		return v ? strdup(v) : NULL;
	}
	if (nd_word_int(v, 3, fdmax, &fd) || fstat(fd, &st) ||
	    !S_ISREG(st.st_mode) || st.st_size > ENVFD_MAX) {
		nd_log("%s=%s: not a file of words: ignored", var, v);
		return NULL;
	}
	size = st.st_size;
	buf = malloc(size + 1);
	while (buf && got < size) {
		n = pread(fd, buf + got, size - got, got);
		if (n <= 0)
			break;
		got += n;
	}
	close(fd);
	if (!buf || got != size) {
		nd_log("%s=%s: cannot be read: ignored", var, v);
		free(buf);
		return NULL;
	}
	buf[size] = 0;
	return buf;
}

/* @name and NAME_FD removed from the environment. */
void nd_envfd_unset(const char *name)
{
	char var[32];

	snprintf(var, sizeof(var), "%s_FD", name);
	unsetenv(name);
	unsetenv(var);
}
