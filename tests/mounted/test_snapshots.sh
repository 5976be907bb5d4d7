#!/usr/bin/env bash
# Snapshots (SPEC section 3): committed only by rename(2) of a staging file,
# LSN between trim point and tail, immutable, readable byte for byte at any
# offset, durable across remount, never half-committed by a crash.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_trim.sh"

"$MKFS" --segment-size 4096 --node-id snap-node "$T/store" >/dev/null
mount_fs "$T/store" "$T/mnt" trim_delay=0
M=$T/mnt
mkdir "$M/p0"
L=$M/p0
S=$L/snapshots

note "40 records of 1000 bytes (LSN 1..40)"
append_records "$L" "$T/ref" 40 1000 11

note "a ~3 MiB staging file, written with cp, is a plain file until renamed"
rand_file "$T/state1" $((3 * 1024 * 1024 + 12345)) 1
cp "$T/state1" "$S/.incoming-1"
assert_eq "$(ls -A "$S")" ".incoming-1" "snapshots/ with one staging file"
assert_file_eq "$S/.incoming-1" "$T/state1" "staging file read back"
assert_eq "$(stat -c %s "$S/.incoming-1")" "$(stat -c %s "$T/state1")" "staging file size"

note "mv staging -> <lsn20>.snap commits it"
SNAP30=$S/$(lsn20 30).snap
mv "$S/.incoming-1" "$SNAP30"
assert_eq "$(ls -A "$S")" "$(lsn20 30).snap" "snapshots/ after the commit (staging file gone)"
assert_eq "$(stat -c %s "$SNAP30")" "$(stat -c %s "$T/state1")" "committed snapshot size"
assert_eq "$(stat -c %F "$SNAP30")" "regular file" "committed snapshot type"
assert_file_eq "$SNAP30" "$T/state1" "committed snapshot contents"
assert_log "snapshot 30 committed"

note "random-offset reads (across the 1 MiB chunk boundaries) equal the original"
python3 - "$SNAP30" "$T/state1" <<'EOF' || fail "random-offset reads of the snapshot differ"
import os, random, sys
snap, ref = sys.argv[1], sys.argv[2]
want = open(ref, "rb").read()
size = len(want)
rnd = random.Random(7)
MiB = 1 << 20
cases = []
for b in (MiB, 2 * MiB, 3 * MiB):
    for d in (-4097, -1, 0, 1):
        cases.append((b + d, 2))
        cases.append((b + d, 8192))
    cases.append((b - 100000, 200000))
cases += [(0, 1), (0, 65536), (size - 1, 1), (size - 10, 100), (size, 10), (size + 5000, 10),
          (MiB - 5, 2 * MiB + 10)]
for _ in range(300):
    off = rnd.randrange(0, size)
    cases.append((off, rnd.choice([1, 7, 4096, 65536, 131072, 300000])))
fd = os.open(snap, os.O_RDONLY)
for off, n in cases:
    got = os.pread(fd, n, off)
    if got != want[off:off + n]:
        sys.exit("pread(%d bytes at %d): %d bytes, differ from the original" % (n, off, len(got)))
# and a second descriptor interleaved with the first, jumping between chunks
fd2 = os.open(snap, os.O_RDONLY)
for i in range(50):
    a, b = rnd.randrange(0, size), rnd.randrange(0, size)
    if os.pread(fd, 3000, a) != want[a:a + 3000] or os.pread(fd2, 3000, b) != want[b:b + 3000]:
        sys.exit("interleaved reads differ at %d / %d" % (a, b))
os.close(fd)
os.close(fd2)
EOF

note "a snapshot file has user.lsnfs.archived (no archive: 'no')"
assert_eq "$(xattr_get "$SNAP30" user.lsnfs.archived)" "no" "archived of a snapshot without an archive"

note "LSN above the tail: EINVAL, the staging file stays"
printf 'tiny state' >"$S/.incoming-2"
assert_errno do_rename "$S/.incoming-2" "$S/$(lsn20 41).snap" "EINVAL"
assert_errno mv "$S/.incoming-2" "$S/$(lsn20 41).snap" "."
[[ -f $S/.incoming-2 ]] || fail "staging file gone after a refused commit"
assert_eq "$(cat "$S/.incoming-2")" "tiny state" "staging file after a refused commit"
[[ ! -e $S/$(lsn20 41).snap ]] || fail "snapshot 41 exists after a refused commit"
assert_log "snapshot 41 refused"

note "LSN 0: EINVAL"
assert_errno do_rename "$S/.incoming-2" "$S/$(lsn20 0).snap" "EINVAL"
[[ -f $S/.incoming-2 ]] || fail "staging file gone after a refused commit of LSN 0"

note "LSN == tail is allowed"
cp "$S/.incoming-2" "$S/.incoming-3"
mv "$S/.incoming-3" "$S/$(lsn20 40).snap"
assert_eq "$(cat "$S/$(lsn20 40).snap")" "tiny state" "snapshot at the tail"

note "creating <lsn20>.snap directly: EPERM (cp, shell redirection, touch)"
assert_errno cp "$T/state1" "$S/$(lsn20 20).snap" "Operation not permitted"
assert_errno sh -c "echo x > '$S/$(lsn20 21).snap'" "Operation not permitted"
assert_errno touch "$S/$(lsn20 22).snap" "Operation not permitted"
for n in 20 21 22; do
	[[ ! -e $S/$(lsn20 "$n").snap ]] || fail "snapshot $n exists after a refused create"
done

note "a committed snapshot is immutable"
assert_errno sh -c "echo x >> '$SNAP30'" "Operation not permitted|Permission denied"
assert_errno sh -c "echo x > '$SNAP30'" "Operation not permitted|Permission denied"
assert_errno python3 -c "import os,sys; os.open(sys.argv[1], os.O_RDWR)" "$SNAP30" \
	"Operation not permitted|Permission denied"
assert_errno truncate -s 10 "$SNAP30" "Operation not permitted|Permission denied"
assert_errno truncate -s 0 "$SNAP30" "Operation not permitted|Permission denied"
assert_errno chmod 0644 "$SNAP30" "Operation not permitted"
assert_errno touch -d '2001-01-01' "$SNAP30" "Operation not permitted|Permission denied"
note "mv of another staging file onto a committed snapshot: refused, original unchanged"
printf 'impostor' >"$S/.incoming-4"
assert_errno do_rename "$S/.incoming-4" "$SNAP30" "EPERM"
assert_errno mv "$S/.incoming-4" "$SNAP30" "Operation not permitted|File exists"
assert_errno mv -f "$S/.incoming-4" "$SNAP30" "Operation not permitted|File exists"
[[ -f $S/.incoming-4 ]] || fail "staging file gone after refused overwrite of a snapshot"
assert_file_eq "$SNAP30" "$T/state1" "snapshot after refused overwrite"
assert_eq "$(stat -c %s "$SNAP30")" "$(stat -c %s "$T/state1")" "snapshot size after refused overwrite"
note "rename of a committed snapshot: EPERM, it stays"
assert_errno do_rename "$SNAP30" "$S/$(lsn20 31).snap" "EPERM"
assert_errno do_rename "$SNAP30" "$S/renamed" "EPERM"
assert_file_eq "$SNAP30" "$T/state1" "snapshot after refused rename"
[[ ! -e $S/$(lsn20 31).snap ]] || fail "rename of a committed snapshot created 31"

note "rmdir of a log with a snapshot: ENOTEMPTY"
assert_errno rmdir "$M/p0" "Directory not empty"
note "a log with every record trimmed but a snapshot left: rmdir still ENOTEMPTY"
mkdir "$M/p1"
append_records "$M/p1" "$T/ref_p1" 4 1024 5
assert_eq "$(seg_names "$M/p1" | tr '\n' ' ')" "$(lsn20 1).log $(lsn20 5).log " "p1 segments (one sealed, one empty active)"
set_attr "$M/p1" persisted_lsn 4
set_attr "$M/p1" trim safe
assert_eq "$(lsn_attr "$M/p1" trim_point)" "4" "p1 trim_point after trimming everything"
printf 'p1 state' >"$M/p1/snapshots/.s"
mv "$M/p1/snapshots/.s" "$M/p1/snapshots/$(lsn20 4).snap"
assert_errno rmdir "$M/p1" "Directory not empty"
assert_log "rmdir .*p1 refused: the log still has snapshots"
assert_eq "$(cat "$M/p1/snapshots/$(lsn20 4).snap")" "p1 state" "p1 snapshot after refused rmdir"
note "... and that snapshot cannot be removed: it is the only cover of trim point 4"
assert_errno rm "$M/p1/snapshots/$(lsn20 4).snap" "Operation not permitted"
assert_eq "$(cat "$M/p1/snapshots/$(lsn20 4).snap")" "p1 state" "p1 snapshot after refused unlink"
note "a log without records: no LSN is valid for a snapshot"
mkdir "$M/p2"
printf 'x' >"$M/p2/snapshots/.s"
assert_errno do_rename "$M/p2/snapshots/.s" "$M/p2/snapshots/$(lsn20 1).snap" "EINVAL"

note "after unmount and remount: listed, bytes equal, staging files kept"
umount_fs "$M"
mount_fs "$T/store" "$M" trim_delay=0
assert_eq "$(ls "$S" | tr '\n' ' ')" "$(lsn20 30).snap $(lsn20 40).snap " "snapshots after remount"
assert_file_eq "$SNAP30" "$T/state1" "snapshot 30 after remount"
assert_eq "$(cat "$S/$(lsn20 40).snap")" "tiny state" "snapshot 40 after remount"
assert_eq "$(cat "$S/.incoming-2")" "tiny state" "staging file after remount"

note "a snapshot below the trim point: EINVAL (persisted strategy, trim to 20)"
set_attr "$L" persisted_lsn 20
set_attr "$L" trim safe
assert_eq "$(lsn_attr "$L" trim_point)" "20" "trim_point after trim safe with persisted_lsn 20"
assert_errno do_rename "$S/.incoming-2" "$S/$(lsn20 19).snap" "EINVAL"
assert_errno do_rename "$S/.incoming-2" "$S/$(lsn20 1).snap" "EINVAL"
assert_errno mv "$S/.incoming-2" "$S/$(lsn20 19).snap" "."
[[ -f $S/.incoming-2 ]] || fail "staging file gone after refused commit below the trim point"
note "... and at the trim point itself it is allowed"
mv "$S/.incoming-2" "$S/$(lsn20 20).snap"
assert_eq "$(cat "$S/$(lsn20 20).snap")" "tiny state" "snapshot at the trim point"

note "a staging file being written when the daemon is killed -9: no committed snapshot"
before=$(ls "$S" | grep -E '^[0-9]{20}\.snap$' | tr '\n' ' ')
( python3 - "$S/.incoming-crash" <<'EOF'
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644)
try:
    for i in range(1000):
        os.write(fd, b"partial!" * 4096)
        time.sleep(0.01)
except OSError:
    pass
EOF
) 2>/dev/null &
writer=$!
wait_for 10 "the staging file to grow" test -s "$S/.incoming-crash"
sleep 0.3
crash_fs "$M"
wait "$writer" 2>/dev/null || true
mount_fs "$T/store" "$M" trim_delay=0
after=$(ls "$S" | grep -E '^[0-9]{20}\.snap$' | tr '\n' ' ')
assert_eq "$after" "$before" "committed snapshots after kill -9 during a staging write"
[[ ! -e $S/$(lsn20 35).snap ]] || fail "snapshot 35 exists though it was never committed"
assert_file_eq "$SNAP30" "$T/state1" "snapshot 30 after crash and remount"
if [[ -e $S/.incoming-crash ]]; then
	note "the partial staging file remains as a plain file ($(stat -c %s "$S/.incoming-crash") bytes)"
	assert_eq "$(stat -c %F "$S/.incoming-crash")" "regular file" "partial staging file type"
	note "committing it now commits exactly the bytes it has"
	cp "$S/.incoming-crash" "$T/partial"
	mv "$S/.incoming-crash" "$S/$(lsn20 35).snap"
	assert_file_eq "$S/$(lsn20 35).snap" "$T/partial" "snapshot from the partial staging file"
fi

note "a staging file being committed while the daemon is killed: all or nothing"
rand_file "$T/state2" $((6 * 1024 * 1024)) 2
cp "$T/state2" "$S/.incoming-big"
(mv "$S/.incoming-big" "$S/$(lsn20 38).snap" 2>/dev/null || true) &
mvpid=$!
sleep 0.05
crash_fs "$M"
wait "$mvpid" 2>/dev/null || true
mount_fs "$T/store" "$M" trim_delay=0
if [[ -e $S/$(lsn20 38).snap ]]; then
	note "the commit completed before the kill: it must be whole"
	assert_file_eq "$S/$(lsn20 38).snap" "$T/state2" "snapshot 38 committed just before kill -9"
else
	note "the commit did not complete: no snapshot 38, staging file kept"
	assert_file_eq "$S/.incoming-big" "$T/state2" "staging file of an interrupted commit"
fi
assert_file_eq "$SNAP30" "$T/state1" "snapshot 30 after second crash"
umount_fs "$M"

echo "ok"
