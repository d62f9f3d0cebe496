#!/bin/bash
# Selftest: per-CPU instances follow CPU hotplug: a CPU taken offline takes
# its instance offline (and back), and an AF_NSTCP listener and its
# connections live through it as an AF_INET one does in the same run:
# flows homed on that CPU keep carrying data, connections queued on its
# listen instance are still accepted, new connections come from every
# online CPU, and from that CPU again once it is back.  The listener and
# connections are kept by helpers/hotplug_peer, one per family.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
tap_plan 14
out=${NSTCP_SELFTEST_OUT:-$here/out}
peer=$out/helpers/hotplug_peer
N=4	# connections a step and CPU
row() { nstcp_nl instance online cpu "$1"; }
cpu=$(($(nproc --all) - 1))
ctl=/sys/devices/system/cpu/cpu$cpu/online
if [ "$cpu" -lt 1 ] || [ ! -w "$ctl" ]; then
	for i in $(seq 14); do echo "ok $i - instance hotplug # SKIP no hot-pluggable CPU"; done
	exit 0
fi

tmp=$(mktemp -d)
declare -A pfd ppid
cleanup() {
	local f
	[ "$(cat "$ctl" 2>/dev/null)" = 1 ] || echo 1 >"$ctl"
	for f in "${ppid[@]}"; do kill "$f" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT

# peer_start FAM: a helper with its stdin on a fifo; peer_cmd FAM LINE sends
# a command and prints the answer (a line of NAME=VALUE words).
peer_start() {
	local fd
	mkfifo "$tmp/$1.in"
	# Without the other helpers' fifos, or they would never see EOF.
	(for fd in "${pfd[@]}"; do eval "exec $fd>&-"; done
	 exec "$peer" "$1") <"$tmp/$1.in" >"$tmp/$1.out" 2>"$tmp/$1.err" &
	ppid[$1]=$!
	exec {fd}>"$tmp/$1.in"
	pfd[$1]=$fd
	peer_wait "$1" 1
}
peer_wait() {	# FAM N: until the helper has printed N lines (30 s at most)
	local _
	for _ in $(seq 300); do
		[ "$(wc -l <"$tmp/$1.out")" -ge "$2" ] && break
		kill -0 "${ppid[$1]}" 2>/dev/null || break
		sleep 0.1
	done
	tail -n1 "$tmp/$1.out"
	[ "$(wc -l <"$tmp/$1.out")" -ge "$2" ]
}
peer_cmd() {
	local n
	n=$(($(wc -l <"$tmp/$1.out") + 1))
	echo "$2" >&"${pfd[$1]}"
	peer_wait "$1" "$n"
}
peer_stop() {	# FAM: closes its stdin; its exit status (124: still there after 10 s)
	local _
	eval "exec ${pfd[$1]}>&-"
	for _ in $(seq 100); do
		kill -0 "${ppid[$1]}" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "${ppid[$1]}" 2>/dev/null; then
		kill "${ppid[$1]}"
		wait "${ppid[$1]}"
		return 124
	fi
	wait "${ppid[$1]}"
}
get() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }	# LINE NAME
# same STEP: runs STEP for both families; true when AF_INET did all of it
# and AF_NSTCP did exactly as well.  Sets $said to the two answers.
same() {
	local i n qf
	i=$(peer_cmd inet "$1")
	n=$(peer_cmd nstcp "$1")
	said="inet: $i; nstcp: $n"
	qf=$(get "$i" queued_fail)
	[ -n "$i" ] && [ "$i" = "$n" ] && [ "$(get "$i" fail)" = 0 ] &&
		{ [ -z "$qf" ] || [ "$qf" = 0 ]; }
}
socks() {	# AF_NSTCP sockets open now: sockets made minus closed
	echo $(($(nstcp_nl_sum instance sockets) - $(nstcp_nl_sum instance closes)))
}

open0=$(socks)
[ -x "$peer" ] && peer_start inet >/dev/null && peer_start nstcp >/dev/null
tap_ok $? "AF_INET and AF_NSTCP listeners on 127.0.0.1 ($peer; make tools)"
tap_ok "$([ "$(row "$cpu")" = 1 ]; echo $?)" "instance $cpu online while CPU $cpu is"
nport=$(get "$(head -n1 "$tmp/nstcp.out")" port)
same "open $cpu $N"
ok1=$? said1=$said
same "queue $cpu $N"
ok2=$?
tap_ok "$([ $ok1 -eq 0 ] && [ $ok2 -eq 0 ]; echo $?)" \
	"$N connections from CPU $cpu accepted and $N left queued, both families ($said1; $said)"

echo 0 >"$ctl"
tap_ok $? "CPU $cpu taken offline"
tap_ok "$([ "$(row "$cpu")" = 0 ]; echo $?)" "instance $cpu goes offline with its CPU"
lrows=$(nstcp_nl listen cpu port "$nport" | wc -l)
tap_ok "$([ "$lrows" -ge 1 ]; echo $?)" \
	"the AF_NSTCP listener stays listed (nstcp listen show: $lrows CPU instances for port $nport)"
same check
tap_ok $? "with CPU $cpu offline its flows carry data and its queued connections are accepted, as with AF_INET ($said)"
same "new $N"
tap_ok $? "with CPU $cpu offline new connections from every online CPU are accepted, as with AF_INET ($said)"

echo 1 >"$ctl"
tap_ok $? "CPU $cpu back online"
tap_ok "$([ "$(row "$cpu")" = 1 ]; echo $?)" "instance $cpu comes back online"
same "open $cpu $N"
tap_ok $? "connections from CPU $cpu are accepted again, as with AF_INET ($said)"
same check
tap_ok $? "every connection made so far still carries data, as with AF_INET ($said)"

peer_stop inet
ri=$?
peer_stop nstcp
rn=$?
tap_ok "$([ $ri -eq 0 ] && [ $rn -eq 0 ]; echo $?)" "both helpers close everything and exit 0 ($ri, $rn)"
sed 's/^/# /' "$tmp/inet.err" "$tmp/nstcp.err"
open1=$(socks)
tap_ok "$([ "$open1" -eq "$open0" ]; echo $?)" "every AF_NSTCP socket was released ($open0 open before, $open1 after)"
tap_done
