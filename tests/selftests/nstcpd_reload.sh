#!/bin/bash
# Selftest: nstcpd reloads and restarts without closing a port.  Clients in
# another namespace open fresh connections continuously (echoed data
# checksummed) while nstcpd (a) reloads a configuration whose worker count
# changed and that adds a service, (b) is sent SIGHUP with a broken
# configuration (nothing changes, the error logged with its line), (c)
# restarts by re-exec (SIGUSR2), (d) reloads a configuration that removes a
# service (its port closes, the other keeps its socket).  Counted by the
# clients: zero resets, zero refused connects, every exchange checksummed;
# the listening sockets (their inodes) are the same before and after; the
# status counts the reloads and restarts.  Then the systemd way, with a
# stand-in service manager (python3): the sockets go to its descriptor
# store (FDSTORE=1, FDNAME), nstcpd stops, a connection made meanwhile
# waits in the held port, and a new nstcpd adopts the sockets from
# LISTEN_FDS/LISTEN_FDNAMES and serves it; connections made while nstcpd
# stops (a process slow to end) wait there too, not split-accepted by the
# stopping nstcpd, and the next one serves them.  A socket passed that is not an
# AF_NSTCP listener is refused and closed.  Hardening (review of the
# reload): bogus NSTCPD_RETIRE/NSTCPD_FDS values are ignored, never
# signalled, and count only with NSTCPD_PID ours; `nstcpd reload` refuses a
# status file naming a process that is not nstcpd, one writable by group
# and a symbolic link; a restart after the binary was replaced runs the
# binary now installed.  Build first: make tools.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/helpers/nstcpd_lib.sh"
nd_reload_begin 5 50

# conf WORKERS [extra]: the configuration, with service "extra" or not.
conf() {
	cat <<CONF
[service mono]
listen = 7301
model = monolithic
workers = $1
exec = /usr/bin/env DRAIN_LOG=$tmp/drain.log $drain
CONF
	[ "${2:-}" ] && cat <<CONF

[service extra]
listen = 7302
model = monolithic
exec = $drain
CONF
	return 0
}

# inodes: the socket inodes nstcpd holds, sorted, one line.
inodes() {
	local f
	for f in /proc/"$nd_pid"/fd/*; do readlink "$f"; done 2>/dev/null |
		sed -n 's/^socket:\[\([0-9]*\)\]$/\1/p' | sort -n | tr '\n' ' '
}

# The clients: batches of 20 connections (4 at a time) until $tmp/stop.
clients() { nd_clients_loop "$tmp/clients.$1" "$1" 20 4; }
tally() { nd_tally "$tmp/clients.$1"; }

# batches PORT N: waits up to 60 s (x5 on debug) for N more batches.
batches() {
	local want i
	want=$(( $(wc -l <"$tmp/clients.$1") + $2 ))
	for i in $(seq $((600 * slow))); do
		[ "$(wc -l <"$tmp/clients.$1")" -ge $want ] && return 0
		sleep 0.1
	done
	return 1
}

conf 2 >"$tmp/nstcpd.conf"
nd_start "$tmp/nstcpd.conf" "$st" "$tmp/nstcpd.log"
tap_ok $? "nstcpd started with 2 copies"
up="len([x for x in w('mono') if x['pid'] > 0])"
nd_wait_json "$st" "$up == 2"
tap_ok $? "2 copies running: $(nd_json "$st" "[x['pid'] for x in w('mono')]")"
pid0=$nd_pid ino0=$(inodes)
old=$(nd_json "$st" "' '.join(str(x['pid']) for x in w('mono') if x['pid'])")

: >"$tmp/clients.7301"
clients 7301 &
cl=$!
batches 7301 1
tap_ok $? "clients running: $(tally 7301)"

# (a) Reload: 2 copies -> one per CPU, and a new service.
conf "$ncpu" extra >"$tmp/nstcpd.conf"
kill -HUP "$nd_pid"
nd_wait_json "$st" "d['reloads'] == 1 and $up == $ncpu and all(x['pid'] > 0 for x in w('extra'))"
tap_ok $? "SIGHUP: reloads 1, $ncpu copies and service extra running"
ino1=$(inodes)
kept=0
for i in $ino0; do [[ " $ino1 " == *" $i "* ]] && kept=$((kept + 1)); done
tap_ok $(( kept != 2 || nd_pid != pid0 )) "the 2 listening sockets kept ($ino0-> $ino1), same pid"
tap_ok $(( $(nd_json "$st" "d['adopted']") != 2 )) "status: adopted $(nd_json "$st" "d['adopted']")"
for i in $(seq $((100 * slow))); do
	alive=$(nd_alive $old)
	[ $alive = 0 ] && break
	sleep 0.1
done
tap_ok $alive "the old copies stopped (SIGTERM): $old"
n=$(grep -c "served" "$tmp/drain.log" 2>/dev/null)
tap_ok $(( n != 2 )) "each old copy finished its connections and exited ($n logged)"
batches 7301 1
tap_ok $? "clients still served after the reload: $(tally 7301)"
out=$(nd_run_client echo $nd_srv_ip 7302 20 $bytes 4)
tap_ok $(( $? != 0 )) "the new service serves: $out"

# (b) A broken configuration: logged with its line, nothing changes.
cur=$(nd_json "$st" "sorted(x['pid'] for x in w('mono'))")
cp "$tmp/nstcpd.conf" "$tmp/good.conf"
sed -i 's/^workers = .*/workers = banana/' "$tmp/nstcpd.conf"
line=$(grep -n "workers = banana" "$tmp/nstcpd.conf" | cut -d: -f1)
kill -HUP "$nd_pid"
for i in $(seq $((100 * slow))); do
	grep -q "reload: .*configuration refused" "$tmp/nstcpd.log" && break
	sleep 0.1
done
grep -q "nstcpd.conf:$line: workers: \"banana\"" "$tmp/nstcpd.log"
tap_ok $? "broken configuration: the error names line $line"
grep -q "reload: .*configuration refused, the running services unchanged" "$tmp/nstcpd.log"
tap_ok $? "the reload refused"
sleep 1
tap_ok $(( $(nd_json "$st" "d['reloads']") != 1 || nd_pid != pid0 )) "status: reloads still 1, same pid"
tap_ok $([ "$(nd_json "$st" "sorted(x['pid'] for x in w('mono'))")" = "$cur" ]; echo $?) "the copies untouched: $cur"
tap_ok $([ "$(inodes)" = "$ino1" ]; echo $?) "the sockets untouched"
cp "$tmp/good.conf" "$tmp/nstcpd.conf"

# (c) Restart by re-exec (nstcpd restart: SIGUSR2).
old=$(nd_json "$st" "' '.join(str(x['pid']) for x in w('mono') + w('extra') if x['pid'])")
: >"$tmp/drain.log"
out=$("$nd_bin" restart -s "$st")
tap_ok $(( $? != 0 )) "nstcpd restart: $out"
nd_wait_json "$st" "d['reexecs'] == 1 and d['reloads'] == 1 and $up == $ncpu and all(x['pid'] > 0 and x['pid'] not in ($(echo $old | tr ' ' ,),) for x in w('mono') + w('extra'))"
tap_ok $? "SIGUSR2: reexecs 1, new copies: $(nd_json "$st" "[x['pid'] for x in w('mono') + w('extra')]")"
tap_ok $([ "$(inodes)" = "$ino1" ] && [ "$nd_pid" = "$pid0" ]; echo $?) "every listening socket kept ($(inodes)), same pid"
batches 7301 1
tap_ok $? "clients still served after the restart: $(tally 7301)"

# (d) Reload without service extra: its port closes, mono's stay.
conf "$ncpu" >"$tmp/nstcpd.conf"
kill -HUP "$nd_pid"
nd_wait_json "$st" "d['reloads'] == 2 and [x['name'] for x in d['services']] == ['mono']"
tap_ok $? "SIGHUP: service extra removed"
for i in $(seq $((50 * slow))); do nd_listening 7302 || break; sleep 0.1; done
nd_listening 7302
tap_ok $(( $? == 0 )) "its port closed"
batches 7301 1
touch "$tmp/stop"
wait $cl
read -r c o b r f _ < <(tally 7301)
tap_ok $(( c < 100 || o != c || b || r || f )) "clients over all of it: conns $c ok $o bad $b resets $r refused $f"
nd_stop
tap_ok $? "SIGTERM: nstcpd stopped"
nd_listening 7301
tap_ok $(( $? == 0 )) "the port closed"

# The systemd way: a stand-in manager with a descriptor store.
cat >"$tmp/manager.py" <<'PY'
import array, fcntl, os, signal, socket, subprocess, sys, time
tmp, ns, nstcpd, st, conf = sys.argv[1:6]
path = tmp + "/notify"
n = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
n.bind(path)
env = dict(os.environ, NOTIFY_SOCKET=path)
log = open(tmp + "/sd.log", "w")
p = subprocess.Popen([nstcpd, "-f", "-c", conf, "-s", st],
                     env=env, stderr=log)
store = {}                      # fd -> name; one copy of each socket
n.settimeout(30 * int(os.environ.get("SLOW", "1")))
while True:
    msg, anc, _, _ = n.recvmsg(4096, socket.CMSG_SPACE(16 * 4))
    fds = array.array("i")
    for lvl, typ, data in anc:
        if lvl == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
            fds.frombytes(data[:len(data) - len(data) % 4])
    kv = dict(l.split("=", 1) for l in msg.decode().split("\n") if "=" in l)
    for fd in fds:
        store[fd] = kv.get("FDNAME", "stored")
    if len(store) >= int(os.environ["WANT"]):
        break
print("stored", len(store), " ".join(sorted(set(store.values()))), flush=True)
time.sleep(1)
p.send_signal(signal.SIGTERM)
if os.environ.get("TERM_NOTE"):
    print("term", flush=True)   # the test connects while nstcpd stops
p.wait()
print("stopped", p.returncode, flush=True)
sys.stdin.readline()            # the test connects meanwhile
fds = sorted(store)
high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 100) for fd in fds]
def child():
    for i, fd in enumerate(high):
        os.dup2(fd, 3 + i)
env = dict(os.environ, LISTEN_FDS=str(len(fds)),
           LISTEN_FDNAMES=":".join(store[f] for f in fds))
q = subprocess.Popen(["sh", "-c", 'LISTEN_PID=$$ exec "$0" "$@"', nstcpd,
                      "-f", "-c", conf, "-s", st], env=env, stderr=log,
                     preexec_fn=child, pass_fds=list(range(3, 3 + len(fds))) + high)
print("started", q.pid, flush=True)
sys.stdin.readline()
q.send_signal(signal.SIGTERM)
q.wait()
print("done", q.returncode, flush=True)
PY
rm -f "$st"
conf 2 >"$tmp/nstcpd.conf"
coproc MGR { ip netns exec "$nd_srv" env WANT=2 SLOW=$slow python3 "$tmp/manager.py" "$tmp" "$nd_srv" "$nd_bin" "$st" "$tmp/nstcpd.conf" 2>&1; }
read -r -t $((60 * slow)) -u "${MGR[0]}" w1 w2 w3
tap_ok $([ "$w1 $w2" = "stored 2" ] && [[ "$w3" == nd.monolithic.* ]]; echo $?) "both sockets in the manager's store: $w1 $w2 $w3"
read -r -t $((30 * slow)) -u "${MGR[0]}" w1 w2
tap_ok $([ "$w1 $w2" = "stopped 0" ]; echo $?) "nstcpd stopped: $w1 $w2"
nd_listening 7301
tap_ok $? "the port still listens, held by the manager"
timeout $((60 * slow)) ip netns exec "$nd_cli" "$nd_client" echo $nd_srv_ip 7301 4 $bytes 4 >"$tmp/hold" &
hold=$!
sleep 1
echo go >&"${MGR[1]}"
read -r -t $((30 * slow)) -u "${MGR[0]}" w1 w2
nd_wait_json "$st" "$up == 2 and d['adopted'] == 2"
tap_ok $? "a new nstcpd adopted both sockets from LISTEN_FDS: $(nd_json "$st" "d['adopted']")"
wait $hold
tap_ok $(( $? != 0 )) "connections made while no nstcpd ran: $(cat "$tmp/hold")"
out=$(nd_run_client echo $nd_srv_ip 7301 20 $bytes 4)
tap_ok $(( $? != 0 )) "served by the new nstcpd: $out"
echo go >&"${MGR[1]}"
read -r -t $((30 * slow)) -u "${MGR[0]}" w1 w2
sed 's/^/# manager: /' "$tmp/sd.log"

# The same store, a stop while a process takes 1.5 s to end after SIGTERM:
# nstcpd's acceptors are stopped first, so connections made meanwhile stay
# queued in the stored socket (not split-accepted and handed to a worker
# that was sent SIGTERM, or left in a pipe nobody reads: reset at the
# hand-off timeout) and the next nstcpd serves them (its own counters).
cat >"$tmp/linger.sh" <<'SH'
trap 'sleep 1.5; exit 0' TERM
while :; do sleep 0.1; done
SH
cat >"$tmp/linger.conf" <<CONF
[service hyb]
listen = 7305
model = hybrid
exec = $nd_helpers/nstcpd_worker

[service linger]
listen = 7306
model = monolithic
workers = 1
exec = /bin/sh $tmp/linger.sh
CONF
rm -f "$st" "$tmp/notify"
coproc MGR2 { ip netns exec "$nd_srv" env WANT=2 TERM_NOTE=1 SLOW=$slow python3 "$tmp/manager.py" "$tmp" "$nd_srv" "$nd_bin" "$st" "$tmp/linger.conf" 2>&1; }
# Kept: MGR2 is unset once the manager ends, which set -u would stop on.
mgr_out=${MGR2[0]:-} mgr_in=${MGR2[1]:-}
read -r -t $((60 * slow)) -u "$mgr_out" w1 w2 w3
read -r -t $((30 * slow)) -u "$mgr_out" t1
tap_ok $([ "$w1 $w2 $t1" = "stored 2 term" ]; echo $?) "hybrid and lingering services' sockets stored, SIGTERM sent: $w1 $w2 $w3 $t1"
sleep 0.5
timeout $((60 * slow)) ip netns exec "$nd_cli" "$nd_client" echo $nd_srv_ip 7305 6 $bytes 3 >"$tmp/stopping" &
hold=$!
read -r -t $((30 * slow)) -u "$mgr_out" w1 w2
tap_ok $([ "$w1 $w2" = "stopped 0" ] && kill -0 $hold 2>/dev/null; echo $?) "nstcpd stopped ($w1 $w2) with the connections made while it stopped still waiting"
echo go >&"$mgr_in"
read -r -t $((30 * slow)) -u "$mgr_out" w1 w2
wait $hold
rc=$?
nd_wait_json "$st" "s('hyb')['served'] == 6"
served=$?
tap_ok $(( rc != 0 || served != 0 )) "connections made while nstcpd stopped served by the next one: $(cat "$tmp/stopping"), its served $(nd_json "$st" "s('hyb')['served']")"
echo go >&"$mgr_in"
read -r -t $((30 * slow)) -u "$mgr_out" w1 w2
sed 's/^/# manager: /' "$tmp/sd.log"

# A passed socket that is not an AF_NSTCP listener: refused and closed.
cat >"$tmp/inet.py" <<'PY'
import os, socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)
os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS="1",
                  LISTEN_FDNAMES="nd.monolithic.nd7301.0.00000000.7301")
os.execv(sys.argv[1], sys.argv[1:])
PY
rm -f "$st"
ip netns exec "$nd_srv" python3 "$tmp/inet.py" "$nd_bin" -f -c "$tmp/nstcpd.conf" -s "$st" 2>"$tmp/inet.log" &
nd_pid=$!
nd_wait_json "$st" "d['refused_fds'] == 1 and d['adopted'] == 0 and $up == 2"
tap_ok $? "an AF_INET socket passed: refused, a new socket made"
grep -q "inherited descriptor 3 (nd.monolithic.nd7301.0.00000000.7301): not AF_NSTCP: closed" "$tmp/inet.log"
tap_ok $? "logged: $(grep inherited "$tmp/inet.log")"
nd_stop

# Bogus handover variables: nothing signalled, nothing adopted.  In its
# own session, so that a kill(0) would hit nstcpd alone.
sleep 600 &
other=$!
rm -f "$st"
ip netns exec "$nd_srv" setsid sh -c 'export NSTCPD_PID=$$ NSTCPD_RETIRE="0:t:1 x 1:t:1 $$:t:1 12abc:t:1 $1:t:1 $1 $1:x:1 $1:t:0" NSTCPD_FDS="5x=nd.a 1=nd.b 99999999999=nd.c"; exec "$0" -f -c "$2" -s "$3"' \
	"$nd_bin" "$other" "$tmp/nstcpd.conf" "$st" 2>"$tmp/bogus.log" &
nd_pid=$!
nd_wait_json "$st" "$up == 2 and d['adopted'] == 0"
tap_ok $? "bogus NSTCPD_RETIRE and NSTCPD_FDS: nstcpd started its 2 copies"
sleep 1
kill -0 "$other" 2>/dev/null && kill -0 "$nd_pid" 2>/dev/null
tap_ok $? "no process signalled: pid $other (not a child) and nstcpd still up"
n=$(grep -c 'NSTCPD_RETIRE: .*ignored' "$tmp/bogus.log")
tap_ok $(( n != 9 )) "the 9 bogus retire words ignored ($n logged)"
n=$(grep -c 'NSTCPD_FDS: word .*ignored' "$tmp/bogus.log")
tap_ok $(( n != 3 )) "the 3 bogus fd words ignored ($n logged)"
nd_stop
rm -f "$st"
ip netns exec "$nd_srv" env NSTCPD_PID=1 NSTCPD_RETIRE="$other:t:1000" "$nd_bin" -f -c "$tmp/nstcpd.conf" -s "$st" 2>"$tmp/notours.log" &
nd_pid=$!
nd_wait_json "$st" "$up == 2"
grep -q "without NSTCPD_PID=$nd_pid: ignored" "$tmp/notours.log" && kill -0 "$other"
tap_ok $? "NSTCPD_PID not ours: the variables ignored: $(grep NSTCPD_PID "$tmp/notours.log")"

# A new image that cannot start (its configuration refused): the previous
# image's processes (here a child sleep) stopped, the status file removed,
# exit status 1.
echo '{"pid": 1}' >"$tmp/old.json"
sh -c 'sleep 600 & echo $! >"$1/child"; export NSTCPD_PID=$$ NSTCPD_RETIRE="$!:t:5000" NSTCPD_STATUS="$1/old.json"; exec "$0" -f -c "$1/missing.conf"' \
	"$nd_bin" "$tmp" 2>"$tmp/abort.log"
rc=$?
child=$(cat "$tmp/child")
kill -0 "$child" 2>/dev/null
alive=$(( $? == 0 ))
tap_ok $([ $rc = 1 ] && [ $alive = 0 ] && [ ! -e "$tmp/old.json" ] && grep -q "cannot start: stopping the 1 processes" "$tmp/abort.log"; echo $?) "a new image that cannot start: exit $rc, its retire list stopped, the status file removed"

# nstcpd reload with a status file naming another process: refused.
printf '{"pid": %d}\n' "$other" >"$tmp/fake.json"
chmod 644 "$tmp/fake.json"
out=$("$nd_bin" reload -s "$tmp/fake.json" 2>&1)
rc=$?
sleep 0.2
tap_ok $([ $rc = 1 ] && [[ "$out" == *"not an nstcpd"* ]] && kill -0 "$other"; echo $?) "reload of a non-nstcpd pid refused, $other alive: $out"
printf '{"pid": %d}\n' "$nd_pid" >"$tmp/fake.json"
chmod 664 "$tmp/fake.json"
out=$("$nd_bin" reload -s "$tmp/fake.json" 2>&1)
tap_ok $([ $? = 1 ] && [[ "$out" == *"writable by group or other"* ]]; echo $?) "a group-writable status file refused: $out"
ln -s "$st" "$tmp/link.json"
out=$("$nd_bin" reload -s "$tmp/link.json" 2>&1)
tap_ok $([ $? = 1 ] && [[ "$out" == *"symbolic link"* ]] && [ "$(nd_json "$st" "d['reloads']")" = 0 ]; echo $?) "a symbolic link refused, no reload: $out"
nd_stop
kill "$other"
wait "$other" 2>/dev/null

# An abstract NOTIFY_SOCKET, which anyone in the network namespace may
# bind: the listening sockets are never sent to it (refused, logged once).
cat >"$tmp/abstract.py" <<'PY'
import socket, sys
n = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
n.bind("\0" + sys.argv[1])
print("bound", flush=True)
n.settimeout(float(sys.argv[2]))
msgs = fds = 0
try:
    while True:
        msg, anc, _, _ = n.recvmsg(4096, socket.CMSG_SPACE(16 * 4))
        msgs += 1
        fds += sum(len(d) // 4 for l, t, d in anc if t == socket.SCM_RIGHTS)
except socket.timeout:
    pass
print("msgs", msgs, "fds", fds, flush=True)
PY
rm -f "$st"
coproc ABS { ip netns exec "$nd_srv" python3 "$tmp/abstract.py" "nd$$" $((10 * slow)) 2>&1; }
read -r -t $((30 * slow)) -u "${ABS[0]}" w1
ip netns exec "$nd_srv" env NOTIFY_SOCKET=@nd$$ "$nd_bin" -f -c "$tmp/nstcpd.conf" -s "$st" 2>"$tmp/abstract.log" &
nd_pid=$!
nd_wait_json "$st" "$up == 2"
tap_ok $? "NOTIFY_SOCKET=@nd$$ (abstract): nstcpd started its 2 copies ($w1)"
read -r -t $((60 * slow)) -u "${ABS[0]}" w1 w2 w3 w4
n=$(grep -c "NOTIFY_SOCKET @nd$$: an abstract name .*: no descriptors sent: not used" "$tmp/abstract.log")
tap_ok $([ "$w1 $w3 $w4" = "msgs fds 0" ] && [ "$n" = 1 ] && grep -q "nstcpd: 0 of [1-9][0-9]* listening sockets in the service manager's store" "$tmp/abstract.log"; echo $?) "no descriptor sent to it: $w1 $w2 $w3 $w4; refusal logged $n time(s)"
nd_stop

# A restart after the binary was replaced (as an upgrade does) runs the
# binary now installed, not the deleted one.
mkdir "$tmp/sbin"
cp "$nd_bin" "$tmp/sbin/nstcpd"
bin0=$nd_bin nd_bin=$tmp/sbin/nstcpd
rm -f "$st"
nd_start "$tmp/nstcpd.conf" "$st" "$tmp/upgrade.log"
cp "$nd_bin" "$tmp/sbin/nstcpd.new"
mv -f "$tmp/sbin/nstcpd.new" "$nd_bin"
exe0=$(readlink /proc/"$nd_pid"/exe)
tap_ok $([ "$exe0" = "$nd_bin (deleted)" ]; echo $?) "binary replaced under the running nstcpd: $exe0"
out=$("$nd_bin" restart -s "$st" 2>&1)
nd_wait_json "$st" "d['reexecs'] == 1 and $up == 2"
exe1=$(readlink /proc/"$nd_pid"/exe)
tap_ok $([ "$exe1" = "$nd_bin" ]; echo $?) "nstcpd restart ($out): runs $exe1"
nd_stop
nd_bin=$bin0
nd_finish
tap_done
