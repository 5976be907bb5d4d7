#!/usr/bin/env bash
# Removing snapshot files that are open (SPEC sections 3, 6; "do what a
# careful user of a filesystem expects"): a committed snapshot unlinked
# while a reader has it open, and a staging file removed while its writer
# still writes.  The daemon must survive whatever the descriptors do next
# (fstat, pread, write, ftruncate); reads give the original bytes or a
# clean error, never other bytes.  Also: unlink of a committed snapshot
# (no archive, trim point 0) removes it for good.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_trim.sh"

STORE=$T/store
M=$T/mnt
L=$M/p0
S=$L/snapshots
"$MKFS" --segment-size 4096 --node-id snap-open-node "$STORE" >/dev/null
mount_fs "$STORE" "$M" trim_delay=0
PID=$DAEMON_PID
mkdir "$L"
append_records "$L" "$T/ref" 30 1024 111

alive() { # WHAT
	kill -0 "$PID" 2>/dev/null || fail "the daemon died ($1): $(tail -n 3 "$DAEMON_LOG")"
	mountpoint -q "$M" || fail "$M is no longer mounted ($1)"
	ls "$S" >/dev/null 2>&1 || fail "ls of snapshots/ fails ($1)"
}

note "1. unlink of a committed snapshot (trim point 0, no archive) removes it"
printf 'short-lived' >"$S/.a"
mv "$S/.a" "$S/$(lsn20 5).snap"
rm "$S/$(lsn20 5).snap"
[[ ! -e $S/$(lsn20 5).snap ]] || fail "snapshot 5 still there after rm"
assert_eq "$(ls -A "$S")" "" "snapshots/ after rm"

note "2. a reader has a ~3 MiB snapshot open; the snapshot is unlinked"
rand_file "$T/state" 3000000 12
cp "$T/state" "$S/.b"
mv "$S/.b" "$S/$(lsn20 20).snap"
out=$(python3 - "$S/$(lsn20 20).snap" "$T/state" <<'EOF' 2>&1
import os, sys
snap, ref = sys.argv[1], sys.argv[2]
want = open(ref, "rb").read()
fd = os.open(snap, os.O_RDONLY)
if os.pread(fd, 4096, 0) != want[:4096]:
    sys.exit("read before unlink differs")
os.unlink(snap)
if os.path.exists(snap):
    sys.exit("snapshot still listed after unlink")
for what, off, n in (("fstat", 0, 0), ("pread", 2000000, 100000), ("pread", 0, 10)):
    try:
        if what == "fstat":
            print("  fstat after unlink: size %d" % os.fstat(fd).st_size)
            continue
        got = os.pread(fd, n, off)
    except OSError as e:
        print("  %s after unlink: error %s" % (what, e.strerror))
        continue
    if got != want[off:off + n]:
        sys.exit("pread %d at %d after unlink: different bytes" % (n, off))
    print("  pread %d at %d after unlink: equal" % (n, off))
os.close(fd)
EOF
) || true
printf '%s\n' "$out"
alive "after reading an unlinked snapshot"
[[ $out != *"different bytes"* && $out != *"differs"* ]] || fail "unlinked snapshot: $out"
[[ ! -e $S/$(lsn20 20).snap ]] || fail "snapshot 20 back after unlink"

note "3. a writer keeps writing to a staging file that was removed"
out=$(python3 - "$S/.c" <<'EOF' 2>&1
import os, sys
p = sys.argv[1]
fd = os.open(p, os.O_WRONLY | os.O_CREAT, 0o644)
os.write(fd, b"x" * 100000)
os.unlink(p)
for what, fn in (("write", lambda: os.write(fd, b"y" * 1000)),
                 ("fstat", lambda: os.fstat(fd).st_size),
                 ("ftruncate", lambda: os.ftruncate(fd, 10)),
                 ("fsync", lambda: os.fsync(fd))):
    try:
        print("  %s after unlink: %r" % (what, fn()))
    except OSError as e:
        print("  %s after unlink: error %s" % (what, e.strerror))
os.close(fd)
EOF
) || true
printf '%s\n' "$out"
alive "after using an unlinked staging file"
[[ ! -e $S/.c ]] || fail "removed staging file is back"

note "4. the snapshot directory still works"
printf 'after' >"$S/.d"
mv "$S/.d" "$S/$(lsn20 25).snap"
assert_eq "$(cat "$S/$(lsn20 25).snap")" "after" "snapshot committed afterwards"
umount_fs "$M"
mount_fs "$STORE" "$M" trim_delay=0
assert_eq "$(ls -A "$S" | tr '\n' ' ')" "$(lsn20 25).snap " "snapshots/ after remount"
umount_fs "$M"
echo "ok"
