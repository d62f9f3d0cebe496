#!/bin/bash
# Selftest: nstcpd's configuration file.  A malformed file is refused with
# every error naming its line, by --check and when run, and nothing is
# started (no listener, no status file, no process); a program that does
# not exist is an error of its exec line; a valid file passes --check
# without starting anything; a port taken by an AF_INET listener stops
# nstcpd at start with nothing left behind; usage errors.  Build first:
# make tools.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/helpers/nstcpd_lib.sh"
nd_begin

tap_plan 22
ip netns add "$nd_srv" && ip -n "$nd_srv" link set lo up
tap_ok $? "namespace $nd_srv"

cat >"$tmp/bad.conf" <<CONF
# line 1: a comment
[global]
status = $tmp/bad-status.json
colour = blue

[service echo]
listen = 7000x
model = hybridish
exec = cat
cpus = 0-4096
key = toolongkey1
policy = cpu
policy = least
max_conns = -1
stdio = maybe
frobnicate = 1
[service echo]
listen = 7001
[weird]
no equals sign here
[service h]
listen = 7010
model = hybrid
exec = cat
stdio = yes
[service m]
listen = 7011
model = monolithic
exec = cat
busy = 2
[service u]
listen = 7012
model = distributor
exec = cat
user = no-such-user-xyz
group = no-such-group-xyz
buffer_kb = 2
[service v]
listen = 7013
model = monolithic
exec = cat
user = 4242
buffer_kb = 8
drain_timeout = 0
CONF
want=(
	"4:unknown key \"colour\" in [global]"
	"7:listen: \"7000x\" is not"
	"8:model: \"hybridish\" is not"
	"10:cpus: \"0-4096\" is not"
	"11:key: \"toolongkey1\" is not"
	"13:\"policy\" given twice"
	"14:max_conns: \"-1\" is not"
	"15:stdio: \"maybe\" is not"
	"16:unknown key \"frobnicate\""
	"17:service echo defined again (first at line 6)"
	"17:service echo: no \"exec\""
	"17:service echo: no \"model\""
	"19:unknown section [weird]"
	"20:expected \"key = value\""
	"25:\"stdio\" is for the standard model (service h is hybrid)"
	"30:\"busy\" is for the hybrid model"
	"35:user: \"no-such-user-xyz\" is not a user of this system"
	"36:group: \"no-such-group-xyz\" is not a group of this system"
	"37:buffer_kb: \"2\" is not 4 to 4096"
	"42:user: uid 4242 is not in the passwd database: give its \"group\""
	"43:\"buffer_kb\" is for the distributor model"
	"44:drain_timeout: \"0\" is not 1 to 86400 seconds"
)
"$nd_bin" -c "$tmp/bad.conf" --check >"$tmp/out" 2>"$tmp/err"
rc=$?
tap_ok $(( rc != 1 )) "--check on a malformed file exits 1 (got $rc)"
missing=0
for w in "${want[@]}"; do
	grep -qF "$tmp/bad.conf:${w%%:*}: ${w#*:}" "$tmp/err" || { echo "# missing: $w"; missing=$((missing + 1)); }
done
errs=$(grep -c "^$tmp/bad.conf:[0-9]*: " "$tmp/err")
sorted=$(grep -o "^$tmp/bad.conf:[0-9]*:" "$tmp/err" | cut -d: -f2 | sort -n -c 2>&1 && echo yes)
tap_ok $(( missing != 0 || errs != ${#want[@]} )) "each of the ${#want[@]} errors named with its line ($errs errors printed, $missing missing)"
tap_ok $([ "$sorted" = yes ]; echo $?) "the errors in line order"
[ $missing -ne 0 ] && sed 's/^/# /' "$tmp/err"

ip netns exec "$nd_srv" "$nd_bin" -f -c "$tmp/bad.conf" >"$tmp/out" 2>"$tmp/err2"
rc=$?
nd_listening 7001 || nd_listening 7000
listening=$(( $? == 0 ))
tap_ok $(( rc != 1 || listening || $(grep -c "nothing started" "$tmp/err2") != 1 )) \
	"run on a malformed file: exit 1 (got $rc), \"nothing started\", no listener"
tap_ok $([ ! -e "$tmp/bad-status.json" ]; echo $?) "no status file written"

cat >"$tmp/noprog.conf" <<CONF
[service gone]
listen = 7002
model = standard
exec = $tmp/no-such-program --flag
stdio = yes

[service gone2]
listen = 7003
model = monolithic
exec = no-such-program-in-path
CONF
"$nd_bin" -c "$tmp/noprog.conf" --check 2>"$tmp/err"
rc=$?
grep -q "^$tmp/noprog.conf:4: exec: program \"$tmp/no-such-program\": No such file or directory" "$tmp/err" &&
	grep -q "^$tmp/noprog.conf:10: exec: program \"no-such-program-in-path\" not found in PATH" "$tmp/err"
tap_ok $(( rc != 1 || $? != 0 )) "a program that does not exist: its exec line named, by path and on PATH (exit $rc)"
ip netns exec "$nd_srv" "$nd_bin" -f -c "$tmp/noprog.conf" -s "$tmp/np-status.json" 2>/dev/null
rc=$?
nd_listening 7002 || nd_listening 7003
listening=$(( $? == 0 ))
tap_ok $(( rc != 1 || listening )) "run with a missing program: exit 1 (got $rc), no listener"
tap_ok $([ ! -e "$tmp/np-status.json" ]; echo $?) "no status file written"

cat >"$tmp/good.conf" <<CONF
[global]
status = $tmp/good-status.json

# inetd-style
[service echo]
listen = *:7004
model = standard
exec = cat
stdio = yes
max_conns = 10
per_source = 2
cps = 50
timeout_ms = 3000

[service mono]
listen = $nd_srv_ip:7005
model = monolithic
exec = "$nd_helpers/nstcpd_sdecho"
cpus = 0
key = abc123
policy = roundrobin
max_conns = 50
per_source = 5
cps = 100
CONF
"$nd_bin" -c "$tmp/good.conf" --check >"$tmp/out" 2>"$tmp/err"
rc=$?
tap_ok $(( rc != 0 )) "--check on a valid file exits 0 ($(cat "$tmp/out" "$tmp/err"))"
tap_ok $([ ! -e "$tmp/good-status.json" ] && ! nd_listening 7004; echo $?) "--check starts nothing"

# StrictModes: nstcpd as root refuses a file anyone but root may change,
# or one in such a directory, with --check as when run.
cp "$tmp/good.conf" "$tmp/open.conf" && chmod 666 "$tmp/open.conf"
"$nd_bin" -c "$tmp/open.conf" --check 2>"$tmp/err"
rc=$?
grep -q "^$tmp/open.conf: refused: owned by uid 0, mode 0666: it must be root's and writable by root only" "$tmp/err"
tap_ok $(( rc != 1 || $? != 0 )) "a world-writable file refused (exit $rc): $(head -1 "$tmp/err")"
cp "$tmp/good.conf" "$tmp/nobody.conf" && chown nobody "$tmp/nobody.conf"
ip netns exec "$nd_srv" "$nd_bin" -f -c "$tmp/nobody.conf" -s "$tmp/nb-status.json" 2>"$tmp/err"
rc=$?
grep -q "^$tmp/nobody.conf: refused: owned by uid $(id -u nobody), mode 0644" "$tmp/err"
tap_ok $(( rc != 1 || $? != 0 )) "a file of another user refused when run (exit $rc), nothing started"
mkdir -m 777 "$tmp/opendir" && cp "$tmp/good.conf" "$tmp/opendir/x.conf"
"$nd_bin" -c "$tmp/opendir/x.conf" --check 2>"$tmp/err"
rc=$?
grep -q "^$tmp/opendir/x.conf: refused: its directory $tmp/opendir is owned by uid 0, mode 0777" "$tmp/err"
tap_ok $(( rc != 1 || $? != 0 )) "a file in a world-writable directory refused (exit $rc)"

# The status file: replaced by a rename, never written through a symbolic
# link; not written in a directory others may write to.
cat >"$tmp/st.conf" <<CONF
[service s]
listen = 7008
model = standard
stdio = yes
exec = cat
CONF
echo keep >"$tmp/victim"
ln -s "$tmp/victim" "$tmp/link.json"
nd_start "$tmp/st.conf" "$tmp/link.json" "$tmp/nstcpd.log"
for i in $(seq 100); do [ -L "$tmp/link.json" ] || break; sleep 0.1; done
r=$(cat "$tmp/victim")
[ -f "$tmp/link.json" ] && [ ! -L "$tmp/link.json" ] && nd_json "$tmp/link.json" "d['pid']" >/dev/null
tap_ok $(( $? != 0 )) "a symbolic link at the status path replaced, its target untouched ($r)"
nd_stop
mkdir -m 777 "$tmp/openst"
ip netns exec "$nd_srv" "$nd_bin" -f -c "$tmp/st.conf" -s "$tmp/openst/status.json" 2>"$tmp/openst.log" &
nd_pid=$!
sleep 2
r=$(grep -c "status file $tmp/openst/status.json: Operation not permitted" "$tmp/openst.log")
tap_ok $([ "$r" -ge 1 ] && [ ! -e "$tmp/openst/status.json" ]; echo $?) "no status file in a world-writable directory ($r errors logged)"
nd_stop

# A port already taken: nstcpd stops at start, naming the service.
cat >"$tmp/busy.conf" <<CONF
[service first]
listen = 7006
model = monolithic
exec = $nd_helpers/nstcpd_sdecho

[service busy]
listen = 7007
model = standard
exec = cat
stdio = yes
CONF
ip netns exec "$nd_srv" python3 -c '
import socket, time
s = socket.socket(socket.AF_INET6)
s.bind(("::", 7007)); s.listen()
open("'"$tmp"'/py-ready", "w").close()
time.sleep(30)' &
py=$!
for i in $(seq 100); do [ -e "$tmp/py-ready" ] && break; sleep 0.1; done
ip netns exec "$nd_srv" timeout 20 "$nd_bin" -f -c "$tmp/busy.conf" -s "$tmp/busy-status.json" 2>"$tmp/err"
rc=$?
tap_ok $(( rc != 1 )) "a port in use by AF_INET: exit 1 (got $rc)"
grep -q "service busy (line 6): listen on 7007: Address already in use" "$tmp/err"
tap_ok $? "the error names the service and its line"
sleep 0.5
nd_listening 7006
tap_ok $(( $? == 0 )) "the service started before it is stopped: no listener left"
left=$(pgrep -f "$nd_helpers/nstcpd_sdecho" | wc -l)
tap_ok "$left" "no worker left behind ($left)"
kill "$py" 2>/dev/null
wait "$py" 2>/dev/null

"$nd_bin" --bogus >/dev/null 2>&1
rc=$?
"$nd_bin" -c "$tmp/good.conf" extra >/dev/null 2>&1
tap_ok $(( rc != 2 || $? != 2 )) "usage errors exit 2"
"$nd_bin" status -s "$tmp/none.json" >/dev/null 2>"$tmp/err"
rc=$?
tap_ok $(( rc != 1 )) "nstcpd status without a status file: exit 1 ($(cat "$tmp/err"))"
tap_done
