#!/bin/sh
# make bench: botpipe's figures beside its peers, printed as one table.
#   B=build sh bench/run.sh [--quick] [--only pass,echo,...]
# Installs the peers when missing (Debian: errbot, apprise, python3-pytest
# for errbot's test bot; npm: hubot under bench/out/), makes the inputs
# with bench/gen.py (once; they are not committed), then runs bench.py.
# Prints figures, never pass/fail; nothing here runs in make check.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out="$here/out"
mkdir -p "$out"

# Peers.  A peer that cannot be installed is reported in the table.
missing=""
for p in errbot apprise python3-pytest curl; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
# node and npm may come from elsewhere than Debian's packages: look for the commands.
command -v node >/dev/null || missing="$missing nodejs"
command -v npm >/dev/null || missing="$missing npm"
if [ -n "$missing" ]; then
	echo "bench: installing Debian packages:$missing" >&2
	if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
	# shellcheck disable=SC2086
	{ $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		$SUDO apt-get install -y -qq --no-install-recommends $missing; } >"$out/apt.log" 2>&1 ||
		echo "bench: apt-get failed (see $out/apt.log); those peers will be reported as not run" >&2
fi
if [ ! -x "$out/hubot/node_modules/.bin/hubot" ] && command -v npm >/dev/null; then
	echo "bench: npm install hubot into $out/hubot" >&2
	npm install --prefix "$out/hubot" --no-audit --no-fund hubot >"$out/npm.log" 2>&1 ||
		echo "bench: npm install hubot failed (see $out/npm.log)" >&2
fi

# Inputs, made again only when gen.py changed.
if [ ! -s "$out/events.ndjson" ] || [ "$here/gen.py" -nt "$out/events.ndjson" ]; then
	echo "bench: generating inputs into $out (about 20 s)" >&2
	/usr/bin/python3 "$here/gen.py" --out "$out"
fi

B=${B:-build} exec /usr/bin/python3 "$here/bench.py" "$@"
