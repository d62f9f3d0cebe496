#!/bin/bash
# Selftest: the broker model's limits (max_conns, per_source, cps), the
# kernel's limits of each server's own port, set by nstcpd on the
# listening socket it passes to each server replica
# (helpers/nstcpd_sdecho, which holds its connections).  2 servers with
# max_conns 2: a client holding 2 connections to server 0 has its third
# reset (ECONNRESET) while server 1 still serves 2; per_source 1:
# 127.0.0.1's second connection to server 0 reset, 127.0.0.2's first
# served, server 1 counting its own sources.  Each server's port carries
# the values in /proc/net/nstcp_listen (the brokers' port none); the
# status's refused per server and summed in the service.  A reload and a
# restart change the values on the same sockets (refused kept, the new
# values enforced).  --check accepts the keys for a broker service and
# names a value over 1000000 with its line.  Build first: make tools.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/helpers/nstcpd_lib.sh"
nd_begin
sdecho=$nd_helpers/nstcpd_sdecho

# conns SRC:PORT...: in $nd_srv, a connection from each SRC to
# 127.0.0.1:PORT in turn, all held until the last is done: one byte sent
# on each and its echo awaited (10 s).  Prints the outcome of each: ok
# (echoed), reset (ECONNRESET), eof, timeout or the errno's name.
conns() {
	ip netns exec "$nd_srv" python3 - "$@" <<'PY'
import errno, socket, sys
held, out = [], []
for spec in sys.argv[1:]:
    src, port = spec.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(10)
    held.append(s)
    try:
        s.bind((src, 0))
        s.connect(("127.0.0.1", int(port)))
        s.sendall(b"x")
        r = s.recv(1)
        out.append("ok" if r == b"x" else "eof" if not r else "data")
    except socket.timeout:
        out.append("timeout")
    except OSError as e:
        out.append("reset" if e.errno == errno.ECONNRESET else
                   errno.errorcode.get(e.errno, str(e.errno)))
print(" ".join(out))
PY
}

# lims PORT: "max_conns per_source cps" of PORT in /proc/net/nstcp_listen
# (the port's values: each column's distinct values over its CPU rows).
lims() {
	echo $(nd_port_values "$1" max_conns) $(nd_port_values "$1" per_source) \
		$(nd_port_values "$1" cps)
}

# idle PORT...: waits up to 10 s for no connection in service on the ports.
idle() {
	local i p n
	for i in $(seq 100); do
		n=0
		for p in "$@"; do
			n=$((n + $(nd_port_values "$p" conns | tail -1) + 0))
		done
		[ $n = 0 ] && return 0
		sleep 0.1
	done
	return 1
}

# conf MAX CPS PS: the configuration, bkmax's max_conns and cps, bkps's
# per_source.
conf() {
	cat >"$tmp/nstcpd.conf" <<CONF
[service bkmax]
listen = 7500
model = broker
servers = *:7511
workers = 2
exec = $sdecho
max_conns = $1
cps = $2

[service bkps]
listen = 7520
model = broker
servers = *:7531
workers = 2
exec = $sdecho
per_source = $3
CONF
}

# servers_up OLD: the status's expression for 2 servers each of both
# services up, none of the pids OLD (a Python list).
servers_up() {
	echo "all(len(w(n)) == 2 and all(x['pid'] > 0 and x['pid'] not in $1 for x in w(n)) for n in ('bkmax', 'bkps'))"
}

tap_plan 17
nd_pair_setup
tap_ok $? "namespaces $nd_srv and $nd_cli"

conf 2 1000 1
"$nd_bin" --check -c "$tmp/nstcpd.conf" >"$tmp/check" 2>&1
rc=$?
nd_start "$tmp/nstcpd.conf" "$st" "$tmp/nstcpd.log" &&
	nd_wait_json "$st" "$(servers_up '[]')"
up=$?
tap_ok $(( rc != 0 || up != 0 )) "--check accepts max_conns, cps, per_source for broker services (exit $rc$(sed 's/^/; /' "$tmp/check")); nstcpd started, 2 servers each"

r="$(lims 7511)/$(lims 7512)/$(lims 7531)/$(lims 7532)/$(lims 7500)/$(lims 7520)"
tap_ok $([ "$r" = "2 0 1000/2 0 1000/0 1 0/0 1 0/0 0 0/0 0 0" ]; echo $?) \
	"each server's port has the limits, the brokers' ports none: $r"

# max_conns 2: 3 to server 0, then 2 to server 1, all held.
out=$(conns 127.0.0.1:7511 127.0.0.1:7511 127.0.0.1:7511 127.0.0.1:7512 127.0.0.1:7512)
tap_ok $([ "$out" = "ok ok reset ok ok" ]; echo $?) \
	"max_conns 2: server 0's third reset (ECONNRESET), server 1 serves 2: $out"
nd_wait_json "$st" "s('bkmax')['refused'] == 1 and [x['refused'] for x in w('bkmax')] == [1, 0]"
tap_ok $? "status: bkmax refused $(nd_json "$st" "s('bkmax')['refused'], [x['refused'] for x in w('bkmax')]") (1, [1, 0])"

# per_source 1 on each server's port apart.
out=$(conns 127.0.0.1:7531 127.0.0.1:7531 127.0.0.2:7531 127.0.0.1:7532)
tap_ok $([ "$out" = "ok reset ok ok" ]; echo $?) \
	"per_source 1: 127.0.0.1's second reset, 127.0.0.2's first served, server 1's own count: $out"
nd_wait_json "$st" "s('bkps')['refused'] == 1 and [x['refused'] for x in w('bkps')] == [1, 0]"
tap_ok $? "status: bkps refused $(nd_json "$st" "s('bkps')['refused'], [x['refused'] for x in w('bkps')]") (1, [1, 0])"
"$nd_bin" status -s "$st" >"$tmp/table" 2>&1
grep -q "refused 1 " "$tmp/table" && grep -qE "^ +[0-9]+ +[0-9]+ +7511( +-?[0-9]+){6} +1$" "$tmp/table"
tap_ok $? "nstcpd status: the service's refused and the server's column"
sed 's/^/# /' "$tmp/table"

# Reload: max_conns 3, cps and per_source 0, on the same sockets.
idle 7511 7512 7531 7532
old=$(nd_json "$st" "[x['pid'] for x in w('bkmax') + w('bkps')]")
conf 3 0 0
kill -HUP "$nd_pid"
nd_wait_json "$st" "d['reloads'] == 1 and d['retiring'] == 0 and $(servers_up "$old")"
left=$(nd_alive $(tr -d '[],' <<<"$old"))
r="$(lims 7511)/$(lims 7512)/$(lims 7531)/$(lims 7532)"
tap_ok $([ "$r" = "3 0 0/3 0 0/0 0 0/0 0 0" ] && [ "$left" = 0 ]; echo $?) \
	"SIGHUP: the new values on the servers' ports: $r (old servers left $left)"
nd_wait_json "$st" "s('bkmax')['refused'] == 1 and s('bkps')['refused'] == 1"
tap_ok $? "the kernel's refused kept with the ports: $(nd_json "$st" "s('bkmax')['refused'], s('bkps')['refused']")"
idle 7511 7531
out=$(conns 127.0.0.1:7511 127.0.0.1:7511 127.0.0.1:7511 127.0.0.1:7511)
out2=$(conns 127.0.0.1:7531 127.0.0.1:7531)
tap_ok $([ "$out" = "ok ok ok reset" ] && [ "$out2" = "ok ok" ]; echo $?) \
	"max_conns 3 enforced: $out; per_source 0 (none): $out2"
nd_wait_json "$st" "s('bkmax')['refused'] == 2"
tap_ok $? "status: bkmax refused $(nd_json "$st" "s('bkmax')['refused']") (2)"

# Restart (SIGUSR2) with max_conns 1.
idle 7511 7512 7531 7532
old=$(nd_json "$st" "[x['pid'] for x in w('bkmax') + w('bkps')]")
conf 1 0 0
kill -USR2 "$nd_pid"
nd_wait_json "$st" "d['reexecs'] == 1 and d['retiring'] == 0 and $(servers_up "$old")"
r="$(lims 7511)/$(lims 7512)"
idle 7511
out=$(conns 127.0.0.1:7511 127.0.0.1:7511)
tap_ok $([ "$r" = "1 0 0/1 0 0" ] && [ "$out" = "ok reset" ]; echo $?) \
	"SIGUSR2: max_conns 1 on the servers' ports ($r), enforced: $out"

# --check: a value the kernel would refuse, with its line.
cat >"$tmp/bad.conf" <<CONF
[service bk]
listen = 7540
model = broker
servers = 7551
exec = $sdecho
max_conns = 1000001
per_source = 2000000
cps = 1000001
CONF
out=$("$nd_bin" --check -c "$tmp/bad.conf" 2>&1)
rc=$?
echo "$out" | sed 's/^/# /'
want=(
	"6: max_conns: \"1000001\" is not 0 to 1000000"
	"7: per_source: \"2000000\" is not 0 to 1000000"
	"8: cps: \"1000001\" is not 0 to 1000000"
)
miss=0
for w in "${want[@]}"; do grep -qxF "$tmp/bad.conf:$w" <<<"$out" || { miss=$((miss + 1)); echo "# missing: $w"; }; done
tap_ok $(( rc != 1 || miss != 0 || $(grep -c "bad.conf:[0-9]" <<<"$out") != 3 )) \
	"--check: over 1000000 refused, each with its line (exit $rc, $miss missing)"

pids=$(nd_json "$st" "' '.join(str(x['pid']) for x in w('bkmax') + w('bkps') + s('bkmax')['brokers'] + s('bkps')['brokers'])")
nd_stop
rc=$?
alive=$(nd_alive $pids)
tap_ok $(( rc != 0 || alive != 0 )) "SIGTERM: exit $rc, processes left $alive"
nd_listening 7511 || nd_listening 7500
tap_ok $(( $? == 0 )) "the ports are closed"
nd_finish
tap_done
