// SPDX-License-Identifier: GPL-2.0
/*
 * Helper of nstcpd_distributor.sh: the mode an AF_UNIX socket file has
 * the instant its bind() returns, before the program can change it.
 *
 *   nstcpd_bindmode CMD [ARGS...]
 *
 * runs CMD traced (ptrace, x86_64), stops it at the return of its first
 * successful bind() to an AF_UNIX path, prints "PATH MODE" (the file's
 * permission bits in octal, as lstat() sees them then), kills CMD and
 * exits 0; "none" and exit 1 if CMD ends without such a bind.  PATH is
 * the file's, its directory resolved in CMD: a bind to
 * /proc/self/fd/N/NAME (nstcpd's, through a directory's descriptor) or to
 * a relative path prints the directory's real path and NAME.  Built on
 * every architecture, it reads the registers of x86_64 only: elsewhere it
 * prints "unsupported" and exits 77 without running CMD (the test skips).
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef __x86_64__
int main(void)
{
	printf("unsupported\n");
	return 77;
}
#else
int main(int argc, char **argv)
{
	struct sockaddr_un un;
	struct user_regs_struct regs;
	char path[sizeof(un.sun_path) + 64];
	int status, want = 0;
	pid_t pid;

	if (argc < 2) {
		fprintf(stderr, "usage: nstcpd_bindmode CMD [ARGS...]\n");
		return 2;
	}
	pid = fork();
	if (pid < 0)
		return 2;
	if (pid == 0) {
		ptrace(PTRACE_TRACEME, 0, NULL, NULL);
		raise(SIGSTOP);
		execvp(argv[1], argv + 1);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFSTOPPED(status))
		return 2;
	ptrace(PTRACE_SETOPTIONS, pid, NULL,
	       (void *)(long)(PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL));
	ptrace(PTRACE_SYSCALL, pid, NULL, NULL);
	while (waitpid(pid, &status, 0) == pid) {
		int sig = 0;

		if (WIFEXITED(status) || WIFSIGNALED(status))
			break;
		if (WSTOPSIG(status) != (SIGTRAP | 0x80)) {
			/* A signal for CMD: delivered. */
			if (WSTOPSIG(status) != SIGTRAP)
				sig = WSTOPSIG(status);
			ptrace(PTRACE_SYSCALL, pid, NULL, (void *)(long)sig);
			continue;
		}
		if (ptrace(PTRACE_GETREGS, pid, NULL, &regs))
			return 2;
		if (regs.orig_rax == SYS_bind && regs.rax == (unsigned long long)-ENOSYS) {
			/* Entry: the address, if an AF_UNIX path. */
			struct iovec local = { &un, sizeof(un) };
			struct iovec remote = { (void *)regs.rsi, sizeof(un) };

			memset(&un, 0, sizeof(un));
			if (regs.rdx < sizeof(un))
				remote.iov_len = regs.rdx;
			want = process_vm_readv(pid, &local, 1, &remote, 1, 0) > 2 &&
			       un.sun_family == AF_UNIX && un.sun_path[0];
		} else if (regs.orig_rax == SYS_bind && want) {
			struct stat st;

			want = 0;
			if (regs.rax == 0) {
				char *base, dir[PATH_MAX];

				un.sun_path[sizeof(un.sun_path) - 1] = 0;
				/* The path as CMD sees it, from here. */
				if (!strncmp(un.sun_path, "/proc/self/", 11))
					snprintf(path, sizeof(path), "/proc/%d/%s",
						 (int)pid, un.sun_path + 11);
				else if (un.sun_path[0] == '/')
					snprintf(path, sizeof(path), "%s", un.sun_path);
				else
					snprintf(path, sizeof(path), "/proc/%d/cwd/%s",
						 (int)pid, un.sun_path);
				/* Its directory's real path, and its name. */
				base = strrchr(path, '/');
				*base = 0;
				if (!realpath(path[0] ? path : "/", dir))
					snprintf(dir, sizeof(dir), "%s", path);
				*base++ = '/';
				if (lstat(path, &st)) {
					printf("%s/%s lstat:%s\n", dir, base, strerror(errno));
				} else {
					printf("%s/%s %o\n", dir, base,
					       (unsigned int)(st.st_mode & 07777));
				}
				kill(pid, SIGKILL);
				waitpid(pid, &status, 0);
				return 0;
			}
		}
		ptrace(PTRACE_SYSCALL, pid, NULL, NULL);
	}
	printf("none\n");
	return 1;
}
#endif
