#!/bin/bash
# Selftest: the broker protocol's version 2 and its leases (issue 9;
# Documentation/nstcpd.rst, "Broker protocol").  Three broker services,
# lease_ms = 5000, 0 and 400, 3 server replicas each
# (helpers/nstcpd_bkserver), clients in another namespace over RPS-spread
# veth.  Several asks on one connection (v1 and v2 mixed); a handle
# (nstcp-broker --count, libnstcp's nstcp_broker_next) asks once in a
# lease, the broker's own count of asks says so; lease 0 asks every time;
# a real failed connect (nstcp_broker_failed()) drops the lease; leases
# spread clients over unequally loaded servers, and under sustained asks
# only the live leases count (a loaded server gets fewer answers); a v1
# client is still served; malformed v2 requests close their connection,
# counted; an idle connection is closed after 5 s, counted, and a handle
# reconnects once; a server reporting itself full, or stopped, gets no
# new answers; --check bounds lease_ms with its line.  Build first: make
# tools.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/helpers/nstcpd_lib.sh"
tmp=$(mktemp -d)
cleanup() { nd_pair_cleanup; rm -rf "$tmp"; }
trap cleanup EXIT
st=$tmp/status.json
cli=$nd_top/tools/out/nstcp-broker
bk=$nd_srv_ip:7600 bk0=$nd_srv_ip:7620 bkq=$nd_srv_ip:7640

# raw PORT TEXT: TEXT sent to the broker on PORT from $nd_cli on one
# connection; what came back before the broker closed it (5 s idle).
raw() {
	ip netns exec "$nd_cli" timeout 9 bash -c \
		'exec 3<>/dev/tcp/'"$nd_srv_ip"'/$1 && printf "%s" "$2" >&3 && cat <&3' _ "$1" "$2" 2>/dev/null
}
# handle BROKER ARGS...: nstcp-broker --count ... in $nd_cli; answers in
# $tmp/ans, its asks (the handle's count) echoed.
handle() {
	ip netns exec "$nd_cli" "$cli" "${@:2}" "$1" >"$tmp/ans" 2>"$tmp/err"
	sed -n 's/^asks: //p' "$tmp/err"
}
asked() { nd_json "$st" "s('$1')['asked']"; }

tap_plan 26
# Its timings (5 s idle closes, 5 s leases, report expiry) do not fit the
# debug kernel under TCG; nstcpd is user space only (as nstcpd_broker).
if [ "${NSTCP_KERNEL:-}" = debug ]; then
	for i in $(seq 26); do echo "ok $i - nstcpd_broker_lease # SKIP debug kernel (timings)"; done
	exit 0
fi
nd_pair_setup
tap_ok $? "namespaces $nd_srv and $nd_cli, veth with RPS and RFS"

chmod 755 "$tmp" && : >"$tmp/bk.log" && chmod 666 "$tmp/bk.log"
srv="/usr/bin/env BKSERVER_DIR=$tmp BKSERVER_LOG=$tmp/bk.log BKSERVER_PERIOD_MS=200 $nd_helpers/nstcpd_bkserver"
cat >"$tmp/nstcpd.conf" <<CONF
[service bk]
listen = 7600
model = broker
servers = *:7611
workers = 3
expire_ms = 1000
lease_ms = 5000
user = nobody
exec = $srv

[service bk0]
listen = 7620
model = broker
servers = *:7631
workers = 3
expire_ms = 1000
lease_ms = 0
user = nobody
exec = $srv

[service bkq]
listen = 7640
model = broker
servers = *:7651
workers = 3
expire_ms = 1000
lease_ms = 400
user = nobody
exec = $srv
CONF
nd_start "$tmp/nstcpd.conf" "$st" "$tmp/nstcpd.log"
echo "30 100" >"$tmp/load.7651"
nd_wait_json "$st" "all(x['fresh'] for x in w('bk') + w('bk0') + w('bkq')) and len(w('bk')) == 3 and w('bkq')[0]['load'] == 30"
tap_ok $? "nstcpd: 3 broker services, 9 servers reporting; lease_ms $(nd_json "$st" "s('bk')['lease_ms'], s('bk0')['lease_ms'], s('bkq')['lease_ms']")"

# Several asks on one connection, v2 and v1 mixed, answered in order.
out=$(raw 7600 "NSTCPB/2 ASK -
NSTCPB/2 ASK bk
NSTCPB/1 ASK -
NSTCPB/2 ASK nosuch
")
echo "$out" | sed 's/^/# /'
re2="^NSTCPB/2 OK $nd_srv_ip 761[123] 5000\$" re1="^NSTCPB/1 OK $nd_srv_ip 761[123]\$"
l=()
mapfile -t l <<<"$out"
[ ${#l[@]} = 4 ] && [[ ${l[0]} =~ $re2 ]] && [[ ${l[1]} =~ $re2 ]] &&
	[[ ${l[2]} =~ $re1 ]] && [ "${l[3]}" = "NSTCPB/2 UNKNOWN" ]
tap_ok $? "4 asks on one connection: two v2 answers with lease 5000, a v1 answer without, v2 UNKNOWN"
out=$(raw 7620 "NSTCPB/2 ASK -
")
[[ $out =~ ^NSTCPB/2\ OK\ $nd_srv_ip\ 763[123]\ 0$ ]]
tap_ok $? "lease_ms = 0: a v2 answer with lease 0 ($out)"

# A handle asks once in a lease: the broker counts one ask for 20 answers.
nd_wait_json "$st" "all(x['leases'] == 0 for x in w('bk'))"
a0=$(asked bk) l0=$(nd_json "$st" "s('bk')['leased']")
n=$(handle "$bk" -n 20)
# (at once, within the lease: python and the status are slow under TCG)
nd_wait_json "$st" "s('bk')['asked'] == $a0 + 1 and s('bk')['leased'] == $l0 + 1 and sum(x['leases'] for x in w('bk')) == 1"
r=$?
live=$(nd_json "$st" "[x['port'] for x in w('bk') if x['leases']]")
tap_ok $(( r != 0 || n != 1 || $(sort -u "$tmp/ans" | wc -l) != 1 || $(wc -l <"$tmp/ans") != 20 )) \
	"lease 5000 ms: 20 answers ($(sort -u "$tmp/ans" | tr '\n' ' ')), handle asks $n, broker asked $a0 -> $(asked bk)"
tap_ok $r "status: leased $l0 -> $(nd_json "$st" "s('bk')['leased']"), a live lease on $live"

# Lease 0: every answer is an ask, all on the handle's one connection.
a0=$(asked bk0)
n=$(handle "$bk0" -n 10)
nd_wait_json "$st" "s('bk0')['asked'] == $a0 + 10 and s('bk0')['leased'] == 0"
tap_ok $(( $? != 0 || n != 10 || $(grep -c "^$nd_srv_ip:763[123]$" "$tmp/ans") != 10 )) \
	"lease 0: 10 answers, handle asks $n, broker asked $a0 -> $(asked bk0), leased $(nd_json "$st" "s('bk0')['leased']")"

# A failed connect drops the lease: the servers' ports prohibited in
# $nd_cli (an ip rule: connect() fails EACCES, the broker's port is not
# in it), each of 5 answers connected to fails, so each next asks again;
# allowed again, 5 answers connected to with one ask (the lease runs).
a0=$(asked bk)
ip -n "$nd_cli" rule add ipproto tcp dport 7611-7613 prohibit
n=$(handle "$bk" -n 5 -c)
f=$(sed -n 's/^failed connections: //p' "$tmp/err") e=$(grep -c "(EACCES)$" "$tmp/err")
ip -n "$nd_cli" rule del ipproto tcp dport 7611-7613 prohibit
n2=$(handle "$bk" -n 5 -c)
f2=$(sed -n 's/^failed connections: //p' "$tmp/err")
nd_wait_json "$st" "s('bk')['asked'] == $a0 + 6"
tap_ok $(( $? != 0 || n != 5 || f != 5 || e != 5 || n2 != 1 || f2 != 0 )) \
	"a failed connect drops the lease: 5 failed (EACCES $e), asks $n; 5 made, asks $n2; broker asked $a0 -> $(asked bk)"

# Leases count as load: 3 clients in a row, each with its lease running,
# servers reporting loads 0, 1, 1: each answer goes to a least loaded one
# counting the leases, so load + answers ends within 1 over the servers
# (without the leases counted, all 3 would go to 7611).
echo "1 100" >"$tmp/load.7612"
echo "1 100" >"$tmp/load.7613"
nd_wait_json "$st" "[x['load'] for x in w('bk')] == [0, 1, 1] and all(x['leases'] == 0 for x in w('bk'))"
r=$?
for i in 1 2 3; do
	handle "$bk" -n 1 >/dev/null
	cat "$tmp/ans"
done >"$tmp/spread"
nd_json "$st" "[(x['port'], x['load'], x['leases']) for x in w('bk')]" >"$tmp/loads"
rm -f "$tmp/load.7612" "$tmp/load.7613"
n1=$(grep -c ":7611$" "$tmp/spread") n2=$(grep -c ":7612$" "$tmp/spread") n3=$(grep -c ":7613$" "$tmp/spread")
max=$(printf "%s\n" $n1 $((n2 + 1)) $((n3 + 1)) | sort -n | tail -1)
min=$(printf "%s\n" $n1 $((n2 + 1)) $((n3 + 1)) | sort -n | head -1)
tap_ok $(( r != 0 || n1 + n2 + n3 != 3 || max - min > 1 )) \
	"3 leased clients, loads 0 1 1: answers 7611 $n1, 7612 $n2, 7613 $n3 (port, load, leases: $(cat "$tmp/loads"))"

# Sustained asks (150, 20 ms apart, each a new lease of 400 ms: more than
# 7 leases' time) with server 7651 reporting load 30, the others 0: only
# the leases that may still run count (those of 2 lease_ms at most, 40
# asks), so 7651 is rarely the least loaded; were every lease since the
# start counted, the reported load would be a constant offset and the
# answers round-robin (50 each).
c0=$(nd_json "$st" "' '.join(str(x['chosen']) for x in w('bkq'))")
handle "$bkq" -n 150 -w 20 -F >/dev/null
t0=$(date +%s%N)
nd_wait_json "$st" "sum(x['leases'] for x in w('bkq')) == 0"
r=$? t=$(( ($(date +%s%N) - t0) / 1000000 ))
set -- $c0 $(nd_json "$st" "' '.join(str(x['chosen']) for x in w('bkq'))")
q1=$(($4 - $1)) q2=$(($5 - $2)) q3=$(($6 - $3))
tap_ok $(( q1 + q2 + q3 != 150 || 3 * q1 > q2 || 3 * q1 > q3 )) \
	"sustained leases, 7651 at load 30: chosen 7651 $q1, 7652 $q2, 7653 $q3 of 150"
tap_ok $(( r != 0 || t > 5000 )) "status: the live leases back to 0 $t ms after the asks (2 lease_ms, 800, and the status's period)"

# A v1 client (nstcp_broker_ask, a connection per ask) is still served.
a0=$(asked bk)
out=$(ip netns exec "$nd_cli" "$cli" "$bk" 2>&1)
rc=$?
out1=$(raw 7600 "NSTCPB/1 ASK -
")
[ $rc = 0 ] && [[ $out =~ ^$nd_srv_ip:761[123]$ ]] && [[ $out1 =~ $re1 ]]
tap_ok $? "v1 clients served: nstcp-broker $out, raw v1 $out1"

# Malformed v2 requests: closed without a reply, counted.
m0=$(nd_json "$st" "s('bk')['malformed']")
a=$(raw 7600 "NSTCPB/2 REPORT 127.0.0.1:7611 1 10
")
b=$(raw 7600 "NSTCPB/2 ASK - 3000
")
c=$(raw 7600 "NSTCPB/2 OK $nd_srv_ip 7611 10
")
d=$(raw 7600 "NSTCPB/2 ASK -
NSTCPB/3 ASK -
")
[ -z "$a$b$c" ] && [[ $d =~ ^NSTCPB/2\ OK\ [^$'\n']*$ ]]
tap_ok $? "v2 REPORT, ASK with a lease, OK from a client, NSTCPB/3: closed, no reply (after a good ask: $d)"
nd_wait_json "$st" "s('bk')['malformed'] == $m0 + 4"
tap_ok $? "status: malformed $m0 -> $(nd_json "$st" "s('bk')['malformed']")"

# An idle connection: closed after 5 s, counted; a handle idle longer
# than that reconnects once and is answered.
i0=$(nd_json "$st" "s('bk0')['idle']")
t0=$(date +%s%N)
raw 7620 "" >/dev/null
t=$(( ($(date +%s%N) - t0) / 1000000 ))
tap_ok $(( t < 4500 || t > 8000 )) "an idle connection closed by the broker after $t ms (5000)"
n=$(handle "$bk0" -n 2 -w 6000)
nd_wait_json "$st" "s('bk0')['idle'] == $i0 + 2"
tap_ok $(( $? != 0 || n != 2 || $(wc -l <"$tmp/ans") != 2 )) \
	"a handle idle 6 s: 2 answers ($(tr '\n' ' ' <"$tmp/ans")), asks $n; idle $i0 -> $(nd_json "$st" "s('bk0')['idle']")"

# A server reporting itself full gets no new answer, leases or not.
echo "100 100" >"$tmp/load.7612"
nd_wait_json "$st" "w('bk')[1]['load'] >= 100 and all(x['leases'] == 0 for x in w('bk'))"
handle "$bk" -n 12 -F >/dev/null
n=$(grep -c ":7612$" "$tmp/ans") nok=$(grep -c "^$nd_srv_ip:761[13]$" "$tmp/ans")
tap_ok $(( n != 0 || nok != 12 )) "server 7612 full: not answered (7612 $n, others $nok of 12)"
rm -f "$tmp/load.7612"
# Stopped: its report expires, no new answer.
pid=$(nd_json "$st" "w('bk')[2]['pid']")
kill -STOP "$pid"
nd_wait_json "$st" "not w('bk')[2]['fresh'] and w('bk')[1]['load'] < 100"
handle "$bk" -n 12 -F >/dev/null
n=$(grep -c ":7613$" "$tmp/ans") nok=$(grep -c "^$nd_srv_ip:761[12]$" "$tmp/ans")
kill -CONT "$pid"
tap_ok $(( n != 0 || nok != 12 )) "server 7613 stopped: not answered (7613 $n, others $nok of 12)"
# All full: EBUSY, the handle's connection kept for the next ask.
for p in 7611 7612 7613; do echo "100 100" >"$tmp/load.$p"; done
nd_wait_json "$st" "all(x['fresh'] and x['load'] >= 100 for x in w('bk'))"
n=$(handle "$bk" -n 3)
grep -q "(EBUSY)$" "$tmp/err" && [ ! -s "$tmp/ans" ] && [ "$n" = 1 ]
tap_ok $? "all full: EBUSY ($(head -1 "$tmp/err"))"
rm -f "$tmp"/load.*

# At the cap (256 connections per broker): a client opens 512 per broker
# to the brokers of bk0 and asks on each; it keeps those still open asking
# once a round, and each of 3 rounds a new connection asks (and is kept
# with the others): the broker accepts it once one of its connections has
# been idle 1 s after its answer, closing the one idle longest (counted
# evicted), and answers it (it would wait in the listening queue
# otherwise, 5 s and more: the kept ones are never idle that long).  The
# brokers full, each new one is one eviction more, less one for each kept
# connection the client gave up on without the broker closing it (a
# timeout frees a place; an eviction the client sees as an EOF).  Any
# answer counts: OK or FULL (lease 0, each ask is one more connection on
# its server until the next report: the servers fill up).
e0=$(nd_json "$st" "s('bk0')['evicted']") nb=$(nd_json "$st" "len(s('bk0')['brokers'])")
ip netns exec "$nd_cli" python3 - "$nd_srv_ip" 7620 $((512 * nb)) >"$tmp/cap" 2>&1 <<'PY'
import resource, select, socket, sys, time
addr, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_NOFILE, (n + 256, n + 256))
ASK = b"NSTCPB/2 ASK -\n"

gaveup = 0	# kept connections dropped on a timeout, not closed by a broker

def answered(s, timeout):
    """True once answered; False on an end (EOF, reset), None on a timeout."""
    s.settimeout(timeout)
    try:
        return s.recv(200).startswith(b"NSTCPB/2 ")
    except socket.timeout:
        return None
    except OSError:
        return False

def keep(conns):
    """An ASK on each at once, then the answers: those answered kept.
    The wait ends 3 s after the last answer (the brokers answer what
    they accepted, the rest waits in the listening queue), 60 s at most:
    a slow machine answers later, not fewer."""
    global gaveup
    for s in conns:
        try:
            s.sendall(ASK)
        except OSError:
            pass
    left = {s.fileno(): s for s in conns}
    p = select.poll()
    for fd in left:
        p.register(fd, select.POLLIN)
    kept, quiet, end = [], time.monotonic() + 3, time.monotonic() + 60
    while left and time.monotonic() < min(quiet, end):
        for fd, _ in p.poll(200):
            s = left.pop(fd)
            p.unregister(fd)
            if answered(s, 0.01):
                kept.append(s)
                quiet = time.monotonic() + 3
            else:
                s.close()
    for s in left.values():
        gaveup += 1
        s.close()
    return kept

conns = [socket.create_connection((addr, port), timeout=5) for _ in range(n)]
held = keep(conns)
worst, counts = 0, [len(held)]
gaveup = 0
for r in range(3):
    held = keep(held)
    counts.append(len(held))
    t = time.monotonic()
    p = socket.create_connection((addr, port), timeout=6)
    p.sendall(ASK)
    ok = answered(p, 6)
    ms = int((time.monotonic() - t) * 1000) if ok else 99999
    worst = max(worst, ms)
    if ok:
        held.append(p)
    else:
        p.close()
print("# held", counts, "gave up", gaveup)
print(len(held), worst, gaveup)
PY
grep "^# " "$tmp/cap"
set -- $(tail -1 "$tmp/cap") x x x
held=${1//[^0-9]/} ms=${2//[^0-9]/} gaveup=${3//[^0-9]/}
e1=$(nd_json "$st" "s('bk0')['evicted']")
tap_ok $(( ${ms:-99999} > 3500 || ${held:-0} < 200 * nb || e1 - e0 < 3 - ${gaveup:-3} )) \
	"$((512 * nb)) connections on $nb brokers of 256: still asking $held, a new one answered in ${ms:-?} ms at worst of 3; evicted $e0 -> $e1 (at least 3 less ${gaveup:-?} given up)"
# Each round's keep() asks on every connection kept: those answered are
# those the brokers hold then, at their cap (BK_CONNS, 256 a broker; 8 a
# broker below it for the ones evicted or given up on meanwhile), neither
# fewer (a cap too low) nor more (none).
counts=$(sed -n 's/^# held \[\(.*\)\] gave up.*/\1/p' "$tmp/cap" | tr -d ,)
set -- $counts
bad=$(( $# != 4 ))
for c in "${@:2}"; do (( c < 248 * nb || c > 256 * nb )) && bad=1; done
tap_ok $bad "the rounds' keep() held at the cap: ${*:2} (each in $((248 * nb))..$((256 * nb)), $nb brokers of 256; first ${1-none})"

# A burst of one-ask clients, more than the brokers' caps at once: none
# is reset (a connection whose request is unread is never closed for a
# new one); those beyond the caps are answered as answered ones go.  Each
# client asks as soon as it is connected: a connection accepted with no
# request for 5 s is closed (counted idle), and making all the
# connections before the first ask took longer than that on a slow host.
sleep 1	# the cap case's connections closed with its client
i0=$(nd_json "$st" "s('bk0')['idle']")
ip netns exec "$nd_cli" python3 - "$nd_srv_ip" 7620 $((300 * nb)) >"$tmp/burst" 2>&1 <<'PY'
import resource, select, socket, sys, time
addr, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_NOFILE, (n + 256, n + 256))
t0 = time.monotonic()
conns = []
for _ in range(n):
    s = socket.create_connection((addr, port), timeout=5)
    s.sendall(b"NSTCPB/1 ASK -\n")
    conns.append(s)
print("# %d connected and asking in %.1f s" % (n, time.monotonic() - t0))
ok = reset = other = 0
end = time.monotonic() + 60
for s in conns:
    s.settimeout(max(0.01, end - time.monotonic()))
    try:
        if s.recv(200).startswith(b"NSTCPB/1 "):
            ok += 1
        else:
            other += 1
    except ConnectionResetError:
        reset += 1
    except OSError:
        other += 1
    s.close()
print("# answers read in %.1f s" % (time.monotonic() - t0))
print(ok, reset, other)
PY
grep "^# " "$tmp/burst"
set -- $(tail -1 "$tmp/burst") x x x
i1=$(nd_json "$st" "s('bk0')['idle']")
tap_ok $(( ${1//[^0-9]/}0 != 300 * nb * 10 || ${2//[^0-9]/}0 != 0 )) \
	"a burst of $((300 * nb)) one-ask clients on $nb brokers of 256: $1 answered, $2 reset, $3 other; closed idle $i0 -> $i1"

# --check: lease_ms's bounds and model, with their lines.
cat >"$tmp/bad.conf" <<CONF
[service b1]
listen = 7700
model = broker
servers = 7711
exec = /bin/true
lease_ms = 60001

[service m]
listen = 7702
model = monolithic
exec = /bin/true
lease_ms = 10

[service b2]
listen = 7703
model = broker
servers = 7721
exec = /bin/true
lease_ms = -1
CONF
out=$("$nd_bin" --check -c "$tmp/bad.conf" 2>&1)
rc=$?
echo "$out" | sed 's/^/# /'
miss=0
for want in "6: lease_ms: \"60001\" is not 0 to 60000" "12: \"lease_ms\" is for the broker model" \
	"19: lease_ms: \"-1\" is not 0 to 60000"; do
	grep -qF "bad.conf:$want" <<<"$out" || { miss=$((miss + 1)); echo "# missing: $want"; }
done
tap_ok $(( rc != 1 || miss != 0 )) "--check: exit $rc, lease_ms errors with their lines ($miss missing)"
sed -i 's/^lease_ms = .*/lease_ms = 60000/; /^\[service m\]/,/^$/d' "$tmp/bad.conf"
"$nd_bin" --check -c "$tmp/bad.conf" >"$tmp/check" 2>&1
tap_ok $? "--check: lease_ms = 60000 accepted ($(tr '\n' ' ' <"$tmp/check"))"

pids=$(nd_json "$st" "' '.join(str(x['pid']) for x in s('bk')['brokers'] + w('bk') + s('bk0')['brokers'] + w('bk0') + s('bkq')['brokers'] + w('bkq'))")
nd_stop
rc=$?
tap_ok $(( rc != 0 || $(nd_alive $pids) != 0 )) "SIGTERM: exit $rc, processes left $(nd_alive $pids)"

[ -s "$tmp/nstcpd.log" ] && sed 's/^/# nstcpd: /' "$tmp/nstcpd.log"
nd_pair_cleanup
tap_ok $? "namespaces deleted"
trap 'rm -rf "$tmp"' EXIT
tap_done
