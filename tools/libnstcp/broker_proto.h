/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The broker protocol of nstcpd's broker model, shared by libnstcp (the
 * asking and reporting side) and nstcpd's brokers (Documentation/nstcpd.rst,
 * "Broker protocol").  Text lines over TCP, each at most
 * NSTCP_BROKER_LINE_MAX bytes with its '\n':
 *
 *   NSTCPB/1 ASK SERVICE              SERVICE a name or "-"
 *   NSTCPB/1 REPORT ADDR:PORT LOAD CAPACITY
 *
 * answered by one of
 *
 *   NSTCPB/1 OK ADDR PORT             ASK: the server to contact
 *   NSTCPB/1 OK                       REPORT: recorded
 *   NSTCPB/1 FULL                     ASK: every fresh server is full
 *   NSTCPB/1 NOSERVER                 ASK: no server reported lately
 *   NSTCPB/1 UNKNOWN                  not this broker's service or server
 *
 * Version 2 (NSTCPB/2, ASK only) differs in the OK answer to an ASK, which
 * carries a lease:
 *
 *   NSTCPB/2 ASK SERVICE
 *   NSTCPB/2 OK ADDR PORT LEASE_MS    LEASE_MS 0 to NSTCP_BROKER_LEASE_MAX
 *
 * during which the client may connect to that server again without asking
 * (0: ask every time).  Refusals are as in version 1 with NSTCPB/2.  In
 * both versions a connection may carry several requests, answered in
 * order; it is closed after NSTCP_BROKER_TIMEOUT_MS without a whole
 * request (counted idle), when a broker at its connection cap accepts a
 * new one and it is the one idle longest (counted evicted), and when its
 * broker drains (a reload) after its next answer.  A v1 REPORT is the
 * only report.
 *
 * Anything else closes the connection without a reply (counted malformed).
 */
#ifndef LIBNSTCP_BROKER_PROTO_H
#define LIBNSTCP_BROKER_PROTO_H

#include <sys/socket.h>

#define NSTCP_BROKER_MAGIC	"NSTCPB/1"
#define NSTCP_BROKER_MAGIC2	"NSTCPB/2"
#define NSTCP_BROKER_LEASE_MAX	60000u	/* ms, a v2 answer's lease */
#define NSTCP_BROKER_LINE_MAX	128	/* with the '\n' */
#define NSTCP_BROKER_NAME_MAX	32	/* a service name */
#define NSTCP_BROKER_NUM_MAX	1000000000u	/* LOAD and CAPACITY */
#define NSTCP_BROKER_TIMEOUT_MS	5000	/* a whole exchange, either side */

/* libnstcp's own, shared by broker.c and broker_handle.c. */
#define NSTCP_BK_INTERNAL __attribute__((visibility("hidden")))
NSTCP_BK_INTERNAL long long nstcp_bk_now_ms(void);
NSTCP_BK_INTERNAL int nstcp_bk_wait(int fd, short ev, long long end);
NSTCP_BK_INTERNAL int nstcp_bk_refusal(const char *word);
NSTCP_BK_INTERNAL int nstcp_bk_valid_name(const char *s);
NSTCP_BK_INTERNAL int nstcp_bk_connect(const struct sockaddr_storage *ss,
				       socklen_t sl, long long end);
NSTCP_BK_INTERNAL int nstcp_bk_roundtrip(int fd, const char *req, char *reply,
					 long long end);

#endif /* LIBNSTCP_BROKER_PROTO_H */
