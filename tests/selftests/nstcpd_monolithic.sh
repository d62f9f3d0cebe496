#!/bin/bash
# Selftest: nstcpd's monolithic model end to end, clients in another
# namespace over a veth whose receive queue spreads flows with RPS.  A copy
# of an unmodified LISTEN_FDS server (helpers/nstcpd_sdecho) per CPU,
# pinned, each passed a listening socket of the shared port: connections
# echoed and checksummed, served on their flow's CPU, spread over the
# copies.  Copies that crash every 3 connections, and one killed: each
# restarted on its held socket, no connection lost or reset.  max_conns
# enforced by the kernel on the port the copies accept from (copies that
# hold their connections), its refusals in the status.  SIGTERM stops the
# copies and closes the port.  Build first: make tools.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/helpers/nstcpd_lib.sh"
nd_model_begin 20

cat >"$tmp/nstcpd.conf" <<CONF
[service mono]
listen = 7201
model = monolithic
exec = /usr/bin/env SDECHO_LOG=$tmp/mono.log $nd_helpers/nstcpd_sdecho

[service crash]
listen = 7202
model = monolithic
key = crashy
exec = /usr/bin/env SDECHO_CRASH_AFTER=3 SDECHO_LOG=$tmp/crash.log $nd_helpers/nstcpd_sdecho

[service lim]
listen = 7203
model = monolithic
exec = $nd_helpers/nstcpd_sdecho
max_conns = 2
CONF
nd_start "$tmp/nstcpd.conf" "$st" "$tmp/nstcpd.log"
tap_ok $? "nstcpd started, status file written"
nd_wait_json "$st" "all(x['pid'] > 0 for x in w('mono') + w('crash')) and len(w('mono')) == $ncpu"
tap_ok $? "a copy per CPU of each service running: $(nd_json "$st" "[x['pid'] for x in w('mono')]")"

# Each copy pinned on its CPU, passed fd 3 by LISTEN_FDS.
bad=$(nd_check_pinned mono "LISTEN_PID=\$pid" LISTEN_FDS=1)
tap_ok $bad "each copy pinned on its CPU with LISTEN_PID (its pid) and LISTEN_FDS=1"
n=$(nd_port_values 7201 listeners)
tap_ok $([ "$n" = "$ncpu" ]; echo $?) "the port has $ncpu listening members (key nd7201): $n"

out=$(nd_run_client echo $nd_srv_ip 7201 $conns $bytes 4)
tap_ok $(( $? != 0 )) "echo through the copies: $out"
sleep 0.5
r=$(nd_logged_full "$tmp/mono.log")
tap_ok $? "each connection logged with all $bytes bytes ($r)"
local_n=$(awk '$1 == $2' "$tmp/mono.log" | wc -l)
cpus=$(awk '{ print $1 }' "$tmp/mono.log" | sort -u | wc -l)
tap_ok $(( local_n * 4 < conns * 3 )) "served on the CPU processing the flow: $local_n of $conns (at least 3/4)"
tap_ok $(( cpus < 2 )) "the connections spread over $cpus copies"
nd_wait_json "$st" "sum(x['accepted'] for x in w('mono')) >= $conns"
tap_ok $? "status: accepted per CPU $(nd_json "$st" "[x['accepted'] for x in w('mono')]")"

# Crashing copies: every connection still served, none reset.
out=$(nd_run_client echo $nd_srv_ip 7202 $conns $bytes 4)
tap_ok $(( $? != 0 )) "copies crashing every 3 connections: $out"
nd_wait_json "$st" "s('crash')['restarts'] >= 10"
tap_ok $? "status: crash restarts $(nd_json "$st" "s('crash')['restarts']") (at least 10)"

old=$(nd_json "$st" "w('mono')[0]['pid']")
kill -KILL "$old"
nd_wait_json "$st" "w('mono')[0]['pid'] not in (0, $old) and s('mono')['restarts'] == 1"
tap_ok $? "a killed copy is restarted: pid $old -> $(nd_json "$st" "w('mono')[0]['pid']")"
out=$(nd_run_client echo $nd_srv_ip 7201 20 $bytes 4)
tap_ok $(( $? != 0 )) "served after the restart: $out"

# max_conns 2 over all the copies: of 5 held at once, 2 served, 3 reset.
out=$(nd_run_client hold $nd_srv_ip 7203 5 2)
tap_ok $([ "$out" = "conns 5 served 2 refused 3" ]; echo $?) "max_conns 2 across the copies: $out"
nd_wait_json "$st" "s('lim')['refused'] == 3"
tap_ok $? "status: lim refused $(nd_json "$st" "s('lim')['refused']") (the kernel's count)"
# The copies close the held ones on their EOF: none in service then.
for i in $(seq 50); do
	n=$(nd_port_values 7203 conns)
	[ "$n" = 0 ] && break
	sleep 0.1
done
out=$(nd_run_client echo $nd_srv_ip 7203 10 $bytes 2)
tap_ok $([ "$out" = "conns 10 ok 10 bad 0 resets 0 refused 0" ]; echo $?) "held ones closed: two at a time all served: $out"

pids=$(nd_json "$st" "' '.join(str(x['pid']) for x in w('mono') + w('crash') + w('lim'))")
nd_stop
rc=$?
alive=$(nd_alive $pids)
tap_ok $(( rc != 0 || alive != 0 )) "SIGTERM: exit $rc, copies left $alive"
nd_listening 7201 || nd_listening 7202
tap_ok $(( $? == 0 )) "the ports are closed"
nd_finish
tap_done
