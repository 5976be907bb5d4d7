#!/usr/bin/env bash
# A plain `make install` (default PREFIX /usr/local, no DESTDIR) makes
# `mount -t lsnfs` and `mount -t fuse.lsnfs` work with no manual step: it
# links /sbin/mount.lsnfs and /sbin/mount.fuse.lsnfs (mount(8) runs
# /sbin/mount.TYPE) to the installed helpers, and `make uninstall` removes
# exactly what install added - nothing else, and never a /sbin file that is
# not its own link.  The installed systemd units pass `systemd-analyze
# verify` under the names they are shipped with (lsnfs@.service,
# srv-logs.mount), also an instance with a '-' in its path and the drop-in
# the README describes; the template uses the mountpoint (%f), never an
# escaped name, and its ExecStopPost detaches a dead mount.
#
# The real /usr/local and /sbin are not touched: the test runs in a private
# mount namespace (unshare -m) with an overlay on each, whose upper layer is
# in $T, so the upper layer is exactly what `make install` wrote.
set -euo pipefail
source "$(dirname "$0")/lib_ns.sh"
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_ops.sh"

for tool in mount umount findmnt make; do
	command -v "$tool" >/dev/null || fail "$tool is needed"
done

SBIN=$(readlink -f /sbin)
declare -A UPPER=()
for dir in /usr/local "$SBIN"; do
	key=$(tr / _ <<<"$dir")
	mkdir -p "$dir" "$T/ov$key/up" "$T/ov$key/work"
	mount -t overlay overlay -o "lowerdir=$dir,upperdir=$T/ov$key/up,workdir=$T/ov$key/work" "$dir" ||
		fail "cannot put an overlay on $dir (needs root and overlayfs)"
	UPPER[$dir]=$T/ov$key/up
done
written() { # what install wrote so far: every non-directory in the upper layers
	local dir
	for dir in /usr/local "$SBIN"; do
		(cd "${UPPER[$dir]}" && find . ! -type d | sed "s|^\.|$dir|")
	done | sort
}
[[ -z $(written) ]] || fail "the overlays are not empty before make install: $(written)"

note "make install (PREFIX and DESTDIR left at their defaults)"
ops_make install >"$T/install.log" 2>&1 || fail "make install failed: $(tail -n 5 "$T/install.log")"
assert_eq "$(readlink /sbin/mount.lsnfs)" "/usr/local/sbin/mount.lsnfs" "/sbin/mount.lsnfs"
assert_eq "$(readlink /sbin/mount.fuse.lsnfs)" "/usr/local/sbin/mount.fuse.lsnfs" "/sbin/mount.fuse.lsnfs"
assert_eq "$(written | grep -c "^$SBIN/")" "2" "files make install wrote to /sbin ($(written))"
for p in lsnfs mkfs.lsnfs lsnfsctl mount.lsnfs; do
	[[ -x /usr/local/sbin/$p ]] || fail "/usr/local/sbin/$p not installed"
done

mkdir -p "$T/m"
track_mount "$T/m"
/usr/local/sbin/mkfs.lsnfs "$T/var/store" >/dev/null
for type in lsnfs fuse.lsnfs; do
	note "mount -t $type STORE MNT: mount(8) finds the helper in /sbin"
	mount -t "$type" "$T/var/store" "$T/m" -o _netdev,users
	wait_mounted "$T/m" || fail "$T/m not mounted by mount -t $type"
	assert_eq "$(findmnt -n -o FSTYPE --mountpoint "$T/m")" "fuse.lsnfs" "type of the mount"
	pid=$(daemon_of "$T/m") || fail "no lsnfs daemon serves $T/m"
	assert_eq "$(readlink "/proc/$pid/exe")" "/usr/local/sbin/lsnfs" "the daemon mount(8) started"
	mkdir -p "$T/m/p0"
	echo "$type" >"$T/m/p0/append.lines"
	umount_clean "$T/m"
done
mount_fs "$T/var/store" "$T/m"
assert_eq "$(cat "$T/m"/p0/segments/*.log)" $'lsnfs\nfuse.lsnfs' "records written through both mounts"
umount_fs "$T/m"

UNIT=/usr/local/lib/systemd/system/lsnfs@.service
if command -v systemd-analyze >/dev/null 2>&1; then
	# verify_clean WHAT FILE...: systemd-analyze verify exits 0 and says nothing
	# about our units (it may warn about the host's own units).
	verify_clean() {
		local what=$1 out rc=0
		shift
		out=$(cd "$T/units" && systemd-analyze verify --man=no "$@" 2>&1) || rc=$?
		assert_eq "$rc" "0" "systemd-analyze verify $what ($out)"
		if grep -E 'lsnfs|srv-logs|\.conf' <<<"$out"; then
			fail "systemd-analyze verify $what complains: $out"
		fi
	}
	note "systemd-analyze verify: the installed lsnfs@.service and srv-logs.mount, as shipped"
	mkdir -p "$T/units"
	cp "$UNIT" "$ROOT/mount-helpers/srv-logs.mount" "$T/units/"
	verify_clean "lsnfs@.service" ./lsnfs@.service
	verify_clean "srv-logs.mount" ./srv-logs.mount

	note "an instance with a '-' in its path, and the drop-in README describes"
	unit=$(systemd-escape -p --template=lsnfs@.service /srv/my-logs)
	assert_eq "$unit" 'lsnfs@srv-my\x2dlogs.service' "the escaped instance name"
	ln -s lsnfs@.service "$T/units/$unit"
	mkdir -p "$T/units/$unit.d"
	printf '[Unit]\nRequiresMountsFor=/mnt/archive\n[Service]\nEnvironment=LSNFS_STORE=/data/store\nEnvironment=LSNFS_OPTIONS=archive=/mnt/archive,auto_trim=300\n' \
		>"$T/units/$unit.d/lsnfs.conf"
	printf '[Unit]\nLsnfsProbe=1\n' >"$T/units/$unit.d/zz-probe.conf"
	out=$(cd "$T/units" && systemd-analyze verify --man=no "./$unit" 2>&1) || true
	grep -q "zz-probe.conf:2: Unknown key 'LsnfsProbe'" <<<"$out" ||
		fail "systemd does not read drop-ins from $unit.d: $out"
	rm "$T/units/$unit.d/zz-probe.conf"
	verify_clean "$unit with a drop-in" "./$unit"
else
	note "(systemd-analyze is not installed: the units are not verified)"
fi
note "the unit's paths: %f (the mountpoint) everywhere, never the escaped %i; ExecStopPost detaches"
! grep -n '%[iI]' "$UNIT" || fail "escaped instance specifiers (%i, %I) in $UNIT"
grep -qx 'Environment=LSNFS_STORE=/var/lib/lsnfs%f' "$UNIT" || fail "default store of $UNIT: $(grep STORE "$UNIT")"
grep -qx 'RequiresMountsFor=/var/lib/lsnfs%f' "$UNIT" || fail "RequiresMountsFor of $UNIT"
grep -qx 'ExecStart=/usr/local/sbin/mount.lsnfs ${LSNFS_STORE} %f -o ${LSNFS_OPTIONS}' "$UNIT" ||
	fail "ExecStart of $UNIT: $(grep ExecStart= "$UNIT")"
stop_post=$(sed -n 's/^ExecStopPost=-//p' "$UNIT")
assert_eq "$stop_post" "fusermount3 -uz %f" "ExecStopPost of $UNIT"
# What systemd runs after the daemon was killed: the command, %f being the mountpoint.
mount_fs "$T/var/store" "$T/m"
crash_pid=$DAEMON_PID
kill -9 "$crash_pid"
_wait_dead "$crash_pid" 10 || fail "daemon survived kill -9"
wait "$crash_pid" 2>/dev/null || true
mountpoint -q "$T/m" 2>/dev/null || ! stat "$T/m" >/dev/null 2>&1 || fail "no dead mount left by kill -9"
read -ra cmd <<<"$stop_post"
"${cmd[@]/\%f/$T/m}" || fail "ExecStopPost ${cmd[*]} for $T/m failed"
! mountpoint -q "$T/m" || fail "$T/m still mounted after ExecStopPost"
ls "$T/m" >/dev/null || fail "$T/m unusable after ExecStopPost"

note "make uninstall removes exactly what make install added"
ops_make uninstall >"$T/uninstall.log" 2>&1 || fail "make uninstall failed: $(tail -n 5 "$T/uninstall.log")"
assert_eq "$(written)" "" "files left by make install + make uninstall"

note "install leaves a /sbin/mount.lsnfs that is a file alone; uninstall leaves links that are not its own"
printf '#!/bin/sh\nexit 0\n' >/sbin/mount.lsnfs
ln -s /opt/elsewhere/mount.fuse.lsnfs /sbin/mount.fuse.lsnfs
ops_make install >"$T/install2.log" 2>&1 || fail "make install failed: $(tail -n 5 "$T/install2.log")"
grep -q "/sbin/mount.lsnfs exists and is not a link; left alone" "$T/install2.log" ||
	fail "make install did not say it left /sbin/mount.lsnfs alone: $(cat "$T/install2.log")"
[[ -f /sbin/mount.lsnfs && ! -L /sbin/mount.lsnfs ]] || fail "make install replaced a file /sbin/mount.lsnfs"
assert_eq "$(readlink /sbin/mount.fuse.lsnfs)" "/usr/local/sbin/mount.fuse.lsnfs" \
	"a dangling /sbin/mount.fuse.lsnfs link is pointed at the install"
ln -sfn /opt/elsewhere/mount.fuse.lsnfs /sbin/mount.fuse.lsnfs
ops_make uninstall >"$T/uninstall2.log" 2>&1 || fail "make uninstall failed: $(tail -n 5 "$T/uninstall2.log")"
assert_eq "$(written)" "$(printf '%s\n' "$SBIN/mount.fuse.lsnfs" "$SBIN/mount.lsnfs")" \
	"after uninstall: only the two /sbin files that were not make install's"
assert_eq "$(readlink /sbin/mount.fuse.lsnfs)" "/opt/elsewhere/mount.fuse.lsnfs" "a foreign link survives uninstall"
rm -f /sbin/mount.lsnfs /sbin/mount.fuse.lsnfs

note "with DESTDIR (packaging) nothing is linked into /sbin"
ops_make DESTDIR="$T/dest" install >"$T/install3.log" 2>&1 || fail "make DESTDIR=... install failed"
assert_eq "$(written)" "" "files written outside DESTDIR"
finish
