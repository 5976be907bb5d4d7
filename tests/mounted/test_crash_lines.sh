#!/usr/bin/env bash
# kill -9 while append.lines takes many lines per write: each write(2) keeps
# the lines of its open block under one RocksDB entry, so this checks that
# such entries are replayed whole, in order, after a crash (no fsync: every
# write that returned is in the WAL), and that appends then continue.
source "$(dirname "$0")/lib.sh"

"$MKFS" --segment-size 65536 "$T/store" >/dev/null
mount_fs "$T/store" "$T/mnt" trim_delay=0
M=$T/mnt
mkdir "$M/p0"

note "300 writes of 100 lines each, then kill -9 without fsync"
python3 - "$M/p0/append.lines" "$T/acked" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
with open(sys.argv[2], "wb") as acked:
    for i in range(300):
        chunk = b"".join(b"line %d-%d %s\n" % (i, j, b"x" * (j % 50)) for j in range(100))
        os.write(fd, chunk)
        acked.write(chunk)
PY
crash_fs "$M"

note "after remount every acknowledged line is there, byte for byte"
mount_fs "$T/store" "$M" trim_delay=0
assert_eq "$(tail_of "$M/p0")" 30000 "tail after the crash"
cat "$M"/p0/segments/*.log >"$T/got"
assert_file_eq "$T/got" "$T/acked" "segments after the crash"
dump_records "$M/p0" >/dev/null || fail "index inconsistent after the crash"

note "a new line continues at LSN 30001"
printf 'after\n' >"$M/p0/append.lines"
assert_eq "$(tail_of "$M/p0")" 30001 "tail after a new line"
umount_fs "$M"
echo ok
