#!/usr/bin/env bash
# Early error exits of lsnfs, mkfs.lsnfs and lsnfsctl (a store that does not
# exist, a bad mount point, bad options, a store in use): the documented exit
# status, one line saying what is wrong (plus the "Try --help" line for usage
# errors), nothing on stdout, nothing mounted.  Under `make asan` the
# binaries carry ASan/UBSan with detect_leaks=1 and abort_on_error=1, so a
# leak or an abort on any of these paths changes the status and adds a
# report to stderr: this same test is the proof that they exit cleanly.
source "$(dirname "$0")/lib.sh"

CTL=$BUILD/lsnfsctl
"$MKFS" "$T/store" >/dev/null
mkdir -p "$T/mnt" "$T/empty"
: >"$T/file"

# exits RC LINES ERE PROG ARGS...: PROG exits RC, prints nothing on stdout
# and exactly LINES lines on stderr, the first matching ERE; no sanitizer
# report; nothing mounted at $T/mnt afterwards.
exits() {
	local want=$1 lines=$2 ere=$3 rc=0 out err
	shift 3
	out=$("$@" 2>"$T/err") || rc=$?
	err=$(cat "$T/err")
	if grep -Eq 'Sanitizer|runtime error:' <<<"$err"; then
		fail "'$*': sanitizer report: $(head -n 5 <<<"$err")"
	fi
	assert_eq "$rc" "$want" "'$*' exit status (stderr: $err)"
	assert_eq "$out" "" "'$*' stdout"
	assert_eq "$(wc -l <<<"$err")" "$lines" "'$*': lines on stderr ($err)"
	assert_match "$(head -n 1 <<<"$err")" "$ere" "'$*': the error line"
	if mountpoint -q "$T/mnt"; then
		fail "'$*' failed but left $T/mnt mounted"
	fi
}
TRY="Try 'lsnfs --help' for more information."

note "lsnfs usage errors: exit 2, the error and the --help line"
exits 2 2 "^lsnfs: missing STORE and MOUNTPOINT$" "$LSNFS"
assert_eq "$(tail -n 1 "$T/err")" "$TRY" "second line"
exits 2 2 "^lsnfs: missing MOUNTPOINT$" "$LSNFS" "$T/store"
exits 2 1 "^lsnfs: too many arguments" "$LSNFS" "$T/store" "$T/mnt" "$T/extra"

note "lsnfs bad -o values and unknown options: one line, nothing mounted"
for fg in -f ""; do
	exits 2 1 "^lsnfs: bad option -o segment_size=abc: segment_size must be" \
		"$LSNFS" "$T/store" "$T/mnt" $fg -o segment_size=abc
	exits 2 1 "^lsnfs: bad option -o sync=never:" "$LSNFS" "$T/store" "$T/mnt" $fg -o sync=never
	exits 2 2 "^lsnfs: unknown option '-o bogus_option'$" \
		"$LSNFS" "$T/store" "$T/mnt" $fg -o bogus_option
done
many=$(for i in $(seq 17); do printf 'trim_delay=%d,' "$i"; done)
exits 2 1 "^lsnfs: too many options$" "$LSNFS" "$T/store" "$T/mnt" -f -o "${many%,}"

note "lsnfs: a store that does not exist, or is not a store: exit 1, one line"
for fg in -f ""; do
	exits 1 1 "^lsnfs: $T/nostore: No such file or directory$" "$LSNFS" "$T/nostore" "$T/mnt" $fg
	exits 1 1 "^lsnfs: $T/empty: not an lsnfs store \(run mkfs.lsnfs first\)$" \
		"$LSNFS" "$T/empty" "$T/mnt" $fg
done

note "lsnfs: a mount point that does not exist: exit 2, one line"
for fg in -f ""; do
	exits 2 1 "^fuse: bad mount point .$T/nomnt': No such file or directory$" \
		"$LSNFS" "$T/store" "$T/nomnt" $fg
done

note "lsnfs: a store in use by a mounted lsnfs: exit 1, one line, the first mount unharmed"
mount_fs "$T/store" "$T/in-use"
mkdir "$T/in-use/p"
printf 'kept' >"$T/in-use/p/append"
for fg in -f ""; do
	exits 1 1 "^lsnfs: $T/store: store in use \(another lsnfs has it open\)$" \
		"$LSNFS" "$T/store" "$T/mnt" $fg
done
assert_eq "$(cat "$T/in-use/p/segments/"*.log)" "kept" "the first mount after the refused ones"
umount_fs "$T/in-use"
assert_eq "$DAEMON_RC" "0" "exit status of the first mount's daemon"

note "mkfs.lsnfs: refusals exit 1 or 2 with one line"
exits 1 1 "^mkfs.lsnfs: $T/store: directory is not empty; refusing to format it$" "$MKFS" "$T/store"
exits 1 1 "^mkfs.lsnfs: archive $T/noarchive does not exist" "$MKFS" --archive "$T/noarchive" "$T/s2"
exits 1 1 "^mkfs.lsnfs: $T/file/x: Not a directory$" "$MKFS" "$T/file/x"
exits 2 2 "^mkfs.lsnfs: segment_size must be a byte count" "$MKFS" --segment-size 1 "$T/s2"
[[ ! -e $T/s2 ]] || fail "a refused mkfs.lsnfs created $T/s2"

note "lsnfsctl: not a mount, not a store, not a log: one line"
exits 2 1 "^lsnfsctl: $T/nomnt: no such mountpoint$" "$CTL" status "$T/nomnt"
exits 2 1 "^lsnfsctl: $T/mnt is not the root of a mounted lsnfs" "$CTL" status "$T/mnt" --json
exits 2 1 "^lsnfsctl: $T/mnt/x: no such log$" "$CTL" trim "$T/mnt/x" 5
exits 1 1 "^lsnfsctl: config: $T/empty is not an lsnfs store" "$CTL" config "$T/empty"
exits 2 1 "^lsnfsctl: config: segment_size must be a byte count" "$CTL" config "$T/store" segment_size=abc

finish
