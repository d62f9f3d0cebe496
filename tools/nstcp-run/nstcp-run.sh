#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# nstcp-run [options] PROGRAM [ARGS...]: runs PROGRAM with its TCP listening
# sockets on AF_NSTCP, through the LD_PRELOAD library libnstcp-run.so.
# See nstcp-run(8) and Documentation/nstcp-run.rst.  Loading the module is
# not this script's job (modprobe nstcp, or its net-pf-19 alias).
set -e
usage() {
	cat <<USAGE
usage: nstcp-run [-p PORTS] [-a ADDRS] [-m listen|all|off] [-c FILE] [-v] [--] PROGRAM [ARGS...]
  -p PORTS   convert sockets bound to these ports (80,443,8000-8099; default all)
  -a ADDRS   convert sockets bound to these addresses (0.0.0.0,::,...; default all)
  -m MODE    listen: at bind()/listen() by the rules (default); all: every
             TCP socket at socket(); off: none
  -c FILE    configuration file (default /etc/nstcp/nstcp-run.conf; "none")
  -v         log each decision to stderr
USAGE
	exit "$1"
}
while getopts p:a:m:c:vh opt; do
	case $opt in
	p) NSTCP_RUN_PORTS=$OPTARG; export NSTCP_RUN_PORTS ;;
	a) NSTCP_RUN_ADDRS=$OPTARG; export NSTCP_RUN_ADDRS ;;
	m) NSTCP_RUN_MODE=$OPTARG; export NSTCP_RUN_MODE ;;
	c) NSTCP_RUN_CONF=$OPTARG; export NSTCP_RUN_CONF ;;
	v) NSTCP_RUN_VERBOSE=1; export NSTCP_RUN_VERBOSE ;;
	h) usage 0 ;;
	*) usage 2 >&2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || usage 2 >&2
lib=${NSTCP_RUN_LIB:-}
if [ -z "$lib" ]; then
	here=$(cd "$(dirname "$0")" && pwd)
	for l in "$here/libnstcp-run.so" "$here/../lib/nstcp/libnstcp-run.so" \
		/usr/lib/nstcp/libnstcp-run.so; do
		[ -f "$l" ] && { lib=$l; break; }
	done
fi
[ -n "$lib" ] && [ -f "$lib" ] || { echo "nstcp-run: libnstcp-run.so not found (NSTCP_RUN_LIB)" >&2; exit 127; }
LD_PRELOAD="$lib${LD_PRELOAD:+ $LD_PRELOAD}"
export LD_PRELOAD
exec "$@"
