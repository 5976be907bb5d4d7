#!/usr/bin/env bash
# The control file (storage/control.h): a store that comes back behind what
# it acknowledged as durable refuses to mount with one line naming the
# short logs; an intact store, a kill -9 and a clean unmount never trip it.
source "$(dirname "$0")/lib.sh"

M=$T/mnt
"$MKFS" --segment-size 65536 "$T/store" >/dev/null

note "clean unmount and kill -9 (sync=always and fsync) remount without a complaint"
mount_fs "$T/store" "$M" sync=always
mkdir "$M/a"
seq 1000 >"$M/a/append.lines"
crash_fs "$M"
mount_fs "$T/store" "$M"
assert_eq "$(tail_of "$M/a")" 1000 "tail after kill -9"
python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
for i in range(500):
    os.write(fd, b"%d\n" % i)
os.fsync(fd)' "$M/a/append.lines"
crash_fs "$M"
mount_fs "$T/store" "$M"
assert_eq "$(tail_of "$M/a")" 1500 "tail after fsync and kill -9"
grep -q "log a 1500 " "$T/store/lsnfs.control" || fail "control file does not claim tail 1500: $(cat "$T/store/lsnfs.control")"
umount_fs "$M"

note "the example of issue 10: seq 100000, unmount, cut 40 bytes of the MANIFEST: refused"
mount_fs "$T/store" "$M"
mkdir "$M/p"
seq 100000 >"$M/p/append.lines"
umount_fs "$M"
grep -q "log p 100000 0" "$T/store/lsnfs.control" || fail "control file after unmount: $(cat "$T/store/lsnfs.control")"
cp -a "$T/store" "$T/store.intact"
cp -a "$T/store" "$T/store.old"
for f in "$T/store"/db/MANIFEST-*; do truncate -s -40 "$f"; done
rc=0
out=$("$LSNFS" "$T/store" "$M" -f 2>&1 </dev/null) || rc=$?
if mountpoint -q "$M"; then fusermount3 -u "$M"; fail "the damaged store mounted"; fi
assert_ne "$rc" 0 "exit status of lsnfs on the damaged store"
# RocksDB reports some cuts itself (refused as corrupt, as before); the
# others used to mount with p gone, and now meet the control file.
assert_match "$out" "behind what it acknowledged as durable: p is (missing \\(|short by )[0-9]+ (acknowledged )?records|store metadata is corrupt" "refusal line"
note "refused: $(grep -m1 -E "behind|corrupt" <<<"$out")"

note "a store that comes back with an older db/ (logs shorter, one missing) is refused"
mount_fs "$T/store.intact" "$M"
seq 100001 100500 >"$M/p/append.lines"
mkdir "$M/q"
echo one >"$M/q/append.lines"
umount_fs "$M"
rm -rf "$T/store.intact.new"
cp -a "$T/store.intact" "$T/store.intact.new"
rm -rf "$T/store.intact/db"
cp -a "$T/store.old/db" "$T/store.intact/db"
rc=0
out=$("$LSNFS" "$T/store.intact" "$M" -f 2>&1 </dev/null) || rc=$?
if mountpoint -q "$M"; then fusermount3 -u "$M"; fail "the store behind its control file mounted"; fi
assert_eq "$rc" 1 "exit status of lsnfs on a store behind its control file"
assert_match "$out" "behind what it acknowledged as durable: p is short by 500 records, q is missing \\(1 acknowledged records\\); refusing" "refusal line"
assert_eq "$(grep -c behind <<<"$out")" 1 "refusal lines"
note "refused: $(grep -m1 behind <<<"$out")"
rm -rf "$T/store.intact"
mv "$T/store.intact.new" "$T/store.intact"

note "the intact copy still mounts, with every record"
mount_fs "$T/store.intact" "$M"
assert_eq "$(tail_of "$M/p")" 100500 "tail of p"
assert_eq "$(cat "$M/p/segments/"* | md5sum)" "$(seq 100500 | md5sum)" "records of p"
umount_fs "$M"

note "segments gone from the front (store trimmed beyond its claimed trim point): refused"
"$MKFS" --segment-size 4096 "$T/front" >/dev/null
mount_fs "$T/front" "$M" trim_delay=0 auto_trim=0
mkdir "$M/f"
seq 3000 >"$M/f/append.lines"
umount_fs "$M"
grep -q "^log f 3000 0$" "$T/front/lsnfs.control" || fail "claims before the trim: $(cat "$T/front/lsnfs.control")"
cp "$T/front/lsnfs.control" "$T/control.before-trim"
mount_fs "$T/front" "$M" trim_delay=0 auto_trim=0
setfattr -n user.lsnfs.persisted_lsn -v 2000 "$M/f"
setfattr -n user.lsnfs.trim -v safe "$M/f"
trim=$(getfattr --only-values -n user.lsnfs.trim_point "$M/f")
[[ $trim -gt 0 ]] || fail "nothing was trimmed (trim_point $trim)"
# The claim is written before the trim's batch, not later by the periodic
# writer (no tail moved) or the unmount.
grep -q "^log f 3000 $trim$" "$T/front/lsnfs.control" || fail "trim $trim not claimed: $(cat "$T/front/lsnfs.control")"
umount_fs "$M"
cp "$T/front/lsnfs.control" "$T/control.after-trim"
cp "$T/control.before-trim" "$T/front/lsnfs.control"
rc=0
out=$("$LSNFS" "$T/front" "$M" -f 2>&1 </dev/null) || rc=$?
if mountpoint -q "$M"; then fusermount3 -u "$M"; fail "a store trimmed beyond its claim mounted"; fi
assert_eq "$rc" 1 "exit status of lsnfs on a store trimmed beyond its claim"
assert_match "$out" "f is short by $trim records \\($trim of them from its front\\); refusing" "refusal line"
cp "$T/control.after-trim" "$T/front/lsnfs.control"
mount_fs "$T/front" "$M"
assert_eq "$(cat "$M/f/segments/"* | md5sum)" "$(seq $((trim + 1)) 3000 | md5sum)" "records of f after the trim"
umount_fs "$M"

note "a damaged control file is refused too"
printf 'lsnfs-control 1\nlog p 5 0\nend 00000000\n' >"$T/store.intact/lsnfs.control"
rc=0
out=$("$LSNFS" "$T/store.intact" "$M" -f 2>&1 </dev/null) || rc=$?
if mountpoint -q "$M"; then fusermount3 -u "$M"; fail "mounted with a damaged control file"; fi
assert_match "$out" "control file lsnfs.control is damaged" "refusal of a damaged control file"

finish
