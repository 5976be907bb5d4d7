#!/usr/bin/env bash
# Unmount and remount: every file, size, time and xattr identical; appends
# continue at tail+1.  SIGTERM and umount(8) unmount cleanly (SPEC section 1).
source "$(dirname "$0")/lib.sh"

"$MKFS" --segment-size 4096 --node-id remount-node "$T/store" >/dev/null
mount_fs "$T/store" "$T/mnt"
M=$T/mnt

note "writing two logs (append and append.lines), setting persisted_lsn, a hold, a seal"
mkdir "$M/a" "$M/b"
python3 - "$M" <<'EOF'
import os, sys
m = sys.argv[1]
fd = os.open(os.path.join(m, "a", "append"), os.O_WRONLY)
for i in range(1, 1201):
    os.write(fd, b"a-record-%d-" % i + b"x" * (i % 37))
os.close(fd)
with open(os.path.join(m, "b", "append.lines"), "wb") as f:
    for i in range(1, 801):
        f.write(b"b line %d %s\n" % (i, b"y" * (i % 53)))
    f.write(b"b last line without newline")
EOF
setfattr -n user.lsnfs.persisted_lsn -v 700 "$M/a"
setfattr -n user.lsnfs.hold.backup -v 300 "$M/a"
setfattr -n user.lsnfs.seal -v 1 "$M/b"

# Everything a user can observe, except the engine's live answers
# (safe_trim_lsn / trim_blocked depend on time since mount) and the
# stored-bytes estimate (RocksDB flushes what it recovers at open).
snapshot() { # MNT -> stdout
	local m=$1 log f
	cd "$m"
	getfattr --absolute-names -d -m - . | grep -v '^# file'
	for log in *; do
		echo "== $log"
		getfattr --absolute-names -d -m - "$log" | grep -v '^# file' |
			grep -Ev '^user\.lsnfs\.(safe_trim_lsn|trim_blocked|stored_bytes)='
		for f in "$log"/segments/* "$log"/index/*; do
			printf '%s %s %s %s\n' "$f" "$(stat -c '%s %Y' "$f")" \
				"$(md5sum <"$f" | cut -d' ' -f1)" "$(stat -c %A "$f")"
		done
		ls -A "$log/snapshots"
	done
	cd - >/dev/null
}
snapshot "$M" >"$T/before"
assert_ge "$(grep -c '^a/segments/' "$T/before")" 5 "segments recorded in the state snapshot"
assert_ge "$(grep -c '^user.lsnfs.hold.backup="300"' "$T/before")" 1 "hold recorded in the state snapshot"
tail_a=$(tail_of "$M/a")
tail_b=$(tail_of "$M/b")
assert_eq "$tail_a" "1200" "tail_lsn of a"
assert_eq "$tail_b" "801" "tail_lsn of b"
cat "$M"/a/segments/*.log >"$T/a.data"
cat "$M"/b/segments/*.log >"$T/b.data"
assert_ge "$(seg_names "$M/a" | wc -l)" 5 "segments of a"

note "fusermount3 -u, remount: every file, size, mtime and xattr identical"
sleep 1.1 # a remount that rewrote times would show a different second
umount_fs "$M"
assert_eq "$DAEMON_RC" "0" "daemon exit status after fusermount3 -u"
mount_fs "$T/store" "$M"
snapshot "$M" >"$T/after"
if ! diff -u "$T/before" "$T/after" >"$T/diff"; then
	fail "state differs after remount: $(head -n 40 "$T/diff")"
fi
cat "$M"/a/segments/*.log | cmp - "$T/a.data" || fail "data of a differs after remount"
cat "$M"/b/segments/*.log | cmp - "$T/b.data" || fail "data of b differs after remount"
dump_records "$M/a" >/dev/null || fail "index check of a after remount"
dump_records "$M/b" >/dev/null || fail "index check of b after remount"

note "appends continue at tail+1 (append and append.lines)"
got=$(python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
os.write(fd, b"after remount")
print(int(os.pread(fd, 32, 0)))' "$M/a/append")
assert_eq "$got" "$((tail_a + 1))" "LSN of the first append after remount"
printf 'b after remount\n' >"$M/b/append.lines"
assert_eq "$(tail_of "$M/b")" "$((tail_b + 1))" "tail_lsn of b"
last_b=$(seg_names "$M/b" | tail -n 1)
assert_eq "$last_b" "$(printf '%020d.log' $((tail_b + 1)))" "b's new record opens the segment after the seal"
assert_eq "$(cat "$M/b/index/${last_b%.log}.index")" "$((tail_b + 1)) 0 16" "index of b's new record"
assert_eq "$(tail -c 13 "$M/a/segments/$(seg_names "$M/a" | tail -n 1)")" "after remount" "a's new record"
assert_eq "$(lsn_attr "$M/a" persisted_lsn)" "700" "persisted_lsn of a"
assert_eq "$(lsn_attr "$M/a" hold.backup)" "300" "hold.backup of a"

note "the store is in use while mounted: a second daemon refuses it"
mkdir "$T/mnt2"
rc=0
out=$(timeout 10 "$LSNFS" "$T/store" "$T/mnt2" -f 2>&1) || rc=$?
assert_ne "$rc" "0" "exit status of a second lsnfs on the same store"
assert_match "$out" "in use" "message of a second lsnfs on the same store"
if mountpoint -q "$T/mnt2"; then fail "second daemon mounted the store"; fi

note "SIGTERM to the daemon unmounts cleanly; data survives"
snapshot "$M" >"$T/before"
pid=$DAEMON_PID
kill -TERM "$pid"
_wait_dead "$pid" 10 || fail "daemon still running 10 s after SIGTERM"
rc=0
wait "$pid" || rc=$?
# The exit status after SIGTERM is not part of the contract (libfuse reports
# the signal); a clean unmount and intact data are.
note "(daemon exit status after SIGTERM: $rc)"
if mountpoint -q "$M" 2>/dev/null; then fail "$M still mounted after SIGTERM"; fi
ls "$M" >/dev/null 2>&1 || fail "$M is a dead mount after SIGTERM (not cleanly unmounted)"
mount_fs "$T/store" "$M"
snapshot "$M" >"$T/after"
if ! diff -u "$T/before" "$T/after" >"$T/diff"; then
	fail "state differs after SIGTERM and remount: $(head -n 40 "$T/diff")"
fi

note "umount(8) unmounts cleanly too; data survives"
pid=$DAEMON_PID
umount "$M" || fail "umount $M failed"
_wait_dead "$pid" 10 || fail "daemon still running 10 s after umount"
rc=0
wait "$pid" || rc=$?
assert_eq "$rc" "0" "daemon exit status after umount"
mount_fs "$T/store" "$M"
snapshot "$M" >"$T/after"
if ! diff -u "$T/before" "$T/after" >"$T/diff"; then
	fail "state differs after umount and remount: $(head -n 40 "$T/diff")"
fi

note "a remount with a different segment_size keeps old segments and LSNs"
umount_fs "$M"
mount_fs "$T/store" "$M" segment_size=65536
snapshot "$M" | grep -v '^user.lsnfs' >"$T/after"
grep -v '^user.lsnfs' "$T/before" >"$T/before.nox"
if ! diff -u "$T/before.nox" "$T/after" >"$T/diff"; then
	fail "files differ after a remount with segment_size=65536: $(head -n 40 "$T/diff")"
fi
printf 'x' >"$M/a/append"
assert_eq "$(tail_of "$M/a")" "$((tail_a + 2))" "tail_lsn of a"

finish
