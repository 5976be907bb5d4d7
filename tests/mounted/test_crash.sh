#!/usr/bin/env bash
# kill -9 of the daemon: every record acknowledged as durable (fsync
# returned, or write returned with sync=always) survives, whole, with its
# LSN; nothing torn, duplicated or reordered; LSNs go on (SPEC section 2).
source "$(dirname "$0")/lib.sh"

"$MKFS" --segment-size 4096 "$T/store" >/dev/null

# Record i of every log here is rec(i): distinct, of varied length, one \n at
# the end (so append and append.lines store the same thing).
cat >"$T/gen.py" <<'EOF'
def rec(i):
    return b"rec-%07d|" % i + bytes([97 + i % 26]) * ((i * 7919) % 300) + b"\n"
EOF

# verify LOG TAIL: the log holds exactly rec(1..TAIL), cut by its index.
verify() {
	dump_records "$1" >"$T/records" || fail "index/segment consistency check failed for $1"
	python3 - "$T/records" "$2" "$T" <<'EOF' || fail "records of $1 are not rec(1..$2)"
import sys
sys.path.insert(0, sys.argv[3])
from gen import rec
n = 0
for line in open(sys.argv[1]):
    lsn, h = line.split("\t")
    n += 1
    if int(lsn) != n:
        sys.exit("FAILED: LSN %s at position %d" % (lsn, n))
    got = bytes.fromhex(h.strip())
    if got != rec(n):
        sys.exit("FAILED: LSN %d holds %r, expected %r" % (n, got[:40], rec(n)[:40]))
if n != int(sys.argv[2]):
    sys.exit("FAILED: %d records, expected %s" % (n, sys.argv[2]))
EOF
}

# write LOG-FILE FROM TO [fsync]: rec(FROM..TO), one write each.
write_recs() {
	python3 - "$T" "$@" <<'EOF'
import os, sys
sys.path.insert(0, sys.argv[1])
from gen import rec
path, a, b = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
fd = os.open(path, os.O_WRONLY)
for i in range(a, b + 1):
    os.write(fd, rec(i))
if len(sys.argv) > 5:
    os.fsync(fd)
os.close(fd)
EOF
}

M=$T/mnt

note "fsync, then kill -9: all 1000 acknowledged records survive with their LSNs"
mount_fs "$T/store" "$M"
mkdir "$M/fs"
write_recs "$M/fs/append" 1 1000 fsync
state=$(log_state "$M/fs")
crash_fs "$M"
mount_fs "$T/store" "$M"
assert_eq "$(tail_of "$M/fs")" "1000" "tail_lsn after kill -9"
assert_eq "$(log_state "$M/fs")" "$state" "segments and index after kill -9"
verify "$M/fs" 1000

note "append.lines: fsync, then kill -9"
mkdir "$M/fl"
write_recs "$M/fl/append.lines" 1 700 fsync
crash_fs "$M"
mount_fs "$T/store" "$M"
verify "$M/fl" 700

note "sync=always, no fsync: all 1000 records whose write returned survive kill -9"
umount_fs "$M"
mount_fs "$T/store" "$M" sync=always
mkdir "$M/sa"
write_recs "$M/sa/append" 1 1000
state=$(log_state "$M/sa")
crash_fs "$M"
mount_fs "$T/store" "$M"
assert_eq "$(log_state "$M/sa")" "$state" "segments and index after kill -9 (sync=always)"
verify "$M/sa" 1000
umount_fs "$M"

note "sync=always: a partial last line made a record at close survives kill -9"
mount_fs "$T/store" "$M" sync=always
mkdir "$M/sp"
printf 'no newline here' >"$M/sp/append.lines"
crash_fs "$M"
mount_fs "$T/store" "$M"
assert_eq "$(cat "$M/sp/segments/"*.log)" "no newline here" "partial line after kill -9"
assert_eq "$(tail_of "$M/sp")" "1" "tail_lsn of sp"

# A writer appending rec(i) with fsync after each, printing the LSN it read
# back once fsync returned; the daemon is killed in the middle of it.
stream_round() { # LOG FILE(append|append.lines) ROUND
	local log=$1 file=$2 round=$3 tail0 pid acks last_ack tail i
	tail0=$(tail_of "$log")
	: >"$T/acks.$round" # exists before the background writer opens it
	python3 - "$T" "$log/$file" "$((tail0 + 1))" >>"$T/acks.$round" 2>"$T/writer.$round.err" <<'EOF' &
import os, sys
sys.path.insert(0, sys.argv[1])
from gen import rec
fd = os.open(sys.argv[2], os.O_RDWR)
i = int(sys.argv[3])
while True:
    os.write(fd, rec(i))
    os.fsync(fd)
    if sys.argv[2].endswith("/append"):
        lsn = int(os.pread(fd, 32, 0))
        if lsn != i:
            print("WRONG LSN %d for record %d" % (lsn, i), flush=True)
    print(i, flush=True)
    i += 1
EOF
	pid=$!
	for ((i = 0; i < 400; i++)); do
		acks=$(wc -l <"$T/acks.$round")
		((acks >= 150)) && break
		_alive "$pid" || break
		sleep 0.025
	done
	assert_ge "$acks" 150 "acknowledged records before the kill (round $round)"
	crash_fs "$M"
	wait "$pid" 2>/dev/null || true # the writer fails once the daemon is gone
	if grep -q WRONG "$T/acks.$round"; then fail "$(grep -m1 WRONG "$T/acks.$round")"; fi
	last_ack=$(grep -E '^[0-9]+$' "$T/acks.$round" | tail -n 1)
	mount_fs "$T/store" "$M"
	tail=$(tail_of "$log")
	note "round $round ($file): last acknowledged LSN $last_ack, tail after remount $tail"
	assert_ge "$tail" "$last_ack" "tail_lsn after kill -9 (round $round)"
	((tail <= last_ack + 1)) || fail "tail $tail is beyond the one write in flight after $last_ack"
	verify "$log" "$tail"
}

note "kill -9 in the middle of a stream of fsynced writes, 4 rounds"
mkdir "$M/st"
stream_round "$M/st" append 1
stream_round "$M/st" append.lines 2
stream_round "$M/st" append 3
stream_round "$M/st" append.lines 4
assert_ge "$(seg_names "$M/st" | wc -l)" 10 "segments of the streamed log"

note "after the crashes new appends continue at tail+1"
tail=$(tail_of "$M/st")
got=$(python3 - "$T" "$M/st/append" "$((tail + 1))" <<'EOF'
import os, sys
sys.path.insert(0, sys.argv[1])
from gen import rec
fd = os.open(sys.argv[2], os.O_RDWR)
os.write(fd, rec(int(sys.argv[3])))
print(int(os.pread(fd, 32, 0)))
EOF
)
assert_eq "$got" "$((tail + 1))" "LSN of the first append after the crashes"
verify "$M/st" "$((tail + 1))"

note "a clean unmount after all that keeps everything"
umount_fs "$M"
mount_fs "$T/store" "$M"
verify "$M/st" "$((tail + 1))"
verify "$M/fs" 1000
verify "$M/sa" 1000

finish
