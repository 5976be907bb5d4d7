#!/usr/bin/env bash
# append.lines: cat file > LOG/append.lines gives back file byte for byte from
# segments/*.log; index files describe the records exactly (SPEC section 2).
source "$(dirname "$0")/lib.sh"

SEG=65536
"$MKFS" "$T/store" >/dev/null
mount_fs "$T/store" "$T/mnt" "segment_size=$SEG"
M=$T/mnt
mkdir "$M/text"
L=$M/text

note "generating ~3 MiB of text with varied line lengths"
python3 - "$T/input" <<'EOF'
import random, sys
rnd = random.Random(20240611)
alphabet = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:-_=+/()[]{}<>\t"
out = []
size = 0
i = 0
while size < 3 * 1024 * 1024:
    r = rnd.random()
    if i in (0, 7, 500):
        n = 0                              # empty lines
    elif r < 0.5:
        n = rnd.randint(1, 40)
    elif r < 0.9:
        n = rnd.randint(41, 400)
    elif r < 0.99:
        n = rnd.randint(401, 5000)
    else:
        n = rnd.randint(20000, 70000)      # a few longer than a segment
    line = bytes(rnd.choice(alphabet) for _ in range(min(n, 64))) * (n // 64 + 1)
    line = line[:n] + b"\n"
    out.append(line)
    size += len(line)
    i += 1
out.append(b"last line without a newline")
open(sys.argv[1], "wb").write(b"".join(out))
EOF
lines=$(python3 -c 'import sys; print(len(open(sys.argv[1],"rb").read().split(b"\n")))' "$T/input")
note "input: $(stat -c %s "$T/input") bytes, $lines lines (the last without a newline)"

note "cat input > LOG/append.lines"
cat "$T/input" >"$L/append.lines"

note "cat LOG/segments/*.log equals the input byte for byte"
cat "$L"/segments/*.log >"$T/output"
assert_file_eq "$T/output" "$T/input" "segments concatenated"

nseg=$(ls "$L/segments" | wc -l)
note "$nseg segments (expect several with segment_size=$SEG)"
assert_ge "$nseg" 10 "number of segments"
assert_eq "$(ls "$L/index" | sed 's/\.index$//')" "$(ls "$L/segments" | sed 's/\.log$//')" \
	"index files match segment files"

note "file names are 20-digit zero-padded first LSNs; the first is 1"
assert_eq "$(ls "$L/segments" | head -n 1)" "00000000000000000001.log" "first segment name"
if ls "$L/segments" | grep -vqE '^[0-9]{20}\.log$'; then
	fail "badly formed segment name: $(ls "$L/segments" | grep -vE '^[0-9]{20}\.log$' | head -n 1)"
fi

note "every segment's stat size equals the bytes it reads"
for s in "$L"/segments/*.log; do
	assert_eq "$(stat -c %s "$s")" "$(wc -c <"$s")" "stat size of $(basename "$s")"
done
for s in "$L"/index/*.index; do
	assert_eq "$(stat -c %s "$s")" "$(wc -c <"$s")" "stat size of $(basename "$s")"
done

note "index: LSNs consecutive from 1, offsets a running sum, lengths sum to segment size"
for ix in "$L"/index/*.index; do
	first=$((10#$(basename "$ix" .index)))
	seg=$L/segments/$(basename "$ix" .index).log
	awk -v first="$first" -v segsize="$(stat -c %s "$seg")" -v name="$(basename "$ix")" '
		NF != 3 || $1 !~ /^[0-9]+$/ || $2 !~ /^[0-9]+$/ || $3 !~ /^[0-9]+$/ {
			print name ": malformed line " NR ": " $0; bad = 1; exit 1 }
		NR == 1 && $1 != first { print name ": first LSN " $1 " != " first; bad = 1; exit 1 }
		NR > 1 && $1 != prev + 1 { print name ": LSN " $1 " after " prev; bad = 1; exit 1 }
		$2 != off { print name ": LSN " $1 " offset " $2 " expected " off; bad = 1; exit 1 }
		{ prev = $1; off += $3 }
		END { if (!bad && off != segsize) { print name ": lengths sum " off " != size " segsize; exit 1 } }
	' "$ix" || fail "index check failed for $(basename "$ix")"
done
cat "$L"/index/*.index >"$T/all.index"
awk 'NR != $1 { print "LSN " $1 " at position " NR; exit 1 }' "$T/all.index" ||
	fail "LSNs are not consecutive from 1 across index files"
assert_eq "$(wc -l <"$T/all.index")" "$lines" "number of records (index lines)"

note "segments are sealed once their payload reaches segment_size"
last_seg=$(ls "$L/segments" | tail -n 1)
for s in "$L"/segments/*.log; do
	[[ $(basename "$s") == "$last_seg" ]] && continue
	size=$(stat -c %s "$s")
	lastlen=$(tail -n 1 "$L/index/$(basename "$s" .log).index" | cut -d' ' -f3)
	assert_ge "$size" "$SEG" "size of sealed segment $(basename "$s")"
	(( size - lastlen < SEG )) || fail "segment $(basename "$s") ($size bytes) took a record after reaching $SEG"
done

note "tail_lsn and first_lsn"
assert_eq "$(tail_of "$L")" "$lines" "tail_lsn"
assert_eq "$(lsn_attr "$L" first_lsn)" "1" "first_lsn"

note "a sample of records cut from the segments by their index line equals the input line"
python3 - "$T/input" "$T/lines.d" <<'EOF'
import os, sys
data = open(sys.argv[1], "rb").read()
os.mkdir(sys.argv[2])
recs = data.split(b"\n")
for k, r in enumerate(recs):
    if k < len(recs) - 1:
        r += b"\n"
    open(os.path.join(sys.argv[2], str(k + 1)), "wb").write(r)
EOF
samples="1 2 3 8 9 501 $((lines / 3)) $((lines / 2)) $((lines - 1)) $lines"
samples+=" $(awk -v s=7 'BEGIN { srand(s); for (i = 0; i < 25; i++) printf "%d ", 1 + int(rand() * '"$lines"') }')"
for lsn in $samples; do
	ix=$(grep -l "^$lsn " "$L"/index/*.index) || fail "LSN $lsn not found in any index file"
	assert_eq "$(wc -l <<<"$ix")" "1" "number of index files listing LSN $lsn"
	read -r _ off len < <(grep "^$lsn " "$ix")
	seg=$L/segments/$(basename "$ix" .index).log
	{ tail -c +$((off + 1)) "$seg" || true; } | head -c "$len" >"$T/rec"
	assert_file_eq "$T/rec" "$T/lines.d/$lsn" "record $lsn (offset $off, length $len)"
	dd if="$seg" of="$T/rec.dd" bs=65536 iflag=skip_bytes,count_bytes skip="$off" count="$len" status=none
	assert_file_eq "$T/rec.dd" "$T/lines.d/$lsn" "record $lsn read with dd"
done

note "empty lines are records of one byte (\\n); the last line has no newline"
assert_eq "$(sed -n '1p' "$T/all.index" | cut -d' ' -f3)" "1" "length of record 1 (empty line)"
assert_eq "$(sed -n '8p' "$T/all.index" | cut -d' ' -f3)" "1" "length of record 8 (empty line)"
assert_eq "$(tail -n 1 "$T/all.index" | cut -d' ' -f3)" "27" "length of the last record"
assert_eq "$(tail -c 27 "$L/segments/$last_seg")" "last line without a newline" "last record"

note "partial line held across writes of one descriptor: 'ab' then 'c\\nd' -> 'abc\\n', 'd'"
mkdir "$M/part"
P=$M/part
python3 - "$P" <<'EOF'
import os, sys, time
log = sys.argv[1]
tail = lambda: os.getxattr(log, "user.lsnfs.tail_lsn").decode()
fd = os.open(os.path.join(log, "append.lines"), os.O_WRONLY)
os.write(fd, b"ab")
time.sleep(0.2)
if tail() != "0":
    sys.exit("FAILED: tail_lsn %s while 'ab' is held (expected 0)" % tail())
os.write(fd, b"c\nd")
if tail() != "1":
    sys.exit("FAILED: tail_lsn %s while 'd' is held (expected 1)" % tail())
os.close(fd)
if tail() != "2":
    sys.exit("FAILED: tail_lsn %s after close (expected 2)" % tail())
EOF
assert_eq "$(cat "$P/index/00000000000000000001.index")" $'1 0 4\n2 4 1' "index of part"
printf 'abc\nd' >"$T/part.expect"
assert_file_eq "$P/segments/00000000000000000001.log" "$T/part.expect" "segment of part"

note "each descriptor holds its own partial line"
mkdir "$M/two"
python3 - "$M/two/append.lines" <<'EOF'
import os, sys
a = os.open(sys.argv[1], os.O_WRONLY)
b = os.open(sys.argv[1], os.O_WRONLY)
os.write(a, b"A1")
os.write(b, b"B1")
os.write(a, b"A2\n")
os.write(b, b"B2\n")
os.close(a)
os.close(b)
EOF
assert_eq "$(cat "$M/two/segments/"*.log)" $'A1A2\nB1B2' "records from two descriptors"
assert_eq "$(tail_of "$M/two")" "2" "tail_lsn of two"

note "the same from the shell: { printf 'ab'; sleep 0.2; printf 'c\\nd'; } > LOG/append.lines"
# sleep inherits the descriptor and closes its copy when it exits; the
# shell's descriptor stays open, so 'ab' must still be held.
mkdir "$M/shell"
{ printf 'ab'; sleep 0.2; printf 'c\nd'; } >"$M/shell/append.lines"
assert_eq "$(cat "$M/shell/index/00000000000000000001.index")" $'1 0 4\n2 4 1' \
	"index after { printf 'ab'; sleep 0.2; printf 'c\\nd'; } > append.lines (want records 'abc\\n' and 'd')"
assert_file_eq "$M/shell/segments/00000000000000000001.log" "$T/part.expect" "segment of shell"

finish
