#!/bin/bash
# Selftest: nstcp-run (tools/out/nstcp-run and libnstcp-run.so).  The
# helper shim_probe serves 127.0.0.1 clients on AF_INET and on a dual-stack
# AF_INET6 socket and prints what it sees of its sockets (SO_DOMAIN, type,
# protocol, names, accept4 flags, non-blocking and epoll, a forked and an
# exec()ed child using the listener).  It runs plain (AF_INET/AF_INET6,
# the comparison) and under nstcp-run in the same run: what it sees must be
# the same line for line, while its listener and accepted sockets are
# AF_NSTCP (NSTCP_INFO) and /proc/net/nstcp counts the accepts.  Then the
# rules: ports, addresses, modes, the configuration file and the
# environment over it, and the fall-back to AF_INET when the module is not
# loaded.  Build first: make tools.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/lib.sh"
probe=${NSTCP_SELFTEST_OUT:-$here/out}/helpers/shim_probe
run=$top/tools/out/nstcp-run
tmp=$(mktemp -d)
port=18080
cleanup() {
	grep -q '^nstcp ' /proc/modules || insmod "$NSTCP_KO" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

tap_plan 40

accepts() { nstcp_proc_sum /proc/net/nstcp accepts; }
# nstcp_of FILE WHAT: the 0/1 the probe printed for WHAT ("nstcp WHAT N").
nstcp_of() { awk -v w="$2" '$1 == "nstcp" && $2 == w { print $3; exit }' "$1"; }
obs() { grep '^obs ' "$1"; }
# same_obs A B DESC: the two runs saw the same.
same_obs() {
	if diff <(obs "$1") <(obs "$2") >"$tmp/diff"; then
		tap_ok 0 "$3"
	else
		sed 's/^/# /' "$tmp/diff"
		tap_ok 1 "$3"
	fi
}
# probe NAME FAMILY [nstcp-run ARGS...]: runs the probe (plain without
# ARGS), output in $tmp/NAME, stderr in $tmp/NAME.err; the exit status.
probe() {
	local name=$1 fam=$2
	shift 2
	if [ $# -eq 0 ] || [ "$1" = plain ]; then
		"$probe" "$fam" "$port" >"$tmp/$name" 2>"$tmp/$name.err"
	else
		"$run" "$@" "$probe" "$fam" "$port" >"$tmp/$name" 2>"$tmp/$name.err"
	fi
	local rc=$?
	[ $rc -eq 0 ] || { grep '^err' "$tmp/$name" | sed 's/^/# /'; sed 's/^/# stderr: /' "$tmp/$name.err"; }
	return $rc
}

for fam in 4 6; do
	probe plain$fam $fam plain
	tap_ok $? "AF_INET$([ $fam = 6 ] && echo 6) server without the shim (the comparison) runs"
	a0=$(accepts)
	probe shim$fam $fam -v
	tap_ok $? "AF_INET$([ $fam = 6 ] && echo 6) server under nstcp-run runs"
	a1=$(accepts)
	ok=0
	for w in listener accepted fork.accepted exec.listener; do
		[ "$(nstcp_of "$tmp/shim$fam" $w)" = 1 ] || { echo "# $w is not AF_NSTCP"; ok=1; }
	done
	[ "$(nstcp_of "$tmp/shim$fam" client)" = 0 ] || { echo "# the client socket was converted"; ok=1; }
	tap_ok $ok "family $fam: listener and accepted sockets (forked and exec()ed children too) are AF_NSTCP, the client socket is not"
	same_obs "$tmp/plain$fam" "$tmp/shim$fam" \
		"family $fam: the program sees the same under nstcp-run as without (SO_DOMAIN, names, flags, options, epoll, fork, exec)"
	[ $((a1 - a0)) -ge 4 ]
	tap_ok $? "family $fam: /proc/net/nstcp counts the connections accepted ($((a1 - a0)), want >= 4)"
	grep -q "fd [0-9]*: AF_INET$([ $fam = 6 ] && echo 6) socket made AF_NSTCP" "$tmp/shim$fam.err"
	tap_ok $? "family $fam: -v logs the conversion"
done

# rule_case DESC WANT ARGS...: under nstcp-run ARGS, the listener is AF_NSTCP
# (WANT 1) or not (0), and the program sees the same as without the shim.
rule_case() {
	local desc=$1 want=$2 got
	shift 2
	probe rule 4 "$@"
	got=$(nstcp_of "$tmp/rule" listener)
	[ "$got" = "$want" ] || echo "# listener AF_NSTCP: $got, want $want"
	[ "$got" = "$want" ]
	tap_ok $? "$desc"
}
rule_case "-p $port converts" 1 -p "$port"
rule_case "-p 80,18000-18099 (a range) converts" 1 -p "80,18000-18099"
rule_case "-p 80,8080 leaves port $port alone" 0 -v -p 80,8080
grep -q "left AF_INET (port $port not in the port rule)" "$tmp/rule.err"
tap_ok $? "-v logs the port rule's decision"
same_obs "$tmp/plain4" "$tmp/rule" "with the port rule off the program sees the same"
rule_case "-a 0.0.0.0 converts a socket bound to 0.0.0.0" 1 -a 0.0.0.0
rule_case "-a 127.0.0.2 leaves a socket bound to 0.0.0.0 alone" 0 -v -a 127.0.0.2
grep -q "address not in the address rule" "$tmp/rule.err"
tap_ok $? "-v logs the address rule's decision"
rule_case "-m off converts nothing" 0 -m off
rule_case "-m all converts the listener" 1 -m all
[ "$(nstcp_of "$tmp/rule" client)" = 1 ]
tap_ok $? "-m all converts the client socket too"
same_obs "$tmp/plain4" "$tmp/rule" "with -m all the program sees the same"

printf '# a comment\nports = 80\nverbose = 1\n' >"$tmp/conf"
rule_case "the configuration file's port rule applies" 0 -c "$tmp/conf"
grep -q "not in the port rule" "$tmp/rule.err"
tap_ok $? "the configuration file's verbose = 1 applies"
NSTCP_RUN_PORTS=$port rule_case "NSTCP_RUN_PORTS overrides the file" 1 -c "$tmp/conf"
NSTCP_RUN_CONF=$tmp/conf rule_case "NSTCP_RUN_CONF names the file" 0 -v
NSTCP_RUN_PORTS=bogus,$port rule_case "a bad port entry is ignored, the good one applies" 1 -v
grep -q 'ignoring port "bogus"' "$tmp/rule.err"
tap_ok $? "a bad port entry is reported"
NSTCP_RUN_PORTS=bogus rule_case "a port rule with no valid entry converts nothing" 0

# listen() without bind(): decided at listen(), with the port the kernel picks.
out=$("$run" -p all python3 -c '
import socket
s = socket.socket(socket.AF_INET6)
s.listen()
print(s.getsockname()[1] > 0, len(s.getsockopt(0x4e53, 2, 16)) == 16,
      s.getsockopt(socket.SOL_SOCKET, socket.SO_DOMAIN) == socket.AF_INET6)' 2>&1)
[ "$out" = "True True True" ] || echo "# $out"
[ "$out" = "True True True" ]
tap_ok $? "listen() unbound (python3): AF_NSTCP on a port the kernel picked, SO_DOMAIN AF_INET6"

"$run" >/dev/null 2>&1
[ $? -eq 2 ]
tap_ok $? "nstcp-run without a program: usage, exit 2"
NSTCP_RUN_LIB=$tmp/none "$run" true 2>/dev/null
[ $? -eq 127 ]
tap_ok $? "nstcp-run with no library: exit 127"
"$run" sh -c 'case " $LD_PRELOAD " in *libnstcp-run.so*) exit 0;; esac; exit 1'
tap_ok $? "LD_PRELOAD reaches the program's children through the environment"

# The module not loaded: the program runs on its own sockets.
if rmmod nstcp; then
	probe fallback 6 -v
	tap_ok $? "module not loaded: the program runs under nstcp-run"
	[ "$(nstcp_of "$tmp/fallback" listener)" = 0 ]
	tap_ok $? "module not loaded: the listener stays AF_INET6"
	same_obs "$tmp/plain6" "$tmp/fallback" "module not loaded: the program sees the same"
	grep -q "AF_NSTCP unavailable" "$tmp/fallback.err" &&
		grep -q "exit: 0 converted, 1 fell back" "$tmp/fallback.err"
	tap_ok $? "module not loaded: -v logs and counts the fall-back"
	insmod "$NSTCP_KO"
	tap_ok $? "the module loads again"
else
	for _ in 1 2 3 4 5; do tap_ok 1 "rmmod nstcp for the fall-back case"; done
fi
tap_done
