# tests/mounted/lib.sh - sourced by every tests/mounted/test_*.sh.
#
# Needs BUILD (absolute path of the build directory), root (or a user allowed
# to use /dev/fuse), fusermount3, getfattr/setfattr and python3.
#
# Provides:
#   LSNFS, MKFS            the binaries under test
#   T                      this test's temp dir (removed at exit)
#   mount_fs STORE MNT [OPT...]   start the daemon in the foreground (-f) in
#                          the background, -o OPT,OPT...; waits until mounted.
#                          Sets DAEMON_PID and DAEMON_LOG.
#   umount_fs MNT          fusermount3 -u and wait for the daemon to exit
#   crash_fs MNT           kill -9 the daemon, detach the dead mount
#   daemon_pid MNT, daemon_log MNT
#   fail, note, softly, assert_eq, assert_ne, assert_ge, assert_match, assert_file_eq,
#   assert_errno CMD... EXPECTED_TEXT   (EXPECTED_TEXT is an ERE, e.g. "A|B")
#   test_case "WHAT IT CHECKS" FUNC [ARG...]   one named step (see below)
#   xattr_get PATH NAME, lsn_attr PATH SHORTNAME, tail_of LOG
#   seg_names LOG, log_state LOG
set -euo pipefail

: "${BUILD:?BUILD must be set to the absolute build directory}"
LSNFS=$BUILD/lsnfs
MKFS=$BUILD/mkfs.lsnfs
LSN_RECORD_MAX=1044480

# The tests start python3 hundreds of times: use the interpreter itself, not
# a version manager's shim (pyenv adds ~0.2 s per start).
if [[ -x /usr/bin/python3 ]]; then
	PYTHON=/usr/bin/python3
else
	PYTHON=$(command python3 -c 'import sys; print(sys.executable)')
fi
python3() { "$PYTHON" "$@"; }

TEST_NAME=$(basename "$0" .sh)
T=$(mktemp -d "${TMPDIR:-/tmp}/lsnfs-$TEST_NAME.XXXXXX")

declare -A _PID_OF=()   # mountpoint -> daemon pid
declare -A _LOG_OF=()   # mountpoint -> daemon log file
declare -a _MOUNTED=()  # every mountpoint ever mounted by this test
declare -a _PIDS=()     # every daemon pid ever started by this test
_MOUNT_SEQ=0

# ---- reporting ----------------------------------------------------------

note() { printf '  - %s\n' "$*"; }

fail() {
	printf 'FAILED: %s\n' "$*" >&2
	exit 1
}

# On failure, the tail of every daemon log (it says which rule refused what).
_show_daemon_logs() {
	local m
	for m in "${!_LOG_OF[@]}"; do
		if [[ -s ${_LOG_OF[$m]} ]]; then
			printf -- '--- daemon log for %s (last 20 lines):\n' "$m" >&2
			tail -n 20 "${_LOG_OF[$m]}" >&2 || true
		fi
	done
}

# softly ASSERTION...: run an assertion; on failure record it and go on, so
# that one known bug does not hide the checks after it.  The test still fails.
_SOFT_FAILURES=0
softly() {
	if ! ("$@"); then
		_SOFT_FAILURES=$((_SOFT_FAILURES + 1))
		printf '  (continuing after the failure above)\n' >&2
	fi
}

# test_case "what it checks" FUNC [ARG...]: one named step, in the manner of
# git's test_expect_success.  FUNC runs in a subshell with errexit; the step
# prints "ok N - what" or "not ok N - what", a failure is counted (the test
# fails at its end) and the steps after it still run.  A step must not
# mount or unmount (the subshell's bookkeeping would be lost): do that
# between steps.
_CASES=0
test_case() {
	local name=$1 rc=0
	shift
	_CASES=$((_CASES + 1))
	(
		set -e
		trap - EXIT
		"$@"
	) || rc=$?
	if ((rc == 0)); then
		printf 'ok %d - %s\n' "$_CASES" "$name"
	else
		printf 'not ok %d - %s (exit %d)\n' "$_CASES" "$name" "$rc" >&2
		_SOFT_FAILURES=$((_SOFT_FAILURES + 1))
	fi
}

assert_eq() { # ACTUAL EXPECTED [WHAT]
	[[ "$1" == "$2" ]] || fail "${3:-value}: expected '$2', got '$1'"
}

assert_match() { # TEXT ERE [WHAT]
	grep -Eq -- "$2" <<<"$1" || fail "${3:-text}: '$1' does not match '$2'"
}

assert_ne() { # ACTUAL UNEXPECTED [WHAT]
	[[ "$1" != "$2" ]] || fail "${3:-value}: expected something other than '$2'"
}

assert_ge() { # ACTUAL MIN [WHAT]  (integers)
	[[ "$1" =~ ^[0-9]+$ ]] || fail "${3:-value}: '$1' is not a number"
	(( $1 >= $2 )) || fail "${3:-value}: expected >= $2, got $1"
}

assert_file_eq() { # GOT_FILE EXPECTED_FILE [WHAT]
	local out
	if ! out=$(cmp -- "$1" "$2" 2>&1); then
		fail "${3:-files differ}: $1 vs $2: $out"
	fi
}

# assert_errno CMD... EXPECTED_ERE: CMD must fail and its stderr must match.
assert_errno() {
	local n=$# expected=${!#} out rc=0
	local -a cmd=("${@:1:n-1}")
	out=$("${cmd[@]}" 2>&1 >/dev/null) || rc=$?
	if (( rc == 0 )); then
		fail "'${cmd[*]}' succeeded; expected failure with '$expected'"
	fi
	if ! grep -Eq -- "$expected" <<<"$out"; then
		fail "'${cmd[*]}' failed (rc $rc) with '$out'; expected '$expected'"
	fi
}

# ---- xattrs and tree --------------------------------------------------------

xattr_get() { # PATH NAME -> value on stdout
	getfattr --absolute-names --only-values -n "$2" -- "$1"
}

lsn_attr() { # PATH SHORT (e.g. tail_lsn)
	xattr_get "$1" "user.lsnfs.$2"
}

tail_of() { lsn_attr "$1" tail_lsn; }

seg_names() { # LOG -> segment file names, one per line, in order
	ls -1 -- "$1/segments"
}

# Everything observable about a log's data: tail, listings, sizes, checksums.
log_state() { # LOG
	local log=$1 f
	echo "tail $(tail_of "$log")"
	echo "persisted $(lsn_attr "$log" persisted_lsn)"
	for f in "$log"/segments/* "$log"/index/*; do
		[[ -e $f ]] || continue
		printf '%s %s %s\n' "${f#"$log"/}" "$(stat -c %s -- "$f")" \
			"$(md5sum <"$f" | cut -d' ' -f1)"
	done
}

# ---- mounting ---------------------------------------------------------------

_alive() { # PID: running and not a zombie
	local st
	kill -0 "$1" 2>/dev/null || return 1
	st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
	[[ $st != Z ]]
}

_wait_dead() { # PID SECONDS -> 0 when gone
	local pid=$1 i
	for ((i = 0; i < $2 * 20; i++)); do
		_alive "$pid" || return 0
		sleep 0.05
	done
	return 1
}

mount_fs() { # STORE MNT [OPT...]
	local store=$1 mnt=$2 opts="" i log pid
	shift 2
	if (($#)); then
		opts=$(IFS=,; echo "$*")
	fi
	mkdir -p "$mnt"
	mnt=$(cd "$mnt" && pwd)
	if mountpoint -q "$mnt"; then
		fail "mount_fs: $mnt is already a mountpoint"
	fi
	_MOUNT_SEQ=$((_MOUNT_SEQ + 1))
	log=$T/daemon.$_MOUNT_SEQ.$(basename "$mnt").log
	if [[ -n $opts ]]; then
		"$LSNFS" "$store" "$mnt" -f -o "$opts" </dev/null >"$log" 2>&1 &
	else
		"$LSNFS" "$store" "$mnt" -f </dev/null >"$log" 2>&1 &
	fi
	pid=$!
	_PIDS+=("$pid")
	_MOUNTED+=("$mnt")
	_PID_OF[$mnt]=$pid
	_LOG_OF[$mnt]=$log
	for ((i = 0; i < 200; i++)); do
		if mountpoint -q "$mnt"; then
			DAEMON_PID=$pid
			DAEMON_LOG=$log
			return 0
		fi
		if ! _alive "$pid"; then
			fail "mount_fs: lsnfs $store $mnt ${opts:+-o $opts} exited before mounting: $(cat "$log")"
		fi
		sleep 0.05
	done
	fail "mount_fs: $mnt not mounted after 10 s"
}

daemon_pid() { local m; m=$(cd "$1" 2>/dev/null && pwd || echo "$1"); echo "${_PID_OF[$m]:-}"; }
daemon_log() { local m; m=$(cd "$1" 2>/dev/null && pwd || echo "$1"); echo "${_LOG_OF[$m]:-}"; }

# Returns the daemon's exit status in DAEMON_RC.
umount_fs() { # MNT
	local mnt pid out
	mnt=$(cd "$1" && pwd)
	pid=${_PID_OF[$mnt]:-}
	if ! out=$(fusermount3 -u "$mnt" 2>&1); then
		fail "umount_fs: fusermount3 -u $mnt failed: $out"
	fi
	if [[ -n $pid ]]; then
		_wait_dead "$pid" 10 || fail "umount_fs: daemon $pid still running 10 s after unmount"
		DAEMON_RC=0
		wait "$pid" 2>/dev/null || DAEMON_RC=$?
	fi
	if mountpoint -q "$mnt"; then
		fail "umount_fs: $mnt is still a mountpoint"
	fi
}

# kill -9 the daemon and detach its dead mount.
crash_fs() { # MNT
	local mnt pid
	mnt=$(cd "$1" 2>/dev/null && pwd || echo "$1")
	pid=${_PID_OF[$mnt]:-}
	[[ -n $pid ]] || fail "crash_fs: no daemon known for $mnt"
	kill -9 "$pid" 2>/dev/null || true
	_wait_dead "$pid" 10 || fail "crash_fs: daemon $pid survived kill -9"
	wait "$pid" 2>/dev/null || true
	fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -uz "$mnt" 2>/dev/null || true
	if mountpoint -q "$mnt" 2>/dev/null; then
		fail "crash_fs: could not detach $mnt"
	fi
}

_cleanup() {
	local rc=$? m p
	set +e
	if ((rc == 0 && _SOFT_FAILURES > 0)); then
		printf 'FAILED: %d check(s) failed (see above)\n' "$_SOFT_FAILURES" >&2
		rc=1
	fi
	((rc == 0)) || _show_daemon_logs
	for m in "${_MOUNTED[@]}"; do
		if mountpoint -q "$m" 2>/dev/null || ! stat "$m" >/dev/null 2>&1; then
			fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null
		fi
	done
	for p in "${_PIDS[@]}"; do
		_wait_dead "$p" 3 || kill -9 "$p" 2>/dev/null
	done
	for m in "${_MOUNTED[@]}"; do
		mountpoint -q "$m" 2>/dev/null && fusermount3 -uz "$m" 2>/dev/null
	done
	rm -rf -- "$T"
	exit "$rc"
}
trap _cleanup EXIT
# set -e exits silently: say which command failed.
set -E
trap 'printf "FAILED: command exited %s at %s line %s: %s\n" "$?" "${BASH_SOURCE[0]##*/}" "$LINENO" "${BASH_COMMAND%%$'"'"'\n'"'"'*}" >&2' ERR
trap 'exit 143' TERM
trap 'exit 130' INT

# Last line of every test.
finish() {
	if ((_SOFT_FAILURES > 0)); then
		exit 1 # _cleanup reports the count
	fi
	echo "ok"
}

# ---- records ----------------------------------------------------------------

# Prints every record of LOG as "LSN<TAB>hex(payload)", using only the index
# files to cut the segments, and checks the index on the way (LSNs from
# first_lsn without gaps, offsets a running sum, lengths summing to the
# segment size, the file name's LSN equal to its first line's).
dump_records() { # LOG
	python3 - "$1" <<'EOF'
import os, sys
log = sys.argv[1]
segs = sorted(os.listdir(os.path.join(log, "segments")))
idxs = sorted(os.listdir(os.path.join(log, "index")))
names = [s[:-4] for s in segs]
if [i[:-6] for i in idxs] != names:
    sys.exit("segments %r and index files %r do not match" % (segs, idxs))
expect = None
for n in names:
    data = open(os.path.join(log, "segments", n + ".log"), "rb").read()
    st = os.stat(os.path.join(log, "segments", n + ".log")).st_size
    if st != len(data):
        sys.exit("segment %s: stat size %d, read %d bytes" % (n, st, len(data)))
    text = open(os.path.join(log, "index", n + ".index"), "rb").read()
    ist = os.stat(os.path.join(log, "index", n + ".index")).st_size
    if ist != len(text):
        sys.exit("index %s: stat size %d, read %d bytes" % (n, ist, len(text)))
    if text and not text.endswith(b"\n"):
        sys.exit("index %s does not end with a newline" % n)
    off = 0
    first = int(n)
    if expect is not None and first != expect:
        sys.exit("segment %s: expected it to start at LSN %d" % (n, expect))
    expect = first
    for k, line in enumerate(text.decode().splitlines()):
        parts = line.split(" ")
        if len(parts) != 3 or not all(p.isdigit() for p in parts):
            sys.exit("index %s line %d malformed: %r" % (n, k + 1, line))
        lsn, o, ln = map(int, parts)
        if k == 0 and lsn != first:
            sys.exit("index %s starts at LSN %d" % (n, lsn))
        if lsn != expect:
            sys.exit("index %s: LSN %d where %d was expected" % (n, lsn, expect))
        if o != off:
            sys.exit("index %s: LSN %d offset %d, expected %d" % (n, lsn, o, off))
        print("%d\t%s" % (lsn, data[o:o + ln].hex()))
        off += ln
        expect = lsn + 1
    if off != len(data):
        sys.exit("index %s: lengths sum to %d, segment has %d bytes" % (n, off, len(data)))
EOF
}
