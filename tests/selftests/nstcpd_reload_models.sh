#!/bin/bash
# Selftest: nstcpd reloads (SIGHUP) and restarts (SIGUSR2) without cutting
# a connection in the distributor, hybrid and standard models (the
# monolithic one: nstcpd_reload).  Clients in another namespace echo
# checksummed data on fresh connections continuously and on long-lived
# ones (1 KiB every 50 ms for seconds) opened before the reload and ending
# after it.  The old image's distributor fronts drain (SIGUSR1: they stop
# accepting, finish the relays they hold, exit 0), their back ends get
# SIGTERM only once the fronts are gone, the old hybrid workers end when
# their channel closes, standard servers keep their one connection, and
# the acceptors stop before the exec (what they accepted handed on).
# Counted by the clients: zero resets, zero refused, every exchange
# checksummed; by the status: drained, no drain expired, none killed.
# Then drain_timeout: a long connection outliving it is cut, the front
# gets SIGTERM, drain_expired counts it.  Build first: make tools.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/helpers/nstcpd_lib.sh"
nd_reload_begin 4 25
worker=$nd_helpers/nstcpd_worker sdecho=$nd_helpers/nstcpd_sdecho
hold=$((20 * slow))
# A client's connection may stall this long before it counts as bad: on
# the debug kernel (KASAN, TCG) a 20 s stall under this load is no fault.
export ND_IO_TIMEOUT_MS=$((20000 * slow))
# Longer than a long connection: the drain must not cut one (80 s on debug).
dtime=$((hold + 30))

# conf BACKENDS DRAIN_TIMEOUT
conf() {
	nd_conf_dist "$1" "$2"
	cat <<CONF

[service hyb]
listen = 7312
model = hybrid
drain_timeout = $2
exec = $worker

[service std]
listen = 7313
model = standard
exec = $sdecho
CONF
}

# The fresh clients: batches of 10 connections (2 at a time) until $tmp/stop.
clients() { nd_clients_loop "$tmp/fresh.$1" "$1" 10 2; }
tally() { nd_tally "$tmp/fresh.$1"; }

# long PORT CONNS: long-lived connections for $hold s, in the background.
long() {
	ip netns exec "$nd_cli" "$nd_client" long $nd_srv_ip "$1" "$2" $hold \
		>"$tmp/long.$1" 2>&1 &
	eval "long_$1=$!"
}

# long_ok PORT CONNS: 0 when the long clients of PORT all succeeded.
long_ok() {
	eval "wait \$long_$1"
	set -- "$2" $(cat "$tmp/long.$1")
	[ "${2:-}" = conns ] && [ "$3" = "$1" ] && [ "$5" = "$1" ] &&
		[ "$7$9${11}" = 000 ] && [ "${13:-0}" -gt $(( $1 * 20 )) ]
}

# across WHAT SIG EXPR DESC CHECKS: long-lived connections (4 to the
# distributor, 2 to the hybrid, 4 to the standard service) opened before
# SIGSIG and ending after it; EXPR awaited in the status (a TAP line: DESC
# and how long it took), CHECKS (a command) run while they still relay,
# then each service's long connections across the WHAT (three TAP lines).
across() {
	local t0 svc p n m
	for svc in 7311:4 7312:2 7313:4; do long ${svc%:*} ${svc#*:}; done
	sleep $((2 * slow))
	t0=$(date +%s.%N)
	kill -"$2" "$nd_pid"
	nd_wait_json "$st" "$3"
	tap_ok $? "SIG$2: $4 in $(python3 -c "import time; print(round(time.time() - $t0, 2))") s"
	$5
	for svc in 7311:4:distributor 7312:2:hybrid 7313:4:standard; do
		IFS=: read -r p n m <<<"$svc"
		long_ok "$p" "$n"
		tap_ok $? "$m: long-lived connections across the $1: $(cat "$tmp/long.$p")"
	done
}

up="all(x['pid'] > 0 for x in w('dist') + s('dist')['backends'] + w('hyb'))"
conf 2 $dtime >"$tmp/nstcpd.conf"
nd_start "$tmp/nstcpd.conf" "$st" "$tmp/nstcpd.log"
nd_wait_json "$st" "$up"
tap_ok $? "nstcpd started: distributor, hybrid, standard"
old=$(nd_json "$st" "' '.join(str(x['pid']) for x in w('dist') + w('hyb'))")
oldback=$(nd_json "$st" "' '.join(str(x['pid']) for x in s('dist')['backends'])")
for p in 7311 7312 7313; do
	: >"$tmp/fresh.$p"
	clients $p &
done
sleep 2

# (a) Reload under load: long connections opened before, ending after;
# while they relay, the old image retires and the new one accepts.
during_reload() {
	local r alive before
	r=$(nd_json "$st" "d['retiring']")
	grep -E "retir|executing|acceptors|drain|NSTCPD" "$tmp/nstcpd.log" | sed 's/^/# /'
	tap_ok $(( r == 0 )) "the old fronts, back ends and workers retiring meanwhile: $r"
	alive=$(nd_alive $oldback)
	tap_ok $(( alive != 2 )) "the old back ends not signalled while their fronts relay: $alive of 2 up"
	before=$(nd_json "$st" "s('dist')['given']")
	sleep 1
	nd_wait_json "$st" "s('dist')['given'] > $before and s('hyb')['given'] > 0"
	tap_ok $? "the new image accepts: distributor $(nd_json "$st" "s('dist')['given']"), hybrid $(nd_json "$st" "s('hyb')['given']")"
}
conf 1 $dtime >"$tmp/nstcpd.conf"
across reload HUP "d['reloads'] == 1 and $up and len(s('dist')['backends']) == 1" \
	"reloads 1, the new image's fronts, back end and workers up" during_reload
for i in $(seq $((100 * slow))); do
	[ "$(nd_alive $old $oldback)" = 0 ] && break
	sleep 0.1
done
tap_ok $(nd_alive $old $oldback) "the old fronts, workers and back ends gone once drained"
nd_wait_json "$st" "d['retiring'] == 0"
n=$(echo $old | wc -w)
r=$(nd_json "$st" "(d['drained'], d['drain_expired'], d['retire_killed'])")
tap_ok $([ "$r" = "($n, 0, 0)" ]; echo $?) "status: drained, drain_expired, retire_killed $r ($n fronts and workers)"
n=$(grep -c served "$tmp/dist.log" 2>/dev/null)
tap_ok $(( n != 2 )) "each old back end finished and exited on its SIGTERM ($n logged)"
grep -q "nstcpd.conf: read as the reload validated it" "$tmp/nstcpd.log"
tap_ok $? "the new image read the bytes the reload validated (NSTCPD_CONFIG_FD), not the file again"

# (b) Restart (SIGUSR2), the same way.
old=$(nd_json "$st" "' '.join(str(x['pid']) for x in w('dist') + w('hyb'))")
across restart USR2 "d['reexecs'] == 1 and $up" "reexecs 1, new fronts and workers up" :
nd_wait_json "$st" "d['retiring'] == 0"
n=$(echo $old | wc -w)
r=$(nd_json "$st" "(d['drained'], d['drain_expired'], d['retire_killed'])")
set -- ${r//[(),]/ }
tap_ok $(( $1 < n || $2 || $3 )) "status: drained, drain_expired, retire_killed $r (at least $n more drained)"
touch "$tmp/stop"
wait $(jobs -p | grep -v "^$nd_pid$") 2>/dev/null
for p in 7311 7312 7313; do
	set -- $(tally $p)
	tap_ok $(( $1 < 20 || $2 != $1 || $3 || $4 || $5 )) "fresh clients of $p over it all: conns $1 ok $2 bad $3 resets $4 refused $5"
done

# (c) drain_timeout: 2 s, a long connection outlives it: cut, counted.
rm -f "$tmp/stop"
conf 1 2 >"$tmp/nstcpd.conf"
kill -HUP "$nd_pid"
nd_wait_json "$st" "d['reloads'] == 2 and $up"
expired=$(nd_json "$st" "d['drain_expired']")
long 7311 1
sleep $((2 * slow))
kill -HUP "$nd_pid"
nd_wait_json "$st" "d['reloads'] == 3 and d['drain_expired'] > $expired and d['retiring'] == 0"
tap_ok $? "a front still relaying after drain_timeout = 2: SIGTERM, drain_expired $(nd_json "$st" "d['drain_expired']")"
eval "wait \$long_7311"
set -- $(cat "$tmp/long.7311")
tap_ok $(( ${4:-1} != 0 )) "its long connection was cut, as configured: $(cat "$tmp/long.7311")"

nd_stop
tap_ok $? "SIGTERM: nstcpd stopped"
nd_finish
tap_done
