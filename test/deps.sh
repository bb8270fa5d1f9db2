#!/bin/sh
# Install the Debian packages botpipe needs to build, test, demo and bench,
# when some are missing.  Root runs apt-get itself; anyone else via sudo.
set -eu
PKGS="gcc make pkg-config libc6-dev libjq-dev libonig-dev libcmark-gfm-dev libcmark-gfm-extensions-dev
libcurl4-openssl-dev libssl-dev libwslay-dev libstrophe-dev libmicrohttpd-dev jq python3
python3-websockets python3-slixmpp python3-aiohttp bats bats-assert bats-support bats-file mandoc tmux
ngircd prosody mosquitto mosquitto-clients nats-server libnats-dev valgrind clang libclang-rt-14-dev libfuzzer-14-dev llvm-14
hyperfine time socat curl procps openssl ca-certificates util-linux zsh"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "botpipe: installing Debian packages:$missing" >&2
if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
