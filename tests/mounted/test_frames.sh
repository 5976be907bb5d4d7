#!/usr/bin/env bash
# append.frames: each write(2) is one or more records, each a 4-byte
# big-endian length then that many bytes; all or nothing per write, with a
# log line naming the bad frame; consecutive LSNs per write; the last LSN
# read back on O_RDWR; writes above FUSE's largest request refused whole;
# kill -9 keeps every acknowledged frame byte for byte (SPEC section 2).
source "$(dirname "$0")/lib.sh"

"$MKFS" --segment-size 65536 "$T/store" >/dev/null
M=$T/mnt
mount_fs "$T/store" "$M"
mkdir "$M/fr"
L=$M/fr

# Helpers shared by the Python snippets below.
cat >"$T/fr.py" <<'EOF'
import errno, mmap, os, struct, sys
MAX = 1044480
def frames(recs):
    return b"".join(struct.pack(">I", len(r)) + r for r in recs)
def tail(log):
    return int(os.getxattr(log, "user.lsnfs.tail_lsn"))
def rec(i):
    # distinct, varied length, binary (NUL and newline bytes included)
    return struct.pack(">I", i) + bytes((i * 31 + k) % 256 for k in range((i * 7919) % 700))
def write_at(path, data, align):
    """One write(2) of data from a buffer starting `align` bytes into a page."""
    m = mmap.mmap(-1, len(data) + 2 * 4096)
    m[align:align + len(data)] = data
    fd = os.open(path, os.O_WRONLY)
    try:
        return os.write(fd, memoryview(m)[align:align + len(data)])
    finally:
        os.close(fd)
        m.close()
EOF

note "ls shows append.frames; stat size 0"
assert_match "$(ls "$L" | tr '\n' ' ')" "append append.frames append.lines" "log listing"
assert_eq "$(stat -c %s "$L/append.frames")" "0" "size of append.frames"

note "one write of 3 frames: 3 records with consecutive LSNs; O_RDWR reads the last LSN"
python3 - "$T" "$L" <<'EOF'
import os, sys
sys.path.insert(0, sys.argv[1]); from fr import *
log = sys.argv[2]
fd = os.open(os.path.join(log, "append.frames"), os.O_RDWR)
data = frames([b"one", b"", b"bin\x00\n\xff"])
n = os.write(fd, data)
if n != len(data):
    sys.exit("FAILED: write returned %d, expected %d" % (n, len(data)))
got = os.pread(fd, 64, 0)
if got != b"3\n":
    sys.exit("FAILED: O_RDWR read returned %r, expected b'3\\n'" % got)
os.write(fd, frames([b"four", b"five"]))
got = os.pread(fd, 64, 0)
if got != b"5\n":
    sys.exit("FAILED: O_RDWR read after the second write returned %r" % got)
os.close(fd)
EOF
assert_eq "$(cat "$L/index/00000000000000000001.index")" $'1 0 3\n2 3 0\n3 3 6\n4 9 4\n5 13 4' "index"
printf 'onebin\0\n\377fourfive' >"$T/expect"
assert_file_eq "$L/segments/00000000000000000001.log" "$T/expect" "segment"

note "a truncated frame: EINVAL, nothing appended, the log line names the frame"
state=$(log_state "$L")
python3 - "$T" "$L" <<'EOF'
import os, sys
sys.path.insert(0, sys.argv[1]); from fr import *
p = os.path.join(sys.argv[2], "append.frames")
for data in (frames([b"a", b"bb", b"cccc"])[:-1],   # body cut
             frames([b"a", b"bb"]) + b"\x00\x00"):  # length cut
    try:
        os.write(os.open(p, os.O_WRONLY), data)
        sys.exit("FAILED: truncated write of %d bytes succeeded" % len(data))
    except OSError as e:
        if e.errno != errno.EINVAL:
            sys.exit("FAILED: truncated write: %s, expected EINVAL" % e)
EOF
assert_eq "$(log_state "$L")" "$state" "log after the truncated writes"
assert_match "$(cat "$(daemon_log "$M")")" "append.frames write of 18 bytes refused, nothing appended: frame 3 at byte 11 declares 4 bytes but the write ends 3 bytes after its header" "log line of the body cut"
assert_match "$(cat "$(daemon_log "$M")")" "frame 3 at byte 11: the write ends inside its 4-byte length" "log line of the length cut"

note "a record of 1,044,481 bytes: EFBIG, nothing appended"
python3 - "$T" "$L" <<'EOF'
import os, sys
sys.path.insert(0, sys.argv[1]); from fr import *
log = sys.argv[2]
p = os.path.join(log, "append.frames")
t = tail(log)
try:
    write_at(p, frames([b"x"]) + b"\x00\x0f\xf0\x01" + b"y" * 100, 0)
    sys.exit("FAILED: over-long record accepted")
except OSError as e:
    if e.errno != errno.EFBIG:
        sys.exit("FAILED: over-long record: %s, expected EFBIG" % e)
if tail(log) != t:
    sys.exit("FAILED: refused write changed the tail %d -> %d" % (t, tail(log)))
EOF
assert_match "$(cat "$(daemon_log "$M")")" "frame 2 at byte 5 declares 1044481 bytes: a record is at most 1044480 bytes" "log line of the over-long record"

note "a write of 1,044,480 bytes is taken whole at any buffer alignment; every larger write is refused whole (EFBIG)"
python3 - "$T" "$L" <<'EOF'
import os, sys
sys.path.insert(0, sys.argv[1]); from fr import *
log = sys.argv[2]
p = os.path.join(log, "append.frames")
t = tail(log)
for align in (0, 16, 4095):
    data = frames([b"M" * (MAX - 4)])
    if write_at(p, data, align) != MAX:
        sys.exit("FAILED: a %d-byte write (offset %d) not taken whole" % (MAX, align))
    data = frames([b"u" * 1020] * 1020)   # 1020 frames, exactly MAX bytes
    if write_at(p, data, align) != MAX:
        sys.exit("FAILED: a %d-byte write of 1020 frames (offset %d) not taken whole" % (MAX, align))
if tail(log) != t + 3 * 1021:
    sys.exit("FAILED: tail %d, expected %d" % (tail(log), t + 3 * 1021))
t = tail(log)
cases = [frames([b"M" * MAX])]                      # the largest record does not fit
for rec_len in (1020, 1000, 4092, 65532):      # 1020+4 and 4092+4 divide 1 MiB
    for total in (MAX + 4 + rec_len, 1 << 20, (1 << 20) + 4 + rec_len, 2 << 20):
        n = total // (4 + rec_len)
        cases.append(frames([b"z" * rec_len] * n))
for data in cases:
    for align in (0, 16, 1000, 4095):
        try:
            n = write_at(p, data, align)
            sys.exit("FAILED: write of %d bytes (offset %d) returned %d, expected EFBIG" % (len(data), align, n))
        except OSError as e:
            if e.errno != errno.EFBIG:
                sys.exit("FAILED: write of %d bytes (offset %d): %s, expected EFBIG" % (len(data), align, e))
        if tail(log) != t:
            sys.exit("FAILED: refused write of %d bytes (offset %d) appended %d records" % (len(data), align, tail(log) - t))
EOF
assert_match "$(cat "$(daemon_log "$M")")" "a write of frames is at most 1044480 bytes" "log line of a too-large write"
state=$(log_state "$L")
assert_errno python3 -c 'import os,sys,struct; os.write(os.open(sys.argv[1], os.O_WRONLY), struct.pack(">I", 2 << 20) + bytes(2 << 20))' \
	"$L/append.frames" "File too large"
assert_eq "$(log_state "$L")" "$state" "log after a refused write"

note "two writers at once: the records of each write stay together"
python3 - "$T" "$L" <<'EOF'
import os, sys
sys.path.insert(0, sys.argv[1]); from fr import *
log = sys.argv[2]
p = os.path.join(log, "append.frames")
t0 = tail(log)
pids = []
for w in (b"A", b"B"):
    pid = os.fork()
    if pid == 0:
        fd = os.open(p, os.O_WRONLY)
        for i in range(200):
            os.write(fd, frames([w + b"%03d-%02d" % (i, k) for k in range(10)]))
        os._exit(0)
    pids.append(pid)
for pid in pids:
    _, st = os.waitpid(pid, 0)
    if st != 0:
        sys.exit("FAILED: a writer failed")
if tail(log) != t0 + 4000:
    sys.exit("FAILED: tail %d, expected %d" % (tail(log), t0 + 4000))
EOF
dump_records "$L" >"$T/records" || fail "index/segment consistency check failed"
python3 - "$T/records" <<'EOF'
import sys
recs = [bytes.fromhex(l.split("\t")[1].strip()) for l in open(sys.argv[1])]
recs = [r for r in recs if len(r) == 7 and r[:1] in (b"A", b"B")]
if len(recs) != 4000:
    sys.exit("FAILED: %d writer records, expected 4000" % len(recs))
for j in range(0, 4000, 10):
    group = recs[j:j + 10]
    head = group[0][:4]
    if [r for r in group] != [head + b"-%02d" % k for k in range(10)]:
        sys.exit("FAILED: records %d..%d are not one write's: %r" % (j, j + 9, group))
EOF
umount_fs "$M"

# A writer sending writes of 1..20 frames of rec(i), printing the last
# record number of each write once write returned (sync=always) or fsync
# returned; the daemon is killed in the middle of it.
crash_round() { # ROUND [fsync]   (store: $KSTORE, acknowledged writes before the kill: $KACKS)
	local round=$1 mode=${2:-} pid acks last_ack tail i
	mount_fs "$KSTORE" "$M" $([[ -z $mode ]] && echo sync=always)
	[[ -d $M/kc ]] || mkdir "$M/kc"
	: >"$T/acks.$round"
	python3 - "$T" "$M/kc" "$mode" >>"$T/acks.$round" 2>"$T/writer.$round.err" <<'EOF' &
import os, random, sys
sys.path.insert(0, sys.argv[1]); from fr import *
log = sys.argv[2]
fd = os.open(os.path.join(log, "append.frames"), os.O_RDWR)
i = tail(log) + 1
rnd = random.Random(i)
while True:
    k = rnd.randint(1, 20)
    os.write(fd, frames([rec(j) for j in range(i, i + k)]))
    if sys.argv[3]:
        os.fsync(fd)
    lsn = int(os.pread(fd, 32, 0))
    if lsn != i + k - 1:
        print("WRONG LSN %d for records %d..%d" % (lsn, i, i + k - 1), flush=True)
    i += k
    print(i - 1, flush=True)
EOF
	pid=$!
	for ((i = 0; i < 400; i++)); do
		acks=$(wc -l <"$T/acks.$round")
		((acks >= KACKS)) && break
		_alive "$pid" || break
		sleep 0.025
	done
	assert_ge "$acks" "$KACKS" "acknowledged writes before the kill (round $round)"
	crash_fs "$M"
	wait "$pid" 2>/dev/null || true
	if grep -q WRONG "$T/acks.$round"; then fail "$(grep -m1 WRONG "$T/acks.$round")"; fi
	last_ack=$(grep -E '^[0-9]+$' "$T/acks.$round" | tail -n 1)
	mount_fs "$KSTORE" "$M"
	tail=$(tail_of "$M/kc")
	note "round $round (${mode:-sync=always}): last acknowledged LSN $last_ack, tail after remount $tail"
	assert_ge "$tail" "$last_ack" "tail_lsn after kill -9 (round $round)"
	((tail <= last_ack + 20)) || fail "tail $tail is beyond the one write in flight after $last_ack"
	dump_records "$M/kc" >"$T/records" || fail "index/segment consistency check failed"
	python3 - "$T" "$T/records" "$tail" <<'EOF' || fail "records after kill -9 are not rec(1..$tail)"
import sys
sys.path.insert(0, sys.argv[1]); from fr import rec
n = 0
for line in open(sys.argv[2]):
    lsn, h = line.split("\t")
    n += 1
    if int(lsn) != n or bytes.fromhex(h.strip()) != rec(n):
        sys.exit("FAILED: LSN %s (position %d) does not hold rec(%d)" % (lsn, n, n))
if n != int(sys.argv[3]):
    sys.exit("FAILED: %d records, expected %s" % (n, sys.argv[3]))
EOF
	umount_fs "$M"
}

note "kill -9 during a stream of frame writes: every acknowledged frame survives byte for byte"
KSTORE=$T/store KACKS=100
crash_round 1
crash_round 2 fsync
crash_round 3

# 64 MiB segments: nothing seals, so at the kill several full blocks are
# typically still waiting for a compressor (their records only under 'R'
# keys) and one may be half written.
note "the same with blocks waiting for the compressors at the kill"
"$MKFS" "$T/store2" >/dev/null
KSTORE=$T/store2 KACKS=400
crash_round 4
crash_round 5 fsync

finish
