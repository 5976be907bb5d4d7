#!/usr/bin/env bash
# A full disk: appends fail with ENOSPC, nothing acknowledged is lost, the
# daemon stays up (reads still work), and after the space is back a remount
# accepts appends again.
source "$(dirname "$0")/lib.sh"

disk=$T/disk
mkdir -p "$disk"
mount -t tmpfs -o size=24m tmpfs "$disk" || fail "cannot mount a tmpfs for the full-disk test"
# The tmpfs must go after the mount on it and before lib.sh removes $T;
# _cleanup takes the exit status from $?, so hand it back unchanged.
cleanup_disk() {
	local rc=$?
	fusermount3 -uz "$T/mnt" 2>/dev/null || true
	sleep 0.2
	umount -l "$disk" 2>/dev/null || true
	return "$rc"
}
trap 'cleanup_disk || _cleanup; _cleanup' EXIT
"$MKFS" "$disk/store" >/dev/null
mount_fs "$disk/store" "$T/mnt" trim_delay=0
mnt=$T/mnt
mkdir "$mnt/p0"

note "fill the disk with 100 kB records, fsync every 10"
python3 - "$mnt/p0/append" "$T/acked" <<'PY' >"$T/fill.out"
import os, sys, errno
fd = os.open(sys.argv[1], os.O_WRONLY)
acked = open(sys.argv[2], "wb")
pending = []
err = None
n = 0
while True:
    rec = os.urandom(100000)
    try:
        os.write(fd, rec)
    except OSError as e:
        err = e.errno
        break
    pending.append(rec)
    n += 1
    if n % 10 == 0:
        os.fsync(fd)
        for r in pending:
            acked.write(r)
        pending = []
print(errno.errorcode.get(err, err), n)
PY
read -r code written <"$T/fill.out"
assert_eq "$code" ENOSPC "errno when the disk is full"
assert_ge "$written" 10 "records written before the disk filled"

note "the daemon is still up, reads work, further writes fail cleanly"
mountpoint -q "$mnt" || fail "the daemon died when the disk filled"
write_one() { python3 -c 'import os,sys; os.write(os.open(sys.argv[1], os.O_WRONLY), b"x")' "$1"; }
assert_errno write_one "$mnt/p0/append" "No space left on device"
assert_errno mkdir "$mnt/p1" "No space left on device"
tail=$(tail_of "$mnt/p0")
assert_eq "$tail" "$written" "tail after the disk filled (every successful write is a record)"
grep -q "read-only from now on" "$DAEMON_LOG" || fail "the daemon log does not say the store turned read-only"

note "every fsync-acknowledged record survives, byte for byte"
cat "$mnt"/p0/segments/*.log >"$T/got"
head -c "$(stat -c %s "$T/acked")" "$T/got" >"$T/got.acked"
assert_file_eq "$T/got.acked" "$T/acked" "acknowledged records"

note "space back + remount: appends work again and continue the LSNs"
umount_fs "$mnt"
mount -o remount,size=64m "$disk"
mount_fs "$disk/store" "$mnt" trim_delay=0
assert_eq "$(tail_of "$mnt/p0")" "$tail" "tail after remount"
printf 'after' >"$mnt/p0/append"
assert_eq "$(tail_of "$mnt/p0")" "$((tail + 1))" "tail after a new append"
cat "$mnt"/p0/segments/*.log >"$T/got2"
head -c "$(stat -c %s "$T/acked")" "$T/got2" >"$T/got2.acked"
assert_file_eq "$T/got2.acked" "$T/acked" "acknowledged records after remount"
umount_fs "$mnt"
umount "$disk"
echo "ok"
