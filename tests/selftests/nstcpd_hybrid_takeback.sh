#!/bin/bash
# Selftest: the hybrid model's early take-back (takeback_ms).  A worker
# stopped (SIGSTOP) while its CPU's flows are handed to it: with
# takeback_ms, a token it has not taken in that time goes to an idle
# worker and the stopped one counts as stalled (no more tokens) until it
# reports again; its late take of the token fails (ENOENT), nothing is
# counted lost and no load is left over; resumed, it serves again.  With
# takeback_ms = 0 its connections wait for it (the half of timeout_ms,
# 30 s here, is not reached).  --check rejects bad values with the line.
# Clients in another namespace over a veth with RPS over every CPU: of
# 40 connections, those on CPU 1 (none: a chance of 0.75^40, 1e-5) go to
# the stopped worker first.  Build first: make tools.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/helpers/nstcpd_lib.sh"
nd_begin
conns=40 bytes=8192 ncpu=$(nproc)
worker=$nd_helpers/nstcpd_worker
want="conns $conns ok $conns bad 0 resets 0 refused 0"

tap_plan 14

cat >"$tmp/bad.conf" <<CONF
[service a]
listen = 7311
model = hybrid
exec = $worker
takeback_ms = -1

[service b]
listen = 7312
model = hybrid
exec = $worker
takeback_ms = 60001

[service c]
listen = 7313
model = hybrid
exec = $worker
timeout_ms = 1000
takeback_ms = 500

[service d]
listen = 7314
model = monolithic
exec = $worker
takeback_ms = 10
CONF
"$nd_bin" -c "$tmp/bad.conf" --check >"$tmp/out" 2>"$tmp/err"
rc=$?
miss=0
for w in '5: takeback_ms: "-1" is not 0 to 60000' \
	 '11: takeback_ms: "60001" is not 0 to 60000' \
	 '18: takeback_ms: 500 is not below half of timeout_ms (1000)' \
	 '24: "takeback_ms" is for the hybrid model'; do
	grep -qF "$tmp/bad.conf:$w" "$tmp/err" || { echo "# missing: $w"; miss=$((miss + 1)); }
done
tap_ok $(( rc != 1 || miss != 0 || $(grep -c "^$tmp/bad.conf:[0-9]*: " "$tmp/err") != 4 )) "--check: exit $rc, the 4 bad takeback_ms named with their lines ($miss missing)"
[ $miss -ne 0 ] && sed 's/^/# /' "$tmp/err"

nd_pair_setup
tap_ok $? "namespaces $nd_srv and $nd_cli, veth with RPS over $ncpu CPUs and RFS"
{
	nd_conf_hybrid tb 7315 60000 100
	echo
	nd_conf_hybrid off 7316 60000 0
} >"$tmp/nstcpd.conf"
nd_start "$tmp/nstcpd.conf" "$st" "$tmp/nstcpd.log"
tap_ok $? "nstcpd started, status file written"
nd_wait_json "$st" "all(x['pid'] > 0 for x in w('tb') + w('off')) and len(w('tb')) == $ncpu"
tap_ok $? "a worker per CPU of each service running"
cpu1() { nd_json "$st" "[x['$2'] for x in w('$1') if x['cpu'] == 1][0]"; }

# takeback_ms = 100: the stopped worker's connections served by others,
# none waiting for the half timeout (30 s): 40 connections in under 15 s
# (under 2 s on TCG guests of the stock kernel).
stopped=$(cpu1 tb pid)
kill -STOP "$stopped"
t0=$(date +%s%N)
out=$(nd_run_client echo $nd_srv_ip 7315 $conns $bytes 4)
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
tap_ok $([ "$out" = "$want" ] && [ $ms -lt 15000 ]; echo $?) "worker of CPU 1 stopped, takeback_ms 100: $out in $ms ms (under 15000; a token left to it waits 30000)"
nd_wait_json "$st" "s('tb')['served'] == $conns"
r=$(nd_json "$st" "(s('tb')['served'], s('tb')['lost'], s('tb')['taken_back'] >= 1, s('tb')['regiven'] >= s('tb')['taken_back'], [x['taken_back'] for x in w('tb') if x['cpu'] == 1][0] >= 1, [x['served'] for x in w('tb') if x['cpu'] == 1][0])")
tap_ok $([ "$r" = "($conns, 0, True, True, True, 0)" ]; echo $?) "status: served, lost, taken back (total $(nd_json "$st" "s('tb')['taken_back']"), of CPU 1 $(cpu1 tb taken_back)), re-given, CPU 1 served $r"
r=$(nd_logged_full "$tmp/tb.log")
tap_ok $? "each connection logged with all $bytes bytes ($r)"
grep -q "service tb: the worker on CPU 1 did not take a connection in 100 ms" "$tmp/nstcpd.log"
tap_ok $? "logged: the worker on CPU 1 did not take in 100 ms"

# Resumed: its takes of the tokens taken back fail (ENOENT, reported
# FAILED): nothing lost, no load left; it reports again, so it is given
# its CPU's flows again.
kill -CONT "$stopped"
nd_wait_json "$st" "sum(x['load'] for x in w('tb')) == 0 and s('tb')['lost'] == 0"
tap_ok $? "resumed: load left $(nd_json "$st" "[x['load'] for x in w('tb')]"), lost $(nd_json "$st" "s('tb')['lost']")"
out=$(nd_run_client echo $nd_srv_ip 7315 $conns $bytes 4)
nd_wait_json "$st" "s('tb')['served'] == 2 * $conns"
r=$(nd_json "$st" "(s('tb')['served'], s('tb')['lost'], [x['served'] for x in w('tb') if x['cpu'] == 1][0] >= 1, [x['pid'] for x in w('tb') if x['cpu'] == 1][0] == $stopped)")
tap_ok $([ "$out" = "$want" ] && [ "$r" = "($(( 2 * conns )), 0, True, True)" ]; echo $?) "then: $out; served, lost, CPU 1's worker serves again, same pid $r"

# takeback_ms = 0: the stopped worker keeps its tokens until it resumes.
stopped=$(cpu1 off pid)
kill -STOP "$stopped"
nd_run_client echo $nd_srv_ip 7316 $conns $bytes 4 >"$tmp/off.out" &
cli=$!
sleep 3
r=$(nd_json "$st" "(s('off')['served'] < $conns, [x['load'] for x in w('off') if x['cpu'] == 1][0] >= 1, s('off')['taken_back'], s('off')['regiven'])")
tap_ok $([ "$r" = "(True, True, 0, 0)" ]; echo $?) "takeback_ms 0, worker of CPU 1 stopped, 3 s on: served $(nd_json "$st" "s('off')['served']") of $conns, CPU 1's load, taken back, re-given $r"
kill -CONT "$stopped"
wait $cli
out=$(cat "$tmp/off.out")
nd_wait_json "$st" "s('off')['served'] == $conns"
r=$(nd_json "$st" "(s('off')['lost'], s('off')['taken_back'], s('off')['regiven'], [x['served'] for x in w('off') if x['cpu'] == 1][0] >= 1)")
tap_ok $([ "$out" = "$want" ] && [ "$r" = "(0, 0, 0, True)" ]; echo $?) "resumed: $out; lost, taken back, re-given, CPU 1's worker served its own $r"

nd_stop
tap_ok $? "SIGTERM: nstcpd exits 0"
nd_finish
tap_done
