#!/usr/bin/env bash
# The security model (README, "Reliability"): default_permissions is always
# on, so the kernel decides every access by the modes getattr shows.  Every
# file belongs to the user who mounted; changing data or trim state (append,
# mkdir/rmdir of a log, persisted_lsn, holds, trim, seal, mode, publishing or
# removing a snapshot, rm of a segment) needs write permission on the log
# directory, its snapshots/ or segments/, or the root, which only that user
# has.  With allow_other, another user reads what the modes allow (listings,
# segments, index files, snapshots, the read-only xattrs) and changes
# nothing; without allow_other, another user cannot enter the mount at all.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_trim.sh"

OTHER=lsnfs-other
[[ $(id -u) == 0 ]] || fail "this test runs as root (it mounts and switches to $OTHER)"
if ! id -u "$OTHER" >/dev/null 2>&1; then
	if useradd --system --no-create-home --shell /usr/sbin/nologin "$OTHER" 2>/dev/null; then
		on_exit userdel "$OTHER" # leave the machine as it was
	fi
	id -u "$OTHER" >/dev/null || fail "cannot create the user $OTHER"
fi
chmod 755 "$T" # the other user must reach the mount point
as_other() { runuser -u "$OTHER" -- "$@"; }

"$MKFS" --segment-size 4096 --node-id perm-node "$T/store" >/dev/null
M=$T/mnt
mount_fs "$T/store" "$M" allow_other trim_delay=0
L=$M/p
S=$L/snapshots

note "default_permissions is on without being asked for"
opts=$(awk -v m="$M" '$2 == m { print $4 }' /proc/mounts)
assert_match "$opts" "(^|,)default_permissions(,|$)" "mount options of $M"
assert_match "$opts" "(^|,)allow_other(,|$)" "mount options of $M"

note "the owner (root) builds state: 10 records, persisted 6, a hold, a snapshot, a staging file"
mkdir "$L"
append_records "$L" "$T/ref" 10 1000 3
set_attr "$L" persisted_lsn 6
set_attr "$L" hold.root 8
printf 'state at 5' >"$T/state5"
cp "$T/state5" "$S/.root-stage"
mv "$S/.root-stage" "$S/$(lsn20 5).snap"
printf 'staged by root' >"$S/.root-stage"
SEG1=$L/segments/$(first_seg "$L")
assert_eq "$(seg_names "$L" | wc -l)" "3" "segments before the other user's attempts"

note "modes: directories 0755, append files 0600, segments/index/snapshots 0444, all the owner's"
assert_eq "$(stat -c '%a %U' "$M" "$L" "$S" "$L/segments" "$L/index" | sort -u)" "755 root" "directories"
assert_eq "$(stat -c '%a %U' "$L/append" "$L/append.lines" | sort -u)" "600 root" "append files"
assert_eq "$(stat -c '%a %U' "$SEG1" "$L/index/"* "$S/$(lsn20 5).snap" | sort -u)" "444 root" \
	"segments, index files, snapshots"

# Everything an attempt could change, as the owner sees it.
state() {
	python3 - "$M" "$L" <<'EOF'
import hashlib, os, sys
m, log = sys.argv[1], sys.argv[2]
for d in (m, log, log + "/snapshots", log + "/segments", log + "/index"):
    print(d, sorted(os.listdir(d)))
    for f in sorted(os.listdir(d)) if d != m and d != log else []:
        p = os.path.join(d, f)
        print(f, os.stat(p).st_size, oct(os.stat(p).st_mode),
              hashlib.md5(open(p, "rb").read()).hexdigest())
for p in (m, log):
    for name in sorted(os.listxattr(p)):
        if not name.endswith(("safe_trim_lsn", "trim_blocked")):
            print(p, name, os.getxattr(p, name))
EOF
}
BEFORE=$(state)

# denied CMD...: as the other user CMD fails with EACCES and changes nothing.
denied() {
	assert_errno as_other "$@" "Permission denied"
	assert_eq "$(state)" "$BEFORE" "state after the other user's '$*'"
}

note "with allow_other, another user cannot append or create/remove logs"
denied sh -c 'printf x >>"$1"' sh "$L/append"
denied sh -c 'printf "x\n" >"$1"' sh "$L/append.lines"
denied python3 -c 'import os,sys; os.open(sys.argv[1], os.O_WRONLY|os.O_APPEND)' "$L/append"
denied mkdir "$M/q"
denied rmdir "$L"

note "... nor change persisted_lsn, holds, trim, seal or the mode"
denied setfattr -n user.lsnfs.persisted_lsn -v 9 "$L"
denied setfattr -n user.lsnfs.hold.other -v 1 "$L"
denied setfattr -n user.lsnfs.hold.root -v 1 "$L"
denied setfattr -x user.lsnfs.hold.root "$L"
denied setfattr -n user.lsnfs.trim -v safe "$L"
denied setfattr -n user.lsnfs.trim -v 5 "$L"
denied setfattr -n user.lsnfs.seal -v 1 "$L"
denied setfattr -n user.lsnfs.mode -v single "$M"
denied setfattr -n user.lsnfs.mode -v cluster "$M"
denied rm -f "$SEG1"

note "... nor publish, finish or delete a snapshot"
printf 'fake' >"$T/fake"
chmod 644 "$T/fake"
denied cp "$T/fake" "$S/.fake"
denied mv "$S/.root-stage" "$S/$(lsn20 9).snap"
denied sh -c 'printf x >>"$1"' sh "$S/.root-stage"
denied rm -f "$S/.root-stage"
denied rm -f "$S/$(lsn20 5).snap"

note "... but reads what the modes allow: listings, segments, index files, snapshots, xattrs"
assert_eq "$(as_other ls "$M")" "p" "the other user's ls of the root"
assert_eq "$(as_other ls "$L/segments" | tr '\n' ' ')" "$(seg_names "$L" | tr '\n' ' ')" "the other user's ls of segments/"
for f in "$L"/segments/* "$L"/index/* "$S/$(lsn20 5).snap"; do
	as_other cat "$f" >"$T/read-by-other" || fail "the other user cannot read $f"
	assert_file_eq "$T/read-by-other" "$f" "$f read by the other user"
done
assert_eq "$(as_other getfattr --absolute-names --only-values -n user.lsnfs.tail_lsn "$L")" "10" \
	"tail_lsn read by the other user"
assert_eq "$(as_other getfattr --absolute-names --only-values -n user.lsnfs.hold.root "$L")" "8" \
	"a hold read by the other user"
assert_eq "$(as_other getfattr --absolute-names --only-values -n user.lsnfs.mode "$M")" "single" \
	"mode read by the other user"
denied cat "$L/append"

note "the owner can do what the other user could not (the refusals were about permissions)"
printf 'by-root' >>"$L/append"
assert_eq "$(tail_of "$L")" "11" "tail after the owner's append"
mv "$S/.root-stage" "$S/$(lsn20 9).snap"
rm "$S/$(lsn20 9).snap"
set_attr "$L" trim safe
assert_ne "$(first_seg "$L")" "$(basename "$SEG1")" "first segment after the owner's trim"
assert_eq "$(lsn_attr "$L" trim_point)" "5" "trim point after the owner's trim"
set_attr "$M" mode single
set_attr "$L" hold.root 9
set_attr "$L" persisted_lsn 7
mkdir "$M/q"
rmdir "$M/q"
umount_fs "$M"

note "without allow_other (default_permissions given explicitly too): no access at all for others"
mount_fs "$T/store" "$M" default_permissions
opts=$(awk -v m="$M" '$2 == m { print $4 }' /proc/mounts)
assert_match "$opts" "(^|,)default_permissions(,|$)" "mount options of $M"
[[ $opts != *allow_other* ]] || fail "allow_other in the mount options: $opts"
BEFORE=$(state)
denied stat "$M"
denied ls "$L"
denied cat "$L/segments/$(first_seg "$L")"
denied getfattr -n user.lsnfs.tail_lsn "$L"
denied setfattr -n user.lsnfs.trim -v safe "$L"
denied sh -c 'printf x >>"$1"' sh "$L/append"
assert_eq "$(tail_of "$L")" "11" "the owner still reads the log"
umount_fs "$M"

finish
