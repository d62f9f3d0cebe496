#!/bin/bash
# Selftest: a slow nstcpd reloads (SIGHUP) and restarts (SIGUSR2) the
# distributor model without closing a connection unrelayed.  The old
# image's fronts accept until the new image's fronts are started, and
# meanwhile the new image makes the back ends' AF_UNIX sockets again at
# the same paths: a front finding no listening socket there closes the
# connection it accepted (the client sees it refused, or reset once it
# sent).  strace holds each of nstcpd's syscalls that make those sockets
# (bind, listen, renameat; unlinkat of a stale .new socket) 300 ms at its
# exit, as a loaded machine may preempt nstcpd between them; fresh
# clients (8 KiB echoed
# and checksummed each) run through 4 reloads (2 back ends to 1 and back)
# and a restart.  Counted by the clients: zero refused, reset or bad.
# Needs strace (skipped without it).  Build first: make tools.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/helpers/nstcpd_lib.sh"
plan=12
if ! command -v strace >/dev/null; then
	tap_plan $plan
	for i in $(seq $plan); do echo "ok $i - nstcpd_reload_slow # SKIP no strace"; done
	exit 0
fi
nd_reload_begin 4 $plan
export ND_IO_TIMEOUT_MS=$((20000 * slow))

# conf BACKENDS
conf() { nd_conf_dist "$1" 60; }

up="all(x['pid'] > 0 for x in w('dist') + s('dist')['backends'])"
conf 2 >"$tmp/nstcpd.conf"
nd_start "$tmp/nstcpd.conf" "$st" "$tmp/nstcpd.log"
nd_wait_json "$st" "$up"
tap_ok $? "nstcpd started: 2 back ends"
# Two client loops: 4 connections at a time.
for k in 1 2; do
	nd_clients_loop "$tmp/fresh.$k" 7311 10 2 &
done
sleep 2
sys=unlinkat,bind,listen,renameat,renameat2
strace -qq -o "$tmp/strace" -p "$nd_pid" -e trace=$sys \
	-e inject=$sys:delay_exit=300000 &
spid=$!
sleep $((1 * slow))
kill -0 $spid
tap_ok $? "strace holds nstcpd's $sys 300 ms each"
for i in 1 2 3 4; do
	conf $(( i % 2 ? 1 : 2 )) >"$tmp/nstcpd.conf"
	kill -HUP "$nd_pid"
	nd_wait_json "$st" "d['reloads'] == $i and $up and d['retiring'] == 0"
	tap_ok $? "reload $i: $(nd_json "$st" "len(s('dist')['backends'])") back ends, the old image gone"
done
kill -USR2 "$nd_pid"
nd_wait_json "$st" "d['reexecs'] == 1 and $up and d['retiring'] == 0"
tap_ok $? "restart: the old image gone"
sleep 1
touch "$tmp/stop"
wait $(jobs -p | grep -v -e "^$nd_pid$" -e "^$spid$") 2>/dev/null
kill $spid
wait $spid 2>/dev/null
# The 5 new images made 8 back-end sockets: each bound, listening and
# renamed over its path with the call held.
held() { grep -c -E "$1.* = 0 \(DELAYED\)\$" "$tmp/strace"; }
nb=$(held '^bind\(.*/dist\.[0-9]+\.new"')
nl=$(held '^listen\(')
nr=$(held '^renameat2?\(.*"dist\.[0-9]+\.new", .*"dist\.[0-9]+\.sock"')
tap_ok $(( nb != 8 || nl < 8 || nr != 8 )) "strace held nstcpd's bind ($nb), listen ($nl) and renameat ($nr) of the back ends' 8 sockets"
cat "$tmp/fresh.1" "$tmp/fresh.2" >"$tmp/fresh"
set -- $(nd_tally "$tmp/fresh")
tap_ok $(( $1 < 100 || $2 != $1 || $3 || $4 || $5 )) "fresh clients of 7311 across it all: conns $1 ok $2 bad $3 resets $4 refused $5"
nd_stop
tap_ok $? "SIGTERM: nstcpd stopped"
nd_finish
tap_done
