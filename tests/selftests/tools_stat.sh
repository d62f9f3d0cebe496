#!/bin/bash
# Selftest: tools/out/nstcp-stat shows what /proc/net/nstcp holds, after
# AF_NSTCP traffic made by tools_stat_traffic: the table and its total line,
# the JSON, the interval deltas, a named network namespace (-n), columns it
# does not know, hop accounting switched off, and the error when the module
# is not loaded.  Then the listening ports view (-l), against
# /proc/net/nstcp_listen, with listening AF_NSTCP sockets and connections
# made by tools_stat_traffic listen: the table and port totals, the JSON,
# a shared key and policy, the interval deltas, a named namespace, columns
# it does not know, no ports, no module.  Build first: make tools.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/lib.sh"
stat=$top/tools/out/nstcp-stat
traffic=${NSTCP_SELFTEST_OUT:-$here/out}/tools_stat_traffic
tmp=$(mktemp -d)
ns=nstcp-stat-$$
helpers=()
# The sysctls this test sets, as they were, to be put back.
saved_hops=$(cat /proc/sys/net/nstcp/hop_accounting 2>/dev/null)
saved_delay=$(cat /proc/sys/net/nstcp/accept_steal_delay_ms 2>/dev/null)
cleanup() {
	local h
	for h in "${helpers[@]}"; do kill "$h" 2>/dev/null; done
	ip netns del "$ns" 2>/dev/null
	[ -n "$saved_hops" ] && echo "$saved_hops" >/proc/sys/net/nstcp/hop_accounting 2>/dev/null
	[ -n "$saved_delay" ] && echo "$saved_delay" >/proc/sys/net/nstcp/accept_steal_delay_ms 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
# The traffic helper accepts everything on one CPU: let it steal at once,
# so the counts it predicts do not depend on the steal delay.
echo 0 >/proc/sys/net/nstcp/accept_steal_delay_ms

tap_plan 36

# check MODE ARGS...: compares the tool's output with /proc/net/nstcp.
# Prints what differs on stdout (as TAP comments) and fails.
check() {
	python3 - "$@" <<'PY'
import json, sys

def proc(path):
	lines = [l.split() for l in open(path) if l.strip()]
	cols = lines[0]
	return cols, [dict(zip(cols, map(int, r))) for r in lines[1:]]

def pct(h, c):
	return None if c == 0 else 100.0 * h / c

def table(out, procf):
	"""The table's rows and total line against the file."""
	cols, rows = proc(procf)
	lines = [l.split() for l in open(out) if l.strip()]
	if not lines[0][0].startswith("AF_NSTCP"):
		return ["no heading line: %r" % lines[0]]
	head, body = lines[1], lines[2:]
	titles = [c.upper() if c == "cpu" else c[0].upper() + c[1:] for c in cols]
	want = titles[:]
	want.insert(want.index("Hops") + 1, "Hop%")
	if head != want:
		return ["header %r, want %r" % (head, want)]
	if len(body) != len(rows) + 1:
		return ["%d lines, want %d rows and a total" % (len(body), len(rows))]
	bad = []
	for r, line in zip(rows + [None], body):
		cells = dict(zip(head, line))
		for c, t in zip(cols, titles):
			if r is None:
				v = sum(x[c] for x in rows)
				exp = {"cpu": "all",
				       "online": "%d/%d" % (v, len(rows))}.get(c, str(v))
			else:
				v = r[c]
				exp = {"online": "yes" if v else "no"}.get(c, str(v))
			if cells[t] != exp:
				bad.append("row %s %s: %s, want %s" % (line[0], t, cells[t], exp))
		src = rows if r is None else [r]
		p = pct(sum(x["hops"] for x in src), sum(x["calls"] for x in src))
		exp = "-" if p is None else "%.1f" % p
		if cells["Hop%"] != exp:
			bad.append("row %s Hop%%: %s, want %s" % (line[0], cells["Hop%"], exp))
	return bad

def jsoncheck(out, procf):
	"""The JSON object against the file."""
	cols, rows = proc(procf)
	objs = [json.loads(l) for l in open(out)]
	if len(objs) != 1:
		return ["%d JSON objects, want 1" % len(objs)]
	o, bad = objs[0], []
	if o["columns"] != cols:
		bad.append("columns %r, want %r" % (o["columns"], cols))
	if o["delta"] is not False:
		bad.append("delta is %r" % o["delta"])
	for r, i in zip(rows, o["instances"]):
		for c in cols:
			if i.get(c) != r[c]:
				bad.append("cpu %d %s: %r, want %r" % (r["cpu"], c, i.get(c), r[c]))
		p = pct(r["hops"], r["calls"])
		if (p is None) != (i["hop_pct"] is None) or (p is not None and abs(p - i["hop_pct"]) > 0.006):
			bad.append("cpu %d hop_pct %r, want %r" % (r["cpu"], i["hop_pct"], p))
	if len(o["instances"]) != len(rows):
		bad.append("%d instances, want %d" % (len(o["instances"]), len(rows)))
	t = o["total"]
	if t["cpus"] != len(rows):
		bad.append("total cpus %r" % t["cpus"])
	for c in cols[1:]:
		if t.get(c) != sum(r[c] for r in rows):
			bad.append("total %s: %r, want %r" % (c, t.get(c), sum(r[c] for r in rows)))
	return bad

def interval(out, procf, before):
	"""-j -i: a first report of the counts, then deltas adding up to the file."""
	cols, rows = proc(procf)
	objs = [json.loads(l) for l in open(out)]
	first, rest = objs[0], objs[1:]
	bad = []
	if first["delta"] or not rest or not all(o["delta"] for o in rest):
		bad.append("delta flags %r" % [o["delta"] for o in objs])
	for c in cols[2:]:
		for k, r in enumerate(rows):
			got = first["instances"][k][c] + sum(o["instances"][k][c] for o in rest)
			if got != r[c]:
				bad.append("cpu %d %s: reports add up to %d, want %d" % (k, c, got, r[c]))
	grew = sum(o["total"]["connects"] for o in rest)
	if grew != int(before):
		bad.append("the deltas show %d connects, want %s" % (grew, before))
	if any(o["instances"][k]["online"] != r["online"] for o in objs for k, r in enumerate(rows)):
		bad.append("online is not a state in the deltas")
	return bad


def lproc(path):
	"""/proc/net/nstcp_listen: its columns and its ports, each (addr, rows)."""
	lines = [l.split() for l in open(path) if l.strip()]
	cols, ports = lines[0], []
	for r in lines[1:]:
		d = dict(zip(cols, r))
		if not ports or ports[-1][0] != (d["addr"], d["key"]):
			ports.append(((d["addr"], d["key"]), []))
		ports[-1][1].append(d)
	return cols, [(a[0], rows) for a, rows in ports]

PERCPU = ["queued", "accepted", "stolen"]

def lpct(rows):
	acc = sum(int(r["accepted"]) for r in rows)
	st = sum(int(r["stolen"]) for r in rows)
	return None if acc == 0 else 100.0 * (acc - st) / acc

def ltable(out, procf, want_ports=None):
	"""-l: a section per port, its rows and total line against the file."""
	cols, ports = lproc(procf)
	lines = [l.split() for l in open(out) if l.strip()]
	bad = []
	if lines[0][:4] != ["AF_NSTCP", "listening", "ports,", "family"]:
		bad.append("heading %r" % lines[0])
	starts = [i for i, l in enumerate(lines) if l[0] == "Port"]
	if len(starts) != len(ports):
		return bad + ["%d ports shown, want %d" % (len(starts), len(ports))]
	if not ports and lines[1:] != [["no", "AF_NSTCP", "listening", "ports"]]:
		bad.append("no 'no AF_NSTCP listening ports' line: %r" % lines[1:])
	for (addr, rows), i in zip(ports, starts):
		pl = lines[i]
		want = ["Port", addr, "key", rows[0]["key"], "policy", rows[0]["policy"],
			"listeners", rows[0]["listeners"], "migrated", rows[0]["migrated"],
			"owner", rows[0]["owner"]]
		if pl != want:
			bad.append("port line %r, want %r" % (pl, want))
		if lines[i + 1] != ["CPU", "Queued", "Accepted", "Stolen", "Local%"]:
			bad.append("%s: header %r" % (addr, lines[i + 1]))
		body = lines[i + 2:i + 3 + len(rows)]
		for r, l in zip(rows + [None], body):
			src = rows if r is None else [r]
			p = lpct(src)
			exp = ["all" if r is None else r["cpu"]] + \
			      [str(sum(int(x[c]) for x in src)) for c in PERCPU] + \
			      ["-" if p is None else "%.1f" % p]
			if l != exp:
				bad.append("%s: line %r, want %r" % (addr, l, exp))
	return bad

def ljson(out, procf):
	"""-l -j: the ports, their instances and totals against the file."""
	cols, ports = lproc(procf)
	objs = [json.loads(l) for l in open(out)]
	if len(objs) != 1:
		return ["%d JSON objects, want 1" % len(objs)]
	o, bad = objs[0], []
	if o["columns"] != cols or o["delta"] is not False:
		bad.append("columns %r, delta %r" % (o["columns"], o["delta"]))
	if len(o["ports"]) != len(ports):
		return bad + ["%d ports, want %d" % (len(o["ports"]), len(ports))]
	for (addr, rows), jp in zip(ports, o["ports"]):
		r0 = rows[0]
		want = {"addr": addr, "key": None if r0["key"] == "-" else r0["key"],
			"policy": r0["policy"], "listeners": int(r0["listeners"]),
			"migrated": int(r0["migrated"]), "owner": int(r0["owner"])}
		for k, v in want.items():
			if jp.get(k) != v:
				bad.append("%s %s: %r, want %r" % (addr, k, jp.get(k), v))
		if len(jp["instances"]) != len(rows):
			bad.append("%s: %d instances, want %d" % (addr, len(jp["instances"]), len(rows)))
		for r, i in zip(rows, jp["instances"]):
			for c in ["cpu"] + PERCPU:
				if i.get(c) != int(r[c]):
					bad.append("%s cpu %s %s: %r, want %s" % (addr, r["cpu"], c, i.get(c), r[c]))
			p = lpct([r])
			if (p is None) != (i["local_pct"] is None) or (p is not None and abs(p - i["local_pct"]) > 0.006):
				bad.append("%s cpu %s local_pct %r, want %r" % (addr, r["cpu"], i["local_pct"], p))
		t = jp["total"]
		for c in PERCPU:
			if t.get(c) != sum(int(r[c]) for r in rows):
				bad.append("%s total %s: %r" % (addr, c, t.get(c)))
		if t.get("cpus") != len(rows) or t.get("migrated") != int(r0["migrated"]):
			bad.append("%s total cpus/migrated: %r" % (addr, t))
	return bad

def linterval(out, procf, addr, grew):
	"""-l -j -i: counts so far, then changes adding up to the file; queued a state."""
	cols, ports = lproc(procf)
	rows = dict(ports).get(addr)
	objs = [json.loads(l) for l in open(out)]
	bad = []
	if rows is None:
		return ["port %s not in the file" % addr]
	if objs[0]["delta"] or len(objs) < 2 or not all(o["delta"] for o in objs[1:]):
		bad.append("delta flags %r" % [o["delta"] for o in objs])
	mine = [[p for p in o["ports"] if p["addr"] == addr] for o in objs]
	if not all(len(m) == 1 for m in mine):
		return bad + ["port %s not in every report" % addr]
	mine = [m[0] for m in mine]
	if any(m.get("new") for m in mine[1:]):
		bad.append("the port is marked new in a delta")
	for k, r in enumerate(rows):
		for c in ["accepted", "stolen"]:
			got = sum(m["instances"][k][c] for m in mine)
			if got != int(r[c]):
				bad.append("cpu %s %s: reports add up to %d, want %s" % (r["cpu"], c, got, r[c]))
		if any(m["instances"][k]["queued"] != int(r["queued"]) for m in (mine[0], mine[-1])):
			bad.append("cpu %s: queued is not shown as a state" % r["cpu"])
	d = sum(m["total"]["accepted"] for m in mine[1:])
	if d != int(grew):
		bad.append("the deltas show %d accepted, want %s" % (d, grew))
	return bad

mode, args = sys.argv[1], sys.argv[2:]
bad = {"table": table, "json": jsoncheck, "interval": interval,
       "ltable": ltable, "ljson": ljson, "linterval": linterval}[mode](*args)
for b in bad:
	print("# " + b)
sys.exit(1 if bad else 0)
PY
}

# jget FILE EXPR: evaluates a Python expression on the JSON object "o".
jget() { python3 -c 'import json,sys; o=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }
# procsum COLUMN: sum of a column of /proc/net/nstcp (by name).
procsum() { nstcp_proc_sum /proc/net/nstcp "$1"; }

# The listen helpers (tools_stat_traffic listen ...) run in the background
# with their stdin on a fifo: helper_start NAME CMD... starts one and waits
# for its first line; helper_cmd NAME LINE sends it a command and waits for
# its answer; hget NAME KEY reads a KEY=VALUE of its last line;
# helper_stop NAME closes its stdin, so it closes its sockets and exits.
declare -A hfd hpid hlines
helper_wait() {	# NAME N: until the helper has printed N lines
	local _
	for _ in $(seq 200); do
		[ "$(wc -l <"$tmp/$1.out")" -ge "$2" ] && return 0
		kill -0 "${hpid[$1]}" 2>/dev/null || break
		sleep 0.05
	done
	[ "$(wc -l <"$tmp/$1.out")" -ge "$2" ]
}
helper_start() {
	local name=$1 fd
	shift
	mkfifo "$tmp/$name.in"
	"$@" <"$tmp/$name.in" >"$tmp/$name.out" 2>&1 &
	hpid[$name]=$!
	helpers+=($!)
	exec {fd}>"$tmp/$name.in"
	hfd[$name]=$fd
	hlines[$name]=1
	helper_wait "$name" 1
}
helper_cmd() {
	echo "$2" >&"${hfd[$1]}"
	hlines[$1]=$((hlines[$1] + 1))
	helper_wait "$1" "${hlines[$1]}"
}
helper_line() { tail -n1 "$tmp/$1.out"; }
hget() { helper_line "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
helper_stop() {
	eval "exec ${hfd[$1]}>&-"
	wait "${hpid[$1]}"
}
# lhelper JSON ADDR LINE: the port's totals in nstcp-stat -l -j against what
# the helper says it did (LINE); its connections were queued on the CPU
# they came from (homes = sent), so some were stolen by the one acceptor.
lhelper() {
	python3 - "$@" <<'PY'
import json, sys
o = json.load(open(sys.argv[1]))
h = dict(kv.split("=") for kv in sys.argv[3].split())
ports = [p for p in o["ports"] if p["addr"] == sys.argv[2]]
bad = []
if len(ports) != 1:
	bad.append("port %s shown %d times" % (sys.argv[2], len(ports)))
else:
	p = ports[0]
	t = p["total"]
	for k in ("accepted", "queued", "stolen"):
		if t[k] != int(h[k]):
			bad.append("total %s %d, the helper says %s" % (k, t[k], h[k]))
	homes = [int(x) for x in h["homes"].split(",")]
	sent = [int(x) for x in h["sent"].split(",")]
	homes += [0] * (len(p["instances"]) - len(homes))
	sent += [0] * (len(p["instances"]) - len(sent))
	acc = [i["accepted"] for i in p["instances"]]
	if acc != homes:
		bad.append("accepted per CPU %r, the helper's homes %r" % (acc, homes))
	if homes != sent:
		bad.append("connections homed %r, made from %r" % (homes, sent))
	if len(p["instances"]) > 1 and t["stolen"] == 0:
		bad.append("nothing stolen")
	want = 100.0 * (t["accepted"] - t["stolen"]) / t["accepted"]
	if abs(t["local_pct"] - want) > 0.006:
		bad.append("total local_pct %r, want %r" % (t["local_pct"], want))
for b in bad:
	print("# " + b)
sys.exit(1 if bad else 0)
PY
}

[ -x "$stat" ] && [ -x "$traffic" ]
tap_ok $? "tools are built ($stat, $traffic; run make tools)"

# --- the table, after traffic ---
out=$(cd "$tmp" && "$traffic" 5 20)
tap_ok $? "traffic: 5 AF_NSTCP connections of 20 round trips ($out)"
"$stat" >"$tmp/table" 2>"$tmp/err"
rc=$?
cp /proc/net/nstcp "$tmp/proc"
sed 's/^/# /' "$tmp/table"
tap_ok $rc "nstcp-stat exits 0"
check table "$tmp/table" "$tmp/proc"
tap_ok $? "the table's rows and total line match /proc/net/nstcp"
calls=$(procsum calls) hops=$(procsum hops) conn=$(procsum connects)
[ "$conn" -ge 5 ] && [ "$calls" -ge 200 ]
tap_ok $? "the counters show the traffic (connects $conn, calls $calls, hops $hops)"

# --- JSON ---
"$stat" -j >"$tmp/json" 2>"$tmp/err"
rc=$?
cp /proc/net/nstcp "$tmp/proc"
tap_ok $rc "nstcp-stat -j exits 0"
check json "$tmp/json" "$tmp/proc"
tap_ok $? "the JSON's instances and total match /proc/net/nstcp"
before=$(jget "$tmp/json" 'o["total"]["calls"]')
want=$("$traffic" 2 10 | sed -n 's/.*calls=\([0-9]*\).*/\1/p')
"$stat" -j >"$tmp/json2"
after=$(jget "$tmp/json2" 'o["total"]["calls"]')
[ -n "$want" ] && [ $((after - before)) -eq "$want" ]
tap_ok $? "JSON total calls grow by the calls the traffic made ($before -> $after, want +$want)"

# --- -i: the counts, then deltas ---
"$stat" -j -i 0.5 -c 6 >"$tmp/ilog" 2>"$tmp/err" &
ipid=$!
for _ in $(seq 100); do [ -s "$tmp/ilog" ] && break; sleep 0.05; done
"$traffic" 3 5 >/dev/null
wait $ipid
rc=$?
cp /proc/net/nstcp "$tmp/proc"
[ $rc -eq 0 ] && [ "$(wc -l <"$tmp/ilog")" -eq 6 ]
tap_ok $? "nstcp-stat -j -i 0.5 -c 6 gives 6 reports (exit $rc, $(wc -l <"$tmp/ilog") lines)"
check interval "$tmp/ilog" "$tmp/proc" 3
tap_ok $? "the interval deltas add up to /proc/net/nstcp and show the 3 connects"
"$stat" -i 0.2 -c 3 >"$tmp/itable"
n=$(grep -c '^AF_NSTCP.*changes in' "$tmp/itable")
tap_ok "$([ "$n" -eq 2 ] && grep -q '^AF_NSTCP.*counts so far' "$tmp/itable"; echo $?)" \
	"the table with -i 0.2 -c 3: the counts, then 2 delta tables ($n)"

# --- -n NETNS ---
ip netns add "$ns" && ip -n "$ns" link set lo up
tap_ok $? "ip netns add $ns"
init_before=$("$stat" -j | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"]["connects"])')
out=$(ip netns exec "$ns" "$traffic" 3 4)
tap_ok $? "traffic in netns $ns ($out)"
"$stat" -n "$ns" -j >"$tmp/nsjson" 2>"$tmp/err"
rc=$?
ip netns exec "$ns" cat /proc/net/nstcp >"$tmp/nsproc"
tap_ok $rc "nstcp-stat -n $ns -j exits 0 $(cat "$tmp/err")"
check json "$tmp/nsjson" "$tmp/nsproc" &&
	[ "$(jget "$tmp/nsjson" 'o["total"]["connects"]')" -eq 3 ] &&
	[ "$(jget "$tmp/nsjson" 'o["netns"]')" = "$ns" ]
tap_ok $? "-n $ns shows that namespace's instances: 3 connects, matching its /proc/net/nstcp"
init_after=$("$stat" -j | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"]["connects"])')
"$stat" -n "$ns" >"$tmp/nstable"
[ "$init_before" = "$init_after" ] && grep -q "^AF_NSTCP.*netns $ns" "$tmp/nstable"
tap_ok $? "the init namespace did not count it ($init_before -> $init_after); the table names the netns"
err=$("$stat" -n nstcp-no-such-ns 2>&1 >/dev/null)
rc=$?
[ $rc -eq 1 ] && grep -q 'nstcp-no-such-ns' <<<"$err"
tap_ok $? "-n with an unknown namespace fails (exit $rc: $err)"
# -l -n: a listening port in the namespace, none in ours.
ok=1
if helper_start l3 ip netns exec "$ns" "$traffic" listen 2 1; then
	"$stat" -l -n "$ns" -j >"$tmp/nsljson" 2>"$tmp/err" &&
		ip netns exec "$ns" cat /proc/net/nstcp_listen >"$tmp/nslproc" &&
		check ljson "$tmp/nsljson" "$tmp/nslproc" &&
		lhelper "$tmp/nsljson" "127.0.0.1:$(hget l3 port)" "$(helper_line l3)" &&
		[ "$(jget "$tmp/nsljson" 'len(o["ports"]), o["netns"]')" = "(1, '$ns')" ] &&
		[ "$(jget <("$stat" -l -j) 'len(o["ports"])')" = 0 ] && ok=0
	helper_stop l3
fi
tap_ok $ok "-l -n $ns shows the namespace's listening port ($(helper_line l3)), ours none"
ip netns del "$ns"

# --- columns it does not know, in another order ---
cat >"$tmp/future" <<'EOF'
cpu online hops calls sockets closes accepts connects frobs
0 1 3 12 1 1 0 1 77
1 0 0 0 0 0 0 0 5
EOF
ok=1
"$stat" -f "$tmp/future" >"$tmp/ftable" && "$stat" -f "$tmp/future" -j >"$tmp/fjson" &&
	check json "$tmp/fjson" "$tmp/future" &&
	grep -q '^CPU  Online  Hops  Hop%  Calls  Sockets  Closes  Accepts  Connects  Frobs$' "$tmp/ftable" &&
	grep -Eq '^all +1/2 +3 +25\.0 +12 +1 +1 +0 +1 +82$' "$tmp/ftable" && ok=0
sed 's/^/# /' "$tmp/ftable"
tap_ok $ok "a column it does not know (frobs) and a new column order still show"
printf 'cpu online calls\n0 1 x\n' >"$tmp/broken"
err=$("$stat" -f "$tmp/broken" 2>&1)
rc=$?
[ $rc -eq 1 ] && grep -q 'unexpected contents at line 2' <<<"$err"
tap_ok $? "a malformed file is refused (exit $rc: $err)"

# --- hop accounting off ---
echo 0 >/proc/sys/net/nstcp/hop_accounting
c0=$(procsum calls)
"$traffic" 2 5 >/dev/null
c1=$(procsum calls)
"$stat" >"$tmp/offtable"
echo 1 >/proc/sys/net/nstcp/hop_accounting
[ "$c0" = "$c1" ] && grep -q '^AF_NSTCP.*hop accounting off' "$tmp/offtable" &&
	[ "$(jget <("$stat" -j) 'o["hop_accounting"]')" = 1 ]
tap_ok $? "with net.nstcp.hop_accounting=0 calls stay at $c0 ($c1) and the heading says so"

# --- -l: the listening ports ---
helper_start l1 "$traffic" listen 6 2
tap_ok $? "listen helper: an AF_NSTCP listener, 6 connections made from each CPU in turn and accepted on one, 2 left queued ($(helper_line l1))"
laddr=127.0.0.1:$(hget l1 port)
"$stat" -l >"$tmp/ltable" 2>"$tmp/err"
rc=$?
cp /proc/net/nstcp_listen "$tmp/lproc"
sed 's/^/# /' "$tmp/ltable"
[ $rc -eq 0 ] && check ltable "$tmp/ltable" "$tmp/lproc"
tap_ok $? "nstcp-stat -l: the port's line, its rows per CPU and its total match /proc/net/nstcp_listen"
"$stat" -l -j >"$tmp/ljson" 2>"$tmp/err"
rc=$?
cp /proc/net/nstcp_listen "$tmp/lproc"
[ $rc -eq 0 ] && lhelper "$tmp/ljson" "$laddr" "$(helper_line l1)"
tap_ok $? "the port total shows the helper's connections: accepted, queued, stolen, accepted per CPU where they came from"
check ljson "$tmp/ljson" "$tmp/lproc"
tap_ok $? "nstcp-stat -l -j: the ports, instances and totals match /proc/net/nstcp_listen"

# A second port, shared under a key by two listeners.
ok=1
if helper_start l2 "$traffic" listen 0 3 stat1 roundrobin 2; then
	l2addr=127.0.0.1:$(hget l2 port)
	"$stat" -l >"$tmp/ltable2" && "$stat" -l -j >"$tmp/ljson2" &&
		cp /proc/net/nstcp_listen "$tmp/lproc2" &&
		check ltable "$tmp/ltable2" "$tmp/lproc2" &&
		check ljson "$tmp/ljson2" "$tmp/lproc2" &&
		grep -q "^Port $l2addr  key stat1  policy roundrobin  listeners 2  migrated 0  owner 0$" "$tmp/ltable2" &&
		[ "$(jget "$tmp/ljson2" '[p["total"]["queued"] for p in o["ports"] if p["addr"] == "'"$l2addr"'"]')" = "[3]" ] &&
		[ "$(grep -c '^Port ' "$tmp/ltable2")" -eq 2 ] && ok=0
	sed 's/^/# /' "$tmp/ltable2"
	helper_stop l2
fi
tap_ok $ok "a second port shared under key stat1 by 2 listeners, policy roundrobin, 3 queued: both ports shown"

# -i: the counts so far, then changes; queued stays a state.
"$stat" -l -j -i 0.5 -c 4 >"$tmp/lilog" 2>"$tmp/err" &
ipid=$!
for _ in $(seq 100); do [ -s "$tmp/lilog" ] && break; sleep 0.05; done
helper_cmd l1 "conn 3"
wait $ipid
rc=$?
cp /proc/net/nstcp_listen "$tmp/lproc"
[ $rc -eq 0 ] && [ "$(wc -l <"$tmp/lilog")" -eq 4 ] &&
	check linterval "$tmp/lilog" "$tmp/lproc" "$laddr" 3
tap_ok $? "nstcp-stat -l -j -i 0.5 -c 4: changes add up to /proc/net/nstcp_listen and show 3 more accepted ($(helper_line l1))"
"$stat" -l -i 0.2 -c 2 >"$tmp/litable"
grep -q '^AF_NSTCP listening ports.*counts so far' "$tmp/litable" &&
	[ "$(grep -c '^AF_NSTCP listening ports.*changes in' "$tmp/litable")" -eq 1 ] &&
	[ "$(grep -c "^Port $laddr " "$tmp/litable")" -eq 2 ] &&
	grep -Eq '^all +2 +0 +0 +-$' "$tmp/litable"
tap_ok $? "the -l table with -i 0.2 -c 2: the counts, then a table of changes (none, 2 queued)"
helper_stop l1

# Columns it does not know, in another order.
cat >"$tmp/lfuture" <<'END'
cpu addr stolen accepted queued policy key listeners migrated frobs
0 [::1]:99 1 4 0 least k1 2 7 x
1 [::1]:99 0 2 1 least k1 2 7 y
END
"$stat" -l -f "$tmp/lfuture" | tr -s ' ' >"$tmp/lftable"
sed 's/^/# /' "$tmp/lftable"
printf 'cpu addr queued\n0 1.2.3.4:5 x\n' >"$tmp/lbroken"
err=$("$stat" -l -f "$tmp/lbroken" 2>&1)
rc=$?
cat >"$tmp/lfwant" <<'END'
AF_NSTCP listening ports, from LFUTURE; counts so far

Port [::1]:99 policy least key k1 listeners 2 migrated 7
CPU Stolen Local% Accepted Queued Frobs
0 1 75.0 4 0 x
1 0 100.0 2 1 y
all 1 83.3 6 1 -
END
sed -i "s|LFUTURE|$tmp/lfuture|" "$tmp/lfwant"
diff -u "$tmp/lfwant" "$tmp/lftable" | sed 's/^/# /'
cmp -s "$tmp/lfwant" "$tmp/lftable" && [ $rc -eq 1 ] &&
	grep -q 'unexpected contents at line 2' <<<"$err" &&
	[ "$(jget <("$stat" -l -j -f "$tmp/lfuture") 'o["ports"][0]["instances"][1]["frobs"], o["ports"][0]["key"], o["ports"][0]["total"]["migrated"]')" = "('y', 'k1', 7)" ]
tap_ok $? "-l -f: columns it does not know and a new order still show; a malformed file is refused ($err)"

# No listening ports.
"$stat" -l >"$tmp/lnone" && "$stat" -l -j >"$tmp/lnonej" &&
	cp /proc/net/nstcp_listen "$tmp/lproc" && check ltable "$tmp/lnone" "$tmp/lproc" &&
	grep -q '^no AF_NSTCP listening ports$' "$tmp/lnone" &&
	[ "$(jget "$tmp/lnonej" 'o["ports"]')" = "[]" ]
tap_ok $? "with no listening port: 'no AF_NSTCP listening ports', and \"ports\":[] in JSON"

# --- usage ---
"$stat" -h | grep -q '^Usage: nstcp-stat'
tap_ok $? "-h prints the usage"
"$stat" -x >/dev/null 2>&1
rc=$?
[ $rc -eq 2 ]
tap_ok $? "an unknown option exits 2 ($rc)"

# --- the module not loaded ---
rmmod nstcp
tap_ok $? "rmmod nstcp"
err=$("$stat" 2>&1 >"$tmp/stdout")
rc=$?
[ $rc -eq 1 ] && [ "$err" = "nstcp-stat: AF_NSTCP is not loaded (no /proc/net/nstcp)" ] &&
	[ ! -s "$tmp/stdout" ]
tap_ok $? "without the module: exit 1 and a clear message (exit $rc: $err)"
err=$("$stat" -l 2>&1 >"$tmp/stdout")
rc=$?
[ $rc -eq 1 ] && [ "$err" = "nstcp-stat: AF_NSTCP is not loaded (no /proc/net/nstcp_listen)" ] &&
	[ ! -s "$tmp/stdout" ]
tap_ok $? "-l without the module: exit 1 and a clear message (exit $rc: $err)"
insmod "$NSTCP_KO"
tap_ok $? "insmod nstcp.ko again"
tap_done
