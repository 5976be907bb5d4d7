# tests/mounted/lib_trim.sh - extra helpers for the snapshot, archive and
# trim tests (test_snap*.sh, test_trim*.sh, test_archive*.sh, test_two_nodes.sh).
# Source it after lib.sh:
#
#   source "$(dirname "$0")/lib.sh"
#   source "$(dirname "$0")/lib_trim.sh"
#
# Provides:
#   lsn20 N                       N as the 20-digit file-name form
#   set_attr PATH SHORT VALUE     setfattr -n user.lsnfs.SHORT -v VALUE PATH
#   seal LOG                      seal the active segment
#   rand_file FILE BYTES [SEED]   deterministic incompressible bytes
#   append_records LOG REF COUNT SIZE [SEED]
#                                 append COUNT records of SIZE random bytes
#                                 (one write(2) each, then fsync) and add
#                                 "LSN<TAB>hex" lines for them to REF, the
#                                 reference in dump_records' format
#   expected_records REF FIRST    lines of REF with LSN >= FIRST
#   wait_for SECONDS DESC CMD...  poll CMD every 0.1 s until it succeeds, else fail
#   wait_attr PATH SHORT ERE SECONDS   poll user.lsnfs.SHORT until it matches ERE
#   log_has ERE [LOGFILE]         grep -E the daemon log (default DAEMON_LOG)
#   assert_log ERE [LOGFILE] [WHAT]    fail unless the daemon log matches ERE
#   assert_log_within SECONDS ERE [LOGFILE] [WHAT]
#   first_seg LOG / last_seg LOG  first / last segment file name
#   seg_first_lsn NAME            numeric LSN of a segment/index file name
#   seg_last_lsn LOG NAME         last LSN of a segment (from its index file)
#   segs_state LOG                names, sizes and md5 of segments and index files
#   make_copy_archiver SCRIPT DEST    write a working archive_command script:
#                                 SCRIPT %p %f copies %p to DEST/%f (mkdir -p,
#                                 temporary name, rename) and exits 0
#   mono_frac                     fractional part of CLOCK_MONOTONIC (0..999 ms)
#   do_rename FROM TO             one rename(2); on failure stderr says "[EINVAL] Invalid argument"
#   on_exit CMD                   run CMD at exit, before lib.sh cleans up
#   block_dir DIR / unblock_dir DIR   chattr +i / -i (block_dir fails when unsupported)
#   snap_archived_is SNAP VALUE   user.lsnfs.archived of SNAP is VALUE (for wait_for)

lsn20() { printf '%020d' "$1"; }

set_attr() { # PATH SHORT VALUE
	setfattr -n "user.lsnfs.$2" -v "$3" -- "$1"
}

seal() { # LOG
	setfattr -n user.lsnfs.seal -v 1 -- "$1"
}

rand_file() { # FILE BYTES [SEED]
	python3 - "$1" "$2" "${3:-1}" <<'EOF'
import random, sys
path, n, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(seed)
with open(path, "wb") as f:
    left = n
    while left > 0:
        k = min(left, 1 << 20)
        f.write(rnd.randbytes(k))
        left -= k
EOF
}

append_records() { # LOG REF COUNT SIZE [SEED]
	local log=$1 ref=$2 count=$3 size=$4 seed=${5:-$RANDOM} first
	first=$(($(tail_of "$log") + 1))
	python3 - "$log/append" "$ref" "$count" "$size" "$seed" "$first" <<'EOF' ||
import os, random, sys
path, ref, count, size, seed, first = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
rnd = random.Random(seed)
fd = os.open(path, os.O_WRONLY)
with open(ref, "a") as out:
    for i in range(count):
        rec = rnd.randbytes(size)
        n = os.write(fd, rec)
        if n != size:
            sys.exit("short write: %d of %d" % (n, size))
        out.write("%d\t%s\n" % (first + i, rec.hex()))
os.fsync(fd)
os.close(fd)
EOF
		fail "append_records $log: writing $count records of $size bytes failed"
	assert_eq "$(tail_of "$log")" "$((first + count - 1))" "tail_lsn after appending $count records to $log"
}

expected_records() { # REF FIRST
	awk -F '\t' -v first="$2" '$1 >= first' "$1"
}

wait_for() { # SECONDS DESC CMD...
	local secs=$1 desc=$2 i
	shift 2
	for ((i = 0; i < secs * 10; i++)); do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	fail "timed out after $secs s waiting for: $desc"
}

_attr_matches() { # PATH SHORT ERE
	local v
	v=$(lsn_attr "$1" "$2" 2>/dev/null) || return 1
	[[ $v =~ $3 ]]
}

wait_attr() { # PATH SHORT ERE SECONDS
	local i v
	for ((i = 0; i < $4 * 10; i++)); do
		_attr_matches "$1" "$2" "$3" && return 0
		sleep 0.1
	done
	v=$(lsn_attr "$1" "$2" 2>&1) || true
	fail "user.lsnfs.$2 of $1 did not match /$3/ within $4 s (last value: '$v')"
}

log_has() { # ERE [LOGFILE]
	grep -Eq -- "$1" "${2:-$DAEMON_LOG}"
}

assert_log() { # ERE [LOGFILE] [WHAT]
	log_has "$1" "${2:-$DAEMON_LOG}" ||
		fail "${3:-daemon log} has no line matching /$1/ (log: ${2:-$DAEMON_LOG})"
}

assert_log_within() { # SECONDS ERE [LOGFILE] [WHAT]
	local i
	for ((i = 0; i < $1 * 10; i++)); do
		log_has "$2" "${3:-$DAEMON_LOG}" && return 0
		sleep 0.1
	done
	fail "${4:-daemon log} has no line matching /$2/ within $1 s (log: ${3:-$DAEMON_LOG})"
}

first_seg() { seg_names "$1" | sed -n 1p; }
last_seg() { seg_names "$1" | tail -n 1; }

seg_first_lsn() { # NAME (e.g. 00000000000000000005.log) -> 5
	local n=${1%%.*}
	echo $((10#$n))
}

seg_last_lsn() { # LOG NAME -> last LSN recorded in its index file
	local idx
	idx=$1/index/${2%.log}.index
	tail -n 1 -- "$idx" | cut -d' ' -f1
}

segs_state() { # LOG
	local log=$1 f
	for f in "$log"/segments/* "$log"/index/*; do
		[[ -e $f ]] || continue
		printf '%s %s %s\n' "${f#"$log"/}" "$(stat -c %s -- "$f")" \
			"$(md5sum <"$f" | cut -d' ' -f1)"
	done
}

make_copy_archiver() { # SCRIPT DEST
	cat >"$1" <<EOF
#!/bin/sh
# archive_command for tests: \$1 = %p (file with the .snap.zst stream),
# \$2 = %f (<log>/<lsn20>.snap.zst).  Copies it to $2/\$2.
set -e
dest="$2/\$2"
mkdir -p "\$(dirname "\$dest")"
cp "\$1" "\$dest.tmp.\$\$"
mv "\$dest.tmp.\$\$" "\$dest"
exit 0
EOF
	chmod +x "$1"
}

mono_frac() {
	python3 -c 'import time; print(int((time.monotonic() % 1) * 1000))'
}

# rename(2) exactly once (mv interprets some errnos: EINVAL becomes "cannot
# move ... to a subdirectory of itself").  Fails with python's
# "[Errno N] strerror" message on stderr.
do_rename() { # FROM TO
	python3 -c 'import os, sys
try:
    os.rename(sys.argv[1], sys.argv[2])
except OSError as e:
    sys.exit("rename: [%s] %s" % (__import__("errno").errorcode.get(e.errno, e.errno), e.strerror))' "$1" "$2"
}

# Commands to run at exit before lib.sh's _cleanup (e.g. chattr -i).
declare -a _TRIM_EXIT_HOOKS=()
_trim_exit() {
	local rc=$? h
	set +e
	trap - ERR
	for h in "${_TRIM_EXIT_HOOKS[@]}"; do
		eval "$h" >/dev/null 2>&1
	done
	(exit "$rc")
	_cleanup
}
trap _trim_exit EXIT
on_exit() { _TRIM_EXIT_HOOKS+=("$*"); }

# Make a directory immutable (nobody, not even root, can create, rename or
# remove entries in it) / mutable again.  block_dir fails when the
# filesystem does not support it (chattr +i).
block_dir() { # DIR
	chattr +i -- "$1" 2>/dev/null || return 1
	on_exit "chattr -i -- '$1'"
}
unblock_dir() { chattr -i -- "$1"; }

# user.lsnfs.archived of a snapshot file equals VALUE (for wait_for).
snap_archived_is() { # SNAPFILE VALUE
	[[ $(getfattr --absolute-names --only-values -n user.lsnfs.archived -- "$1" 2>/dev/null) == "$2" ]]
}
