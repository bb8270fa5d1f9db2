#!/bin/sh
# test/deb.sh: the Debian packages from a clean clone of the committed
# HEAD, in a fresh Debian 12 root: build them with dpkg-buildpackage
# -us -uc -b, install them with apt, run the demo and one-shot sends from
# the installed files.  Needs root (a chroot) and the Debian mirror; takes
# a few minutes, so .ci/run calls it after make check, not make check.
# Prints TAP lines and ends with "N passed, N failed", as test/run.sh.
#
#   sh test/deb.sh            the whole test (commit first: HEAD is built)
#   sh test/deb.sh --inside   the part that runs in the fresh root
set -u

# A Debian 12 minbase root from this machine's mirror, holding a clone of
# HEAD at /home/project; runs "$@" in it and removes it.
fresh_root() {
	root=$(mktemp -d /tmp/botpipe-deb.XXXXXX)
	mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
	[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" { print $2; exit }' /etc/apt/sources.list)
	command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap >/dev/null
	debootstrap --variant=minbase --include=git,ca-certificates bookworm "$root" "$mirror" > "$root.log" 2>&1 ||
		{ tail -n 20 "$root.log"; rm -rf "$root" "$root.log"; return 1; }
	rm -f "$root.log"
	cp /etc/resolv.conf "$root/etc/resolv.conf"
	[ ! -f /etc/apt/sources.list.d/debian.sources ] || cp /etc/apt/sources.list.d/debian.sources "$root/etc/apt/sources.list.d/"
	git clone -q "$(pwd)" "$root/home/project"
	mount -t proc proc "$root/proc"
	mount --rbind /dev "$root/dev"
	chroot "$root" env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"
	rc=$?
	umount -l "$root/proc" "$root/dev"
	rm -rf --one-file-system "$root"
	return $rc
}

if [ "${1:-}" != --inside ]; then
	cd "$(dirname "$0")/.." || exit 1
	if [ "$(id -u)" -ne 0 ]; then
		echo "test/deb.sh: needs root (a chroot); skipped"
		echo "0 passed, 0 failed"
		exit 0
	fi
	# the project's shared tool when it is beside the clone (as in CI),
	# else a debootstrap of our own
	out=$(mktemp)
	trap 'rm -f "$out"' EXIT
	if [ -x ../shared/tools/fresh-debian.sh ]; then
		PROJECT=$(pwd) bash ../shared/tools/fresh-debian.sh sh /home/project/test/deb.sh --inside > "$out" 2>&1
	else
		fresh_root sh /home/project/test/deb.sh --inside > "$out" 2>&1
	fi
	rc=$?
	cat "$out"
	grep -Eq '^[0-9]+ passed, [0-9]+ failed' "$out" || { echo "0 passed, 1 failed"; exit 1; }
	exit "$rc"
fi

# ---- in the fresh root, as root, in a clean clone at /home/project ----
n=0 pass=0 fail=0
check() {   # check NAME COMMAND...: one TAP line; the output kept on failure
	n=$((n + 1))
	name=$1
	shift
	if log=$("$@" 2>&1); then
		pass=$((pass + 1)); echo "ok $n - $name"
	else
		fail=$((fail + 1)); echo "not ok $n - $name"; printf '%s\n' "$log" | tail -n 30 | sed 's/^/# /'
	fi
}
finish() { echo "$pass passed, $fail failed"; [ "$fail" -eq 0 ]; exit $?; }

export DEBIAN_FRONTEND=noninteractive
cd /home/project || { echo "not ok 1 - the clone is there"; fail=1; finish; }
check "apt-get update" apt-get update -qq
check "the build dependencies from debian/control" \
	sh -c 'apt-get install -y -qq --no-install-recommends build-essential >/dev/null && apt-get build-dep -y -qq . >/dev/null'
check "dpkg-buildpackage -us -uc -b" sh -c 'dpkg-buildpackage -us -uc -b > /tmp/build.log 2>&1 || { tail -40 /tmp/build.log; exit 1; }'
deb=$(ls /home/botpipe_*.deb 2>/dev/null | head -n 1)
http=$(ls /home/botpipe-http_*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] && [ -n "$http" ] || { check "two .deb packages" false; finish; }
# a fresh user, as a new machine has: not the builder's environment
check "apt installs botpipe alone" apt-get install -y -qq --no-install-recommends "$deb"
# (this root has them: the build needed them; what botpipe asks for counts)
check "botpipe alone needs neither libcurl nor OpenSSL: its Depends, and what its files link" \
	sh -c "! dpkg-deb -f '$deb' Depends | grep -Eq 'libcurl|libssl' &&
		! ldd /usr/bin/bot-* /usr/lib/botpipe/irc.so | grep -Eq 'libcurl|libssl|libcrypto'"
check "botpipe-http asks for libcurl" sh -c "dpkg-deb -f '$http' Depends | grep -q libcurl"
cd /tmp || exit 1
export HOME=/root XDG_RUNTIME_DIR=/tmp/run XDG_STATE_HOME=/tmp/state PATH=/usr/bin:/bin
mkdir -p -m 700 /tmp/run
check "the installed programs run: bot-send --version" sh -c 'bot-send --version | grep -q "(botpipe)"'
check "the demo answers !echo from the installed files" \
	sh -c 'printf "!echo hi from the package\n" | sh /usr/share/botpipe/demo.sh 2>&1 | grep -q "hi from the package"'
check "a one-shot send to the console" \
	sh -c 'bot-send --text-output /tmp/chat --to @you "backup done" | grep -q "\"type\":\"sent\"" && grep -q "backup done" /tmp/chat'
check "bot-dispatch finds the installed bot.jq" \
	sh -c 'echo "{\"type\":\"message\",\"from\":\"@you\",\"to\":\"@bot\",\"body\":\"ping\"}" |
		bot-dispatch -e "select(.body==\"ping\") | reply(\"pong\")" | grep -q "\"body\":\"pong\""'
check "without botpipe-http the webhook backend is not found (78)" \
	sh -c 'BOT_WEBHOOK_URL=http://127.0.0.1:9/x bot-send -b webhook --to x hi; [ $? -eq 78 ]'
check "apt installs botpipe-http" apt-get install -y -qq --no-install-recommends "$http"
check "with botpipe-http a webhook send is tried (75: nothing listens)" \
	sh -c 'BOT_WEBHOOK_URL=http://127.0.0.1:9/x bot-send -b webhook --retries 0 --to x hi; [ $? -eq 75 ]'
check "the systemd units and botpipe-run are installed with their paths" \
	sh -c 'grep -qx "ExecStart=/usr/lib/botpipe/botpipe-run" /lib/systemd/system/botpipe@.service && [ -x /usr/lib/botpipe/botpipe-run ]'
check "completion is installed where bash-completion and zsh look" \
	sh -c '[ -f /usr/share/bash-completion/completions/bot-send ] && [ -f /usr/share/zsh/vendor-completions/_botpipe ]'
check "apt removes both, leaving no file of theirs" \
	sh -c 'apt-get purge -y -qq botpipe botpipe-http >/dev/null && [ ! -e /usr/bin/bot-send ] && [ ! -e /usr/share/botpipe ] && [ ! -e /usr/lib/libbot.so.0 ]'
finish
