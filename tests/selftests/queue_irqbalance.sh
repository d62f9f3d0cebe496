#!/bin/bash
# Selftest: `nstcp queue bind|restore|show check` with irqbalance running
# (Documentation/steering.rst, "irqbalance").  Needs the multi-queue test
# NIC (tests/vm/run --nic mq) and Debian's irqbalance unpacked by
# vm_need_irqbalance (tests/vm/lib.sh) in $NSTCP_CACHE/irqbalance.
# A real irqbalance runs in the guest (every second), started with one
# unrelated IRQ banned on its command line.  Its ban list is read back
# through its socket by this test's own reader, not the tool's.  Bind
# adds the bound IRQs to the list (the pre-banned one stays), says so and
# that the ban does not survive a restart; after several rebalancing
# cycles the IRQs are still on their CPUs; check reports a ban removed
# behind bind's back; restore leaves only the pre-banned IRQ.  An
# irqbalance killed before restore, or restarted in between: restore
# puts the affinity back and says so, the new daemon's list untouched.
# An irqbalance without a socket, and a caller that is not root: bind
# falls back to the advice, exit 0.  A process of nobody's named
# irqbalance, older than the daemon, is not taken for it; a squatter of
# nobody's on irqbalance's abstract address gets nothing and bind says
# its socket is not irqbalance's.  Bind waits for the lock
# /run/nstcp/irqbalance.lock another client holds while it changes the
# list, and both changes stay.  Build first: make tools.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/lib.sh"
nstcp=$top/tools/out/nstcp
nic=${NSTCP_NIC_DEV:-}
ib=${NSTCP_CACHE:-/var/cache/nstcp}/irqbalance/usr/sbin/irqbalance
tmp=$(mktemp -d)
ib_pid=
nic_channels=
fake_pid=
sq_pid=
cleanup() {
	[ -n "$ib_pid" ] && kill "$ib_pid" 2>/dev/null && wait "$ib_pid" 2>/dev/null
	[ -n "$fake_pid" ] && kill "$fake_pid" 2>/dev/null && wait "$fake_pid" 2>/dev/null
	[ -n "$sq_pid" ] && kill "$sq_pid" 2>/dev/null && wait "$sq_pid" 2>/dev/null
	[ -n "$nic" ] && [ -e "/run/nstcp/queue-$nic.json" ] &&
		"$nstcp" queue restore dev "$nic" >/dev/null 2>&1
	[ -n "$nic_channels" ] && ethtool -L "$nic" combined "$nic_channels" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

if [ -z "$nic" ]; then
	tap_plan 1
	tap_ok 0 "# SKIP no multi-queue NIC (tests/vm/run --nic mq)"
	exit 0
fi
tap_plan 35

# bans PID: irqbalance PID's banned IRQs, sorted, comma-separated, read
# through its socket ("setup", with root's credentials).
bans() {
	python3 - "$1" <<'PY'
import os, socket, struct, sys
pid = int(sys.argv[1])
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect("/run/irqbalance/irqbalance%d.sock" % pid)
cred = struct.pack("iII", os.getpid(), os.geteuid(), os.getegid())
s.sendmsg([b"setup"], [(socket.SOL_SOCKET, socket.SCM_CREDENTIALS, cred)])
r = b""
while True:
	d = s.recv(65536)
	if not d: break
	r += d
t = r.decode().split()
if not t or t[0] != "SLEEP": sys.exit("not a setup answer: %r" % r)
print(",".join(str(i) for i in sorted({int(t[i + 1]) for i in range(len(t) - 1) if t[i] == "IRQ"})))
PY
}
# setbans PID LIST: irqbalance PID's ban list set to LIST (space separated).
setbans() {
	python3 - "$1" "$2" <<'PY'
import os, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect("/run/irqbalance/irqbalance%s.sock" % sys.argv[1])
cred = struct.pack("iII", os.getpid(), os.geteuid(), os.getegid())
s.sendmsg([("settings ban irqs %s" % sys.argv[2]).encode()],
	  [(socket.SOL_SOCKET, socket.SCM_CREDENTIALS, cred)])
PY
	sleep 0.2
}
# ib_start [ARGS]: a real irqbalance, rebalancing every second, its socket up.
ib_start() {
	mkdir -p /run/irqbalance
	"$ib" --foreground --interval=1 "$@" >>"$tmp/ib.log" 2>&1 &
	ib_pid=$!
	for _ in $(seq 50); do
		[ -S "/run/irqbalance/irqbalance$ib_pid.sock" ] && return 0
		sleep 0.2
	done
	return 1
}
ib_stop() { kill "$ib_pid" && wait "$ib_pid" 2>/dev/null; ib_pid=; }
# The NIC's queue interrupts bind pins: "irq:queue" a line.
nic_irqs() {
	local irq name q
	for irq in $(ls /sys/class/net/"$nic"/device/../msi_irqs); do
		name=$(awk -v i="$irq:" '$1 == i {print $NF}' /proc/interrupts)
		q=$(sed -n 's/.*-\(input\|output\)\.\([0-9]*\)$/\2/p' <<<"$name")
		[ -n "$q" ] && echo "$irq:$q"
	done
}
# on_cpus: every bound IRQ's affinity is its queue's CPU (queue q on CPU q).
on_cpus() {
	local e bad=0
	for e in $(nic_irqs); do
		[ "$(cat /proc/irq/"${e%:*}"/smp_affinity_list)" = "${e#*:}" ] ||
			{ echo "# irq ${e%:*}: $(cat /proc/irq/"${e%:*}"/smp_affinity_list), want ${e#*:}"; bad=1; }
	done
	return $bad
}
# saved_ok: every IRQ's affinity is the one the saved state had ($tmp/saved).
saved_ok() {
	python3 - "$tmp/saved" <<'PY'
import sys, json
bad = 0
for e in json.load(open(sys.argv[1]))["irqs"]:
	a = open("/proc/irq/%d/smp_affinity_list" % e["irq"]).read().strip()
	if a != e["affinity"]:
		print("# irq %d: %s, saved %s" % (e["irq"], a, e["affinity"])); bad = 1
sys.exit(bad)
PY
}

[ -x "$nstcp" ] && [ -x "$ib" ] && command -v ethtool >/dev/null
tap_ok $? "tools built, irqbalance unpacked ($ib)"
nic_channels=$(ethtool -l "$nic" | awk '/^Current/ {c = 1} c && /^Combined:/ {print $2}')
ncpu=$(nproc)
ethtool -L "$nic" combined "$ncpu"
bound=$(nic_irqs | cut -d: -f1 | sort -n | paste -sd,)
# An unrelated interrupt, banned by the administrator on the command line.
pre=$(ls /proc/irq | grep -E '^[0-9]+$' | sort -n | while read -r i; do
	[ "$i" -gt 0 ] && ! grep -qx "$i" <<<"${bound//,/$'\n'}" && echo "$i" && break; done)
want=$(tr , '\n' <<<"$bound,$pre" | sort -n | paste -sd,)
[ -n "$bound" ] && [ "$(tr , '\n' <<<"$bound" | wc -l)" -eq $((2 * ncpu)) ] && [ -n "$pre" ]
tap_ok $? "$nic: $ncpu channels, bound IRQs $bound; pre-banned IRQ $pre"

# A process of nobody's named irqbalance, started first (a lower pid).
mkdir -m 755 "$tmp/fake" && chmod 755 "$tmp" && cp /bin/sleep "$tmp/fake/irqbalance"
setpriv --reuid=65534 --regid=65534 --clear-groups "$tmp/fake/irqbalance" 600 &
fake_pid=$!
ib_start --banirq="$pre"
tap_ok $? "irqbalance $ib_pid runs, its socket /run/irqbalance/irqbalance$ib_pid.sock is up"
[ "$(bans "$ib_pid")" = "$pre" ]
tap_ok $? "its ban list: $(bans "$ib_pid") (the command line's $pre)"

# --- a caller that is not root: the socket refuses, dry-run says so ---
setpriv --reuid=65534 --regid=65534 --clear-groups "$nstcp" queue bind dev "$nic" dry-run \
	>/dev/null 2>"$tmp/nr.err"
rc=$?
[ $rc -eq 0 ] && grep -q "it takes commands from root only" "$tmp/nr.err" &&
	[ "$(bans "$ib_pid")" = "$pre" ]
tap_ok $? "dry-run as uid 65534: exit $rc, irqbalance refuses, said; the list unchanged ($(head -1 "$tmp/nr.err"))"
"$nstcp" -j queue bind dev "$nic" dry-run >"$tmp/dry.json" 2>"$tmp/dry.err"
rc=$?
[ $rc -eq 0 ] && [ "$(bans "$ib_pid")" = "$pre" ] &&
	python3 -c '
import json, sys
s = [s for s in json.load(open(sys.argv[1]))["steps"] if s["step"] == "irqbalance"]
sys.exit(0 if len(s) == 1 and s[0]["result"] == "planned" else 1)' "$tmp/dry.json"
tap_ok $? "dry-run as root: the ban planned, the list unchanged (exit $rc)"

# --- bind: the bound IRQs banned at run time, the pre-banned one kept ---
"$nstcp" -j queue bind dev "$nic" >"$tmp/b.json" 2>"$tmp/b.err"
rc=$?
sed 's/^/# /' "$tmp/b.err"
cp "/run/nstcp/queue-$nic.json" "$tmp/saved"
[ $rc -eq 0 ] && [ "$(bans "$ib_pid")" = "$want" ]
tap_ok $? "bind: exit $rc, irqbalance's list $(bans "$ib_pid") (want $want)"
python3 - "$tmp/b.json" "$ib_pid" "$bound" <<'PY'
import json, sys
o = json.load(open(sys.argv[1]))
i = o.get("irqbalance", {})
want = [int(x) for x in sys.argv[3].split(",")]
s = [s for s in o["steps"] if s["step"] == "irqbalance"]
ok = (i.get("pid") == int(sys.argv[2]) and i.get("state") == "banned" and
      i.get("runtime_ban") is True and sorted(i.get("added", [])) == want and
      len(s) == 1 and s[0]["result"] == "done")
print("# %r %r" % (i, s))
sys.exit(0 if ok else 1)
PY
tap_ok $? "bind's JSON: irqbalance pid $ib_pid, state banned, added exactly the bound IRQs, its step done"
[ "$(cat /proc/$fake_pid/comm)" = irqbalance ] && [ "$fake_pid" -lt "$ib_pid" ] &&
	! grep -q "pid $fake_pid" "$tmp/b.err"
tap_ok $? "nobody's process named irqbalance (pid $fake_pid, older than $ib_pid) not taken for it"
grep -q "irqbalance (pid $ib_pid): IRQs $bound banned at runtime" "$tmp/b.err" &&
	grep -q "does not survive an irqbalance restart" "$tmp/b.err" &&
	grep -q "IRQBALANCE_ARGS=\"--banirq=" "$tmp/b.err"
tap_ok $? "bind says what it banned, that it does not survive a restart, and the lasting setting"
[ "$(stat -c '%a %U' "/run/nstcp/queue-$nic.irqb")" = "600 root" ] &&
	grep -qx "pid $ib_pid" "/run/nstcp/queue-$nic.irqb" &&
	grep -qx "start $(sed 's/.*) //' /proc/"$ib_pid"/stat | cut -d' ' -f20)" "/run/nstcp/queue-$nic.irqb" &&
	[ "$(sed -n 's/^added //p' "/run/nstcp/queue-$nic.irqb" | tr ' ' ,)" = "$bound" ]
tap_ok $? "the record: pid $ib_pid, its start time, added $bound ($(tr '\n' ' ' <"/run/nstcp/queue-$nic.irqb"))"
sleep 5
on_cpus && kill -0 "$ib_pid"
tap_ok $? "5 rebalancing cycles later: every bound IRQ still on its queue's CPU, irqbalance alive"
"$nstcp" queue bind dev "$nic" >"$tmp/b2.out" 2>"$tmp/b2.err"
rc=$?
[ $rc -eq 0 ] && [ "$(bans "$ib_pid")" = "$want" ] &&
	[ "$(sed -n 's/^added //p' "/run/nstcp/queue-$nic.irqb" | tr ' ' ,)" = "$bound" ]
tap_ok $? "bind again: exit $rc, the list and the record as they were (nothing added twice)"
"$nstcp" queue show dev "$nic" check >"$tmp/c1.txt" 2>&1
rc=$?
[ $rc -eq 0 ] && grep -q "the binding holds" "$tmp/c1.txt"
tap_ok $? "check: the binding holds with the ban in place (exit $rc)"

# --- check: the ban removed behind bind's back is a drift ---
setbans "$ib_pid" "$pre"
"$nstcp" -j queue show dev "$nic" check >"$tmp/c2.json" 2>&1
rc=$?
python3 -c '
import json, sys
o = json.load(open(sys.argv[1]))
d = [s["step"] for s in o["steps"] if s["result"] == "drifted"]
print("# drifted:", d)
sys.exit(0 if "irqbalance" in d and not o["holds"] else 1)' "$tmp/c2.json" &&
	[ $rc -eq 1 ] && [ "$(bans "$ib_pid")" = "$pre" ]
tap_ok $? "the list set to $pre by someone else: check reports the irqbalance drift, exit $rc"
# The control: without the ban, irqbalance does move the bound IRQs.
for _ in $(seq 50); do on_cpus >/dev/null || break; sleep 0.2; done
! on_cpus >"$tmp/moved"
tap_ok $? "the control: unbanned, irqbalance moved bound IRQs off their CPUs within 10 s ($(grep -c irq "$tmp/moved") of them)"
"$nstcp" queue bind dev "$nic" >/dev/null 2>&1 && [ "$(bans "$ib_pid")" = "$want" ] &&
	"$nstcp" queue show dev "$nic" check >/dev/null 2>&1
tap_ok $? "bind again: banned again, the binding holds"

# --- the lock: another client changes the list while it holds
# /run/nstcp/irqbalance.lock; bind (its bans lifted meanwhile) waits for
# it, then merges into the list that client left: both changes stay.
# Without the lock bind would not wait and one of the two would be lost.
# (Two binds of one device at once would also race on the device's own
# settings, so the lock is held by this test's client instead.) ---
extra=$(ls /proc/irq | grep -E '^[0-9]+$' | sort -n | while read -r i; do
	[ "$i" -gt 0 ] && [ "$i" != "$pre" ] && ! grep -qx "$i" <<<"${bound//,/$'\n'}" &&
		echo "$i" && break; done)
setbans "$ib_pid" "$pre"
exec 9<>/run/nstcp/irqbalance.lock
flock -x 9
# (not inheriting fd 9: the lock would go with it)
"$nstcp" queue bind dev "$nic" >"$tmp/l.out" 2>"$tmp/l.err" 9>&- &
lb=$!
sleep 3
kill -0 $lb 2>/dev/null && [ "$(bans "$ib_pid")" = "$pre" ] &&
	[ "$(stat -c '%a %U %F' /run/nstcp/irqbalance.lock)" = "600 root regular empty file" ]
tap_ok $? "the lock (root's, 0600) held by another client: bind waits, the list untouched 3 s on"
setbans "$ib_pid" "$pre $extra"
exec 9>&-
wait $lb
rc=$?
all=$(tr , '\n' <<<"$want,$extra" | sort -n | paste -sd,)
[ $rc -eq 0 ] && [ "$(bans "$ib_pid")" = "$all" ] &&
	[ "$(sed -n 's/^added //p' "/run/nstcp/queue-$nic.irqb" | tr ' ' ,)" = "$bound" ]
tap_ok $? "the lock released: bind exit $rc, the list $(bans "$ib_pid") (want $all: the other client's $extra kept), the record has the bound IRQs only"
setbans "$ib_pid" "${want//,/ }"

# --- restore: only what bind added leaves the list ---
"$nstcp" -j queue restore dev "$nic" >"$tmp/r.json" 2>&1
rc=$?
python3 -c '
import json, sys
for s in json.load(open(sys.argv[1]))["steps"]:
	if s["step"] == "irqbalance": print("# %(step)s %(detail)s: %(result)s" % s, s.get("reason", ""))' "$tmp/r.json"
[ $rc -eq 0 ] && [ "$(bans "$ib_pid")" = "$pre" ] && [ ! -e "/run/nstcp/queue-$nic.irqb" ] &&
	[ "$(python3 -c 'import json,sys; print([s["result"] for s in json.load(open(sys.argv[1]))["steps"] if s["step"] == "irqbalance"])' "$tmp/r.json")" = "['done']" ]
tap_ok $? "restore: exit $rc, irqbalance's list back to $(bans "$ib_pid"), the record gone"
saved_ok
tap_ok $? "restore: the IRQs' affinity as saved"

# --- irqbalance killed before restore ---
"$nstcp" queue bind dev "$nic" >/dev/null 2>&1 && cp "/run/nstcp/queue-$nic.json" "$tmp/saved"
tap_ok $? "bind again"
old=$ib_pid
ib_stop
"$nstcp" queue restore dev "$nic" >"$tmp/r2.txt" 2>&1
rc=$?
sed 's/^/# /' "$tmp/r2.txt" | grep irqbalance
[ $rc -eq 0 ] && grep -q "irqbalance (pid $old) is gone" "$tmp/r2.txt" &&
	[ ! -e "/run/nstcp/queue-$nic.irqb" ] && [ ! -e "/run/nstcp/queue-$nic.json" ]
tap_ok $? "irqbalance killed, restore: exit $rc, says irqbalance $old is gone"
saved_ok
tap_ok $? "... and still puts the IRQs' affinity back"

# --- irqbalance restarted between bind and restore ---
ib_start --banirq="$pre" && "$nstcp" queue bind dev "$nic" >/dev/null 2>&1 &&
	cp "/run/nstcp/queue-$nic.json" "$tmp/saved" && [ "$(bans "$ib_pid")" = "$want" ]
tap_ok $? "irqbalance $ib_pid started, bind bans $bound"
old=$ib_pid
ib_stop
ib_start --banirq="$pre"
tap_ok $? "irqbalance restarted: pid $ib_pid (was $old)"
"$nstcp" queue restore dev "$nic" >"$tmp/r3.txt" 2>&1
rc=$?
sed 's/^/# /' "$tmp/r3.txt" | grep irqbalance
[ $rc -eq 0 ] && grep -q "irqbalance restarted (pid $ib_pid now)" "$tmp/r3.txt" &&
	[ "$(bans "$ib_pid")" = "$pre" ] && [ ! -e "/run/nstcp/queue-$nic.irqb" ]
tap_ok $? "restore: exit $rc, says irqbalance restarted, the new daemon's list untouched ($(bans "$ib_pid"))"
saved_ok
tap_ok $? "... and puts the IRQs' affinity back"
ib_stop

# --- an irqbalance without a socket (older, or built without it) ---
cp /bin/sleep "$tmp/irqbalance"
"$tmp/irqbalance" 60 &
ib_pid=$!
sleep 0.2
"$nstcp" -j queue bind dev "$nic" >"$tmp/f.json" 2>"$tmp/f.err"
rc=$?
cp "/run/nstcp/queue-$nic.json" "$tmp/saved"
sed 's/^/# /' "$tmp/f.err"
[ $rc -eq 0 ] && grep -q "could not be told at run time: it has no control socket" "$tmp/f.err" &&
	grep -q "/etc/default/irqbalance" "$tmp/f.err" && [ ! -e "/run/nstcp/queue-$nic.irqb" ] &&
	python3 -c '
import json, sys
o = json.load(open(sys.argv[1]))
i = o["irqbalance"]
sys.exit(0 if i["runtime_ban"] is False and "no control socket" in i["reason"] else 1)' "$tmp/f.json"
tap_ok $? "no socket: bind exits $rc, says it could not ban at run time, gives the lasting setting"
on_cpus
tap_ok $? "... and pins the IRQs all the same"
# A squatter of nobody's on irqbalance's abstract address (its fallback
# when /run/irqbalance cannot be bound): refused, sent nothing.
setpriv --reuid=65534 --regid=65534 --clear-groups python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(b"\0" * 108)
s.listen(4)
print("up", flush=True)
s.settimeout(60)
c, _ = s.accept()
c.settimeout(3)
try:
	d = c.recv(4096)
except OSError:
	d = b"?"
try:
	c.sendall(b"SLEEP 1 BANNED 0")
except OSError:
	pass
print("got %d" % len(d), flush=True)' >"$tmp/sq.out" 2>&1 &
sq_pid=$!
for _ in $(seq 50); do grep -q up "$tmp/sq.out" && break; sleep 0.1; done
"$nstcp" -j queue bind dev "$nic" >"$tmp/sq.json" 2>"$tmp/sq.err"
rc=$?
wait $sq_pid
sq_pid=
sed 's/^/# /' "$tmp/sq.out"
[ $rc -eq 0 ] && grep -q "could not be told at run time: its socket is not held by irqbalance: refused" "$tmp/sq.err" &&
	python3 -c '
import json, sys
i = json.load(open(sys.argv[1]))["irqbalance"]
sys.exit(0 if i["runtime_ban"] is False and "not held by irqbalance" in i["reason"] else 1)' "$tmp/sq.json"
tap_ok $? "a squatter of nobody's on the abstract address: bind exit $rc, says its socket is not irqbalance's"
grep -qx "got 0" "$tmp/sq.out" && [ ! -e "/run/nstcp/queue-$nic.irqb" ]
tap_ok $? "... and sent it nothing (it read: $(tail -1 "$tmp/sq.out")), no record"
ib_stop
"$nstcp" queue restore dev "$nic" >/dev/null 2>&1 && saved_ok
tap_ok $? "restore: the IRQs' affinity as saved"
ethtool -L "$nic" combined "$nic_channels" && nic_channels=
tap_ok $? "$nic back to its channels"
tap_done
