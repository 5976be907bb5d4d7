#!/usr/bin/env bash
# append: one write(2), one record; the 1020 KiB limit; reading the LSN back
# from an O_RDWR descriptor; append.lines' line limit (SPEC section 2).
source "$(dirname "$0")/lib.sh"

"$MKFS" --segment-size 4096 "$T/store" >/dev/null
mount_fs "$T/store" "$T/mnt"
M=$T/mnt
mkdir "$M/ev"
L=$M/ev

note "each printf > append is one record, newlines included"
# /usr/bin/printf makes one write(2); bash's builtin is line buffered.
printf 'one' >"$L/append"
/usr/bin/printf 'two\nlines\n' >>"$L/append"
printf '3' >"$L/append"
assert_eq "$(tail_of "$L")" "3" "tail_lsn after 3 writes"
assert_eq "$(cat "$L/index/00000000000000000001.index")" $'1 0 3\n2 3 10\n3 13 1' "index"
printf 'onetwo\nlines\n3' >"$T/expect"
assert_file_eq "$L/segments/00000000000000000001.log" "$T/expect" "segment"

note "several writes on one descriptor: one record each"
{ printf 'a'; printf 'bb'; printf 'ccc'; } >"$L/append"
assert_eq "$(tail_of "$L")" "6" "tail_lsn"
assert_eq "$(tail -n 3 "$L/index/00000000000000000001.index")" $'4 14 1\n5 15 2\n6 17 3' "index"
printf 'abbccc' >>"$T/expect"
assert_file_eq "$L/segments/00000000000000000001.log" "$T/expect" "segment"

note "stat of append and append.lines shows size 0"
assert_eq "$(stat -c %s "$L/append")" "0" "size of append"
assert_eq "$(stat -c %s "$L/append.lines")" "0" "size of append.lines"

note "O_RDWR: pread at offset 0 after each write returns that write's LSN"
python3 - "$L" <<'EOF'
import os, sys
log = sys.argv[1]
fd = os.open(os.path.join(log, "append"), os.O_RDWR)
for i in range(7, 20):
    os.write(fd, b"rdwr-%d" % i)
    got = os.pread(fd, 64, 0)
    if got != b"%d\n" % i:
        sys.exit("FAILED: pread after write %d returned %r, expected %r" % (i, got, b"%d\n" % i))
os.close(fd)
tail = os.getxattr(log, "user.lsnfs.tail_lsn")
if tail != b"19":
    sys.exit("FAILED: tail_lsn %r, expected 19" % tail)
EOF

note "each descriptor reads back its own last LSN"
python3 - "$L" <<'EOF'
import os, sys
p = os.path.join(sys.argv[1], "append")
a = os.open(p, os.O_RDWR)
b = os.open(p, os.O_RDWR)
os.write(a, b"A")
os.write(b, b"B")
ra, rb = os.pread(a, 64, 0), os.pread(b, 64, 0)
if (ra, rb) != (b"20\n", b"21\n"):
    sys.exit("FAILED: descriptors read %r and %r, expected 20 and 21" % (ra, rb))
EOF

sizes_check() { # LOG PYTHON-MODE : big writes through buffers at several alignments
	python3 - "$1" <<'EOF'
import errno, mmap, os, sys
log = sys.argv[1]
p = os.path.join(log, "append")
MAX = 1044480
def tail():
    return int(os.getxattr(log, "user.lsnfs.tail_lsn"))
def listing():
    return sorted(os.listdir(os.path.join(log, "segments")))
def write(size, align, fill):
    m = mmap.mmap(-1, size + 2 * 4096)          # page aligned
    m[align:align + size] = fill * size
    fd = os.open(p, os.O_WRONLY)
    try:
        return os.write(fd, memoryview(m)[align:align + size])
    finally:
        os.close(fd)
        m.close()
ok = []
for align in (0, 1, 100, 4095):
    fill = bytes([ord("a") + align % 26])
    t = tail()
    n = write(MAX, align, fill)
    if n != MAX:
        sys.exit("FAILED: write of %d bytes (buffer offset %d) returned %d" % (MAX, align, n))
    if tail() != t + 1:
        sys.exit("FAILED: write of %d bytes (buffer offset %d) made %d records" % (MAX, align, tail() - t))
    ok.append((t + 1, fill))
for size in (MAX + 1, MAX + 4096, 1 << 20, (1 << 20) + 1, 4 << 20):
    for align in (0, 1, 4095):
        t, segs = tail(), listing()
        try:
            n = write(size, align, b"X")
            sys.exit("FAILED: write of %d bytes (buffer offset %d) returned %d, expected EFBIG" % (size, align, n))
        except OSError as e:
            if e.errno != errno.EFBIG:
                sys.exit("FAILED: write of %d bytes (buffer offset %d): %s, expected EFBIG" % (size, align, e))
        if tail() != t or listing() != segs:
            sys.exit("FAILED: refused write of %d bytes changed the log: tail %d -> %d" % (size, t, tail()))
# The accepted records are whole: one index line of MAX bytes, right content.
for lsn, fill in ok:
    seg = "%020d" % lsn
    idx = open(os.path.join(log, "index", seg + ".index")).read().split()
    if idx != [str(lsn), "0", str(MAX)]:
        sys.exit("FAILED: index of LSN %d is %r" % (lsn, idx))
    data = open(os.path.join(log, "segments", seg + ".log"), "rb").read()
    if data != fill * MAX:
        sys.exit("FAILED: record %d is not %d bytes of %r" % (lsn, MAX, fill))
EOF
}
note "a write of exactly 1,044,480 bytes is one record (buffers at offsets 0, 1, 100, 4095)"
note "writes of 1,044,481 .. 4 MiB bytes fail with EFBIG and append nothing"
setfattr -n user.lsnfs.seal -v 1 "$L"   # so that each big record starts a segment
sizes_check "$L"
assert_eq "$(tail_of "$L")" "25" "tail_lsn after the big writes"

note "the refusal is visible to the shell as 'File too large'"
head -c 1044481 /dev/zero >"$T/big"
state=$(log_state "$L")
assert_errno python3 -c 'import os,sys; os.write(os.open(sys.argv[1], os.O_WRONLY), open(sys.argv[2],"rb").read())' \
	"$L/append" "$T/big" "File too large"
assert_eq "$(log_state "$L")" "$state" "log after a refused write"

note "the log still works after the refusals"
printf 'after' >"$L/append"
assert_eq "$(tail_of "$L")" "26" "tail_lsn"
assert_eq "$(tail -c 5 "$L/segments/$(seg_names "$L" | tail -n 1)")" "after" "last record"
dump_records "$L" >"$T/records" || fail "index/segment consistency check failed"
assert_eq "$(wc -l <"$T/records")" "26" "records found through the index"

note "append.lines: a line of exactly 1,044,480 bytes (with its \\n) is one record"
mkdir "$M/ln"
python3 - "$M/ln" <<'EOF'
import errno, os, sys
log = sys.argv[1]
p = os.path.join(log, "append.lines")
MAX = 1044480
def tail():
    return int(os.getxattr(log, "user.lsnfs.tail_lsn"))
fd = os.open(p, os.O_WRONLY)
os.write(fd, b"L" * (MAX - 1) + b"\n")
os.close(fd)
if tail() != 1:
    sys.exit("FAILED: tail %d after one line of %d bytes" % (tail(), MAX))
# The same line written in pieces.
fd = os.open(p, os.O_WRONLY)
for k in range(0, MAX - 1, 100000):
    os.write(fd, b"M" * min(100000, MAX - 1 - k))
os.write(fd, b"\n")
os.close(fd)
if tail() != 2:
    sys.exit("FAILED: tail %d after a %d-byte line written in pieces" % (tail(), MAX))
# One byte more, in one write: EFBIG, nothing appended, also not at close.
fd = os.open(p, os.O_WRONLY)
try:
    os.write(fd, b"N" * MAX + b"\n")
    sys.exit("FAILED: a line of %d bytes was accepted" % (MAX + 1))
except OSError as e:
    if e.errno != errno.EFBIG:
        sys.exit("FAILED: a line of %d bytes: %s, expected EFBIG" % (MAX + 1, e))
os.close(fd)
if tail() != 2:
    sys.exit("FAILED: tail %d after a refused line (expected 2)" % tail())
# A partial line that grows past the limit: EFBIG.
fd = os.open(p, os.O_WRONLY)
try:
    os.write(fd, b"P" * (MAX + 1))
    sys.exit("FAILED: %d bytes without a newline were accepted" % (MAX + 1))
except OSError as e:
    if e.errno != errno.EFBIG:
        sys.exit("FAILED: %d bytes without a newline: %s, expected EFBIG" % (MAX + 1, e))
os.close(fd)
if tail() != 2:
    sys.exit("FAILED: tail %d after a refused partial line (expected 2)" % tail())
EOF
printf '%s\n' "1 0 1044480" >"$T/ln.idx1"
assert_file_eq "$M/ln/index/00000000000000000001.index" "$T/ln.idx1" "index of the first long line"

note "append.lines: cat of a file whose line is 1,044,481 bytes: File too large, nothing of it appended"
head -c 1044480 /dev/zero | tr '\0' 'Q' >"$T/longline"
echo >>"$T/longline"
state=$(log_state "$M/ln")
rc=0
err=$(cat "$T/longline" 2>&1 >"$M/ln/append.lines") || rc=$?
softly assert_ne "$rc" "0" "exit status of cat with an over-long line"
softly assert_match "$err" "File too large" "stderr of cat"
softly assert_eq "$(log_state "$M/ln")" "$state" \
	"log after 'cat longline > append.lines' (a line of 1,044,481 bytes written in chunks must append nothing)"

note "O_RDWR: a plain read(2) after write(2) on the same descriptor returns the LSN"
mkdir "$M/rd"
for i in $(seq 1 11); do printf 'r' >"$M/rd/append"; done
exec 3<>"$M/rd/append"
printf 'x' >&3
lsn=
read -r lsn <&3 || true
exec 3>&-
softly assert_eq "$lsn" "12" "LSN read back with: exec 3<>append; printf x >&3; read -r lsn <&3"

finish
