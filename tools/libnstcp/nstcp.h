/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libnstcp: the few calls a worker program of nstcpd needs
 * (Documentation/nstcpd.rst).  Link with -lnstcp (static or shared).
 */
#ifndef LIBNSTCP_NSTCP_H
#define LIBNSTCP_NSTCP_H

#include <stdint.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The first descriptor passed by socket activation (as sd_listen_fds). */
#define NSTCP_LISTEN_FDS_START 3

/*
 * The address family number: /proc/sys/net/nstcp/family when the module is
 * loaded with another number, else AF_NSTCP (19).
 */
int nstcp_family(void);

/*
 * Takes the connection of @token into a new descriptor, SOCK_CLOEXEC
 * (NSTCP_TAKE_FD, through an AF_NSTCP socket the library keeps open for
 * the process from its first call on; on a module without it, on a fresh
 * socket with NSTCP_TAKE).  Returns the descriptor, or -1 with errno set
 * (ENOENT: an unknown, used or expired token; EPERM: this process is not
 * the taker; EMFILE: no descriptor free, the token stays).  The token is
 * looked up in the network namespace the process was in at its first call.
 */
int nstcp_take(uint64_t token);

/*
 * The token named by the environment variable NSTCP_TOKEN (hexadecimal, as
 * nstcpd's standard model sets it with "take = program"), or 0 when there
 * is none or it does not parse (errno EINVAL).
 */
uint64_t nstcp_env_token(void);

/*
 * Socket activation, the systemd convention: the number of descriptors
 * passed from NSTCP_LISTEN_FDS_START on, read from LISTEN_FDS when
 * LISTEN_PID is this process; 0 when none were passed to it, -1 with errno
 * EINVAL for malformed variables.  The passed descriptors are made
 * close-on-exec.  With @unset_env non-zero, LISTEN_FDS, LISTEN_PID and
 * LISTEN_FDNAMES are removed from the environment.
 */
int nstcp_listen_fds(int unset_env);

/*
 * The name of passed descriptor @i (0-based) from LISTEN_FDNAMES, copied
 * into @buf of @len bytes; -1 when there is none.  Call before
 * nstcp_listen_fds(1) removes the variable.
 */
int nstcp_listen_fdname(int i, char *buf, unsigned int len);

/*
 * The CPU whose protocol instance processes the flow of AF_NSTCP socket
 * @fd (NSTCP_HOME_CPU), -1 when not known yet, -2 on error.
 */
int nstcp_home_cpu(int fd);

/*
 * Hybrid-model workers (Documentation/nstcpd.rst): nstcpd sends each
 * worker its connections' tokens over the channel named by NSTCP_WORKER_FD
 * (a SOCK_SEQPACKET socket, one struct nstcp_worker_msg a message) and
 * counts the worker's load from its replies.
 */
enum {
	NSTCP_WMSG_TOKEN = 1,	/* nstcpd to worker: take nwm_token */
	NSTCP_WMSG_TAKEN,	/* worker: taken; nwm_cpu its CPU, nwm_home the flow's */
	NSTCP_WMSG_FAILED,	/* worker: the take failed (nwm_err) */
	NSTCP_WMSG_DONE,	/* worker: a connection finished */
};

struct nstcp_worker_msg {
	uint32_t nwm_type;	/* NSTCP_WMSG_* */
	int32_t nwm_cpu;	/* TOKEN: the flow's CPU; TAKEN: the worker's */
	int32_t nwm_home;	/* TAKEN: the flow's home CPU after the take */
	int32_t nwm_err;	/* FAILED: the take's errno */
	uint64_t nwm_token;
};

/*
 * The next connection handed to this worker, taken on a fresh socket
 * (SOCK_CLOEXEC); its flow's CPU in *@cpu when @cpu is not NULL.  Blocks
 * until nstcpd sends one; a token that can no longer be taken (nstcpd
 * gave the connection to another worker meanwhile) is skipped.  -1 with
 * errno ENOTCONN when nstcpd closed the channel or there is none.
 */
int nstcp_worker_next(int *cpu);

/* Tells nstcpd a connection of this worker's finished: its load drops. */
int nstcp_worker_done(void);

/*
 * Broker model (Documentation/nstcpd.rst, "Broker protocol").  Addresses
 * are written ADDR:PORT or [V6ADDR]:PORT.
 */

/* Parses @text into *@out and *@outlen; -1 with errno EINVAL if it is not one. */
int nstcp_parse_addr_port(const char *text, struct sockaddr_storage *out,
			  socklen_t *outlen);

/*
 * Asks the broker at @broker_addr_port which server of @service (NULL or
 * "" for the broker's own service) to contact: its address and port in
 * *@out and *@outlen.  -1 with errno: EBUSY every server reports full,
 * EHOSTDOWN no server has reported lately, ENOENT the broker does not know
 * @service, EPROTO a reply that is not the protocol's, ETIMEDOUT no reply
 * within 5 s, EINVAL a malformed argument, or connect()'s error.
 */
int nstcp_broker_ask(const char *broker_addr_port, const char *service,
		     struct sockaddr_storage *out, socklen_t *outlen);

/*
 * Reports to the broker at @broker_addr_port that the server listening on
 * @server_addr_port serves @load connections (or any unit) of @capacity;
 * @load >= @capacity means full.  NULL for either address takes it from
 * the environment nstcpd gives its servers (NSTCP_BROKER, NSTCPD_SERVER).
 * 0, or -1 with errno: ENOENT the broker has no such server, else as
 * nstcp_broker_ask().
 */
int nstcp_report_load(const char *broker_addr_port,
		      const char *server_addr_port, unsigned int load,
		      unsigned int capacity);

/*
 * A handle on a broker (protocol version 2): one connection to the broker
 * kept for all of a client's asks, and the lease an answer carries
 * honoured.  Not thread-safe: one handle per thread; nor shared across
 * fork(): the child closes a handle made before and opens its own.
 */
struct nstcp_broker;

/*
 * A handle asking the broker at @broker_addr_port for servers of @service
 * (NULL or "" for the broker's own).  It connects at the first
 * nstcp_broker_next().  NULL with errno EINVAL (a malformed argument) or
 * ENOMEM.
 */
struct nstcp_broker *nstcp_broker_open(const char *broker_addr_port,
				       const char *service);

/*
 * The server to contact next, in *@out and *@outlen: the last answer again
 * while its lease runs (the broker's lease_ms; no ask, no message), else
 * the broker's answer to an ask on the kept connection.  A kept connection
 * the broker closed (idle for 5 s, evicted at its cap, draining after a
 * reload) or that answered NOSERVER after an OK is made again once, and
 * the ask repeated.  -1 with errno as nstcp_broker_ask(); after a refusal
 * (EBUSY, EHOSTDOWN, ENOENT) the connection is kept, after any other
 * error it is closed and the next call makes a new one.
 */
int nstcp_broker_next(struct nstcp_broker *h, struct sockaddr_storage *out,
		      socklen_t *outlen);

/*
 * The connection to the last answer failed: its lease is dropped, and the
 * next nstcp_broker_next() asks the broker.
 */
void nstcp_broker_failed(struct nstcp_broker *h);

/* The asks @h sent to the broker so far (each ask of a reconnection too). */
unsigned long long nstcp_broker_asks(const struct nstcp_broker *h);

/* Closes the connection to the broker and frees @h; NULL is a no-op. */
void nstcp_broker_close(struct nstcp_broker *h);

#ifdef __cplusplus
}
#endif

#endif /* LIBNSTCP_NSTCP_H */
