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
 * Anything else closes the connection without a reply.
 */
#ifndef LIBNSTCP_BROKER_PROTO_H
#define LIBNSTCP_BROKER_PROTO_H

#define NSTCP_BROKER_MAGIC	"NSTCPB/1"
#define NSTCP_BROKER_LINE_MAX	128	/* with the '\n' */
#define NSTCP_BROKER_NAME_MAX	32	/* a service name */
#define NSTCP_BROKER_NUM_MAX	1000000000u	/* LOAD and CAPACITY */
#define NSTCP_BROKER_TIMEOUT_MS	5000	/* a whole exchange, either side */

#endif /* LIBNSTCP_BROKER_PROTO_H */
