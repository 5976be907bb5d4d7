#!/usr/bin/env bash
# No stale sizes or bytes: the active segment (and its index) shows every
# append at once, through new and already open descriptors; sealed segments
# never change (SPEC section 2).
source "$(dirname "$0")/lib.sh"

"$MKFS" --segment-size 4096 "$T/store" >/dev/null
mount_fs "$T/store" "$T/mnt"
M=$T/mnt
mkdir "$M/c"
L=$M/c

note "30 rounds: stat, append, stat at once shows the new size, cat shows the new bytes"
: >"$T/expect.seg"
: >"$T/expect.idx"
prev_seg=
lsn=0
seals=0
for round in $(seq 1 30); do
	seg=$(seg_names "$L" | tail -n 1)
	[[ -n $prev_seg && $seg != "$prev_seg" ]] && { : >"$T/expect.seg"; : >"$T/expect.idx"; seals=$((seals + 1)); }
	prev_seg=$seg
	size0=$(stat -c %s "$L/segments/$seg")
	isize0=$(stat -c %s "$L/index/${seg%.log}.index")
	assert_eq "$size0" "$(stat -c %s "$T/expect.seg")" "size of the active segment before round $round"
	rec=$(printf 'round-%03d:%*s' "$round" $((round * 137 % 600 + 50)) '' | tr ' ' "$(printf '\\%03o' $((97 + round % 26)))")
	len=${#rec}
	t0=$(date +%s)
	printf '%s' "$rec" >"$L/append"
	lsn=$((lsn + 1))
	printf '%s' "$rec" >>"$T/expect.seg"
	printf '%d %d %d\n' "$lsn" "$size0" "$len" >>"$T/expect.idx"
	assert_eq "$(stat -c %s "$L/segments/$seg")" "$((size0 + len))" "stat size right after append $round"
	assert_eq "$(wc -c <"$L/segments/$seg")" "$((size0 + len))" "bytes read right after append $round"
	assert_eq "$(tail -c "$len" "$L/segments/$seg")" "$rec" "last record read right after append $round"
	assert_file_eq "$L/segments/$seg" "$T/expect.seg" "active segment after append $round"
	assert_file_eq "$L/index/${seg%.log}.index" "$T/expect.idx" "active index after append $round"
	assert_eq "$(stat -c %s "$L/index/${seg%.log}.index")" "$(stat -c %s "$T/expect.idx")" \
		"stat size of the index after append $round"
	(($(stat -c %s "$L/index/${seg%.log}.index") > isize0)) || fail "index size did not grow in round $round"
	assert_ge "$(stat -c %Y "$L/segments/$seg")" "$t0" "mtime of the active segment after append $round"
	assert_eq "$(tail_of "$L")" "$lsn" "tail_lsn after append $round"
	if ls -l "$L/segments" | grep -q " $seg\$"; then :; else fail "ls -l does not list $seg"; fi
	assert_eq "$(ls -l "$L/segments" | awk -v s="$seg" '$NF == s { print $5 }')" "$((size0 + len))" \
		"ls -l size after append $round"
done
assert_ge "$seals" 2 "segments sealed during the rounds"

note "sealed segments: record size, mtime and checksum"
active=$(seg_names "$L" | tail -n 1)
for s in $(seg_names "$L"); do
	[[ $s == "$active" ]] && continue
	echo "$s $(stat -c '%s %Y' "$L/segments/$s") $(md5sum <"$L/segments/$s") $(md5sum <"$L/index/${s%.log}.index")"
done >"$T/sealed.before"
assert_ge "$(wc -l <"$T/sealed.before")" 2 "sealed segments recorded"

note "descriptors opened on the active segment and index see every append (fstat and pread)"
setfattr -n user.lsnfs.seal -v 1 "$L"   # a fresh, empty active segment
python3 - "$L" <<'EOF'
import os, sys, time
log = sys.argv[1]
segs = sorted(os.listdir(os.path.join(log, "segments")))
seg = segs[-1][:-4]
sfd = os.open(os.path.join(log, "segments", seg + ".log"), os.O_RDONLY)
ifd = os.open(os.path.join(log, "index", seg + ".index"), os.O_RDONLY)
afd = os.open(os.path.join(log, "append"), os.O_RDWR)
pos = os.fstat(sfd).st_size
os.lseek(sfd, pos, os.SEEK_SET)
if os.read(sfd, 100) != b"":
    sys.exit("FAILED: read at the end of the active segment returned data")
for i in range(40):
    rec = b"open-fd-%02d|" % i + b"q" * (i * 13 % 97)
    size = os.fstat(sfd).st_size
    isize = os.fstat(ifd).st_size
    os.write(afd, rec)
    lsn = int(os.pread(afd, 32, 0))
    if os.fstat(sfd).st_size != size + len(rec):
        sys.exit("FAILED: fstat of the open segment: %d, expected %d" % (os.fstat(sfd).st_size, size + len(rec)))
    got = os.pread(sfd, 4096, size)
    if got != rec:
        sys.exit("FAILED: pread of the open segment at %d: %r, expected %r" % (size, got[:40], rec[:40]))
    got = os.read(sfd, 4096)     # like tail -f: read on from where it stopped
    if got != rec:
        sys.exit("FAILED: read on the open segment after append %d: %r, expected %r" % (i, got[:40], rec[:40]))
    line = b"%d %d %d\n" % (lsn, size, len(rec))
    if os.fstat(ifd).st_size != isize + len(line):
        sys.exit("FAILED: fstat of the open index: %d, expected %d" % (os.fstat(ifd).st_size, isize + len(line)))
    got = os.pread(ifd, 4096, isize)
    if got != line:
        sys.exit("FAILED: pread of the open index at %d: %r, expected %r" % (isize, got, line))
if len(os.listdir(os.path.join(log, "segments"))) != len(segs):
    sys.exit("FAILED: 40 small records sealed the segment (test assumption)")
size = os.fstat(sfd).st_size
if size < 2000:
    sys.exit("FAILED: the active segment has only %d bytes" % size)
# Seal it and append more: the open descriptor keeps reading the same bytes.
os.setxattr(log, "user.lsnfs.seal", b"1")
os.write(afd, b"into the next segment")
if os.fstat(sfd).st_size != size:
    sys.exit("FAILED: size of the sealed segment changed from %d to %d" % (size, os.fstat(sfd).st_size))
whole = os.pread(sfd, 1 << 20, 0)
if len(whole) != size or whole != open(os.path.join(log, "segments", seg + ".log"), "rb").read():
    sys.exit("FAILED: the descriptor opened on the active segment reads different bytes once sealed")
if os.read(sfd, 100) != b"":
    sys.exit("FAILED: read at the end of the sealed segment returned data")
EOF

note "more appends: sealed segments keep size, mtime and bytes"
sleep 1.1
for i in $(seq 1 40); do printf 'later-%02d-%0200d' "$i" 0 >"$L/append"; done
for s in $(seg_names "$L"); do
	grep -q "^$s " "$T/sealed.before" || continue
	echo "$s $(stat -c '%s %Y' "$L/segments/$s") $(md5sum <"$L/segments/$s") $(md5sum <"$L/index/${s%.log}.index")"
done >"$T/sealed.after"
assert_file_eq "$T/sealed.after" "$T/sealed.before" "sealed segments after more appends"

note "a sealed segment read twice (page cache kept) and after remount reads the same"
first=$L/segments/$(seg_names "$L" | head -n 1)
cat "$first" >"$T/first.1"
cat "$first" >"$T/first.2"
assert_file_eq "$T/first.2" "$T/first.1" "second read of a sealed segment"
umount_fs "$M"
mount_fs "$T/store" "$M"
assert_file_eq "$first" "$T/first.1" "sealed segment after remount"

note "the newest segment appears at once when the active one is sealed"
before=$(seg_names "$L" | wc -l)
tail=$(tail_of "$L")
setfattr -n user.lsnfs.seal -v 1 "$L"
printf 'new-seg' >"$L/append"
newseg=$(printf '%020d.log' $((tail + 1)))
assert_eq "$(seg_names "$L" | tail -n 1)" "$newseg" "newest segment after seal and append"
assert_eq "$(stat -c %s "$L/segments/$newseg")" "7" "size of the new segment"
assert_eq "$(cat "$L/segments/$newseg")" "new-seg" "bytes of the new segment"

finish
