#!/usr/bin/env bash
# Reading sealed segments with and without read-ahead (-o read_ahead_blocks,
# storage/log_reader.c): sequential cat, random preads of random sizes and
# two readers of one file at once give exactly the bytes written, for
# read_ahead_blocks=0, the default and 16.  Each pass starts with the
# segments' pages dropped from the page cache (posix_fadvise DONTNEED), so
# the daemon serves every byte.
source "$(dirname "$0")/lib.sh"

"$MKFS" --segment-size $((2 * 1048576)) "$T/store" >/dev/null
M=$T/mnt

note "a 12 MiB text log, sealed: about 6 segments of 8 blocks each"
python3 - "$T/input" <<'EOF'
import random, sys
r = random.Random(12)
words = ["GET", "POST", "/api/v1/items", "user=", "status=200", "status=404", "ms", "retry", "ok"]
with open(sys.argv[1], "w") as f:
    n = 0
    while n < 12 * 1048576:
        line = " ".join(r.choice(words) + str(r.randrange(100000)) for _ in range(r.randrange(3, 40))) + "\n"
        f.write(line)
        n += len(line)
EOF
mount_fs "$T/store" "$M" trim_delay=0
mkdir "$M/r"
cat "$T/input" >"$M/r/append.lines"
setfattr -n user.lsnfs.seal -v 1 "$M/r"
umount_fs "$M"

drop_pages() { # FILE... : forget their cached pages, so that reads reach the daemon
	python3 - "$@" <<'EOF'
import os, sys
for p in sys.argv[1:]:
    fd = os.open(p, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)
EOF
}

# Random preads of every sealed segment, compared with the input.
random_reads() { # LOG SEED
	python3 - "$1" "$T/input" "$2" <<'EOF'
import os, random, sys
log, inp, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = open(inp, "rb").read()
segs = sorted(os.listdir(log + "/segments"))[:-1]
r = random.Random(seed)
base, checked = 0, 0
for s in segs:
    p = log + "/segments/" + s
    size = os.stat(p).st_size
    fd = os.open(p, os.O_RDONLY)
    for i in range(60):
        off = r.randrange(size)
        n = r.choice([1, 4096, 65536, 300000, r.randrange(1, 2 * 1048576)])
        got = os.pread(fd, n, off)
        want = data[base + off: base + min(off + n, size)]
        if got != want:
            sys.exit("%s: pread(%d, %d) differs from the input" % (s, n, off))
        checked += 1
    os.close(fd)
    base += size
if base != len(data):
    sys.exit("sealed segments hold %d bytes, wrote %d" % (base, len(data)))
print("%d preads in %d segments equal" % (checked, len(segs)))
EOF
}

pass() { # [OPT]
	local what=${1:-default read_ahead_blocks} segs out
	mount_fs "$T/store" "$M" trim_delay=0 ${1:+"$1"}
	mapfile -t segs < <(seg_names "$M/r" | head -n -1 | sed "s|^|$M/r/segments/|")
	assert_ge "${#segs[@]}" 5 "sealed segments"

	note "$what: random preads first (no sequential streak), every byte equal"
	drop_pages "${segs[@]}"
	out=$(random_reads "$M/r" 7) || fail "$what: random reads: $out"
	note "  $out"

	note "$what: sequential cat of every sealed segment equals the input"
	drop_pages "${segs[@]}"
	cat "${segs[@]}" | cmp - "$T/input" || fail "$what: cat of the sealed segments differs from the input"

	note "$what: two readers of each segment at once, each gets every byte"
	drop_pages "${segs[@]}"
	for s in "${segs[@]}"; do
		cat "$s" >"$T/a" &
		cat "$s" >"$T/b"
		wait $!
		cmp -s "$T/a" "$s" && cmp -s "$T/b" "$T/a" || fail "$what: concurrent readers of $s differ"
	done
	cat "${segs[@]}" | cmp - "$T/input" || fail "$what: segments differ after the concurrent reads"

	note "$what: dd with 1 MiB requests (O_DIRECT, no kernel cache) equals the input"
	for s in "${segs[@]}"; do dd if="$s" bs=1M iflag=direct status=none; done | cmp - "$T/input" ||
		fail "$what: O_DIRECT reads differ from the input"
	umount_fs "$M"
	assert_eq "$DAEMON_RC" "0" "$what: daemon exit status"
}

pass read_ahead_blocks=0
pass
pass read_ahead_blocks=16

note "read_ahead_blocks out of range is refused at mount"
rc=0
"$LSNFS" "$T/store" "$M" -f -o read_ahead_blocks=65 2>"$T/err" || rc=$?
assert_eq "$rc" "2" "exit status for read_ahead_blocks=65"
assert_match "$(cat "$T/err")" "read_ahead_blocks must be a number of blocks from 0 to 64" "message"

finish
