#!/bin/bash
# Selftest: nstcpd's standard model end to end, clients in another
# namespace over a veth whose receive queue spreads flows with RPS (RFS
# on).  Per connection nstcpd accepts a token (split accept) and starts the
# program pinned on the flow's CPU, which takes the connection there:
# `cat` on stdin/stdout (inetd style), an unmodified LISTEN_FDS server
# (helpers/nstcpd_sdecho) and a libnstcp server taking its own token
# (helpers/nstcpd_taker), whose first copy dies without taking (re-given,
# no connection lost).  Data checksummed by the clients; each connection
# served on the CPU processing its flow; max_conns and per_source refusals
# counted, and cps; the status file and `nstcpd status`; SIGTERM.  Build first:
# make tools.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/helpers/nstcpd_lib.sh"
nd_model_begin 25

cat >"$tmp/nstcpd.conf" <<CONF
[service cat]
listen = 7101
model = standard
exec = cat
stdio = yes

[service sd]
listen = 7102
model = standard
exec = /usr/bin/env SDECHO_LOG=$tmp/sd.log $nd_helpers/nstcpd_sdecho

[service taker]
listen = 7103
model = standard
take = program
exec = /usr/bin/env SDECHO_LOG=$tmp/taker.log TAKER_SKIP=$tmp/skip $nd_helpers/nstcpd_taker

[service limit]
listen = 7104
model = standard
exec = sleep 4
stdio = yes
max_conns = 2

[service persrc]
listen = 7105
model = standard
exec = sleep 4
stdio = yes
per_source = 1

[service rate]
listen = 7106
model = standard
exec = sleep 4
stdio = yes
cps = 2
CONF
nd_start "$tmp/nstcpd.conf" "$st" "$tmp/nstcpd.log"
tap_ok $? "nstcpd started, status file written"
n=0
for p in 7101 7102 7103 7104 7105 7106; do nd_listening $p && n=$((n + 1)); done
tap_ok $(( n != 6 )) "its 6 ports listen on AF_NSTCP ($n)"

# inetd style: cat on the connection.
out=$(nd_run_client echo $nd_srv_ip 7101 $conns $bytes 4)
tap_ok $(( $? != 0 )) "cat on stdin/stdout: $out"
nd_wait_json "$st" "s('cat')['served'] == $conns"
tap_ok $? "status: cat served $(nd_json "$st" "s('cat')['served']") of $conns"
r=$(nd_json "$st" "(s('cat')['given'], s('cat')['taken'], s('cat')['refused'], s('cat')['lost'], s('cat')['active'])")
tap_ok $([ "$r" = "($conns, $conns, 0, 0, 0)" ]; echo $?) "status: cat given, taken, refused, lost, active $r"
# nstcpd accepts on the flow's CPU (an acceptor thread per CPU), so the
# accept records the flow for RFS there and the take finds it home.  An
# acceptor of another CPU may still take a connection whose own acceptor is
# slow to wake (accept_steal): at least 3/4.
r=$(nd_json "$st" "sum(x['local'] for x in w('cat'))")
tap_ok $(( r * 4 < conns * 3 )) "takes with the flow's home CPU the taker's: $r of $conns (at least 3/4)"

# An unmodified LISTEN_FDS=1 program.
out=$(nd_run_client echo $nd_srv_ip 7102 $conns $bytes 4)
tap_ok $(( $? != 0 )) "socket-activated server (LISTEN_FDS=1): $out"
nd_wait_json "$st" "s('sd')['served'] == $conns"
tap_ok $? "status: sd served $(nd_json "$st" "s('sd')['served']") of $conns"
r=$(nd_logged_full "$tmp/sd.log")
tap_ok $? "each server logged its connection with all $bytes bytes ($r)"
local_n=$(awk '$1 == $2' "$tmp/sd.log" | wc -l)
cpus=$(awk '{ print $1 }' "$tmp/sd.log" | sort -u | wc -l)
tap_ok $(( local_n != conns )) "served on the CPU processing the flow (SO_INCOMING_CPU): $local_n of $conns"
tap_ok $(( cpus < 2 )) "RPS spread the connections: servers ran on $cpus CPUs"

# libnstcp: the program takes its token; the first dies before its take.
: >"$tmp/skip"
out=$(nd_run_client echo $nd_srv_ip 7103 20 $bytes 4)
tap_ok $(( $? != 0 )) "program taking its own token (libnstcp), one dying untaken: $out"
nd_wait_json "$st" "s('taker')['served'] == 20"
r=$(nd_json "$st" "(s('taker')['served'], s('taker')['regiven'], s('taker')['taken'], s('taker')['lost'])")
tap_ok $([ "$r" = "(20, 1, 20, 0)" ] && [ ! -e "$tmp/skip" ]; echo $?) "status: served, regiven, taken, lost $r"
local_n=$(awk '$1 == $2 && $3 == '$bytes "$tmp/taker.log" | wc -l)
tap_ok $(( local_n != 20 )) "taker on the flow's home CPU with all its data: $local_n of 20"

# Limits: servers hold their connection 4 s.
out=$(nd_run_client hold $nd_srv_ip 7104 5 2)
tap_ok $([ "$out" = "conns 5 served 2 refused 3" ]; echo $?) "max_conns 2: $out"
nd_wait_json "$st" "s('limit')['refused'] == 3"
tap_ok $? "status: limit refused $(nd_json "$st" "s('limit')['refused']")"
out=$(nd_run_client hold $nd_srv_ip 7105 3 2)
tap_ok $([ "$out" = "conns 3 served 1 refused 2" ]; echo $?) "per_source 1: $out"
nd_wait_json "$st" "s('persrc')['refused'] == 2"
tap_ok $? "status: persrc refused $(nd_json "$st" "s('persrc')['refused']")"

# 2 a second: 12 connections made at once span at most 3 seconds even on
# a slow guest, so 2 to 6 are served.
out=$(nd_run_client hold $nd_srv_ip 7106 12 2)
served=$(echo "$out" | awk '{ print $4 }') refused=$(echo "$out" | awk '{ print $6 }')
tap_ok $(( served < 2 || served > 6 || served + refused != 12 )) "cps 2: $out (2 to 6 served)"
nd_wait_json "$st" "s('rate')['refused'] == $refused"
tap_ok $? "status: rate refused $(nd_json "$st" "s('rate')['refused']") (the client saw $refused)"

"$nd_bin" status -s "$st" >"$tmp/table" && "$nd_bin" status -s "$st" -j >"$tmp/json.out"
rc=$?
n=$(grep -c '^service ' "$tmp/table")
nd_json "$tmp/json.out" "len(d['services'])" >"$tmp/n" 2>/dev/null
tap_ok $(( rc != 0 || n != 6 || $(cat "$tmp/n") != 6 )) "nstcpd status: a table of 6 services and the same as JSON"

nd_stop
rc=$?
n=0
for p in 7101 7102 7103 7104 7105 7106; do nd_listening $p && n=$((n + 1)); done
tap_ok $(( rc != 0 || n != 0 )) "SIGTERM: exit $rc, ports listening after: $n"
tap_ok $([ ! -e "$st" ]; echo $?) "status file removed"
nd_finish
tap_done
