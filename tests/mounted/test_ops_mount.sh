#!/usr/bin/env bash
# mount.lsnfs (SPEC section 1; mount.lsnfs(8)): `mount -t lsnfs`, `mount -t
# fuse.lsnfs` and fstab lines (a temporary fstab through `mount -T`, never
# /etc/fstab) with _netdev and nofail; options only mount(8) understands never
# reach lsnfs; `umount` flushes, closes the store and ends the daemon.
#
# mount(8) looks for helpers in /sbin only: the helper is installed into a
# DESTDIR under $T and linked as /sbin/mount.lsnfs and /sbin/mount.fuse.lsnfs
# for the duration of the test, only if no such file exists already.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_ops.sh"

for tool in mount umount findmnt make; do
	command -v "$tool" >/dev/null || fail "$tool is needed"
done

D=$T/dest
SB=$D/usr/sbin
ops_make DESTDIR="$D" PREFIX=/usr install >"$T/install.log" 2>&1 ||
	fail "make install: $(tail -n 5 "$T/install.log")"
[[ -x $SB/mount.lsnfs && -L $SB/mount.fuse.lsnfs && -x $SB/lsnfs ]] ||
	fail "make install did not install mount.lsnfs, mount.fuse.lsnfs and lsnfs into $SB"

# Appends one record per argument, each with exactly one write(2).
append_records() { # LOG PAYLOAD...
	python3 -c '
import os, sys
fd = os.open(os.path.join(sys.argv[1], "append"), os.O_WRONLY)
for p in sys.argv[2:]:
    os.write(fd, p.encode())
os.close(fd)' "$@"
}

# The mount at MNT is lsnfs served by the installed daemon, whose command
# line has none of mount(8)'s own options.  Prints the daemon's arguments.
check_daemon() { # MNT STORE
	local mnt=$1 store=$2 pid args
	wait_mounted "$mnt" || fail "$mnt is not mounted"
	assert_eq "$(findmnt -n -o FSTYPE --mountpoint "$mnt")" "fuse.lsnfs" "type of $mnt"
	assert_eq "$(findmnt -n -o SOURCE --mountpoint "$mnt")" "$(realpath "$store")" "source of $mnt"
	pid=$(daemon_of "$mnt") || fail "no lsnfs daemon serves $mnt"
	assert_eq "$(readlink "/proc/$pid/exe")" "$SB/lsnfs" "daemon started by the helper"
	args=$(tr '\0' ' ' <"/proc/$pid/cmdline")
	if grep -Eq '(^|[ ,])(defaults|rw|_netdev|nofail|auto|noauto|users?|nouser|x-[^ ,]*|comment=[^ ,]*)([ ,]|$)' <<<"$args"; then
		fail "a mount(8)-only option reached lsnfs: $args"
	fi
	echo "$args"
}

expect_mount_fails() { # ERE MOUNT-ARGS...
	local ere=$1 out rc=0
	shift
	out=$(mount "$@" 2>&1) || rc=$?
	((rc != 0)) || fail "mount $* succeeded; expected a failure"
	grep -Eq -- "$ere" <<<"$out" || fail "mount $* failed (rc $rc) with '$out'; expected '$ere'"
}

note "the helper alone: --help, bad invocations, -fv shows what reaches lsnfs"
"$SB/mount.lsnfs" --help | grep -q '^usage: mount.lsnfs STORE MOUNTPOINT' || fail "mount.lsnfs --help"
rc=0
out=$("$SB/mount.lsnfs" "$T/s" 2>&1) || rc=$?
assert_eq "$rc" "1" "mount.lsnfs without MOUNTPOINT: exit status"
assert_eq "$(head -n1 <<<"$out")" "mount.lsnfs: missing MOUNTPOINT" "mount.lsnfs without MOUNTPOINT"
rc=0
out=$("$SB/mount.lsnfs" "$T/s" "$T/m" -q 2>&1) || rc=$?
assert_eq "$rc:$(head -n1 <<<"$out")" "1:mount.lsnfs: unknown option '-q'" "mount.lsnfs -q"
out=$("$SB/mount.lsnfs" "$T" /x/mnt -fv \
	-o defaults,rw,_netdev,nofail,auto,noauto,user,users,nouser,owner,group \
	-o x-systemd.automount,comment=ops,segment_size=4096,ro,sync=always 2>&1)
assert_eq "$out" "mount.lsnfs: $SB/lsnfs $T /x/mnt -o segment_size=4096,ro,sync=always" \
	"mount.lsnfs -fv: the daemon next to the helper, mount(8)-only options dropped"
out=$("$SB/mount.lsnfs" /x/store /x/mnt -v -o nofail 2>&1)
assert_eq "$out" "mount.lsnfs: /x/store does not exist; nofail: not mounting /x/mnt" \
	"nofail and a store that does not exist: exit 0, nothing done"
out=$("$SB/mount.lsnfs" /x/store /x/mnt -f -v -o defaults,_netdev 2>&1)
assert_eq "$out" "mount.lsnfs: $SB/lsnfs /x/store /x/mnt" "nothing left to pass: no -o"
out=$("$SB/mount.fuse.lsnfs" /x/store /x/mnt -fv -t fuse.lsnfs 2>&1)
assert_eq "$out" "mount.fuse.lsnfs: $SB/lsnfs /x/store /x/mnt" "mount.fuse.lsnfs -t fuse.lsnfs"

if ! sbin_link mount.lsnfs "$SB/mount.lsnfs" || ! sbin_link mount.fuse.lsnfs "$SB/mount.fuse.lsnfs"; then
	ls -l /sbin/mount.lsnfs /sbin/mount.fuse.lsnfs 2>&1 | sed 's/^/    /'
	echo "SKIP: the mount(8) part: /sbin/mount.lsnfs or /sbin/mount.fuse.lsnfs already exists and is not this test's; it is left alone"
	echo "ok"
	exit 0
fi

for s in s1 s2 s3; do "$MKFS" "$T/$s" >/dev/null; done
mkdir -p "$T"/m{1,2,3,4,5}
for m in 1 2 3 4 5; do track_mount "$T/m$m"; done

note "mount -t lsnfs STORE MNT -o _netdev,segment_size=4096: mounted, the lsnfs option applies"
mount -t lsnfs "$T/s1" "$T/m1" -o _netdev,segment_size=4096
args=$(check_daemon "$T/m1" "$T/s1")
grep -q 'segment_size=4096' <<<"$args" || fail "segment_size did not reach lsnfs: $args"
mkdir "$T/m1/p0"
recs=()
for i in 1 2 3 4 5 6; do recs+=("$(printf "%01000d" "$i")"); done
append_records "$T/m1/p0" "${recs[@]}"
assert_eq "$(seg_names "$T/m1/p0" | tr '\n' ' ')" "00000000000000000001.log 00000000000000000006.log " \
	"segments with segment_size=4096 from mount -o"
"$CTL" status "$T/m1" --json | grep -q '"name":"p0","first_lsn":1,"tail_lsn":6' ||
	fail "lsnfsctl status on the mount(8) mount"
before=$(log_state "$T/m1/p0")

note "umount: the daemon flushes, closes the store and exits; the data is all there"
umount_clean "$T/m1"
mount_fs "$T/s1" "$T/m1"
assert_eq "$(log_state "$T/m1/p0")" "$before" "log after umount and remount"
umount_fs "$T/m1"

note "mount -t fuse.lsnfs STORE MNT (through mount.fuse.lsnfs)"
mount -t fuse.lsnfs "$T/s1" "$T/m1"
check_daemon "$T/m1" "$T/s1" >/dev/null
assert_eq "$(tail_of "$T/m1/p0")" "6" "tail through -t fuse.lsnfs"
umount_clean "$T/m1"

note "mount -t lsnfs with a FUSE option (ro) and an lsnfs option that has a space"
mount -t lsnfs "$T/s1" "$T/m1" -o "ro,archive_command=cp %p $T/nowhere"
check_daemon "$T/m1" "$T/s1" >/dev/null
assert_eq "$(findmnt -n -o OPTIONS --mountpoint "$T/m1" | tr ',' '\n' | grep -x ro)" "ro" "ro mount"
assert_eq "$(xattr_get "$T/m1" user.lsnfs.archive)" "cp %p $T/nowhere" "archive_command through mount -o"
umount_clean "$T/m1"

note "mount failures: exit status 32 with lsnfs's reason, nothing mounted"
expect_mount_fails "not an lsnfs store|No such file" -t lsnfs "$T/missing" "$T/m1"
expect_mount_fails "unknown option" -t lsnfs "$T/s1" "$T/m1" -o no_such_option
expect_mount_fails "sync must be always or fsync" -t lsnfs "$T/s1" "$T/m1" -o sync=sometimes
rc=0
mount -t lsnfs "$T/missing" "$T/m1" 2>/dev/null || rc=$?
assert_eq "$rc" "32" "exit status of a failed mount"
! mountpoint -q "$T/m1" || fail "$T/m1 mounted after a failed mount"

note "a temporary fstab (mount -T): defaults,_netdev; nofail; fuse.lsnfs; noauto"
cat >"$T/fstab" <<EOF
# a temporary fstab for test_ops_mount.sh
$T/s1  $T/m1  lsnfs       defaults,_netdev  0 0
$T/s2  $T/m2  lsnfs       defaults,nofail,x-systemd.device-timeout=5,comment=ops  0 0
$T/s3  $T/m3  fuse.lsnfs  defaults,_netdev,nofail,segment_size=4096  0 0
$T/s1  $T/m5  lsnfs       noauto,_netdev  0 0
EOF
mount -T "$T/fstab" "$T/m1"
check_daemon "$T/m1" "$T/s1" >/dev/null
assert_eq "$(tail_of "$T/m1/p0")" "6" "tail through the fstab line"
umount_clean "$T/m1"

mount -T "$T/fstab" -a
for m in 1 2 3; do
	check_daemon "$T/m$m" "$T/s$m" >/dev/null
done
! mountpoint -q "$T/m5" || fail "mount -a mounted a noauto line"
mkdir "$T/m3/q"
append_records "$T/m3/q" "${recs[@]}"
assert_eq "$(seg_names "$T/m3/q" | wc -l)" "2" "segment_size=4096 from the fstab line"
note "mount -a again: everything already mounted, nothing to do"
mount -T "$T/fstab" -a
for m in 1 2 3; do umount_clean "$T/m$m"; done

note "nofail: a line whose store is missing does not fail mount -a"
cat >"$T/fstab2" <<EOF
$T/missing  $T/m4  lsnfs  defaults,nofail  0 0
$T/s2       $T/m2  lsnfs  defaults,_netdev,nofail  0 0
EOF
rc=0
mount -T "$T/fstab2" -a 2>"$T/mount-a.err" || rc=$?
assert_eq "$rc" "0" "mount -a with a failing nofail line ($(cat "$T/mount-a.err"))"
! mountpoint -q "$T/m4" || fail "$T/m4 mounted without a store"
check_daemon "$T/m2" "$T/s2" >/dev/null
umount_clean "$T/m2"

echo "ok"
