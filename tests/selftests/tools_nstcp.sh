#!/bin/bash
# Selftest: tools/out/nstcp (nstcp(8)) against the module's real state.
# The reference is /proc/net/nstcp* (the module's other view, read by a
# different code path) and what tools_nstcp_traffic predicts; the tool's
# -j output is parsed by python3's json, never scraped.  Covers instance
# show (table, JSON, one CPU, traffic deltas, -w rates adding up to the
# traffic), listen show (a shared port with queued and accepted
# connections, port filter, the key hidden from another user), handoff
# show, -n NETNS, bad arguments (exit 2) and the module not loaded (exit 1).
# Build first: make tools.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/lib.sh"
nstcp=$top/tools/out/nstcp
out_dir=${NSTCP_SELFTEST_OUT:-$here/out}
traffic=$out_dir/tools_nstcp_traffic
pending=$out_dir/helpers/handoff_pending
tmp=$(mktemp -d)
ns=nstcp-tool-$$
helper_pid=
saved_delay=$(cat /proc/sys/net/nstcp/accept_steal_delay_ms 2>/dev/null)
cleanup() {
	[ -n "$helper_pid" ] && kill "$helper_pid" 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	[ -n "$saved_delay" ] && echo "$saved_delay" >/proc/sys/net/nstcp/accept_steal_delay_ms 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
echo 0 >/proc/sys/net/nstcp/accept_steal_delay_ms

tap_plan 28

# py SCRIPT ARGS...: a python3 check; prints what differs as TAP comments.
py() {
	local script=$1
	shift
	python3 - "$@" <<PY
import json, sys
def proc(path):
	lines = [l.split() for l in open(path) if l.strip()]
	return [dict(zip(lines[0], r)) for r in lines[1:]]
NAMES = {"accepted": "accepts"}   # JSON name -> /proc column
COUNTERS = ["accepted", "hops", "calls", "connects", "sockets", "closes",
	    "given", "taken", "expired", "refused", "rehomed", "unsteered",
	    "lconnects", "lfallbacks", "lmisses"]
bad = []
$script
for b in bad:
	print("# " + b)
sys.exit(1 if bad else 0)
PY
}

[ -x "$nstcp" ] && [ -x "$traffic" ] && [ -x "$pending" ]
tap_ok $? "tools are built ($nstcp, $traffic; make tools)"

# --- instance show ---
"$traffic" 3 5 >/dev/null
"$nstcp" -j instance show >"$tmp/inst.json" 2>"$tmp/err"
rc=$?
cp /proc/net/nstcp "$tmp/proc"
"$nstcp" instance show >"$tmp/inst.txt"
cp /proc/net/nstcp "$tmp/proc2"
tap_ok $rc "nstcp -j instance show exits 0 $(cat "$tmp/err")"
py '
o = json.load(open(sys.argv[1])); rows = proc(sys.argv[2])
if len(o) != len(rows): bad.append("%d instances, want %d" % (len(o), len(rows)))
for i, r in zip(o, rows):
	if i["cpu"] != int(r["cpu"]) or i["online"] != (r["online"] == "1"):
		bad.append("cpu %s online %s: %r" % (r["cpu"], r["online"], i))
	for c in COUNTERS:
		if i[c] != int(r[NAMES.get(c, c)]):
			bad.append("cpu %s %s: %r, want %s" % (r["cpu"], c, i[c], r[NAMES.get(c, c)]))
' "$tmp/inst.json" "$tmp/proc"
tap_ok $? "-j: one object per CPU, online and every counter as in /proc/net/nstcp"
py '
lines = [l.split() for l in open(sys.argv[1]) if l.strip()]
rows = proc(sys.argv[2])
head = lines[1]
if lines[0][:2] != ["AF_NSTCP", "instances:"]: bad.append("heading %r" % lines[0])
body = lines[2:2 + len(rows)]
for l, r in zip(body, rows):
	cells = dict(zip(head, l))
	for c in ["ACCEPTED", "HOPS", "CALLS", "CONNECTS", "SOCKETS", "CLOSES"]:
		if cells[c] != r[NAMES.get(c.lower(), c.lower())]:
			bad.append("cpu %s %s: %s, want %s" % (r["cpu"], c, cells[c], r[NAMES.get(c.lower(), c.lower())]))
	if cells["ONLINE"] != ("yes" if r["online"] == "1" else "no"): bad.append("online %r" % l)
total = lines[2 + len(rows)]
if total[0] != "total": bad.append("no total line: %r" % total)
elif int(total[1 + head.index("CALLS") - 2]) != sum(int(r["calls"]) for r in rows):
	bad.append("total calls %s" % total)
' "$tmp/inst.txt" "$tmp/proc2"
tap_ok $? "the table's rows and total line match /proc/net/nstcp"

last=$(nstcp_nl instance cpu | tail -n 1)
"$nstcp" -j instance show cpu "$last" >"$tmp/one.json"
py '
o = json.load(open(sys.argv[1]))
if len(o) != 1 or o[0]["cpu"] != int(sys.argv[2]): bad.append("%r" % o)
' "$tmp/one.json" "$last"
tap_ok $? "instance show cpu $last: that instance alone"

"$nstcp" -j instance show >"$tmp/before.json"
want=$("$traffic" 4 10)
"$nstcp" -j instance show >"$tmp/after.json"
py '
b = json.load(open(sys.argv[1])); a = json.load(open(sys.argv[2]))
want = dict(w.split("=") for w in sys.argv[3].split())
for c in ["sockets", "closes", "accepted", "connects", "calls"]:
	got = sum(x[c] for x in a) - sum(x[c] for x in b)
	if got != int(want[NAMES.get(c, c)]): bad.append("%s grew by %d, want %s" % (c, got, want[NAMES.get(c, c)]))
' "$tmp/before.json" "$tmp/after.json" "$want"
tap_ok $? "the counters grow by the traffic's ($want)"

# Watch mode: the rates times the intervals add up to the traffic made
# while it watched (8 reports of 1 s; the traffic starts after 1.5 s).
"$nstcp" -j -w 1 -c 8 instance show >"$tmp/watch.json" &
wpid=$!
sleep 1.5
want=$("$traffic" 5 2)
wait $wpid
rc=$?
py '
objs = [json.loads(l) for l in open(sys.argv[1])]
want = dict(w.split("=") for w in sys.argv[2].split())
if len(objs) != 8: bad.append("%d reports, want 8" % len(objs))
for c in ["connects", "sockets", "calls"]:
	got = sum(round(sum(i[c] for i in o["instances"]) * o["interval"]) for o in objs)
	if got != int(want[c]): bad.append("%s: rates add up to %d, want %s" % (c, got, want[c]))
if any(not (0.9 < o["interval"] < 3) for o in objs): bad.append("intervals %r" % [o["interval"] for o in objs])
' "$tmp/watch.json" "$want"
tap_ok $? "-w 1 -c 8: 8 reports whose rates add up to the traffic ($want, exit $rc)"
"$nstcp" -w 0.3 -c 2 instance show >"$tmp/watch.txt"
[ "$(grep -c '^AF_NSTCP instances: .* per second over' "$tmp/watch.txt")" -eq 2 ]
tap_ok $? "-w in a table: 2 reports of rates per second"

# --- listen show ---
# A shared port: 2 members, key kt1, roundrobin; 6 connections accepted,
# 2 left queued.
coproc HELPER { "$traffic" listen 6 2 kt1 roundrobin 2; }
helper_pid=$HELPER_PID
read -r -t 30 line <&"${HELPER[0]}"
port=$(sed -n 's/.*port=\([0-9]*\).*/\1/p' <<<"$line")
[ -n "$port" ]
tap_ok $? "a shared listening port with traffic ($line)"
"$nstcp" -j listen show >"$tmp/listen.json"
rc=$?
cp /proc/net/nstcp_listen "$tmp/lproc"
py '
o = json.load(open(sys.argv[1])); port = int(sys.argv[3])
rows = [r for r in proc(sys.argv[2]) if r["addr"].endswith(":%d" % port)]
p = [x for x in o if x["port"] == port]
if len(p) != 1: bad.append("%d entries for port %d" % (len(p), port))
else:
	p = p[0]
	r0 = rows[0]
	want = {"addr": r0["addr"], "key": r0["key"], "policy": r0["policy"],
		"listeners": int(r0["listeners"]), "owner": int(r0["owner"]),
		"migrated": int(r0["migrated"]), "key_hidden": False}
	for k, v in want.items():
		if p[k] != v: bad.append("%s: %r, want %r" % (k, p[k], v))
	if len(p["cpus"]) != len(rows): bad.append("%d cpus, want %d" % (len(p["cpus"]), len(rows)))
	for c, r in zip(p["cpus"], rows):
		for k in ["cpu", "queued", "accepted", "stolen"]:
			if c[k] != int(r[k]): bad.append("cpu %s %s: %r, want %s" % (r["cpu"], k, c[k], r[k]))
	if sum(c["queued"] for c in p["cpus"]) != 2: bad.append("queued %r" % p["cpus"])
	if sum(c["accepted"] for c in p["cpus"]) != 6: bad.append("accepted %r" % p["cpus"])
' "$tmp/listen.json" "$tmp/lproc" "$port"
tap_ok $? "-j listen show: port $port as in /proc/net/nstcp_listen (key kt1, roundrobin, 2 listeners, 6 accepted, 2 queued) (exit $rc)"
"$nstcp" -j listen show port "$port" >"$tmp/lport.json"
py '
o = json.load(open(sys.argv[1]))
if [x["port"] for x in o] != [int(sys.argv[2])]: bad.append("%r" % o)
' "$tmp/lport.json" "$port"
tap_ok $? "listen show port $port: that port alone"
"$nstcp" listen show port "$port" >"$tmp/listen.txt"
grep -q "^127.0.0.1:$port key kt1 policy roundrobin listeners 2 owner 0" "$tmp/listen.txt" &&
	grep -Eq '^ +total +2 +6 ' "$tmp/listen.txt"
tap_ok $? "listen show: the port line and its total (2 queued, 6 accepted)"
setpriv --reuid=65534 --regid=65534 --clear-groups "$nstcp" -j listen show port "$port" >"$tmp/nobody.json"
py '
o = json.load(open(sys.argv[1]))
if len(o) != 1 or o[0]["key"] is not None or o[0]["key_hidden"] is not True:
	bad.append("%r" % o)
' "$tmp/nobody.json"
tap_ok $? "as uid 65534: the port is shown, its key hidden (key null, key_hidden true)"
echo "conn 3" >&"${HELPER[1]}"
read -r -t 30 line <&"${HELPER[0]}"
"$nstcp" -j -w 2 -c 1 listen show port "$port" >"$tmp/lwatch.json" &
wpid=$!
sleep 0.5
echo "conn 4" >&"${HELPER[1]}"
read -r -t 30 line2 <&"${HELPER[0]}"
wait $wpid
py '
o = json.loads(open(sys.argv[1]).readline())
p = o["ports"][0]
got = round(sum(c["accepted"] for c in p["cpus"]) * o["interval"])
if got != 4: bad.append("accepted rate x interval = %d, want 4 (%r)" % (got, o))
' "$tmp/lwatch.json"
tap_ok $? "listen -w: the accepted rate over the interval is the 4 connections made in it"
hfd=${HELPER[1]}
exec {hfd}>&-
wait "$helper_pid" 2>/dev/null
helper_pid=
# The port's group goes after a grace period: wait up to 5 s.
for _ in $(seq 50); do
	"$nstcp" -j listen show port "$port" >"$tmp/gone.json"
	[ "$(cat "$tmp/gone.json")" = "[]" ] && break
	sleep 0.1
done
[ "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$tmp/gone.json")" = 0 ]
tap_ok $? "the port closed: listen show port $port is empty"

# --- handoff show ---
"$pending" 2000 >/dev/null
"$nstcp" -j handoff show >"$tmp/ho.json"
rc=$?
cp /proc/net/nstcp_tokens "$tmp/tokens"
py '
o = json.load(open(sys.argv[1])); rows = proc(sys.argv[2])
if len(o) != len(rows) or not o: bad.append("%d hand-offs, /proc has %d" % (len(o), len(rows)))
for h, r in zip(sorted(o, key=lambda h: h["local"]), sorted(rows, key=lambda r: r["local"])):
	if h["local"] != r["local"] or h["peer"] != r["peer"] or h["cpu"] != int(r["cpu"]):
		bad.append("%r vs %r" % (h, r))
	if r["taker"] != "pid:%d" % h.get("taker_pid", -1): bad.append("taker %r vs %r" % (h, r))
	if "token" in h: bad.append("a token shown")
' "$tmp/ho.json" "$tmp/tokens"
tap_ok $? "handoff show -j: the pending hand-off as in /proc/net/nstcp_tokens, no token (exit $rc)"

# --- -n NETNS ---
ip netns add "$ns" && ip -n "$ns" link set lo up
tap_ok $? "ip netns add $ns"
"$nstcp" -j instance show >"$tmp/init_before.json"
want=$(ip netns exec "$ns" "$traffic" 3 1)
"$nstcp" -j instance show >"$tmp/init_after.json"
"$nstcp" -n "$ns" -j instance show >"$tmp/ns.json"
rc=$?
ip netns exec "$ns" cat /proc/net/nstcp >"$tmp/nsproc"
py '
ns = json.load(open(sys.argv[1])); rows = proc(sys.argv[2])
b = json.load(open(sys.argv[3])); a = json.load(open(sys.argv[4]))
if sum(i["connects"] for i in ns) != 3: bad.append("netns connects %d" % sum(i["connects"] for i in ns))
for i, r in zip(ns, rows):
	for c in COUNTERS:
		if i[c] != int(r[NAMES.get(c, c)]): bad.append("netns cpu %s %s" % (r["cpu"], c))
if sum(i["connects"] for i in a) != sum(i["connects"] for i in b): bad.append("the initial namespace counted it")
' "$tmp/ns.json" "$tmp/nsproc" "$tmp/init_before.json" "$tmp/init_after.json"
tap_ok $? "-n $ns: that namespace's instances (3 connects, as its /proc/net/nstcp), not the initial one's (exit $rc)"
"$nstcp" -n "$ns" -j listen show >"$tmp/nsl.json"
[ "$(cat "$tmp/nsl.json")" = "[]" ]
tap_ok $? "-n $ns listen show: no port there"
err=$("$nstcp" -n nstcp-no-such-ns instance show 2>&1 >/dev/null)
rc=$?
[ $rc -eq 1 ] && [[ "$err" == *"network namespace nstcp-no-such-ns"* ]]
tap_ok $? "-n with an unknown namespace: exit 1 ($err)"

# --- bad arguments: usage errors exit 2 with a message ---
bad_args() {	# bad_args DESC ARGS...
	local desc=$1 err rc
	shift
	err=$("$nstcp" "$@" 2>&1 >/dev/null)
	rc=$?
	[ $rc -eq 2 ] && [ -n "$err" ]
	tap_ok $? "$desc: exit 2 ($rc: $(head -1 <<<"$err"))"
}
bad_args "an unknown object" frobnicate show
bad_args "an unknown verb" instance frob
bad_args "port 0" listen show port 0
bad_args "a watch interval of 0" -w 0 instance show
bad_args "no object" -j
err=$("$nstcp" instance show cpu 99999 2>&1 >/dev/null)
rc=$?
[ $rc -eq 1 ] && [ "$err" = "nstcp: no CPU instance 99999" ]
tap_ok $? "instance show cpu 99999: exit 1 ($err)"

# --- the module not loaded ---
# (once the hand-off has expired: a pending token holds the module)
ip netns del "$ns"
for _ in $(seq 100); do
	[ "$(nstcp_nl handoff cpu | wc -l)" -eq 0 ] && break
	sleep 0.1
done
rmmod nstcp
err=$("$nstcp" instance show 2>&1 >"$tmp/stdout")
rc=$?
[ $rc -eq 1 ] && [[ "$err" == *"is the nstcp module loaded"* ]] && [ ! -s "$tmp/stdout" ]
tap_ok $? "without the module: exit 1 and a clear message ($err)"
insmod "$NSTCP_KO"
tap_ok $? "insmod nstcp.ko again"
tap_done
