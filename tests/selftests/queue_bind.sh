#!/bin/bash
# Selftest: `nstcp queue bind|restore` (Documentation/steering.rst).
# Without a NIC: bad input (device, CPU lists, offline CPU, restore with
# nothing saved) and an unprivileged caller fail with a clear message and
# change nothing; a dummy device (no ethtool operations) is bound through
# what it has (RPS, RFS, the module's map) with every other step skipped
# and why; a veth's dry run changes nothing; a second bind keeps the first
# bind's saved state, also when run again after a CPU went offline;
# restore gives back byte-identical settings (a snapshot of every file
# and ethtool value bind may change); irqbalance is detected; a veth of
# 300 queues is bound and restored; restore refuses, writing nothing, a
# state file naming another interrupt or a queue the device lacks, not
# root's, not mode 0600, a FIFO or a link, or in a /run/nstcp others may
# write (and bind refuses such a file or directory too).  With the multi-queue test NIC (tests/vm/run --nic mq, with
# `lc_peer connect 198.18.0.2 7101 200` on the host side): channels,
# every queue's interrupts, the RSS table, XPS, RPS and the module's map
# as intended after bind; the host's connections accepted on the CPU that
# received them (>= 99%, one acceptor pinned per CPU); restore
# byte-identical.  Build first: make tools.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/lib.sh"
nstcp=$top/tools/out/nstcp
out_dir=${NSTCP_SELFTEST_OUT:-$here/out}
accept_helper=$out_dir/helpers/qb_accept
tmp=$(mktemp -d)
nic=${NSTCP_NIC_DEV:-}
ncpu=$(nproc)
last=$((ncpu - 1))
fake_pid=
saved_steal=$(cat /proc/sys/net/nstcp/accept_steal 2>/dev/null)
nic_channels=
cleanup() {
	[ -n "$fake_pid" ] && kill "$fake_pid" 2>/dev/null
	for d in qbdummy qbv0 "$nic"; do
		[ -n "$d" ] && [ -e "/run/nstcp/queue-$d.json" ] &&
			"$nstcp" queue restore dev "$d" >/dev/null 2>&1
	done
	ip link del qbdummy 2>/dev/null
	ip link del qbv0 2>/dev/null
	ip link del qbv300 2>/dev/null
	[ -d /run/nstcp ] && chmod 0700 /run/nstcp
	[ -n "$nic_channels" ] && ethtool -L "$nic" combined "$nic_channels" 2>/dev/null
	[ -e /sys/devices/system/cpu/cpu$last/online ] &&
		echo 1 >/sys/devices/system/cpu/cpu$last/online 2>/dev/null
	[ -n "$saved_steal" ] && echo "$saved_steal" >/proc/sys/net/nstcp/accept_steal
	rm -rf "$tmp"
}
trap cleanup EXIT

if [ -n "$nic" ]; then tap_plan 70; else tap_plan 45; fi

# snap DEV: every value bind may change, one "name: value" a line.
snap() {
	local dev=$1 f irq
	for f in /sys/class/net/"$dev"/queues/*/{rps_cpus,rps_flow_cnt,xps_cpus} \
		/proc/sys/net/core/rps_sock_flow_entries; do
		[ -e "$f" ] && echo "$f: $(cat "$f" 2>&1)"
	done
	for irq in $(ls /sys/class/net/"$dev"/device/msi_irqs /sys/class/net/"$dev"/device/../msi_irqs 2>/dev/null | grep -E '^[0-9]+$'); do
		echo "irq $irq: $(cat /proc/irq/"$irq"/smp_affinity_list)"
	done
	ethtool -l "$dev" 2>&1
	ethtool -x "$dev" 2>&1
	ethtool -k "$dev" 2>&1 | grep -E '^ntuple'
}
# step FILE STEP: the result of a step of a -j bind or restore ("" if none).
step() {
	python3 -c '
import json, sys
for s in json.load(open(sys.argv[1]))["steps"]:
	if s["step"] == sys.argv[2]:
		print(s["result"]); break' "$1" "$2"
}
state() { echo "/run/nstcp/queue-$1.json"; }
# fails DESC WANT_RC WANT_TEXT DEV ARGS...: the command fails with that
# exit status and message, and DEV's settings and saved state are as before.
fails() {
	local desc=$1 want_rc=$2 want=$3 dev=$4 err rc
	shift 4
	snap "$dev" >"$tmp/f.before"
	err=$("$@" 2>&1 >/dev/null)
	rc=$?
	snap "$dev" >"$tmp/f.after"
	[ $rc -eq "$want_rc" ] && [[ "$err" == *"$want"* ]] &&
		cmp -s "$tmp/f.before" "$tmp/f.after" && [ ! -e "$(state "$dev")" ]
	tap_ok $? "$desc: exit $rc, nothing changed ($(head -1 <<<"$err"))"
}

[ -x "$nstcp" ] && [ -x "$accept_helper" ] && command -v ethtool >/dev/null
tap_ok $? "tools are built and ethtool is there ($nstcp, $accept_helper)"

# --- bad input, unprivileged: clear errors, nothing changed ---
ip link add qbdummy type dummy && ip link set qbdummy up
tap_ok $? "a dummy device qbdummy"
fails "an unknown device" 1 'no device "nstcp-nodev"' qbdummy \
	"$nstcp" queue bind dev nstcp-nodev
fails "cpus 0-x" 2 'bad cpus list "0-x"' qbdummy \
	"$nstcp" queue bind dev qbdummy cpus 0-x
fails "cpus 3-1" 2 'bad cpus list' qbdummy "$nstcp" queue bind dev qbdummy cpus 3-1
fails "cpus 9999" 1 'no such CPU' qbdummy "$nstcp" queue bind dev qbdummy cpus 9999
fails "cpus 0,$ncpu (not an online CPU)" 1 "CPU $ncpu" qbdummy \
	"$nstcp" queue bind dev qbdummy cpus 0,$ncpu
if echo 0 >/sys/devices/system/cpu/cpu$last/online; then
	fails "cpus $last while CPU $last is offline" 1 "CPU $last is offline" qbdummy \
		"$nstcp" queue bind dev qbdummy cpus 0-$last
	echo 1 >/sys/devices/system/cpu/cpu$last/online
else
	tap_ok 1 "CPU $last offline"
fi
fails "no dev" 2 "needs dev DEV" qbdummy "$nstcp" queue bind cpus 0
fails "restore with nothing saved" 1 "nothing to restore" qbdummy \
	"$nstcp" queue restore dev qbdummy
fails "bind as uid 65534" 1 "Operation not permitted" qbdummy \
	setpriv --reuid=65534 --regid=65534 --clear-groups "$nstcp" queue bind dev qbdummy

# --- a dummy device: no ethtool operations, no interrupts ---
snap qbdummy >"$tmp/d0"
"$nstcp" -j queue bind dev qbdummy >"$tmp/d.json" 2>"$tmp/err"
rc=$?
python3 - "$tmp/d.json" "$ncpu" <<'PY'
import json, sys
o = json.load(open(sys.argv[1])); n = int(sys.argv[2])
r = {s["step"]: s for s in o["steps"]}
want = {"channels": "skipped", "irq": "skipped", "rss indir": "skipped",
	"xps tx-0": "skipped", "rps rx-0": "done" if n > 1 else "unchanged",
	"rfs rx-0": "done", "module map": "done", "ntuple": "skipped"}
bad = ["%s: %r" % (k, r.get(k)) for k, v in want.items() if k not in r or r[k]["result"] != v]
bad += ["%s skipped without a reason" % k for k, s in r.items()
	if s["result"] == "skipped" and not s.get("reason")]
for b in bad: print("# " + b)
sys.exit(1 if bad else 0)
PY
tap_ok $? "bind dummy: channels, irq, rss, xps, ntuple skipped with reasons; rps, rfs, the map done (exit $rc $(cat "$tmp/err"))"
all=$(printf '%x' $(( (1 << ncpu) - 1 )))
[ "$(cat /sys/class/net/qbdummy/queues/rx-0/rps_cpus | tr -d ,0)" = "$(tr -d 0 <<<"$all")" ] &&
	[ "$(cat /proc/sys/net/core/rps_sock_flow_entries)" -ge 32768 ] &&
	[ "$(cat /sys/class/net/qbdummy/queues/rx-0/rps_flow_cnt)" -ge 32768 ]
tap_ok $? "one queue: RPS over every CPU ($all), RFS on"
"$nstcp" -j queue show dev qbdummy >"$tmp/map.json"
[ "$(python3 -c 'import json,sys; print([(e["queue"], e["cpu"]) for d in json.load(open(sys.argv[1])) for e in d["queues"]])' "$tmp/map.json")" = "[(0, 0)]" ]
tap_ok $? "queue show dev qbdummy: queue 0 on CPU 0 ($(cat "$tmp/map.json"))"
[ "$(stat -c '%a %U %F' "$(state qbdummy)")" = "600 root regular file" ]
tap_ok $? "the previous settings saved in $(state qbdummy), 0600"
"$nstcp" queue restore dev qbdummy >"$tmp/r.txt" 2>&1
rc=$?
snap qbdummy >"$tmp/d1"
[ $rc -eq 0 ] && cmp -s "$tmp/d0" "$tmp/d1" && [ ! -e "$(state qbdummy)" ] &&
	[ "$("$nstcp" -j queue show dev qbdummy)" = "[]" ]
tap_ok $? "restore dummy: byte-identical settings, the map and the file gone (exit $rc)"
diff "$tmp/d0" "$tmp/d1" | sed 's/^/# /' | head -10

# --- veth with 2 queues: fewer than the CPUs; dry run, two binds, restore ---
# Queue q serves CPUs q, q + 2, ...: its RPS and XPS masks.
mask() { local m=0 j; for ((j = $1; j < ${2:-$ncpu}; j += 2)); do m=$((m | 1 << j)); done; echo $m; }
ip link add qbv0 numtxqueues 2 numrxqueues 2 type veth peer name qbv1 &&
	ip link set qbv0 up
tap_ok $? "a veth pair qbv0/qbv1 with 2 queues"
echo 2048 >/sys/class/net/qbv0/queues/rx-0/rps_flow_cnt
snap qbv0 >"$tmp/v0"
"$nstcp" -j queue bind dev qbv0 dry-run >"$tmp/dry.json"
rc=$?
snap qbv0 >"$tmp/v1"
python3 -c '
import json, sys
o = json.load(open(sys.argv[1]))
r = [s["result"] for s in o["steps"]]
sys.exit(0 if o["dry_run"] and "planned" in r and not {"done", "failed"} & set(r) else 1)' "$tmp/dry.json" &&
	[ $rc -eq 0 ] && cmp -s "$tmp/v0" "$tmp/v1" && [ ! -e "$(state qbv0)" ]
tap_ok $? "dry-run: the plan printed (planned steps), nothing changed, nothing saved (exit $rc)"
"$nstcp" queue bind dev qbv0 >"$tmp/b1.txt" 2>&1
rc=$?
cp "$(state qbv0)" "$tmp/state1" 2>/dev/null
bad=0
for q in 0 1; do
	r=$(tr -d , </sys/class/net/qbv0/queues/rx-$q/rps_cpus)
	x=$(tr -d , </sys/class/net/qbv0/queues/tx-$q/xps_cpus)
	[ $((16#$r)) -eq "$(mask $q)" ] && [ $((16#$x)) -eq "$(mask $q)" ] ||
		{ echo "# queue $q: rps $r xps $x, want $(printf %x "$(mask $q)")"; bad=1; }
done
[ $rc -eq 0 ] && [ $bad -eq 0 ] && [ "$(ls -d /sys/class/net/qbv0/queues/rx-* | wc -l)" -eq 2 ]
tap_ok $? "bind veth: 2 queues for $ncpu CPUs, each with RPS and XPS over its CPUs (exit $rc)"
sed 's/^/# /' "$tmp/b1.txt"
# queue show check: the binding holds; a setting changed by hand is a drift.
"$nstcp" queue show dev qbv0 check >"$tmp/c1.txt" 2>&1
rc=$?
[ $rc -eq 0 ] && grep -q "the binding holds" "$tmp/c1.txt" && ! grep -q drifted "$tmp/c1.txt"
tap_ok $? "queue show dev qbv0 check after bind: the binding holds (exit $rc)"
chmod 0644 /run/nstcp/queue-qbv0.bound
err=$("$nstcp" queue show dev qbv0 check 2>&1)
rc=$?
chmod 0600 /run/nstcp/queue-qbv0.bound
[ $rc -eq 1 ] && [[ "$err" == *"not a regular file of root's, mode 0600: refused (/run/nstcp/queue-qbv0.bound)"* ]]
tap_ok $? "the record of the bound CPUs mode 0644: check refuses it and says why (exit $rc: $err)"
echo 0 >/sys/class/net/qbv0/queues/rx-1/rps_cpus
"$nstcp" -j queue show dev qbv0 check >"$tmp/c2.json" 2>&1
rc=$?
"$nstcp" queue show dev qbv0 check >"$tmp/c2.txt" 2>&1
rc2=$?
sed 's/^/# /' "$tmp/c2.txt"
python3 -c '
import json, sys
o = json.load(open(sys.argv[1]))
d = [s["step"] for s in o["steps"] if s["result"] == "drifted"]
sys.exit(0 if d == ["rps rx-1"] and not o["holds"] and o["drifted"] == 1 else 1)' "$tmp/c2.json" &&
	[ $rc -eq 1 ] && [ $rc2 -eq 1 ] && grep -q "rps rx-1 .*drifted" "$tmp/c2.txt" &&
	grep -q "1 setting drifted from the binding: run \`nstcp queue bind dev qbv0 cpus 0-$last\` again" "$tmp/c2.txt"
tap_ok $? "rps_cpus of rx-1 written by hand: check lists that one drift, says to bind again, exits 1 ($rc, $rc2)"
"$nstcp" queue bind dev qbv0 cpus 0 >"$tmp/b2.txt" 2>&1
rc=$?
[ $rc -eq 0 ] && cmp -s "$tmp/state1" "$(state qbv0)" &&
	grep -q "the settings of the first bind stay saved" "$tmp/b2.txt" &&
	[ "$(tr -d ,0 </sys/class/net/qbv0/queues/rx-0/rps_cpus)" = "" ]
tap_ok $? "a second bind (cpus 0: RPS off) keeps the first bind's saved state (exit $rc)"
# CPU hotplug: bind is run again, over the CPUs online now.
if [ "$ncpu" -ge 3 ] && echo 0 >/sys/devices/system/cpu/cpu$last/online; then
	"$nstcp" queue bind dev qbv0 >"$tmp/b3.txt" 2>&1
	rc=$?
	r0=$(tr -d , </sys/class/net/qbv0/queues/rx-0/rps_cpus)
	r1=$(tr -d , </sys/class/net/qbv0/queues/rx-1/rps_cpus)
	echo 1 >/sys/devices/system/cpu/cpu$last/online
	[ $rc -eq 0 ] && [ $((16#$r0)) -eq "$(mask 0 "$last")" ] &&
		[ $((16#$r1)) -eq "$(mask 1 "$last")" ] && cmp -s "$tmp/state1" "$(state qbv0)"
	tap_ok $? "CPU $last offline, bind again: RPS over the $last online CPUs ($r0, $r1), the first saved state kept (exit $rc)"
else
	tap_ok 0 "# SKIP CPU hotplug: $ncpu CPUs"
fi
"$nstcp" -j queue restore dev qbv0 >"$tmp/vr.json"
rc=$?
snap qbv0 >"$tmp/v2"
[ $rc -eq 0 ] && cmp -s "$tmp/v0" "$tmp/v2" && [ ! -e "$(state qbv0)" ]
tap_ok $? "restore veth: the settings from before the first bind, byte-identical (exit $rc)"
diff "$tmp/v0" "$tmp/v2" | sed 's/^/# /' | head -10
err=$("$nstcp" queue show dev qbv0 check 2>&1)
rc=$?
[ $rc -eq 1 ] && [[ "$err" == *"not bound"* ]] && [ ! -e /run/nstcp/queue-qbv0.bound ]
tap_ok $? "after restore: check says not bound, the record removed (exit $rc: $err)"
fails "restore as uid 65534" 1 "Operation not permitted" qbv0 \
	setpriv --reuid=65534 --regid=65534 --clear-groups "$nstcp" queue restore dev qbv0

# --- irqbalance: detected, bind proceeds (queue_irqbalance: the NIC's bans) ---
cp /bin/sleep "$tmp/irqbalance"
"$tmp/irqbalance" 60 &
fake_pid=$!
sleep 0.2
"$nstcp" queue bind dev qbdummy >/dev/null 2>"$tmp/ib.err"
rc=$?
kill "$fake_pid"
wait "$fake_pid" 2>/dev/null
[ $rc -eq 0 ] && grep -q "irqbalance is running (pid $fake_pid)" "$tmp/ib.err" &&
	grep -q "pins no interrupts of qbdummy: nothing to keep it off" "$tmp/ib.err" &&
	[ -e "$(state qbdummy)" ]
tap_ok $? "irqbalance running: bind says it pins no interrupts to keep it off, and proceeds (exit $rc)"
fake_pid=
"$nstcp" queue restore dev qbdummy >/dev/null
tap_ok $? "restore qbdummy"

# --- a device of 300 queues (more than the module's 256) ---
# Bind sets veth's channels to one pair per online CPU and maps those:
# the map is sent in one request sized for it (at most 256 entries, the
# module's NSTCP_QUEUES_MAX); restore sets the 300 channels back first,
# then the 600 saved queue settings (all below the device's maximum).
# Snapshots of 600 queues' files take minutes under the debug kernel's
# KASAN: there, the case is skipped (the stock and 6.12 guests run it).
if [ "${NSTCP_KERNEL:-}" = debug ]; then
	for c in "a veth pair with 300 queues" "bind qbv300" "restore qbv300"; do
		tap_ok 0 "# SKIP $c: debug kernel (time)"
	done
else
	ip link add qbv300 numtxqueues 300 numrxqueues 300 type veth peer name qbv301 &&
		ip link set qbv300 up
	tap_ok $? "a veth pair qbv300/qbv301 with 300 queues"
	snap qbv300 >"$tmp/m0"
	"$nstcp" -j queue bind dev qbv300 >"$tmp/m.json" 2>"$tmp/m.err"
	rc=$?
	nmap=$(python3 -c 'import json,sys; print(len([e for d in json.load(open(sys.argv[1])) for e in d["queues"]]))' \
		<("$nstcp" -j queue show dev qbv300) 2>/dev/null)
	want=$((ncpu < 256 ? ncpu : 256))
	[ $rc -eq 0 ] && [ "$(step "$tmp/m.json" "module map")" = done ] && [ "$nmap" = "$want" ]
	tap_ok $? "bind qbv300: exit $rc, the module's map has $nmap queues (want $want) $(head -1 "$tmp/m.err")"
	"$nstcp" queue restore dev qbv300 >"$tmp/mr.txt" 2>&1
	rc=$?
	snap qbv300 >"$tmp/m1"
	[ $rc -eq 0 ] && cmp -s "$tmp/m0" "$tmp/m1" && [ ! -e "$(state qbv300)" ]
	ok=$?
	tap_ok $ok "restore qbv300: 300 channels, 600 queues' settings byte-identical (exit $rc)"
	[ $ok -eq 0 ] || grep -v unchanged "$tmp/mr.txt" | sed 's/^/# /' | head -20
	ip link del qbv300
fi

# --- restore trusts no state file it did not write itself ---
# refused DESC WANT_TEXT CMD...: exit 1 with that message, qbdummy's
# settings and the IRQ $irq's affinity as before, the state file kept.
irq=$(ls /proc/irq | grep -E '^[0-9]+$' | while read -r i; do
	[ -w /proc/irq/$i/smp_affinity_list ] && echo "$i" && break; done)
refused() {
	local desc=$1 want=$2 err rc a0 a1
	shift 2
	snap qbdummy >"$tmp/t.before"
	a0=$(cat /proc/irq/"$irq"/smp_affinity_list 2>/dev/null)
	err=$(timeout 20 "$@" 2>&1 >/dev/null)
	rc=$?
	snap qbdummy >"$tmp/t.after"
	a1=$(cat /proc/irq/"$irq"/smp_affinity_list 2>/dev/null)
	[ $rc -eq 1 ] && [[ "$err" == *"$want"* ]] && cmp -s "$tmp/t.before" "$tmp/t.after" &&
		[ "$a0" = "$a1" ] && [ -e "$(state qbdummy)" ]
	tap_ok $? "$desc: exit $rc, nothing written ($(head -1 <<<"$err"))"
}
"$nstcp" queue bind dev qbdummy >/dev/null 2>&1 && cp "$(state qbdummy)" "$tmp/good"
tap_ok $? "bind qbdummy for the state file checks (a foreign irq: $irq)"
# edit PY: the saved state with the python statement PY applied to it (o).
edit() {
	python3 - "$tmp/good" "$(state qbdummy)" "$1" "$irq" <<'PY'
import json, os, sys
o = json.load(open(sys.argv[1])); irq = int(sys.argv[4])
exec(sys.argv[3])
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
os.write(fd, json.dumps(o).encode()); os.close(fd)
PY
}
edit 'o["irqs"].append({"irq": irq, "name": "x", "affinity": "0"})'
refused "a saved irq $irq not of the device" "not one of qbdummy's queue interrupts" \
	"$nstcp" queue restore dev qbdummy
edit 'o["rx"].append({"queue": 5, "rps_cpus": "0"})'
refused "a saved queue rx-5 of a 1-queue device" "queue rx-5, qbdummy has 1" \
	"$nstcp" queue restore dev qbdummy
edit 'o["tx"].append({"queue": -1, "xps_cpus": "0"})'
refused "a saved queue tx--1" "queue tx--1" "$nstcp" queue restore dev qbdummy
edit 'pass'
chmod 0644 "$(state qbdummy)"
refused "the state file mode 0644" "mode 0600" "$nstcp" queue restore dev qbdummy
chmod 0600 "$(state qbdummy)" && chown 65534 "$(state qbdummy)"
refused "the state file owned by uid 65534" "uid 65534" "$nstcp" queue restore dev qbdummy
refused "bind over a state file of uid 65534" "uid 65534" "$nstcp" queue bind dev qbdummy
rm -f "$(state qbdummy)" && mkfifo -m 0600 "$(state qbdummy)"
refused "the state file a FIFO (restore)" "FIFO" "$nstcp" queue restore dev qbdummy
refused "the state file a FIFO (bind)" "FIFO" "$nstcp" queue bind dev qbdummy
rm -f "$(state qbdummy)" && ln -s "$tmp/good" "$(state qbdummy)"
refused "the state file a symbolic link" "symbolic link" "$nstcp" queue restore dev qbdummy
rm -f "$(state qbdummy)" && edit 'pass'
chmod 0777 /run/nstcp
refused "/run/nstcp mode 0777 (restore)" "writable only by root" \
	"$nstcp" queue restore dev qbdummy
refused "/run/nstcp mode 0777 (bind)" "writable only by root" \
	"$nstcp" queue bind dev qbdummy
chmod 0700 /run/nstcp
"$nstcp" queue restore dev qbdummy >/dev/null && [ ! -e "$(state qbdummy)" ]
tap_ok $? "the state file as written: restore accepts it"

if [ -z "$nic" ]; then
	tap_done
fi

# --- the multi-queue NIC ---
nic_channels=$(ethtool -l "$nic" | awk '/^Current/ {c = 1} c && /^Combined:/ {print $2}')
ethtool -L "$nic" combined 2
tap_ok $? "$nic: 2 channels before the bind (it had $nic_channels)"
snap "$nic" >"$tmp/n0"
"$nstcp" queue bind dev "$nic" dry-run >"$tmp/ndry.txt"
rc=$?
snap "$nic" >"$tmp/n1"
[ $rc -eq 0 ] && cmp -s "$tmp/n0" "$tmp/n1" && [ ! -e "$(state "$nic")" ] &&
	grep -q "channels .*combined 2 -> $ncpu .*planned" "$tmp/ndry.txt"
tap_ok $? "dry-run on $nic: channels 2 -> $ncpu planned, nothing changed (exit $rc)"
"$nstcp" -j queue bind dev "$nic" >"$tmp/nb.json"
rc=$?
python3 -c '
import json, sys
for s in json.load(open(sys.argv[1]))["steps"]: print("# %(step)s %(detail)s: %(result)s" % s, s.get("reason", ""))' "$tmp/nb.json"
[ $rc -eq 0 ] && [ "$(step "$tmp/nb.json" channels)" = done ] &&
	[[ "$(step "$tmp/nb.json" "rss indir")" == @(done|unchanged) ]]
tap_ok $? "bind $nic: exit $rc, channels changed, no step failed"
[ "$(step "$tmp/nb.json" ntuple)" = skipped ] &&
	python3 -c '
import json, sys
s = [s for s in json.load(open(sys.argv[1]))["steps"] if s["step"] == "ntuple"][0]
sys.exit(0 if "no ntuple filters" in s["reason"] and "no accelerated RFS" in s["reason"] else 1)' "$tmp/nb.json"
tap_ok $? "ntuple on $nic: skipped, virtio_net has none (no accelerated RFS), said in the JSON"
[ "$(ethtool -l "$nic" | awk '/^Current/ {c = 1} c && /^Combined:/ {print $2}')" = "$ncpu" ]
tap_ok $? "$ncpu channels, one per CPU"
bad=0 nirq=0
for irq in $(ls /sys/class/net/"$nic"/device/../msi_irqs); do
	name=$(awk -v i="$irq:" '$1 == i {print $NF}' /proc/interrupts)
	q=$(sed -n 's/.*-\(input\|output\)\.\([0-9]*\)$/\2/p' <<<"$name")
	[ -n "$q" ] && [ "$q" -lt "$ncpu" ] || continue
	nirq=$((nirq + 1))
	a=$(cat /proc/irq/"$irq"/smp_affinity_list)
	e=$(cat /proc/irq/"$irq"/effective_affinity_list 2>/dev/null || echo "$a")
	if [ "$a" != "$q" ] || [ "$e" != "$q" ]; then
		echo "# irq $irq $name: affinity $a effective $e, want $q"
		bad=1
	fi
done
[ $bad -eq 0 ] && [ $nirq -eq $((2 * ncpu)) ]
tap_ok $? "each queue's input and output interrupts on its CPU ($nirq interrupts)"
ethtool -x "$nic" | awk -v n="$ncpu" '
	/indirection table/ { t = 1; next }
	/^RSS hash key/ { t = 0 }
	t && /^ *[0-9]+:/ { for (i = 2; i <= NF; i++) { if ($i != e % n) bad = 1; e++ } }
	END { exit bad || e == 0 }'
tap_ok $? "RSS indirection even over the $ncpu queues (entry i -> queue i mod $ncpu)"
bad=0
for q in $(seq 0 "$last"); do
	x=$(tr -d , </sys/class/net/"$nic"/queues/tx-$q/xps_cpus)
	r=$(tr -d , </sys/class/net/"$nic"/queues/rx-$q/rps_cpus)
	[ $((16#$x)) -eq $((1 << q)) ] && [ $((16#$r)) -eq 0 ] || { echo "# queue $q: xps $x rps $r"; bad=1; }
done
[ $bad -eq 0 ]
tap_ok $? "XPS: CPU q transmits on tx-q; RPS off (the queues cover the CPUs)"
"$nstcp" -j queue show dev "$nic" >"$tmp/nmap.json"
[ "$(python3 -c 'import json,sys; print([(e["queue"], e["cpu"]) for d in json.load(open(sys.argv[1])) for e in d["queues"]])' "$tmp/nmap.json")" = \
  "$(python3 -c "print([(q, q) for q in range($ncpu)])")" ]
tap_ok $? "the module's map: queue q on CPU q ($(cat "$tmp/nmap.json"))"

# Locality: the host side (lc_peer connect 198.18.0.2 7101 200) connects
# once the port listens; an acceptor pinned per CPU.
echo 0 >/proc/sys/net/nstcp/accept_steal
res=$("$accept_helper" "${NSTCP_NIC_ADDR%/*}" 7101 200 150)
echo "# $res"
acc=$(sed -n 's/.*accepted=\([0-9]*\).*/\1/p' <<<"$res")
loc=$(sed -n 's/.*local=\([0-9]*\).*/\1/p' <<<"$res")
[ "${acc:-0}" -eq 200 ] && [ $((loc * 100)) -ge $((acc * 99)) ]
tap_ok $? "200 connections from the host accepted, $loc on the CPU that received them (>= 99%)"
python3 -c '
import sys
c = [int(x) for x in sys.argv[1].split("cpus=")[1].split(",")]
sys.exit(0 if min(c) >= 5 else 1)' "$res"
tap_ok $? "every CPU's queue received some of them ($res)"
ethtool -S "$nic" | grep -E 'rx_queue_[0-9]+_packets' | sed 's/^/# /'

"$nstcp" -j queue restore dev "$nic" >"$tmp/nr.json"
rc=$?
snap "$nic" >"$tmp/n2"
[ $rc -eq 0 ] && cmp -s "$tmp/n0" "$tmp/n2" && [ ! -e "$(state "$nic")" ]
tap_ok $? "restore $nic: byte-identical settings (2 channels, interrupts, RSS, XPS, RPS, RFS) (exit $rc)"
python3 -c '
import json, sys
for s in json.load(open(sys.argv[1]))["steps"]:
	if s["result"] != "unchanged": print("# %(step)s %(detail)s: %(result)s" % s, s.get("reason", ""))' "$tmp/nr.json"
diff "$tmp/n0" "$tmp/n2" | sed 's/^/# /' | head -20
[ "$("$nstcp" -j queue show dev "$nic")" = "[]" ]
tap_ok $? "the module's map removed"
ethtool -L "$nic" combined "$nic_channels" && nic_channels=
tap_ok $? "$nic back to its channels"

# Every other setting off the binding, with one queue per CPU already:
# each of them must be written, and come back on restore.
(
	set -e
	ethtool -X "$nic" equal 2
	for q in $(seq 0 "$last"); do
		echo 0 >/sys/class/net/"$nic"/queues/tx-$q/xps_cpus
		echo "$all" >/sys/class/net/"$nic"/queues/rx-$q/rps_cpus
	done
	for irq in $(ls /sys/class/net/"$nic"/device/../msi_irqs); do
		echo "0-$last" >/proc/irq/"$irq"/smp_affinity_list
	done
)
tap_ok $? "$nic scrambled: RSS over 2 queues, no XPS, RPS everywhere, interrupts on every CPU"
snap "$nic" >"$tmp/s0"
"$nstcp" -j queue bind dev "$nic" >"$tmp/sb.json"
rc=$?
python3 - "$tmp/sb.json" "$ncpu" <<'PY'
import json, sys
o = json.load(open(sys.argv[1])); n = int(sys.argv[2])
r = {s["step"]: s["result"] for s in o["steps"]}
want = {"channels": "unchanged", "rss indir": "done", "module map": "done"}
for q in range(n):
	want["xps tx-%d" % q] = "done"
	want["rps rx-%d" % q] = "done"
irqs = [k for k in r if k.startswith("irq ")]
bad = ["%s: %s, want %s" % (k, r.get(k), v) for k, v in want.items() if r.get(k) != v]
bad += ["%s: %s" % (k, r[k]) for k in irqs if r[k] != "done"]
if len(irqs) != 2 * n: bad.append("%d interrupts" % len(irqs))
for b in bad: print("# " + b)
sys.exit(1 if bad else 0)
PY
tap_ok $? "bind: each interrupt, the RSS table, every XPS and RPS setting written (exit $rc)"
bad=0
for irq in $(ls /sys/class/net/"$nic"/device/../msi_irqs); do
	q=$(awk -v i="$irq:" '$1 == i {print $NF}' /proc/interrupts | sed -n 's/.*-\(input\|output\)\.\([0-9]*\)$/\2/p')
	[ -z "$q" ] || [ "$(cat /proc/irq/"$irq"/effective_affinity_list)" = "$q" ] || bad=1
done
ethtool -x "$nic" | awk -v n="$ncpu" '
	/indirection table/ { t = 1; next }
	/^RSS hash key/ { t = 0 }
	t && /^ *[0-9]+:/ { for (i = 2; i <= NF; i++) { if ($i != e % n) bad = 1; e++ } }
	END { exit bad || e == 0 }' || bad=1
[ $bad -eq 0 ]
tap_ok $? "each queue's interrupts on its CPU, the table even over $ncpu queues"
"$nstcp" queue restore dev "$nic" >/dev/null
rc=$?
snap "$nic" >"$tmp/s1"
[ $rc -eq 0 ] && cmp -s "$tmp/s0" "$tmp/s1"
tap_ok $? "restore: the scrambled settings back, byte-identical (exit $rc)"
diff "$tmp/s0" "$tmp/s1" | sed 's/^/# /' | head -20
ethtool -X "$nic" default

# --- a bind over fewer CPUs after one over all: channels N -> 2, the table
# even over 2, restore byte-identical.  The table is set by the user first
# (ethtool -X equal over every channel): the kernel refuses channels a
# user-configured table still uses, so without bind's reset of the table
# to the driver's default before it lowers the channels, the second bind
# fails. ---
if [ "$ncpu" -ge 3 ]; then
	cur=$(ethtool -l "$nic" | awk '/^Current/ {c = 1} c && /^Combined:/ {print $2}')
	[ "$cur" -ge 3 ] && ethtool -X "$nic" equal "$cur"
	tap_ok $? "the table set by the user: equal over its $cur channels (queues 2 and up in use)"
	snap "$nic" >"$tmp/k0"
	"$nstcp" queue bind dev "$nic" >/dev/null 2>&1 &&
		"$nstcp" -j queue bind dev "$nic" cpus 0-1 >"$tmp/k.json" 2>"$tmp/k.err"
	rc=$?
	[ $rc -eq 0 ] && [ "$(step "$tmp/k.json" channels)" = done ] &&
		[ "$(ethtool -l "$nic" | awk '/^Current/ {c = 1} c && /^Combined:/ {print $2}')" = 2 ] &&
		ethtool -x "$nic" | awk '
			/indirection table/ { t = 1; next }
			/^RSS hash key/ { t = 0 }
			t && /^ *[0-9]+:/ { for (i = 2; i <= NF; i++) { if ($i != e % 2) bad = 1; e++ } }
			END { exit bad || e == 0 }'
	tap_ok $? "bind over $ncpu CPUs, then cpus 0-1: channels $ncpu -> 2 done, the table even over 2 (exit $rc)"
	[ $rc -eq 0 ] || { sed 's/^/# /' "$tmp/k.err"; grep -o '"step": "channels"[^}]*' "$tmp/k.json" | sed 's/^/# /'; }
	"$nstcp" queue restore dev "$nic" >/dev/null 2>&1
	rc=$?
	snap "$nic" >"$tmp/k1"
	[ $rc -eq 0 ] && cmp -s "$tmp/k0" "$tmp/k1"
	tap_ok $? "restore: byte-identical to before the first of the two binds (exit $rc)"
	diff "$tmp/k0" "$tmp/k1" | sed 's/^/# /' | head -10
	ethtool -X "$nic" default
else
	tap_ok 0 "# SKIP the table set by the user: $ncpu CPUs"
	tap_ok 0 "# SKIP bind over fewer CPUs: $ncpu CPUs"
	tap_ok 0 "# SKIP restore: $ncpu CPUs"
fi

# --- CPU hotplug with a bound NIC ---
# Bound to CPUs 1-$last (queue i on the i-th of them), which virtio_net's
# own spread is not: taking a CPU off and on makes the driver rewrite its
# interrupts' affinity and XPS with its spread.  queue show check reports
# that drift and exits 1; bind again restores the binding; restore still
# gives back the settings from before the first bind.
if [ "$ncpu" -ge 3 ]; then
	snap "$nic" >"$tmp/h0"
	"$nstcp" queue bind dev "$nic" cpus 1-$last >"$tmp/h1.txt" 2>&1 &&
		"$nstcp" queue show dev "$nic" check >"$tmp/h1c.txt" 2>&1
	rc=$?
	tap_ok $rc "bind $nic cpus 1-$last: check says the binding holds (exit $rc)"
	[ $rc -eq 0 ] || sed 's/^/# /' "$tmp/h1.txt" "$tmp/h1c.txt"
	echo 0 >/sys/devices/system/cpu/cpu$last/online && sleep 0.5 &&
		echo 1 >/sys/devices/system/cpu/cpu$last/online && sleep 0.5
	"$nstcp" -j queue show dev "$nic" check >"$tmp/h2.json" 2>&1
	rc=$?
	"$nstcp" queue show dev "$nic" check >"$tmp/h2.txt" 2>&1
	rc2=$?
	sed 's/^/# /' "$tmp/h2.txt"
	python3 -c '
import json, sys
o = json.load(open(sys.argv[1]))
d = [s["step"] for s in o["steps"] if s["result"] == "drifted"]
sys.exit(0 if not o["holds"] and any(x.startswith("irq ") for x in d) and
	any(x.startswith("xps ") for x in d) else 1)' "$tmp/h2.json" &&
		[ $rc -eq 1 ] && [ $rc2 -eq 1 ] &&
		grep -q "drifted from the binding: run \`nstcp queue bind dev $nic cpus 1-$last\` again" "$tmp/h2.txt"
	tap_ok $? "CPU $last off and on: virtio_net's interrupts and XPS drifted, check lists them and exits 1 ($rc, $rc2)"
	"$nstcp" queue bind dev "$nic" cpus 1-$last >"$tmp/h3.txt" 2>&1 &&
		"$nstcp" queue show dev "$nic" check >"$tmp/h3c.txt" 2>&1
	rc=$?
	tap_ok $rc "bind again: the binding holds (exit $rc)"
	[ $rc -eq 0 ] || sed 's/^/# /' "$tmp/h3.txt" "$tmp/h3c.txt"
	"$nstcp" queue restore dev "$nic" >"$tmp/h4.txt" 2>&1
	rc=$?
	snap "$nic" >"$tmp/h4"
	[ $rc -eq 0 ] && cmp -s "$tmp/h0" "$tmp/h4"
	tap_ok $? "restore after the hotplug: byte-identical to before the first bind (exit $rc)"
	diff "$tmp/h0" "$tmp/h4" | sed 's/^/# /' | head -20
else
	for c in "bind cpus 1-" "hotplug drift" "bind again" "restore"; do
		tap_ok 0 "# SKIP $c: $ncpu CPUs"
	done
fi
tap_done
