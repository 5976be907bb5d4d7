#!/usr/bin/env bash
# make install / make uninstall (PREFIX, DESTDIR): the programs, the mount
# helper and its fuse.lsnfs link, the man pages and the systemd unit land
# where they should and work from there (mkfs, mount through the installed
# mount.lsnfs, lsnfsctl status, umount); uninstall removes every file.
# The man pages pass `groff -ww -z -man` silently, render with `man -l`, and
# document every mount option and xattr of the SPEC.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_ops.sh"

command -v make >/dev/null || fail "make is needed"

D=$T/dest
PREFIX=/opt/lsnfs-test
SB=$D$PREFIX/sbin
MAN8=$D$PREFIX/share/man/man8
UNIT=$D$PREFIX/lib/systemd/system/lsnfs@.service
PAGES=(lsnfs.8 mkfs.lsnfs.8 mount.lsnfs.8 lsnfsctl.8)

note "make install PREFIX=$PREFIX DESTDIR=..."
ops_make DESTDIR="$D" PREFIX="$PREFIX" install >"$T/install.log" 2>&1 ||
	fail "make install failed: $(tail -n 5 "$T/install.log")"
for p in lsnfs mkfs.lsnfs lsnfsctl mount.lsnfs; do
	[[ -f $SB/$p && -x $SB/$p ]] || fail "$SB/$p not installed as an executable file"
done
assert_eq "$(readlink "$SB/mount.fuse.lsnfs")" "mount.lsnfs" "mount.fuse.lsnfs link"
for p in lsnfs mkfs.lsnfs lsnfsctl; do
	cmp -s "$SB/$p" "$BUILD/$p" || fail "$SB/$p differs from $BUILD/$p"
done
for m in "${PAGES[@]}"; do
	assert_file_eq "$MAN8/$m" "$ROOT/mount-helpers/man/$m" "installed $m"
	assert_eq "$(stat -c %a "$MAN8/$m")" "644" "mode of $m"
done
[[ -f $UNIT ]] || fail "$UNIT not installed"
! grep -q '@SBINDIR@' "$UNIT" || fail "@SBINDIR@ left in $UNIT"
grep -qx "ExecStart=$PREFIX/sbin/mount.lsnfs \${LSNFS_STORE} %f -o \${LSNFS_OPTIONS}" "$UNIT" ||
	fail "ExecStart of $UNIT does not run $PREFIX/sbin/mount.lsnfs: $(grep ExecStart "$UNIT")"
if ldd "$SB/lsnfsctl" | grep -q fuse; then
	fail "lsnfsctl links FUSE: $(ldd "$SB/lsnfsctl" | grep fuse)"
fi

note "every installed program answers --help on stdout with exit 0"
for p in lsnfs mkfs.lsnfs lsnfsctl mount.lsnfs; do
	out=$("$SB/$p" --help) || fail "$p --help: exit $?"
	grep -q "usage: $p" <<<"$out" || fail "$p --help: no usage: $out"
done

note "the installed programs work: mkfs, mount via mount.lsnfs, lsnfsctl status, umount"
mkdir -p "$T/mnt"
track_mount "$T/mnt"
"$SB/mkfs.lsnfs" --node-id installed "$T/store" >/dev/null
"$SB/mount.lsnfs" "$T/store" "$T/mnt" -o defaults,_netdev,nofail
wait_mounted "$T/mnt" || fail "$T/mnt not mounted by the installed mount.lsnfs"
pid=$(daemon_of "$T/mnt") || fail "no daemon serves $T/mnt"
assert_eq "$(readlink "/proc/$pid/exe")" "$SB/lsnfs" "daemon run by the installed helper"
mkdir "$T/mnt/p0"
printf 'one\ntwo\n' >"$T/mnt/p0/append.lines"
out=$("$SB/lsnfsctl" status "$T/mnt")
grep -q '^mode single, node installed$' <<<"$out" || fail "lsnfsctl status: $out"
grep -Eq '^p0 +1 +2 ' <<<"$out" || fail "lsnfsctl status row of p0: $out"
umount_clean "$T/mnt"
mount_fs "$T/store" "$T/mnt"
assert_eq "$(cat "$T/mnt"/p0/segments/*.log)" $'one\ntwo' "records after umount and remount"
umount_fs "$T/mnt"

if command -v systemd-analyze >/dev/null 2>&1; then
	note "systemd-analyze verify lsnfs@srv-logs.service"
	mkdir -p "$T/units"
	sed "s|$PREFIX/sbin|$SB|g" "$UNIT" >"$T/units/lsnfs@.service"
	cp "$ROOT/mount-helpers/srv-logs.mount" "$T/units/srv-logs.mount"
	if ! out=$(cd "$T/units" && systemd-analyze verify --man=no ./lsnfs@srv-logs.service ./srv-logs.mount 2>&1); then
		fail "systemd-analyze verify: $out"
	fi
	if grep -E 'lsnfs@|srv-logs' <<<"$out"; then
		fail "systemd-analyze verify complains about the units: $out"
	fi
else
	note "(systemd-analyze not installed: unit files not verified)"
fi

note "make uninstall removes every installed file"
ops_make DESTDIR="$D" PREFIX="$PREFIX" uninstall >"$T/uninstall.log" 2>&1 ||
	fail "make uninstall failed: $(tail -n 5 "$T/uninstall.log")"
left=$(find "$D" ! -type d)
assert_eq "$left" "" "files left after make uninstall"

note "man pages: groff -ww -z -man prints nothing; man -l renders them"
if ! need_man_tools; then
	echo "SKIP: man page lint: groff and man are not installed and apt-get install groff-base man-db failed"
	echo "ok"
	exit 0
fi
for m in "${PAGES[@]}"; do
	f=$ROOT/mount-helpers/man/$m
	out=$(groff -ww -z -man "$f" 2>&1) || fail "groff -ww -z -man $m failed: $out"
	assert_eq "$out" "" "groff -ww -z -man $m"
	out=$(MANWIDTH=80 man -l "$f" 2>&1 | col -bx) || fail "man -l $m failed: $out"
	name=${m%.8}
	grep -q "^${name^^}(8)" <<<"$out" || fail "man -l $m: no ${name^^}(8) header"
	for section in NAME SYNOPSIS DESCRIPTION "SEE ALSO"; do
		grep -q "^$section" <<<"$out" || fail "man -l $m: no $section section"
	done
	if grep -Eq 'warning|error' <<<"$(man -l "$f" 2>&1 >/dev/null)"; then
		fail "man -l $m warns: $(man -l "$f" 2>&1 >/dev/null)"
	fi
done

note "lsnfs(8) documents every mount option and xattr of the SPEC, errors and signals"
page=$(MANWIDTH=200 man -l "$ROOT/mount-helpers/man/lsnfs.8" 2>/dev/null | col -bx)
for opt in archive= archive_command= segment_size= sync=always auto_trim= trim_delay= compress_level= \
	allow_other default_permissions; do
	grep -q -- "$opt" <<<"$page" || fail "lsnfs(8) does not mention $opt"
done
for x in first_lsn tail_lsn trim_point persisted_lsn archived_lsn safe_trim_lsn trim_strategy \
	trim_blocked hold. user.lsnfs.trim user.lsnfs.seal user.lsnfs.mode user.lsnfs.archive \
	user.lsnfs.node_id user.lsnfs.archived; do
	grep -q -- "$x" <<<"$page" || fail "lsnfs(8) does not document $x"
done
for s in ERRORS SIGNALS "EXIT STATUS" SIGTERM SIGKILL EPERM EINVAL EFBIG ENOTEMPTY ENODATA ENOTSUP \
	"lsnfs@.service" "systemd-escape"; do
	grep -q -- "$s" <<<"$page" || fail "lsnfs(8) does not mention $s"
done

note "lsnfsctl(8): every command, exit codes, every JSON member"
page=$(MANWIDTH=200 man -l "$ROOT/mount-helpers/man/lsnfsctl.8" 2>/dev/null | col -bx)
for s in "status mountpoint" "trim mountpoint/log" "snapshot mountpoint/log" "hold mountpoint/log" \
	"persisted mountpoint/log" "seal mountpoint/log" "mode mountpoint" "--archived" "--timeout" \
	"--remove" "--json" "EXIT STATUS" "JSON FORMAT" '"mode"' '"node_id"' '"archive"' '"logs"' \
	'"name"' '"first_lsn"' '"tail_lsn"' '"trim_point"' '"persisted_lsn"' '"archived_lsn"' \
	'"safe_trim_lsn"' '"strategy"' '"blocked"'; do
	grep -q -- "$s" <<<"$page" || fail "lsnfsctl(8) does not mention $s"
done

note "mount.lsnfs(8): fstab examples with _netdev and nofail; mkfs.lsnfs(8): every option"
page=$(MANWIDTH=200 man -l "$ROOT/mount-helpers/man/mount.lsnfs.8" 2>/dev/null | col -bx)
grep -Eq '^ +/[^ ]+ +/[^ ]+ +lsnfs +defaults,_netdev +0 0$' <<<"$page" || fail "mount.lsnfs(8): no fstab line"
grep -q 'nofail' <<<"$page" || fail "mount.lsnfs(8): nofail not documented"
grep -q 'fuse.lsnfs' <<<"$page" || fail "mount.lsnfs(8): fuse.lsnfs not documented"
page=$(MANWIDTH=200 man -l "$ROOT/mount-helpers/man/mkfs.lsnfs.8" 2>/dev/null | col -bx)
for s in --mode --archive --segment-size --node-id; do
	grep -q -- "$s" <<<"$page" || fail "mkfs.lsnfs(8) does not document $s"
done

echo "ok"
