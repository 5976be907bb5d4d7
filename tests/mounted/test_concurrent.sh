#!/usr/bin/env bash
# Concurrent writers on one log: every record exactly once, whole, each
# writer's records in its order, LSNs without gaps (SPEC section 2).
source "$(dirname "$0")/lib.sh"

"$MKFS" --segment-size 4096 "$T/store" >/dev/null
mount_fs "$T/store" "$T/mnt"
M=$T/mnt
mkdir "$M/c" "$M/cl"

# Writers start together (a pipe is the barrier); each writes N records on
# its own descriptor and notes the LSN read back after each write.  A reader
# keeps cutting the segments by their index while the writers run.
note "4 writers x 2000 records on append, with a concurrent reader"
python3 - "$M/c" "$T" append <<'EOF'
import os, re, sys, time
log, tmp, kind = sys.argv[1], sys.argv[2], sys.argv[3]
W, N = 4, 2000
r, w = os.pipe()
pids = []
for k in range(W):
    pid = os.fork()
    if pid == 0:
        os.close(w)
        fd = os.open(os.path.join(log, "append"), os.O_RDWR)
        os.read(r, 1)                      # barrier: released when the pipe closes
        lsns = []
        for i in range(N):
            os.write(fd, b"w%d-%d\n" % (k, i))
            lsns.append(int(os.pread(fd, 32, 0)))
        os.close(fd)
        open(os.path.join(tmp, "lsns.%d" % k), "w").write("\n".join(map(str, lsns)) + "\n")
        os._exit(0)
    pids.append(pid)
reader = os.fork()
if reader == 0:
    os.close(w)
    os.read(r, 1)
    pat = re.compile(rb"^w[0-3]-[0-9]+\n$")
    rounds = 0
    deadline = time.time() + 20
    while time.time() < deadline:
        done = os.path.exists(os.path.join(tmp, "writers.done"))
        for name in sorted(os.listdir(os.path.join(log, "index"))):
            seg = name[:-6]
            try:
                idx = open(os.path.join(log, "index", name), "rb").read()
                data = open(os.path.join(log, "segments", seg + ".log"), "rb").read()
            except FileNotFoundError:
                continue
            for line in idx.splitlines():
                lsn, off, ln = map(int, line.split())
                if off + ln > len(data):
                    print("reader: segment %s: index says LSN %d ends at %d, data read has %d bytes"
                          % (seg, lsn, off + ln, len(data)))
                    os._exit(1)
                if not pat.match(data[off:off + ln]):
                    print("reader: torn record LSN %d: %r" % (lsn, data[off:off + ln]))
                    os._exit(1)
        rounds += 1
        if done:
            break
    print("reader: %d passes over the log" % rounds)
    os._exit(0)
os.close(r)
os.close(w)                                # go
bad = 0
for pid in pids:
    _, st = os.waitpid(pid, 0)
    bad |= st
open(os.path.join(tmp, "writers.done"), "w").close()
_, st = os.waitpid(reader, 0)
bad |= st
sys.exit(1 if bad else 0)
EOF
assert_eq "$(tail_of "$M/c")" "8000" "tail_lsn"

check_records() { # LOG WRITERS PER-WRITER [LSN-FILES]
	dump_records "$1" >"$T/records" || fail "index/segment consistency check failed for $1"
	python3 - "$T/records" "$2" "$3" "${4:-}" <<'EOF'
import os, re, sys
recs, W, N, lsndir = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
seen = {}
last = [-1] * W
lsn_of = {}
expect_lsn = 1
for line in open(recs):
    lsn, hexdata = line.split("\t")
    lsn = int(lsn)
    if lsn != expect_lsn:
        sys.exit("FAILED: LSN %d follows %d" % (lsn, expect_lsn - 1))
    expect_lsn += 1
    rec = bytes.fromhex(hexdata.strip())
    m = re.match(rb"^w([0-9]+)-([0-9]+)\n$", rec)
    if not m:
        sys.exit("FAILED: LSN %d is not a whole record: %r" % (lsn, rec))
    k, i = int(m.group(1)), int(m.group(2))
    if rec in seen:
        sys.exit("FAILED: record %r twice (LSN %d and %d)" % (rec, seen[rec], lsn))
    seen[rec] = lsn
    if i != last[k] + 1:
        sys.exit("FAILED: writer %d: record %d at LSN %d follows its record %d" % (k, i, lsn, last[k]))
    last[k] = i
    lsn_of[(k, i)] = lsn
if len(seen) != W * N:
    sys.exit("FAILED: %d records, expected %d" % (len(seen), W * N))
if lsndir:
    for k in range(W):
        got = [int(x) for x in open(os.path.join(lsndir, "lsns.%d" % k))]
        want = [lsn_of[(k, i)] for i in range(N)]
        if got != want:
            j = next(j for j in range(N) if got[j] != want[j])
            sys.exit("FAILED: writer %d record %d: descriptor read back LSN %d, the record is at LSN %d"
                     % (k, j, got[j], want[j]))
print("  %d records, each once, in writer order" % len(seen))
EOF
}
note "every record exactly once and whole, each writer's in order, LSNs read back match"
check_records "$M/c" 4 2000 "$T"
nseg=$(seg_names "$M/c" | wc -l)
assert_ge "$nseg" 10 "number of segments (segment_size 4096)"

note "4 writers x 2000 lines on append.lines, lines split across writes"
python3 - "$M/cl" <<'EOF'
import os, sys
log = sys.argv[1]
W, N = 4, 2000
r, w = os.pipe()
pids = []
for k in range(W):
    pid = os.fork()
    if pid == 0:
        os.close(w)
        fd = os.open(os.path.join(log, "append.lines"), os.O_WRONLY)
        os.read(r, 1)
        i = 0
        while i < N:
            # Alternate: several whole lines in one write; a line in two halves.
            if i % 3 == 0 and i + 5 <= N:
                os.write(fd, b"".join(b"w%d-%d\n" % (k, j) for j in range(i, i + 5)))
                i += 5
            else:
                line = b"w%d-%d\n" % (k, i)
                os.write(fd, line[:3])
                os.write(fd, line[3:])
                i += 1
        os.close(fd)
        os._exit(0)
    pids.append(pid)
os.close(r)
os.close(w)
bad = 0
for pid in pids:
    _, st = os.waitpid(pid, 0)
    bad |= st
sys.exit(1 if bad else 0)
EOF
assert_eq "$(tail_of "$M/cl")" "8000" "tail_lsn of the append.lines log"
check_records "$M/cl" 4 2000

note "concurrent appends to different logs do not mix"
for k in 1 2 3; do mkdir "$M/x$k"; done
pids=()
for k in 1 2 3; do
	python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
for i in range(500):
    os.write(fd, b"w0-%d\n" % i)
' "$M/x$k/append" &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "writer $p failed"; done
for k in 1 2 3; do
	assert_eq "$(tail_of "$M/x$k")" "500" "tail_lsn of x$k"
	check_records "$M/x$k" 1 500
done

finish
