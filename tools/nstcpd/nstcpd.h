/* SPDX-License-Identifier: GPL-2.0 */
/*
 * nstcpd: the listener helper (Documentation/nstcpd.rst).  Shared
 * definitions of its files: config.c and config_keys.c (the configuration
 * file), service.c (processes: pin, supervise), spawn.c (a program's
 * start: environment, privileges, exec), acceptor.c (the accepting
 * threads), standard.c, monolithic.c, distributor.c (with front.c and
 * relay.c, its front processes), hybrid.c and broker.c (with
 * broker_run.c, its brokers, and broker_ask.c, their answers;
 * broker_loads.c, its table across a reload; broker.h;
 * hybrid_back.c, the hybrid's early take-back; hybrid_handover.c, its
 * pending tokens across a re-exec; hybrid_give.c, its hand-off to a
 * worker) (the
 * models), handover.c (the listening sockets
 * across a reload or restart; sdnotify.c; retire.c, the old image's
 * processes; dlimit.c, the distributor's limits), status.c (the status file and
 * `nstcpd status`), main.c.
 */
#ifndef NSTCPD_H
#define NSTCPD_H

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

struct json_object;

#define ND_MAX_ARGS	32
#define ND_NAME_MAX	32
#define ND_KEY_MAX	8
#define ND_MAX_CPUS	1024
#define ND_STATUS_DEF	"/run/nstcpd/status.json"
#define ND_MAX_GROUPS	64	/* supplementary groups of a service's user */
#define ND_REGIVE_MAX	3	/* re-gives of one connection before dropping it */

enum nd_model {
	ND_MODEL_NONE,
	ND_MODEL_STANDARD,
	ND_MODEL_MONOLITHIC,
	ND_MODEL_HYBRID,
	ND_MODEL_DISTRIBUTOR,
	ND_MODEL_BROKER,
};

/* A process nstcpd started: a monolithic copy or a standard server. */
struct nd_proc {
	pid_t pid;
	int cpu;		/* pinned on */
	int slot;		/* monolithic: the copy's index */
	uint64_t token;		/* standard: the connection handed to it */
	struct sockaddr_storage peer;
	int gives;		/* standard: gives of this connection so far */
	int taken;		/* standard: the take was reported */
	int drain;		/* a front or broker: drains on SIGUSR1 */
	struct timespec started;
};

/* Per CPU counters of a service (status "workers"). */
struct nd_cpu {
	unsigned long long given, taken, served, refused, regiven, local;
	unsigned long long restarts, failed;
	unsigned long long direct;	/* hybrid: handed by the acceptor */
	unsigned long long taken_back;	/* hybrid: early, from this worker */
	unsigned int active, load;
	pid_t pid;		/* monolithic: the copy's pid, 0 while down */
	unsigned long long queued, accepted;	/* monolithic: from /proc */
};

/* A connection handed to a hybrid worker and not yet taken. */
struct nd_pending {
	uint64_t token;
	int cpu;			/* the flow's */
	int gives;
	int backs;			/* early take-backs, exited workers' */
	struct timespec deadline;	/* taken back then, given to another */
	struct timespec takeback;	/* then to an idle worker (takeback_ms) */
};

/*
 * A monolithic copy's or hybrid worker's place: its CPU, listening socket
 * or channel, backoff; a hybrid worker's load and untaken connections.
 */
struct nd_copy {
	int cpu;
	int lfd;			/* monolithic */
	int chan;			/* hybrid: nstcpd's end, -1 while down */
	unsigned int load;		/* hybrid: handed, not done */
	struct nd_pending *pend;
	int npend, pend_cap;
	int stalled;			/* hybrid: taken back from, no report since */
	int took;			/* hybrid: took a connection since it started */
	pid_t pid;
	unsigned int backoff_ms;
	struct timespec restart_at;	/* 0: not waiting */
	struct timespec started;
};

struct nd_service {
	char name[ND_NAME_MAX + 1];
	int line;			/* of its [service NAME] */
	int listen_line, exec_line, model_line;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char listen_text[80];
	enum nd_model model;
	char exec_text[512];
	char *argv[ND_MAX_ARGS + 1];	/* into exec_buf: see nd_config_load */
	int argc;
	char exec_buf[512];
	char program[512];		/* argv[0] resolved on PATH */
	cpu_set_t cpus;
	int ncpus;
	int workers;			/* monolithic: copies (0: one per CPU) */
	char key[ND_KEY_MAX + 1];
	int policy;			/* NSTCP_POLICY_*, 0: the default */
	int stdio;			/* standard: connection on stdin/stdout */
	int take_program;		/* standard: the program takes the token */
	unsigned int max_conns, per_source, cps;
	unsigned int busy;		/* hybrid: load at which a worker is busy */
	unsigned int timeout_ms;
	unsigned int takeback_ms;	/* hybrid: early take-back, 0: off */
	int backlog;
	int user_line, group_line;	/* 0: not given (root) */
	char user_name[ND_NAME_MAX + 1];	/* "" for a uid not in passwd */
	uid_t uid;
	gid_t gid;
	gid_t user_gid;			/* the user's primary group */
	gid_t groups[ND_MAX_GROUPS];	/* the user's supplementary groups */
	int ngroups;
	unsigned int buf_kb;		/* distributor: relay buffer per direction */
	unsigned int drain_s;		/* old processes' time after a reload */

	/* run time */
	int lfd;			/* standard: the listening socket */
	struct nd_proc *procs;		/* running processes */
	int nprocs, procs_cap;
	struct nd_copy *copies;		/* monolithic, hybrid */
	int ncopies;
	struct nd_pending *wait;	/* hybrid: waiting for a worker up */
	int nwait, wait_cap;
	int rr;				/* next CPU for flows of unknown CPU */
	time_t cps_sec;
	unsigned int cps_count;
	struct nd_cpu *cpu;		/* ND_MAX_CPUS entries */
	unsigned long long served, given, taken, refused, regiven;
	unsigned long long restarts, failed, lost, dropped;
	unsigned long long direct;	/* hybrid: handed by an acceptor */
	unsigned long long taken_back;	/* hybrid: early take-backs */
	struct timespec hy_tick_at;	/* hybrid: the main thread's next tick */
	pthread_mutex_t hy_lock;	/* hybrid: state shared with acceptors */
	struct nd_dist *dist;		/* distributor */

	/* broker model: the servers' first address and port, report expiry */
	struct sockaddr_storage srv_addr;
	socklen_t srv_addrlen;
	unsigned int expire_ms;
	unsigned int lease_ms;	/* a v2 answer's lease, 0: none */
	struct nd_bk *bk;
};

struct nd_config {
	char path[512];
	char status_path[512];
	struct nd_service *svc;
	int nsvc;
};

/* config.c */
int nd_config_load(struct nd_config *cfg, const char *path);
int nd_config_load_fd(struct nd_config *cfg, const char *path, int fd);
int nd_config_snapshot(const char *path);
void nd_config_free(struct nd_config *cfg);
const char *nd_model_name(enum nd_model m);
const char *nd_policy_name(int policy);

/* service.c */
extern int nd_status_pipe;
extern int nd_report_wr;		/* read end: take reports */
void nd_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void nd_now(struct timespec *t);
void nd_after_ms(struct timespec *t, long ms);
void nd_let_signals_in(const sigset_t *waitmask, const sigset_t *which);
long long nd_ms_until(const struct timespec *t);
int nd_pin(int cpu);
int nd_listen_socket(const struct nd_service *s);
void nd_backoff(struct nd_copy *c);
struct nd_proc *nd_proc_add(struct nd_service *s);
void nd_proc_del(struct nd_service *s, struct nd_proc *p);
int nd_services_start(struct nd_config *cfg);
void nd_services_stop(struct nd_config *cfg);
void nd_reap(struct nd_config *cfg);
long long nd_services_tick(struct nd_config *cfg);

/* spawn.c */
char **nd_env_clean(void);
pid_t nd_spawn(struct nd_service *s, int cpu, int fd, uint64_t token);
pid_t nd_spawn_env(struct nd_service *s, int cpu, int fd, uint64_t token,
		   const char *const *extra);
int nd_take(const struct nd_service *s, uint64_t token);
uid_t nd_taker_uid(const struct nd_service *s);

/* distributor.c */
int nd_distributor_start(struct nd_service *s, const char *rundir);
void nd_distributor_exited(struct nd_service *s, struct nd_proc *p, int status);
long long nd_distributor_tick(struct nd_service *s);
void nd_distributor_quiesce(struct nd_service *s);
void nd_distributor_stop(struct nd_service *s);
void nd_distributor_totals(struct nd_service *s);
void nd_distributor_json(struct nd_service *s, struct json_object *o,
			 struct json_object *ws);

/* standard.c */
int nd_standard_start(struct nd_service *s);
void nd_standard_arrival(struct nd_service *s, uint64_t token, int cpu,
			 const struct sockaddr_storage *peer);
void nd_standard_exited(struct nd_service *s, struct nd_proc *p, int status);
void nd_standard_reports(struct nd_config *cfg);

/* monolithic.c (nd_port_limits and nd_listen_rows: the broker's too) */
struct nd_listen_row {		/* one of /proc/net/nstcp_listen */
	int port, cpu;
	unsigned long long queued, accepted;
	long long lrefused;	/* the port's; -1: no such column */
};
int nd_monolithic_start(struct nd_service *s);
void nd_monolithic_exited(struct nd_service *s, struct nd_proc *p, int status);
long long nd_monolithic_tick(struct nd_service *s);
void nd_monolithic_proc(struct nd_service *s);
int nd_port_limits(const struct nd_service *s, int lfd);
void nd_listen_rows(void (*fn)(void *arg, const struct nd_listen_row *r),
		    void *arg);

/* acceptor.c */
extern int nd_arrival_pipe;
int nd_acceptors_start(struct nd_config *cfg);
int nd_acceptors_stop(struct nd_config *cfg, int quit);
void nd_arrival_wake(void);
void nd_arrivals(struct nd_config *cfg);

/* hybrid.c */
#define ND_REPORT_BATCH_MS	10	/* workers' reports read at most this often */
#define ND_TAKEBACK_DEF_MS	20	/* takeback_ms's default */
#define ND_TAKEBACK_MAX_MS	60000
#define ND_TAKEBACK_MAX		3	/* early take-backs of one connection */
void nd_hybrid_lock(struct nd_service *s);
void nd_hybrid_unlock(struct nd_service *s);
int nd_hybrid_start(struct nd_service *s);
void nd_hybrid_reports(struct nd_service *s);
void nd_hybrid_stop(struct nd_service *s);
int nd_hybrid_read(struct nd_service *s, int slot);
void nd_hybrid_exited(struct nd_service *s, struct nd_proc *p, int status);
long long nd_hybrid_tick(struct nd_service *s);
void nd_hybrid_reports_of(struct nd_service *s, int i);

/* hybrid_give.c (the hand-off to a worker) */
int nd_hybrid_direct(struct nd_service *s, uint64_t token, int cpu);
void nd_hybrid_give(struct nd_service *s, uint64_t token, int cpu, int gives);
unsigned int nd_hybrid_load(const struct nd_service *s);
/* How a pending token taken back counts (nd_hybrid_reclaim). */
enum nd_reclaim {
	ND_RECLAIM_REGIVE,	/* its worker failed the take or stalled */
	ND_RECLAIM_HANDON,	/* an early take-back; an exited worker's untaken */
};
int nd_hybrid_reclaim(struct nd_service *s, int i, int k, enum nd_reclaim why);
void nd_hybrid_drop_token(struct nd_service *s, uint64_t token);
void nd_hybrid_flush_wait(struct nd_service *s);

/* hybrid_back.c (the early take-back), hybrid_handover.c (a re-exec's) */
int nd_hybrid_stalled(const struct nd_service *s, const struct nd_copy *c,
		      const struct timespec *now);
int nd_hybrid_due(struct nd_service *s, const struct nd_copy *c);
int nd_hybrid_take_back(struct nd_service *s, long long *next, int *cpu);
size_t nd_hybrid_given(struct nd_service *s, char *buf, size_t cap,
		       size_t len);
void nd_hybrid_adopt(struct nd_config *cfg, const char *words);

/* broker.c, broker_loads.c, broker_run.c, broker_ask.c (broker.h) */
int nd_broker_start(struct nd_service *s);
void nd_broker_exited(struct nd_service *s, struct nd_proc *p, int status);
long long nd_broker_tick(struct nd_service *s);
void nd_broker_json(struct nd_service *s, struct json_object *o,
		    struct json_object *ws);
void nd_broker_stop(struct nd_service *s);
void nd_broker_proc(struct nd_service *s);
char *nd_broker_loads(const struct nd_config *cfg);
void nd_broker_handover_load(long fdmax);
int nd_broker_main(int argc, char **argv);

/* handover_id.c */
#define ND_ID_MAX	96	/* a held socket's identity, with its NUL */
int nd_ident(char *buf, enum nd_model m, const char *key, int policy,
	     const struct sockaddr_storage *a);
int nd_handover_check(int fd, const char *id, const char **why);
void nd_self_path(void);
const char *nd_self(void);

/* retire.c */
void nd_retire_load(const char *v);
char *nd_retire_words(const struct nd_config *cfg);
void nd_retire_start(void);
void nd_retire_abort(void);

/* handover.c */
int nd_word_int(const char *w, long min, long max, long *out);
#define ND_DRAIN_DEF_S	30	/* drain_timeout's default */
#define ND_DRAIN_MAX_S	86400
#define ND_LEASE_DEF_MS	50	/* lease_ms's default (nstcpd.rst) */
extern unsigned long long nd_reloads, nd_reexecs, nd_adopted, nd_refused_fds;
extern unsigned long long nd_drained, nd_drain_expired, nd_retire_killed;
void nd_handover_load(void);
int nd_listen_held(enum nd_model m, const char *key, int policy,
		   const struct sockaddr_storage *a,
		   int (*make)(const void *arg), const void *arg);
void nd_handover_prune(const struct nd_config *cfg);
void nd_handover_done(void);
void nd_handover_abort(const char *status);
int nd_handover_reaped(pid_t pid, int status);
long long nd_handover_tick(void);
int nd_handover_retiring(void);
void nd_handover_stop(void);
const char *nd_handover_given(void);
void nd_handover_config(int fd);
int nd_handover_config_in(void);
int nd_handover_fdstore(void);
void nd_handover_store(void);
void nd_reexec(char **argv, const struct nd_config *cfg, int reload);

/* envfd.c */
int nd_envfd_put(const char *name, const char *v);
int nd_envfd_inherit(int on);
void nd_envfd_drop(void);
char *nd_envfd_get(const char *name, long fdmax);
void nd_envfd_unset(const char *name);

/* sdnotify.c */
int nd_sd_notify(const char *msg, int fd);

/* status.c */
int nd_status_write(const struct nd_config *cfg);
int nd_status_main(int argc, char **argv);

#endif /* NSTCPD_H */
