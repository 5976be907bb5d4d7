#!/usr/bin/env bash
# LOG/active.log is a symlink to the active segment (segments/<first>.log),
# listed in the log directory, and a real `tail -F LOG/active.log` follows
# the log across roll-overs: with a 4 KiB segment_size, numbered lines are
# written through at least two roll-overs while tail runs, and tail's
# output is exactly those lines once each, in order.  The symlink op stays
# refused and active.log cannot be removed.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

"$MKFS" --segment-size 4096 "$T/s" >/dev/null
M=$T/m
mount_fs "$T/s" "$M"
mkdir "$M/p"

note "active.log: listed, a symlink to the active segment"
assert_match "$(ls "$M/p" | tr '\n' ' ')" "^active.log " "log directory listing"
[[ -L $M/p/active.log ]] || fail "active.log is not a symlink: $(stat -c %F "$M/p/active.log")"
assert_eq "$(readlink "$M/p/active.log")" "segments/00000000000000000001.log" "target of a new log"
target=segments/00000000000000000001.log
assert_eq "$(stat -c %s "$M/p/active.log")" "${#target}" "lstat size = target length"
[[ -f $M/p/active.log ]] || fail "active.log does not resolve to a file"
assert_errno ln -s x "$M/p/other" "Operation not permitted"
assert_errno rm "$M/p/active.log" "Operation not permitted"

note "tail -F active.log through roll-overs: nothing missed, nothing repeated"
tail -n +1 -F -s 0.1 --max-unchanged-stats=2 "$M/p/active.log" >"$T/tail.out" 2>"$T/tail.err" &
TAIL=$!
trap 'kill $TAIL 2>/dev/null || true' RETURN
sleep 0.5
# tail -F follows the name: it drains the old file, notices the new target
# once the old one stays unchanged (--max-unchanged-stats polls of -s), and
# reads that from its start.  So each segment must stay active longer than
# that (~0.3 s here): 20 lines of 62 bytes per 0.25 s fill 4 KiB in ~0.8 s.
for i in $(seq 1 400); do
	printf 'line %05d %s\n' "$i" "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	if ((i % 20 == 0)); then sleep 0.25; fi
done >"$M/p/append.lines"
n_segs=$(seg_names "$M/p" | wc -l)
assert_ge "$n_segs" "3" "segments after 400 lines of 62 bytes with segment_size 4096"
assert_eq "$(readlink "$M/p/active.log")" "segments/$(seg_names "$M/p" | tail -n1)" "target after roll-overs"
for ((k = 0; k < 100; k++)); do
	[[ $(wc -l <"$T/tail.out") -ge 400 ]] && break
	sleep 0.1
done
sleep 1 # anything repeated would arrive now
kill "$TAIL" 2>/dev/null || true
wait "$TAIL" 2>/dev/null || true
seq -f 'line %05g xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' 1 400 >"$T/want"
if ! cmp -s "$T/tail.out" "$T/want"; then
	diff "$T/want" "$T/tail.out" | head -n 20 >&2
	fail "tail -F output differs from what was written ($(wc -l <"$T/tail.out") lines; tail said: $(cat "$T/tail.err"))"
fi
note "tail followed $n_segs segments"
umount_fs "$M"
finish
