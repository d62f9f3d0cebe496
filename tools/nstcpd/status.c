// SPDX-License-Identifier: GPL-2.0
/*
 * nstcpd's status: a JSON file (json-c) rewritten while services run, and
 * `nstcpd status`, which prints it as a table or as JSON.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <json-c/json.h>

#include "nstcpd.h"

static void add_u64(json_object *o, const char *k, unsigned long long v)
{
	json_object_object_add(o, k, json_object_new_int64((int64_t)v));
}

static json_object *service_json(struct nd_service *s)
{
	json_object *o = json_object_new_object(), *ws = json_object_new_array();
	struct nd_service snap;
	struct nd_cpu *cpus = NULL;
	int c;

	/*
	 * A hybrid service's counters move under its acceptors too: copied
	 * under its lock, the status built from the copy after it, so that
	 * the acceptors do not wait for the JSON.
	 */
	if (s->model == ND_MODEL_HYBRID) {
		cpus = malloc(ND_MAX_CPUS * sizeof(*cpus));
		if (!cpus) {
			json_object_put(ws);
			return o;
		}
		nd_hybrid_lock(s);
		memcpy(cpus, s->cpu, ND_MAX_CPUS * sizeof(*cpus));
		memcpy(&snap, s, sizeof(snap));
		nd_hybrid_unlock(s);
		snap.cpu = cpus;
		s = &snap;
	}
	if (s->model == ND_MODEL_DISTRIBUTOR)
		nd_distributor_totals(s);
	/* The kernel's counts, refused among them, before they are written. */
	if (s->model == ND_MODEL_MONOLITHIC)
		nd_monolithic_proc(s);
	if (s->model == ND_MODEL_BROKER)
		nd_broker_proc(s);
	json_object_object_add(o, "name", json_object_new_string(s->name));
	json_object_object_add(o, "model",
			       json_object_new_string(nd_model_name(s->model)));
	json_object_object_add(o, "listen", json_object_new_string(s->listen_text));
	json_object_object_add(o, "exec", json_object_new_string(s->exec_text));
	json_object_object_add(o, "key", json_object_new_string(s->key));
	json_object_object_add(o, "policy",
			       json_object_new_string(nd_policy_name(s->policy)));
	add_u64(o, "active", s->nprocs);
	add_u64(o, "served", s->served);
	add_u64(o, "given", s->given);
	add_u64(o, "taken", s->taken);
	add_u64(o, "refused", s->refused);
	add_u64(o, "regiven", s->regiven);
	add_u64(o, "lost", s->lost);
	add_u64(o, "restarts", s->restarts);
	add_u64(o, "failed", s->failed);
	add_u64(o, "dropped", s->dropped);
	if (s->model == ND_MODEL_HYBRID) {
		add_u64(o, "direct", s->direct);
		add_u64(o, "taken_back", s->taken_back);
	}
	if (s->model == ND_MODEL_DISTRIBUTOR)
		nd_distributor_json(s, o, ws);
	if (s->model == ND_MODEL_BROKER)
		nd_broker_json(s, o, ws);
	for (c = 0; c < ND_MAX_CPUS && s->model != ND_MODEL_DISTRIBUTOR &&
	     s->model != ND_MODEL_BROKER; c++) {
		struct nd_cpu *k = &s->cpu[c];
		json_object *w;

		if (!CPU_ISSET(c, &s->cpus))
			continue;
		w = json_object_new_object();
		add_u64(w, "cpu", c);
		if (s->model == ND_MODEL_MONOLITHIC) {
			add_u64(w, "pid", k->pid);
			add_u64(w, "queued", k->queued);
			add_u64(w, "accepted", k->accepted);
		} else if (s->model == ND_MODEL_HYBRID) {
			add_u64(w, "pid", k->pid);
			add_u64(w, "load", k->load);
			add_u64(w, "served", k->served);
			add_u64(w, "taken", k->taken);
			add_u64(w, "local", k->local);
			add_u64(w, "hops", k->taken - k->local);
			add_u64(w, "regiven", k->regiven);
			add_u64(w, "given", k->given);
			add_u64(w, "direct", k->direct);
			add_u64(w, "taken_back", k->taken_back);
		} else {
			add_u64(w, "active", k->active);
			add_u64(w, "served", k->served);
			add_u64(w, "given", k->given);
			add_u64(w, "taken", k->taken);
			add_u64(w, "local", k->local);
			add_u64(w, "hops", k->taken - k->local);
			add_u64(w, "refused", k->refused);
			add_u64(w, "regiven", k->regiven);
		}
		add_u64(w, "restarts", k->restarts);
		add_u64(w, "failed", k->failed);
		json_object_array_add(ws, w);
	}
	json_object_object_add(o, "workers", ws);
	free(cpus);
	return o;
}

/*
 * The status file's directory: made 0755 when missing; when nstcpd runs as
 * root it must be root's and writable by root only, since the file is
 * replaced by a rename there.
 */
static int status_dir(const char *path)
{
	char dir[512], *slash;
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = 0;
	else
		*slash = 0;
	if (mkdir(dir, 0755) && errno != EEXIST)
		return -1;
	if (stat(dir, &st))
		return -1;
	if (geteuid() == 0 && (st.st_uid != 0 || (st.st_mode & 022))) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

/*
 * Writes the status file: a new file, made exclusively (O_EXCL, no
 * symbolic link followed), renamed over the old one.
 */
int nd_status_write(const struct nd_config *cfg)
{
	json_object *root = json_object_new_object();
	json_object *svcs = json_object_new_array();
	const char *text;
	char tmp[600];
	int i, fd, r = -1;
	size_t len, done = 0;

	add_u64(root, "pid", getpid());
	json_object_object_add(root, "config", json_object_new_string(cfg->path));
	add_u64(root, "time", time(NULL));
	add_u64(root, "reloads", nd_reloads);
	add_u64(root, "reexecs", nd_reexecs);
	add_u64(root, "adopted", nd_adopted);
	add_u64(root, "refused_fds", nd_refused_fds);
	add_u64(root, "retiring", nd_handover_retiring());
	add_u64(root, "drained", nd_drained);
	add_u64(root, "drain_expired", nd_drain_expired);
	add_u64(root, "retire_killed", nd_retire_killed);
	for (i = 0; i < cfg->nsvc; i++)
		json_object_array_add(svcs, service_json(&cfg->svc[i]));
	json_object_object_add(root, "services", svcs);
	if (status_dir(cfg->status_path))
		goto out;
	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", cfg->status_path, getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0644);
	if (fd < 0 && errno == EEXIST && !unlink(tmp))
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
			  O_CLOEXEC, 0644);
	if (fd < 0)
		goto out;
	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY);
	len = strlen(text);
	while (done < len) {
		ssize_t n = write(fd, text + done, len - done);

		if (n <= 0)
			break;
		done += n;
	}
	if (close(fd) == 0 && done == len && !rename(tmp, cfg->status_path))
		r = 0;
	else
		unlink(tmp);
out:
	json_object_put(root);
	return r;
}

static unsigned long long get_u64(json_object *o, const char *k)
{
	json_object *v;

	if (!json_object_object_get_ex(o, k, &v))
		return 0;
	return (unsigned long long)json_object_get_int64(v);
}

static const char *get_str(json_object *o, const char *k)
{
	json_object *v;

	if (!json_object_object_get_ex(o, k, &v))
		return "-";
	return json_object_get_string(v);
}

/* The broker model's brokers and servers. */
static void print_broker(json_object *s)
{
	json_object *a;
	size_t j;

	printf("  %4s %8s %8s %8s %6s %8s %8s %9s %8s %8s %8s\n", "cpu", "broker",
	       "asked", "answered", "full", "noserver", "reports", "malformed",
	       "restarts", "leased", "evicted");
	for (j = 0; json_object_object_get_ex(s, "brokers", &a) &&
	     j < json_object_array_length(a); j++) {
		json_object *w = json_object_array_get_idx(a, j);

		printf("  %4llu %8llu %8llu %8llu %6llu %8llu %8llu %9llu %8llu %8llu %8llu\n",
		       get_u64(w, "cpu"), get_u64(w, "pid"), get_u64(w, "asked"),
		       get_u64(w, "answered"), get_u64(w, "full"),
		       get_u64(w, "noserver"), get_u64(w, "reports"),
		       get_u64(w, "malformed"), get_u64(w, "restarts"),
		       get_u64(w, "leased"), get_u64(w, "evicted"));
	}
	printf("  %4s %8s %6s %6s %8s %7s %8s %8s %6s %8s\n", "cpu", "server",
	       "port", "load", "capacity", "age_ms", "chosen", "restarts",
	       "leases", "refused");
	for (j = 0; json_object_object_get_ex(s, "workers", &a) &&
	     j < json_object_array_length(a); j++) {
		json_object *w = json_object_array_get_idx(a, j);

		printf("  %4llu %8llu %6llu %6llu %8llu %7lld %8llu %8llu %6llu %8llu\n",
		       get_u64(w, "cpu"), get_u64(w, "pid"), get_u64(w, "port"),
		       get_u64(w, "load"), get_u64(w, "capacity"),
		       (long long)get_u64(w, "age_ms"), get_u64(w, "chosen"),
		       get_u64(w, "restarts"), get_u64(w, "leases"),
		       get_u64(w, "refused"));
	}
}

static void print_table(json_object *root)
{
	json_object *svcs, *ws;
	size_t i, j;

	printf("nstcpd pid %llu, config %s\n", get_u64(root, "pid"),
	       get_str(root, "config"));
	printf("reloads %llu reexecs %llu adopted %llu refused_fds %llu\n",
	       get_u64(root, "reloads"), get_u64(root, "reexecs"),
	       get_u64(root, "adopted"), get_u64(root, "refused_fds"));
	printf("retiring %llu drained %llu drain_expired %llu retire_killed %llu\n",
	       get_u64(root, "retiring"), get_u64(root, "drained"),
	       get_u64(root, "drain_expired"), get_u64(root, "retire_killed"));
	if (!json_object_object_get_ex(root, "services", &svcs))
		return;
	for (i = 0; i < json_object_array_length(svcs); i++) {
		json_object *s = json_object_array_get_idx(svcs, i);
		int mono = !strcmp(get_str(s, "model"), "monolithic");
		int hyb = !strcmp(get_str(s, "model"), "hybrid");
		int dist = !strcmp(get_str(s, "model"), "distributor");

		printf("\nservice %s  model %s  listen %s  exec %s\n",
		       get_str(s, "name"), get_str(s, "model"),
		       get_str(s, "listen"), get_str(s, "exec"));
		printf("  active %llu served %llu given %llu taken %llu refused %llu regiven %llu lost %llu restarts %llu failed %llu dropped %llu\n",
		       get_u64(s, "active"), get_u64(s, "served"),
		       get_u64(s, "given"), get_u64(s, "taken"),
		       get_u64(s, "refused"), get_u64(s, "regiven"),
		       get_u64(s, "lost"), get_u64(s, "restarts"),
		       get_u64(s, "failed"), get_u64(s, "dropped"));
		if (!strcmp(get_str(s, "model"), "broker")) {
			print_broker(s);
			continue;
		}
		if (dist)
			printf("  %4s %8s %6s %8s %8s %8s %6s %12s %12s\n", "cpu",
			       "accepted", "active", "served", "aborted", "refused",
			       "hops", "bytes_in", "bytes_out");
		else if (hyb)
			printf("  direct %llu taken_back %llu\n  %4s %8s %6s %8s %8s %8s %8s %8s %8s %6s %10s\n",
			       get_u64(s, "direct"), get_u64(s, "taken_back"),
			       "cpu", "pid", "load", "served", "taken", "direct",
			       "local", "regiven", "restarts", "failed",
			       "taken_back");
		else if (mono)
			printf("  %4s %8s %8s %9s %8s %6s\n", "cpu", "pid",
			       "queued", "accepted", "restarts", "failed");
		else
			printf("  %4s %6s %8s %8s %8s %8s %8s %8s %6s\n", "cpu",
			       "active", "served", "given", "taken", "local",
			       "refused", "regiven", "failed");
		if (dist && json_object_object_get_ex(s, "backends", &ws))
			for (j = 0; j < json_object_array_length(ws); j++) {
				json_object *b = json_object_array_get_idx(ws, j);

				printf("  back end %llu: cpu %llu pid %llu active %llu served %llu\n",
				       get_u64(b, "backend"), get_u64(b, "cpu"),
				       get_u64(b, "pid"), get_u64(b, "active"),
				       get_u64(b, "served"));
			}
		if (!json_object_object_get_ex(s, "workers", &ws))
			continue;
		for (j = 0; j < json_object_array_length(ws); j++) {
			json_object *w = json_object_array_get_idx(ws, j);

			if (dist)
				printf("  %4llu %8llu %6llu %8llu %8llu %8llu %6llu %12llu %12llu\n",
				       get_u64(w, "cpu"), get_u64(w, "accepted"),
				       get_u64(w, "active"), get_u64(w, "served"),
				       get_u64(w, "aborted"), get_u64(w, "refused"),
				       get_u64(w, "hops"), get_u64(w, "bytes_in"),
				       get_u64(w, "bytes_out"));
			else if (hyb)
				printf("  %4llu %8llu %6llu %8llu %8llu %8llu %8llu %8llu %8llu %6llu %10llu\n",
				       get_u64(w, "cpu"), get_u64(w, "pid"),
				       get_u64(w, "load"), get_u64(w, "served"),
				       get_u64(w, "taken"), get_u64(w, "direct"),
				       get_u64(w, "local"), get_u64(w, "regiven"),
				       get_u64(w, "restarts"), get_u64(w, "failed"),
				       get_u64(w, "taken_back"));
			else if (mono)
				printf("  %4llu %8llu %8llu %9llu %8llu %6llu\n",
				       get_u64(w, "cpu"), get_u64(w, "pid"),
				       get_u64(w, "queued"), get_u64(w, "accepted"),
				       get_u64(w, "restarts"), get_u64(w, "failed"));
			else
				printf("  %4llu %6llu %8llu %8llu %8llu %8llu %8llu %8llu %6llu\n",
				       get_u64(w, "cpu"), get_u64(w, "active"),
				       get_u64(w, "served"), get_u64(w, "given"),
				       get_u64(w, "taken"), get_u64(w, "local"),
				       get_u64(w, "refused"), get_u64(w, "regiven"),
				       get_u64(w, "failed"));
		}
	}
}

/*
 * The binary of @pid is ours: the same file as /proc/self/exe, or the one
 * that was at our path before an upgrade replaced it (its link then ends
 * in " (deleted)").
 */
static int same_binary(pid_t pid)
{
	static const char del[] = " (deleted)";
	char proc[64], them[PATH_MAX], us[PATH_MAX];
	struct stat a, b;
	ssize_t n, m;
	size_t d = sizeof(del) - 1;

	snprintf(proc, sizeof(proc), "/proc/%d/exe", (int)pid);
	if (!stat(proc, &a) && !stat("/proc/self/exe", &b) &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino)
		return 1;
	n = readlink(proc, them, sizeof(them) - 1);
	m = readlink("/proc/self/exe", us, sizeof(us) - 1);
	if (n <= 0 || m <= 0)
		return 0;
	them[n] = 0;
	us[m] = 0;
	if ((size_t)n > d && !strcmp(them + n - d, del))
		them[n - d] = 0;
	return !strcmp(them, us);
}

/*
 * SIGHUP or SIGUSR2 (@sig) to the nstcpd of status file @path: only when
 * the file is a regular file of root's or the caller's, not writable by
 * group or other, and the pid it names runs nstcpd's binary.
 */
static int signal_nstcpd(const char *cmd, const char *path, int sig)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	const char *why = NULL;
	json_object *root;
	unsigned long long v;
	struct stat st;
	pid_t pid;

	if (fd < 0) {
		fprintf(stderr, "nstcpd %s: %s: %s\n", cmd, path,
			errno == ELOOP ? "a symbolic link: refused" : strerror(errno));
		return 1;
	}
	if (fstat(fd, &st))
		why = strerror(errno);
	else if (!S_ISREG(st.st_mode))
		why = "not a regular file: refused";
	else if (st.st_uid != 0 && st.st_uid != geteuid())
		why = "owned by another user: refused";
	else if (st.st_mode & (S_IWGRP | S_IWOTH))
		why = "writable by group or other: refused";
	if (why) {
		fprintf(stderr, "nstcpd %s: %s: %s\n", cmd, path, why);
		close(fd);
		return 1;
	}
	root = json_object_from_fd(fd);
	close(fd);
	if (!root) {
		fprintf(stderr, "nstcpd %s: %s: not a status file\n", cmd, path);
		return 1;
	}
	v = get_u64(root, "pid");
	json_object_put(root);
	if (v <= 1 || v > INT_MAX) {
		fprintf(stderr, "nstcpd %s: %s: no valid pid in the status file\n",
			cmd, path);
		return 1;
	}
	pid = (pid_t)v;
	if (!same_binary(pid)) {
		fprintf(stderr, "nstcpd %s: pid %d (from %s): not an nstcpd (stale status file?): refused\n",
			cmd, pid, path);
		return 1;
	}
	if (kill(pid, sig)) {
		fprintf(stderr, "nstcpd %s: pid %d: %s\n", cmd, pid,
			strerror(errno));
		return 1;
	}
	printf("nstcpd %s: %s sent to pid %d\n", cmd,
	       sig == SIGHUP ? "SIGHUP" : "SIGUSR2", pid);
	return 0;
}

/*
 * nstcpd status [-s FILE] [-j]: the status of a running nstcpd.
 * nstcpd reload|restart [-s FILE]: SIGHUP or SIGUSR2 to the nstcpd whose
 * status file it is.
 */
int nd_status_main(int argc, char **argv)
{
	int sig = !strcmp(argv[0], "reload") ? SIGHUP :
		  !strcmp(argv[0], "restart") ? SIGUSR2 : 0;
	static const struct option opts[] = {
		{ "status-file", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = ND_STATUS_DEF;
	json_object *root;
	int json = 0, c;

	while ((c = getopt_long(argc, argv, "s:j", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			path = optarg;
			break;
		case 'j':
			json = 1;
			break;
		default:
			fprintf(stderr, "usage: nstcpd status [-s FILE] [-j]\n"
				"       nstcpd reload|restart [-s FILE]\n");
			return 2;
		}
	}
	if (sig && (json || optind != argc)) {
		fprintf(stderr, "usage: nstcpd %s [-s FILE]\n", argv[0]);
		return 2;
	}
	if (sig)
		return signal_nstcpd(argv[0], path, sig);
	root = json_object_from_file(path);
	if (!root) {
		fprintf(stderr, "nstcpd %s: %s: %s\n", argv[0], path,
			access(path, R_OK) ? strerror(errno) :
			"not a status file");
		return 1;
	}
	if (json)
		printf("%s\n", json_object_to_json_string_ext(root,
			JSON_C_TO_STRING_PRETTY));
	else
		print_table(root);
	json_object_put(root);
	return 0;
}
