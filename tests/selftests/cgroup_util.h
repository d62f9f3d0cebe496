/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared selftest helpers: a cgroup2 hierarchy, child cgroups with cgroup
 * BPF sock_addr programs attached (bind and connect hooks), and moving a
 * process into one.  Include after family_util.h / listen_util.h.
 */
#ifndef NSTCP_CGROUP_UTIL_H
#define NSTCP_CGROUP_UTIL_H

#include <stddef.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/bpf.h>

static char cg_root[256];
static int cg_mounted;

/* Moves the calling process into the cgroup directory cg; 0 or errno. */
static inline int cg_join(const char *cg)
{
	char path[512], pid[32];
	int fd, e = 0;

	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	snprintf(pid, sizeof(pid), "%d", getpid());
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return errno;
	if (write(fd, pid, strlen(pid)) < 0)
		e = errno;
	close(fd);
	return e;
}

/* Loads a cgroup/sock_addr program for attach_type; its fd or -1. */
static inline int cg_prog_load(int attach_type, const struct bpf_insn *insns,
			       int n, char *log, size_t loglen)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_CGROUP_SOCK_ADDR;
	attr.expected_attach_type = attach_type;
	attr.insns = (uintptr_t)insns;
	attr.insn_cnt = n;
	attr.license = (uintptr_t)"GPL";
	attr.log_buf = (uintptr_t)log;
	attr.log_size = log ? loglen : 0;
	attr.log_level = log ? 1 : 0;
	return syscall(__NR_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
}

/* "return 0": the bind or connect fails with EPERM. */
static inline int cg_deny_prog(int attach_type, char *log, size_t loglen)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};

	return cg_prog_load(attach_type, insns, 2, log, loglen);
}

/* The destination (or bound) port becomes port; the call goes on. */
static inline int cg_port_prog(int attach_type, int port)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_2,
		  .imm = htons(port) },
		{ .code = BPF_STX | BPF_MEM | BPF_W, .dst_reg = BPF_REG_1,
		  .src_reg = BPF_REG_2,
		  .off = offsetof(struct bpf_sock_addr, user_port) },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0,
		  .imm = 1 },
		{ .code = BPF_JMP | BPF_EXIT },
	};

	return cg_prog_load(attach_type, insns, 4, NULL, 0);
}

/*
 * The port plus 256, in one step: 1 added to its first (high) byte in
 * network order.  Run twice, it adds 512: a test sees how often it ran.
 */
static inline int cg_port_add_prog(int attach_type)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_LDX | BPF_MEM | BPF_W, .dst_reg = BPF_REG_2,
		  .src_reg = BPF_REG_1,
		  .off = offsetof(struct bpf_sock_addr, user_port) },
		{ .code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = BPF_REG_2,
		  .imm = 1 },
		{ .code = BPF_STX | BPF_MEM | BPF_W, .dst_reg = BPF_REG_1,
		  .src_reg = BPF_REG_2,
		  .off = offsetof(struct bpf_sock_addr, user_port) },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0,
		  .imm = 1 },
		{ .code = BPF_JMP | BPF_EXIT },
	};

	return cg_prog_load(attach_type, insns, 5, NULL, 0);
}

/* The IPv4 address becomes ip (a dotted quad); the call goes on. */
static inline int cg_ip4_prog(int attach_type, const char *ip)
{
	struct in_addr a;
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_2 },
		{ .code = BPF_STX | BPF_MEM | BPF_W, .dst_reg = BPF_REG_1,
		  .src_reg = BPF_REG_2,
		  .off = offsetof(struct bpf_sock_addr, user_ip4) },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0,
		  .imm = 1 },
		{ .code = BPF_JMP | BPF_EXIT },
	};

	if (inet_pton(AF_INET, ip, &a) != 1)
		return -1;
	/* The 32-bit store writes the low half: the address's own bytes. */
	memcpy(&insns[0].imm, &a.s_addr, sizeof(insns[0].imm));
	return cg_prog_load(attach_type, insns, 4, NULL, 0);
}

static inline int cg_attach(int cgfd, int prog, int attach_type)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.target_fd = cgfd;
	attr.attach_bpf_fd = prog;
	attr.attach_type = attach_type;
	return syscall(__NR_bpf, BPF_PROG_ATTACH, &attr, sizeof(attr));
}

/*
 * A cgroup2 hierarchy: the mounted one, or one mounted in a private mount
 * namespace of the caller (cg_root_release() unmounts it).
 */
static inline const char *cg_root_get(void)
{
	char dev[256], dir[256], type[64];
	FILE *f = fopen("/proc/self/mounts", "r");

	while (f && fscanf(f, "%255s %255s %63s %*[^\n]", dev, dir, type) == 3)
		if (!strcmp(type, "cgroup2")) {
			snprintf(cg_root, sizeof(cg_root), "%s", dir);
			fclose(f);
			return cg_root;
		}
	if (f)
		fclose(f);
	snprintf(cg_root, sizeof(cg_root), "/tmp/nstcp-cg.XXXXXX");
	if (unshare(CLONE_NEWNS) ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    !mkdtemp(cg_root)) {
		tap_diag("private mount namespace: %s", strerror(errno));
		return NULL;
	}
	if (mount("none", cg_root, "cgroup2", 0, NULL)) {
		tap_diag("mount cgroup2: %s", strerror(errno));
		rmdir(cg_root);
		return NULL;
	}
	cg_mounted = 1;
	return cg_root;
}

static inline void cg_root_release(void)
{
	if (cg_mounted) {
		umount2(cg_root, MNT_DETACH);
		rmdir(cg_root);
		cg_mounted = 0;
	}
}

/* A child cgroup and the programs attached to it. */
struct cg {
	char path[320];
	int fd, prog[2];
};

/*
 * Makes cg_root/name-PID and attaches prog[i] for type[i] (a negative
 * type: none).  The programs are the cgroup's to close.  0, or -1 with why.
 */
static inline int cg_make_with(struct cg *c, const char *name,
			       const int prog[2], const int type[2],
			       char *why, size_t whylen)
{
	c->fd = -1;
	c->prog[0] = prog[0];
	c->prog[1] = prog[1];
	snprintf(c->path, sizeof(c->path), "%s/%s-%d", cg_root, name, getpid());
	if (mkdir(c->path, 0755)) {
		snprintf(why, whylen, "mkdir %.200s: %s", c->path,
			 strerror(errno));
		c->path[0] = 0;
		return -1;
	}
	c->fd = open(c->path, O_RDONLY | O_DIRECTORY);
	for (int i = 0; i < 2; i++) {
		if (type[i] < 0)
			continue;
		if (prog[i] < 0) {
			snprintf(why, whylen, "BPF_PROG_LOAD cgroup/sock_addr: %s",
				 strerror(errno));
			return -1;
		}
		if (cg_attach(c->fd, prog[i], type[i])) {
			snprintf(why, whylen, "BPF_PROG_ATTACH: %s",
				 strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* A child cgroup denying the attach types given (-1: none). */
static inline int cg_make(struct cg *c, const char *name, int t0, int t1,
			  char *why, size_t whylen)
{
	const int type[2] = { t0, t1 };
	int prog[2];

	prog[0] = t0 < 0 ? -1 : cg_deny_prog(t0, NULL, 0);
	prog[1] = t1 < 0 ? -1 : cg_deny_prog(t1, NULL, 0);
	return cg_make_with(c, name, prog, type, why, whylen);
}

static inline void cg_free(struct cg *c)
{
	for (int i = 0; i < 2; i++)
		fam_close(&c->prog[i]);
	fam_close(&c->fd);
	for (int i = 0; c->path[0] && i < 100; i++) {
		if (!rmdir(c->path) || errno != EBUSY)
			break;
		usleep(10000);
	}
}

#endif
