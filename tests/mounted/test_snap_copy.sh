#!/usr/bin/env bash
# cp -a, rsync -a and install write into snapshots/ like into any directory:
# staging files take the copied content, mode and modification time; rsync
# -a of a <lsn>.snap name commits the snapshot through its temporary file
# and rename; a staging file written by cp -a commits by mv; a committed
# snapshot stays immutable (chmod/touch refused).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

command -v rsync >/dev/null || { apt-get install -y -qq rsync >/dev/null 2>&1 || true; }
command -v rsync >/dev/null || fail "rsync is needed (Debian package rsync) and could not be installed"

"$MKFS" "$T/s" >/dev/null
M=$T/m
mount_fs "$T/s" "$M"
mkdir "$M/p"
seq 1 20 >"$M/p/append.lines"
S=$M/p/snapshots

head -c 70000 /dev/urandom >"$T/src"
chmod 640 "$T/src"
touch -d '2020-01-02 03:04:05.25' "$T/src"
want_time=$(stat -c %Y "$T/src")

check_copy() { # NAME MODE WHAT [check mtime]
	[[ -f $S/$1 ]] || fail "$3: $S/$1 missing: $(ls -la "$S")"
	assert_file_eq "$S/$1" "$T/src" "$3: content"
	assert_eq "$(stat -c %a "$S/$1")" "$2" "$3: mode"
	if [[ ${4:-} == mtime ]]; then
		assert_eq "$(stat -c %Y "$S/$1")" "$want_time" "$3: mtime"
	fi
}

note "cp -a: content, mode and mtime"
cp -a "$T/src" "$S/by-cp"
check_copy by-cp 640 "cp -a" mtime
note "cp -p onto an existing staging file"
cp -p "$T/src" "$S/by-cp"
check_copy by-cp 640 "cp -p over it" mtime

note "rsync -a (temporary file, attributes, rename)"
rsync -a "$T/src" "$S/by-rsync"
check_copy by-rsync 640 "rsync -a" mtime
assert_eq "$(ls -A "$S" | grep -c '^\.')" "0" "rsync left no temporary file"
note "rsync -a again (unchanged, then changed content)"
rsync -a "$T/src" "$S/by-rsync"
check_copy by-rsync 640 "rsync -a unchanged"
cp -p "$T/src" "$T/src0"
head -c 100 /dev/urandom >>"$T/src"
touch -d '2020-01-02 03:04:05.25' "$T/src"
rsync -a "$T/src" "$S/by-rsync"
check_copy by-rsync 640 "rsync -a changed" mtime

note "install -m 600 and install -p -m 644"
install -m 600 "$T/src" "$S/by-install"
check_copy by-install 600 "install -m 600"
install -p -m 644 "$T/src" "$S/by-install-p"
check_copy by-install-p 644 "install -p" mtime

note "rsync -a to a <lsn>.snap name commits the snapshot"
name=$(printf '%020d.snap' 20)
rsync -a "$T/src" "$S/$name"
assert_file_eq "$S/$name" "$T/src" "committed by rsync"
assert_eq "$(stat -c %a "$S/$name")" "444" "a committed snapshot is read only"
assert_match "$(cat "$DAEMON_LOG")" "snapshot 20 committed" "the daemon's log"

note "a staging file from cp -a commits by mv; committed snapshots stay immutable"
name=$(printf '%020d.snap' 10)
mv "$S/by-cp" "$S/$name"
assert_file_eq "$S/$name" "$T/src0" "committed by mv"
assert_errno chmod 600 "$S/$name" "Operation not permitted"
assert_errno touch -d '2001-01-01' "$S/$name" "Operation not permitted"
umount_fs "$M"
finish
