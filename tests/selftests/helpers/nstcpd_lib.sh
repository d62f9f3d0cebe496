# Shell helpers of the nstcpd selftests (nstcpd_*.sh); sourced after lib.sh.
# shellcheck shell=bash
nd_top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
nd_bin=$nd_top/tools/out/nstcpd
nd_helpers=${NSTCP_SELFTEST_OUT:-$nd_top/tests/selftests/out}/helpers
nd_client=$nd_helpers/nstcpd_client
nd_srv=nd-srv-$$ nd_cli=nd-cli-$$
nd_srv_ip=198.18.9.1 nd_cli_ip=198.18.9.2
nd_pid=
nd_saved_flows=$(cat /proc/sys/net/core/rps_sock_flow_entries)

# nd_pair_setup: namespaces $nd_srv and $nd_cli joined by a veth whose srv
# side spreads arriving flows over every CPU with RPS, with RFS on (the
# take re-homes a flow's steering to the taker's CPU).
nd_pair_setup() {
	local ncpu mask
	ncpu=$(nproc)
	mask=$(printf '%x' $(( (1 << ncpu) - 1 )))
	ip netns add "$nd_srv" && ip netns add "$nd_cli" &&
	ip -n "$nd_srv" link add ndv$$s type veth peer name ndv$$c netns "$nd_cli" &&
	ip -n "$nd_srv" addr add $nd_srv_ip/24 dev ndv$$s &&
	ip -n "$nd_cli" addr add $nd_cli_ip/24 dev ndv$$c &&
	ip -n "$nd_srv" link set ndv$$s up && ip -n "$nd_srv" link set lo up &&
	ip -n "$nd_cli" link set ndv$$c up && ip -n "$nd_cli" link set lo up &&
	echo 4096 >/proc/sys/net/core/rps_sock_flow_entries &&
	ip netns exec "$nd_srv" sh -c "echo $mask > /sys/class/net/ndv$$s/queues/rx-0/rps_cpus &&
		echo 4096 > /sys/class/net/ndv$$s/queues/rx-0/rps_flow_cnt" &&
	# KASAN and lockdep under TCG outlast the default steal delay (20 ms):
	# 250 ms there, as listen_locality does.
	{ [ "${NSTCP_KERNEL:-}" != debug ] ||
	  ip netns exec "$nd_srv" sysctl -qw net.nstcp.accept_steal_delay_ms=250; }
}

nd_pair_cleanup() {
	[ -n "$nd_pid" ] && kill -KILL "$nd_pid" 2>/dev/null
	ip netns del "$nd_srv" 2>/dev/null
	ip netns del "$nd_cli" 2>/dev/null
	echo "$nd_saved_flows" >/proc/sys/net/core/rps_sock_flow_entries
	[ ! -e "/run/netns/$nd_srv" ] && [ ! -e "/run/netns/$nd_cli" ]
}

# nd_start CONF STATUS LOG: nstcpd in the foreground in $nd_srv; waits up
# to 20 s for its status file.
nd_start() {
	local i
	ulimit -c 0
	ip netns exec "$nd_srv" "$nd_bin" -f -c "$1" -s "$2" 2>"$3" &
	nd_pid=$!
	for i in $(seq 200); do
		[ -s "$2" ] && return 0
		kill -0 "$nd_pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# nd_stop: SIGTERM; nstcpd's exit status.
nd_stop() {
	local rc
	kill -TERM "$nd_pid"
	wait "$nd_pid"
	rc=$?
	nd_pid=
	return $rc
}

# nd_json FILE EXPR: EXPR evaluated by python3 on the JSON in FILE as d
# (s(NAME) is service NAME, w(NAME) its workers).
# How many of the pids given are still alive.  The status shows pid 0 for
# a worker waiting to be restarted: only pids above 1 count (kill -0 0
# would ask about the caller's own process group).
nd_alive() {
	local n=0 p
	for p in "$@"; do
		[[ "$p" =~ ^[0-9]+$ ]] && [ "$p" -gt 1 ] && kill -0 "$p" 2>/dev/null && n=$((n + 1))
	done
	echo $n
}

nd_json() {
	python3 - "$1" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
def s(n):
    return [x for x in d["services"] if x["name"] == n][0]
def w(n):
    return s(n)["workers"]
print(eval(sys.argv[2]))
PY
}

# nd_wait_json FILE EXPR: waits up to 20 s for EXPR to be True.
nd_wait_json() {
	local i
	for i in $(seq 100); do
		[ "$(nd_json "$1" "$2" 2>/dev/null)" = True ] && return 0
		sleep 0.2
	done
	return 1
}

# nd_run_client ARGS...: the client in $nd_cli; its output line.
nd_run_client() {
	ip netns exec "$nd_cli" "$nd_client" "$@"
}

# nd_clients_loop FILE PORT N PAR [MODE]: batches of N echo connections
# to PORT (PAR at a time, $bytes each), one result line a batch appended
# to FILE, until $tmp/stop exists.  MODE ask: each connection asks the
# broker on PORT first and goes to the server answered.
nd_clients_loop() {
	while [ ! -e "$tmp/stop" ]; do
		nd_run_client "${5:-echo}" $nd_srv_ip "$2" "$3" $bytes "$4" >>"$1"
	done
}

# nd_tally FILE: "conns ok bad resets refused askfail" summed over FILE's
# batches (askfail 0 but for MODE ask).
nd_tally() {
	awk '{ c += $2; o += $4; b += $6; r += $8; f += $10; a += $12 }
	     END { print c + 0, o + 0, b + 0, r + 0, f + 0, a + 0 }' "$1"
}

# nd_listening PORT: 0 when /proc/net/nstcp_listen of $nd_srv has the port.
nd_listening() {
	ip netns exec "$nd_srv" cat /proc/net/nstcp_listen >"$tmp/listen" 2>/dev/null &&
		nstcp_proc_col "$tmp/listen" addr | grep -q ":$1\$"
}

# nd_begin: the test's temporary directory $tmp (with $st, the status
# file's path, in it) and its removal, with the namespaces, on exit.
nd_begin() {
	tmp=$(mktemp -d)
	st=$tmp/status.json
	trap 'nd_pair_cleanup; rm -rf "$tmp"' EXIT
}

# nd_reload_begin SLOW PLAN: the reload tests' opening: nd_begin, $ncpu,
# $bytes (8192 a connection), $drain (the draining echo server), $slow (1,
# SLOW on the debug kernel: their waits scale with it), the TAP plan of
# PLAN tests and the namespace pair (its TAP line).
nd_reload_begin() {
	nd_begin
	ncpu=$(nproc) bytes=8192
	drain=$nd_helpers/nstcpd_drain
	slow=1
	[ "${NSTCP_KERNEL:-}" = debug ] && slow=$1
	tap_plan "$2"
	nd_pair_setup
	tap_ok $? "namespaces $nd_srv and $nd_cli, veth with RPS over $ncpu CPUs"
}

# nd_conf_dist BACKENDS DRAIN_TIMEOUT: the reload tests' distributor
# service, "dist" on 7311 with BACKENDS back ends running $drain (after
# nd_reload_begin), each logging its count to $tmp/dist.log.
nd_conf_dist() {
	cat <<CONF
[service dist]
listen = 7311
model = distributor
workers = $1
drain_timeout = $2
exec = /usr/bin/env DRAIN_LOG=$tmp/dist.log $drain
CONF
}

# nd_conf_hybrid NAME PORT TIMEOUT_MS TAKEBACK_MS: a hybrid service NAME
# on PORT whose workers run $worker (helpers/nstcpd_worker), each
# connection logged to $tmp/NAME.log.
nd_conf_hybrid() {
	cat <<CONF
[service $1]
listen = $2
model = hybrid
timeout_ms = $3
takeback_ms = $4
exec = /usr/bin/env SDECHO_LOG=$tmp/$1.log $worker
CONF
}

# nd_finish: after nd_stop, nstcpd's log as TAP comments, the namespaces
# deleted (a TAP line).
nd_finish() {
	[ -s "$tmp/nstcpd.log" ] && sed 's/^/# nstcpd: /' "$tmp/nstcpd.log"
	nd_pair_cleanup
	tap_ok $? "namespaces deleted"
	trap 'rm -rf "$tmp"' EXIT
}

# nd_check_pinned SERVICE VAR=VALUE...: the number of SERVICE's workers
# (from the status file) not pinned on their CPU alone or without each
# VAR=VALUE in their environment ("$pid" in a VALUE is the worker's pid).
nd_check_pinned() {
	local svc=$1 bad=0 c pid aff kv
	shift
	for c in $(nd_json "$st" "' '.join(str(x['cpu']) for x in w('$svc'))"); do
		pid=$(nd_json "$st" "[x['pid'] for x in w('$svc') if x['cpu'] == $c][0]")
		aff=$(awk '/^Cpus_allowed_list/ { print $2 }' /proc/"$pid"/status)
		[ "$aff" = "$c" ] || { bad=$((bad + 1)); echo >&2 "# $svc worker $pid of CPU $c: affinity $aff"; continue; }
		for kv in "$@"; do
			kv=${kv//\$pid/$pid}
			tr '\0' '\n' </proc/"$pid"/environ | grep -qxF "$kv" ||
				{ bad=$((bad + 1)); echo >&2 "# $svc worker $pid of CPU $c: no $kv"; break; }
		done
	done
	echo $bad
}

# nd_model_begin PLAN: the model tests' opening: nd_begin, $ncpu, $conns
# (40) and $bytes (32768 a connection), the TAP plan of PLAN tests and the
# namespace pair (its TAP line).
nd_model_begin() {
	nd_begin
	conns=40 bytes=32768 ncpu=$(nproc)
	tap_plan "$1"
	nd_pair_setup
	tap_ok $? "namespaces $nd_srv and $nd_cli, veth with RPS over $ncpu CPUs and RFS"
}

# nd_port_values PORT COLUMN: the distinct values of COLUMN (listeners,
# conns, ...) over port PORT's rows of /proc/net/nstcp_listen in $nd_srv.
nd_port_values() {
	ip netns exec "$nd_srv" cat /proc/net/nstcp_listen >"$tmp/listen"
	paste <(nstcp_proc_col "$tmp/listen" addr) <(nstcp_proc_col "$tmp/listen" "$2") |
		awk -v port=":$1" 'substr($1, length($1) - length(port) + 1) == port { print $2 }' |
		sort -u
}

# nd_logged_full LOG: "FULL of LINES": how many of the connections the
# echo servers logged in LOG (a line each, the count of bytes third) had
# all $bytes bytes; returns 0 when both are $conns.
nd_logged_full() {
	local lines full
	lines=$(wc -l <"$1") full=$(awk -v b="$bytes" '$3 == b' "$1" | wc -l)
	echo "$full of $lines"
	[ "$lines" -eq "$conns" ] && [ "$full" -eq "$conns" ]
}
