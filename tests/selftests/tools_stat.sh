#!/bin/bash
# Selftest: tools/out/nstcp-stat shows what /proc/net/nstcp holds, after
# AF_NSTCP traffic made by tools_stat_traffic: the table and its total line,
# the JSON, the interval deltas, a named network namespace (-n), columns it
# does not know, hop accounting switched off, and the error when the module
# is not loaded.  Build first: make tools.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/lib.sh"
stat=$top/tools/out/nstcp-stat
traffic=${NSTCP_SELFTEST_OUT:-$here/out}/tools_stat_traffic
tmp=$(mktemp -d)
ns=nstcp-stat-$$
cleanup() {
	ip netns del "$ns" 2>/dev/null
	echo 1 >/proc/sys/net/nstcp/hop_accounting 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

tap_plan 25

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
	want = [c.upper() if c == "cpu" else c[0].upper() + c[1:] for c in cols]
	want.insert(want.index("Hops") + 1, "Hop%")
	if head != want:
		return ["header %r, want %r" % (head, want)]
	if len(body) != len(rows) + 1:
		return ["%d lines, want %d rows and a total" % (len(body), len(rows))]
	bad = []
	for r, line in zip(rows + [None], body):
		cells = dict(zip(head, line))
		for c, t in zip(cols, want):
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

mode, args = sys.argv[1], sys.argv[2:]
bad = {"table": table, "json": jsoncheck, "interval": interval}[mode](*args)
for b in bad:
	print("# " + b)
sys.exit(1 if bad else 0)
PY
}

# jget FILE EXPR: evaluates a Python expression on the JSON object "o".
jget() { python3 -c 'import json,sys; o=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }
# procsum COLUMN: sum of a column of /proc/net/nstcp (by name).
procsum() { awk -v c="$1" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) k = i; next } { s += $k } END { print s + 0 }' /proc/net/nstcp; }

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
insmod "$NSTCP_KO"
tap_ok $? "insmod nstcp.ko again"
tap_done
