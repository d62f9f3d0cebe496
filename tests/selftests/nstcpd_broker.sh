#!/bin/bash
# Selftest: nstcpd's broker model end to end, clients in another namespace
# over a veth whose receive queue spreads flows with RPS.  A broker per
# CPU, pinned, sharing the broker port, as nobody; 3 server replicas
# (helpers/nstcpd_bkserver), each on its own port, reporting their load
# with libnstcp.  Clients (nstcp-broker) ask and connect: data checksummed,
# spread over the servers and the brokers.  A server reporting a high load
# is not chosen; all full: EBUSY; a stopped server's report expires and it
# is not chosen, then is again; a killed server is restarted and chosen
# again.  Garbage, oversized, cut and double-spaced requests close their connection and
# are counted, an idle one does not block the broker, a REPORT from
# another host and an unknown service are refused (ENOENT), and the broker
# still answers.  Configuration errors with their lines (--check).  Build
# first: make tools.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/helpers/nstcpd_lib.sh"
tmp=$(mktemp -d)
cleanup() { nd_pair_cleanup; rm -rf "$tmp"; }
trap cleanup EXIT
st=$tmp/status.json
cli=$nd_top/tools/out/nstcp-broker
broker=$nd_srv_ip:7300
ncpu=$(nproc) asks=0

# ask_many N FILE [ARGS]: N asks in $nd_cli, one after the other; a line
# each in FILE: the answer, or the errno name of the refusal.
ask_many() {
	local i out
	for i in $(seq "$1"); do
		if out=$(ip netns exec "$nd_cli" "$cli" "${@:3}" "$broker" 2>&1); then
			echo "$out"
		else
			sed -n 's/.*(\([A-Z0-9]*\))$/\1/p' <<<"$out"
		fi
	done >"$2"
}

# raw TEXT: TEXT sent to the broker from $nd_cli on one connection; what
# came back before the broker closed it (5 s at most).
raw() {
	ip netns exec "$nd_cli" timeout 8 bash -c \
		'exec 3<>/dev/tcp/'"$nd_srv_ip"'/7300 && printf "%s" "$1" >&3 && cat <&3' _ "$1" 2>/dev/null
}

tap_plan 31
# Its timings (5 s idle closes, report expiry, restarts, 300 s in all)
# do not fit the debug kernel under TCG; nstcpd is user space only, and the
# broker runs on the stock and 6.12 kernels.
if [ "${NSTCP_KERNEL:-}" = debug ]; then
	for i in $(seq 31); do echo "ok $i - nstcpd_broker # SKIP debug kernel (timings)"; done
	exit 0
fi
nd_pair_setup
tap_ok $? "namespaces $nd_srv and $nd_cli, veth with RPS over $ncpu CPUs and RFS"

# The brokers and servers run as nobody: it reads the load files and
# appends to the log.
chmod 755 "$tmp" && : >"$tmp/bk.log" && chmod 666 "$tmp/bk.log"
cat >"$tmp/nstcpd.conf" <<CONF
[service bk]
listen = 7300
model = broker
servers = *:7311
workers = 3
expire_ms = 1000
user = nobody
exec = /usr/bin/env BKSERVER_DIR=$tmp BKSERVER_LOG=$tmp/bk.log BKSERVER_PERIOD_MS=200 $nd_helpers/nstcpd_bkserver
CONF
nd_start "$tmp/nstcpd.conf" "$st" "$tmp/nstcpd.log"
tap_ok $? "nstcpd started, status file written"
nd_wait_json "$st" "len(s('bk')['brokers']) == $ncpu and all(x['pid'] > 0 for x in s('bk')['brokers'] + w('bk')) and len(w('bk')) == 3"
tap_ok $? "a broker per CPU and 3 servers running: $(nd_json "$st" "[x['pid'] for x in s('bk')['brokers']], [(x['port'], x['pid']) for x in w('bk')]")"

bad=0
for c in $(seq 0 $((ncpu - 1))); do
	pid=$(nd_json "$st" "[x['pid'] for x in s('bk')['brokers'] if x['cpu'] == $c][0]")
	aff=$(awk '/^Cpus_allowed_list/ { print $2 }' /proc/"$pid"/status)
	[ "$aff" = "$c" ] || { bad=$((bad + 1)); echo "# broker $pid of CPU $c: affinity $aff"; }
done
n=$(nd_port_values 7300 listeners)
tap_ok $(( bad != 0 || n != ncpu )) "each broker pinned on its CPU; port 7300 has $n listening members"
nobody=$(id -u nobody) bad=0
for pid in $(nd_json "$st" "' '.join(str(x['pid']) for x in s('bk')['brokers'] + w('bk'))"); do
	uids=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' /proc/"$pid"/status)
	[ "$uids" = "$nobody $nobody $nobody $nobody" ] || { bad=$((bad + 1)); echo "# pid $pid: uids $uids"; }
done
tap_ok $bad "brokers and servers run as nobody (user = nobody)"
# The table and nstcpd's sockets do not leak into the brokers (only 3
# and 4 are passed; a broker closes 4 once mapped), and the table is
# sealed at its size: no truncate can SIGBUS nstcpd.
bad=0
for pid in $(nd_json "$st" "' '.join(str(x['pid']) for x in s('bk')['brokers'])"); do
	fds=$(ls /proc/"$pid"/fd | sort -n | tr '\n' ' ')
	memfds=$(find /proc/"$pid"/fd -lname '*memfd:nstcpd-broker*' | wc -l)
	high=$(ls /proc/"$pid"/fd | awk '$1 >= 10' | wc -l)
	[ "$memfds" = 0 ] && [ "$high" = 0 ] || { bad=$((bad + 1)); echo "# broker $pid: fds $fds, memfds $memfds"; }
done
tap_ok $bad "no broker holds the table's memfd or a descriptor above 9"
mfd=$(find /proc/"$nd_pid"/fd -lname '*memfd:nstcpd-broker*' | head -1)
r=$(python3 - "$mfd" <<'PY'
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
seals = fcntl.fcntl(fd, 1034)  # F_GET_SEALS
res = []
for size in (0, os.fstat(fd).st_size + 4096):
    try:
        os.ftruncate(fd, size)
        res.append("resized")
    except OSError as e:
        res.append(os.strerror(e.errno))
print(seals & 7, *res)
PY
)
tap_ok $([ "$r" = "7 Operation not permitted Operation not permitted" ]; echo $?) \
	"the table is sealed (shrink, grow, seal) and cannot be resized: $r"

pid=$(nd_json "$st" "w('bk')[1]['pid']")
env=$(tr '\0' '\n' </proc/"$pid"/environ)
grep -qx "LISTEN_FDS=1" <<<"$env" && grep -qx "LISTEN_PID=$pid" <<<"$env" &&
	grep -qx "NSTCPD_SERVER=127.0.0.1:7312" <<<"$env" &&
	grep -qx "NSTCP_BROKER=127.0.0.1:7300" <<<"$env"
tap_ok $? "server 2 socket-activated, told its port and the broker's: $(grep -E '^(NSTCPD_SERVER|NSTCP_BROKER)=' <<<"$env" | tr '\n' ' ')"
nd_wait_json "$st" "all(x['fresh'] and x['reports'] > 0 for x in w('bk'))"
tap_ok $? "every server has reported: $(nd_json "$st" "[(x['port'], x['load'], x['capacity']) for x in w('bk')]")"

# End to end: ask, connect, data through and back, checksummed.
bad=0
for i in $(seq 24); do
	head -c $((16384 + i * 997)) /dev/urandom >"$tmp/in.$i"
done
# (wait with pids: nstcpd is a background job of this shell too)
jobs_=()
for i in $(seq 24); do
	ip netns exec "$nd_cli" "$cli" --connect "$broker" <"$tmp/in.$i" >"$tmp/out.$i" 2>"$tmp/err.$i" &
	jobs_+=($!)
	[ $((i % 6)) = 0 ] && { wait "${jobs_[@]}"; jobs_=(); }
done
asks=$((asks + 24))
for i in $(seq 24); do
	[ "$(sha256sum <"$tmp/in.$i")" = "$(sha256sum <"$tmp/out.$i")" ] ||
		{ bad=$((bad + 1)); echo "# connection $i: $(cat "$tmp/err.$i")"; }
done
tap_ok $bad "24 clients asked, connected, data echoed intact (sha256)"
sleep 0.3
ports=$(awk '{ print $1 }' "$tmp/bk.log" | sort | uniq -c | tr '\n' ' ')
nports=$(awk '{ print $1 }' "$tmp/bk.log" | sort -u | wc -l)
tap_ok $(( $(wc -l <"$tmp/bk.log") != 24 || nports < 2 )) "served by the servers directly, spread: $ports"
nd_wait_json "$st" "s('bk')['asked'] == $asks and s('bk')['answered'] == $asks"
tap_ok $? "status: asked $(nd_json "$st" "s('bk')['asked']") answered $(nd_json "$st" "s('bk')['answered']") (want $asks)"
nbk=$(nd_json "$st" "len([x for x in s('bk')['brokers'] if x['asked'] > 0])")
tap_ok $(( ncpu > 1 && nbk < 2 )) "the asks spread over $nbk brokers: $(nd_json "$st" "[x['asked'] for x in s('bk')['brokers']]")"

# One server reports a high load: never chosen.
echo "90 100" >"$tmp/load.7311"
nd_wait_json "$st" "w('bk')[0]['load'] >= 90"
ask_many 20 "$tmp/asks"
asks=$((asks + 20))
n7311=$(grep -c ":7311$" "$tmp/asks") nok=$(grep -c "^$nd_srv_ip:731[23]$" "$tmp/asks")
tap_ok $(( n7311 != 0 || nok != 20 )) "server 7311 at 90/100 not chosen: 7311 $n7311, others $nok of 20"

# All full: the documented error.
for p in 7311 7312 7313; do echo "100 100" >"$tmp/load.$p"; done
nd_wait_json "$st" "all(x['load'] >= x['capacity'] for x in w('bk'))"
ask_many 5 "$tmp/asks"
asks=$((asks + 5))
out=$(ip netns exec "$nd_cli" "$cli" --connect "$broker" </dev/null 2>&1)
rc=$? asks=$((asks + 1))
tap_ok $(( $(grep -cx EBUSY "$tmp/asks") != 5 || rc != 1 )) "all servers full: EBUSY for every ask and for --connect (exit $rc: $out)"
nd_wait_json "$st" "s('bk')['full'] == 6"
tap_ok $? "status: full $(nd_json "$st" "s('bk')['full']")"
rm -f "$tmp"/load.*

# A stopped server: its report expires, it is not chosen; then it is again.
pid=$(nd_json "$st" "w('bk')[1]['pid']")
kill -STOP "$pid"
nd_wait_json "$st" "not w('bk')[1]['fresh']"
ask_many 20 "$tmp/asks"
asks=$((asks + 20))
n=$(grep -c ":7312$" "$tmp/asks") nok=$(grep -c "^$nd_srv_ip:731[13]$" "$tmp/asks")
tap_ok $(( n != 0 || nok != 20 )) "server 7312 stopped: report expired, not chosen (7312 $n, others $nok of 20)"
kill -CONT "$pid"
nd_wait_json "$st" "w('bk')[1]['fresh']"
ask_many 20 "$tmp/asks"
asks=$((asks + 20))
n=$(grep -c ":7312$" "$tmp/asks")
tap_ok $(( n == 0 )) "server 7312 continued: chosen again ($n of 20)"

# A killed server: restarted on its held port, reports, chosen again.
pid=$(nd_json "$st" "w('bk')[2]['pid']")
kill -KILL "$pid"
nd_wait_json "$st" "w('bk')[2]['pid'] not in (0, $pid) and w('bk')[2]['restarts'] == 1 and w('bk')[2]['fresh']"
tap_ok $? "server 7313 killed: restarted, pid $pid -> $(nd_json "$st" "w('bk')[2]['pid']"), reporting"
head -c 50000 /dev/urandom >"$tmp/in.k"
bad=0 n=0
for i in $(seq 12); do
	ip netns exec "$nd_cli" "$cli" --connect -v "$broker" <"$tmp/in.k" >"$tmp/out.k" 2>"$tmp/err.k"
	cmp -s "$tmp/in.k" "$tmp/out.k" || bad=$((bad + 1))
	grep -q ":7313$" "$tmp/err.k" && n=$((n + 1))
done
asks=$((asks + 12))
tap_ok $(( bad != 0 || n == 0 )) "after the restart: 12 connections intact ($bad bad), $n to 7313"

# Malformed requests: closed, counted; the broker still answers.
before=$(nd_json "$st" "s('bk')['malformed']")
a=$(raw "garbage here
")
b=$(raw "NSTCPB/1 ASK $(head -c 300 /dev/zero | tr '\0' x)")
ip netns exec "$nd_cli" bash -c 'exec 3<>/dev/tcp/'"$nd_srv_ip"'/7300 && printf "NSTCPB/1 ASK" >&3'
c=
d=$(raw "NSTCPB/1 ASK -
NSTCPB/1 REPORT 1.2.3.4:7311 1 x
")
e=$(raw "NSTCPB/1  ASK -
")
asks=$((asks + 1))
tap_ok $(( ${#a} + ${#b} + ${#c} + ${#e} != 0 )) "garbage, oversized, cut and double-spaced requests: closed without a reply"
tap_ok $([ "$d" = "NSTCPB/1 OK $nd_srv_ip 7311" ] || [ "$d" = "NSTCPB/1 OK $nd_srv_ip 7312" ] ||
	[ "$d" = "NSTCPB/1 OK $nd_srv_ip 7313" ]; echo $?) "a good request answered, then a bad one closes: $d"
nd_wait_json "$st" "s('bk')['malformed'] == $before + 5"
tap_ok $? "status: malformed $before -> $(nd_json "$st" "s('bk')['malformed']")"
# An idle connection to every broker does not stop them answering.
jobs_=()
for i in $(seq $((ncpu * 2))); do
	ip netns exec "$nd_cli" timeout 7 bash -c "exec 3<>/dev/tcp/$nd_srv_ip/7300; sleep 6" &
	jobs_+=($!)
done
sleep 1
ask_many 4 "$tmp/asks"
asks=$((asks + 4))
wait "${jobs_[@]}"
tap_ok $(( $(grep -c "^$nd_srv_ip:731[123]$" "$tmp/asks") != 4 )) "answers while idle connections wait: $(tr '\n' ' ' <"$tmp/asks")"
nd_wait_json "$st" "s('bk')['idle'] == $((ncpu * 2))"
tap_ok $? "the idle connections closed after 5 s, counted: $(nd_json "$st" "s('bk')['idle']")"

out=$(ip netns exec "$nd_cli" "$cli" -r "$nd_srv_ip:7311" -l 0 -C 10 "$broker" 2>&1)
rc1=$?
ask_many 1 "$tmp/asks" -s nosuch
asks=$((asks + 1))
[ $rc1 = 1 ] && grep -q "(ENOENT)$" <<<"$out" && [ "$(cat "$tmp/asks")" = ENOENT ]
tap_ok $? \
	"REPORT from another host: $out; unknown service: $(cat "$tmp/asks")"
nd_wait_json "$st" "s('bk')['asked'] == $asks and s('bk')['unknown'] == 2"
tap_ok $? "status: asked $(nd_json "$st" "s('bk')['asked']") (want $asks), unknown 2"

"$nd_bin" status -s "$st" >"$tmp/table"
grep -q "asked" "$tmp/table" && grep -q " 7313 " "$tmp/table"
tap_ok $? "nstcpd status shows the brokers and servers"
sed 's/^/# /' "$tmp/table"

pids=$(nd_json "$st" "' '.join(str(x['pid']) for x in s('bk')['brokers'] + w('bk'))")
nd_stop
rc=$?
alive=$(nd_alive $pids)
nd_listening 7300 || nd_listening 7311
open=$(( $? == 0 ))
tap_ok $(( rc != 0 || alive != 0 || open )) "SIGTERM: exit $rc, processes left $alive, ports open $open"

# Configuration errors, each with its line; nothing started.
cat >"$tmp/bad.conf" <<CONF
[service b1]
listen = 7400
model = broker
exec = /bin/true
max_conns = 1000001

[service b2]
listen = 7401
model = broker
exec = /bin/true
servers = 7399
workers = 4
expire_ms = 2

[service m]
listen = 7402
model = monolithic
exec = /bin/true
servers = 8000
CONF
out=$("$nd_bin" --check -c "$tmp/bad.conf" 2>&1)
rc=$?
echo "$out" | sed 's/^/# /'
want=(
	"1: service b1: the broker model needs \"servers\""
	"5: max_conns: \"1000001\" is not 0 to 1000000"
	"11: servers: ports 7399 to 7402 include port 7400 of service b1"
	"13: expire_ms: \"2\" is not 10 to 600000"
	"19: \"servers\" is for the broker model"
)
miss=0
for w in "${want[@]}"; do grep -qF "bad.conf:$w" <<<"$out" || { miss=$((miss + 1)); echo "# missing: $w"; }; done
tap_ok $(( rc != 1 || miss != 0 )) "--check: exit $rc, every error with its line ($miss missing)"

[ -s "$tmp/nstcpd.log" ] && sed 's/^/# nstcpd: /' "$tmp/nstcpd.log"
nd_pair_cleanup
tap_ok $? "namespaces deleted"
trap 'rm -rf "$tmp"' EXIT
tap_done
