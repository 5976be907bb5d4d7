#!/usr/bin/env bash
# Archive identity at mkfs time and `lsnfsctl config` (issue 9, items 1 and
# 4): mkfs.lsnfs --archive refuses a missing directory (never creates it),
# writes the marker into an existing one, adopts a marker that is there;
# `lsnfsctl config STORE` lists and changes the stored settings offline with
# mkfs's validation, is refused while the store is mounted, and a mount
# sees what was set.
source "$(dirname "$0")/lib.sh"

CTL=$BUILD/lsnfsctl
ARCH=$T/archive
MARK=$ARCH/.lsnfs-archive

note "mkfs --archive on a missing directory: refused, nothing created"
assert_errno "$MKFS" --archive "$ARCH" "$T/s1" "archive $ARCH does not exist; lsnfs never creates it"
[[ ! -e $ARCH ]] || fail "mkfs created the archive root $ARCH"
[[ ! -e $T/s1/lsnfs.store ]] || fail "mkfs created a store although the archive was refused"

note "mkfs --archive on an existing directory: the marker is written, its id recorded"
mkdir "$ARCH"
out=$("$MKFS" --segment-size 4096 --node-id cfg-a --archive "$ARCH" "$T/s1")
[[ -f $MARK ]] || fail "no marker at $MARK"
assert_eq "$(head -n 1 "$MARK")" "lsnfs archive format 1" "marker's first line"
ID=$(sed -n 's/^archive_id=//p' "$MARK")
assert_match "$ID" '^[0-9a-f]{32}$' "archive id in the marker"
assert_match "$out" "id $ID" "mkfs output"
assert_eq "$(ls -A "$ARCH")" ".lsnfs-archive" "archive root after mkfs (no temporaries)"
listing=$("$CTL" config "$T/s1")
assert_match "$listing" "^archive=$ARCH\$" "config listing: archive"
assert_match "$listing" "^archive_id=$ID\$" "config listing: archive_id"
assert_match "$listing" "^archive_timeout=300\$" "config listing: default archive_timeout"
assert_match "$listing" "^node_id=cfg-a\$" "config listing: node_id"

note "a second store on the same archive adopts the marker"
before=$(cat "$MARK")
"$MKFS" --segment-size 4096 --node-id cfg-b --archive "$ARCH" "$T/s2" >/dev/null
assert_eq "$(cat "$MARK")" "$before" "marker after a second mkfs"
assert_match "$("$CTL" config "$T/s2")" "^archive_id=$ID\$" "second store's archive_id"

note "a malformed marker is refused and left alone"
mkdir "$T/bad"
echo "not a marker" >"$T/bad/.lsnfs-archive"
assert_errno "$MKFS" --archive "$T/bad" "$T/s3" "not an lsnfs archive marker"
assert_eq "$(cat "$T/bad/.lsnfs-archive")" "not a marker" "malformed marker"

note "lsnfsctl config: set several keys at once, each reported with its old value"
out=$("$CTL" config "$T/s1" trim_delay=7 auto_trim=30 archive_timeout=12 compress_level=5 \
	segment_size=8192 'archive_command=test ! -f /x/%f && cp %p /x/%f' \
	'archive_check_command=test -f /x/%f' node_id=cfg-renamed)
assert_match "$out" "^trim_delay=7 \(was '600'\)\$" "report of trim_delay"
assert_match "$out" "^node_id=cfg-renamed \(was 'cfg-a'\)\$" "report of node_id"
listing=$("$CTL" config "$T/s1")
for kv in trim_delay=7 auto_trim=30 archive_timeout=12 compress_level=5 segment_size=8192 \
	'archive_command=test ! -f /x/%f && cp %p /x/%f' 'archive_check_command=test -f /x/%f' \
	node_id=cfg-renamed "archive=$ARCH" "archive_id=$ID" mode=single; do
	grep -qxF -- "$kv" <<<"$listing" || fail "after config: '$kv' not in: $listing"
done

note "lsnfsctl config refuses what mkfs refuses, and changes nothing then"
assert_errno "$CTL" config "$T/s1" trim_delay=soon "trim_delay must be a number of seconds"
assert_errno "$CTL" config "$T/s1" trim_delay=1 segment_size=12 "segment_size must be a byte count between 4096 and 2"
assert_errno "$CTL" config "$T/s1" archive_timeout=0 "archive_timeout must be a number of seconds >= 1"
assert_errno "$CTL" config "$T/s1" node_id=.x "node_id '.x' must be"
assert_errno "$CTL" config "$T/s1" archive=relative "archive must be an absolute path"
assert_errno "$CTL" config "$T/s1" mode=cluster "'mode' is not a setting lsnfsctl config changes"
assert_errno "$CTL" config "$T/s1" archive_id=00000000000000000000000000000000 \
	"'archive_id' is not a setting"
assert_errno "$CTL" config "$T/s1" trim_delay "expected KEY=VALUE"
assert_errno "$CTL" config "$T/nostore" "not an lsnfs store"
rc=0; "$CTL" config "$T/s1" trim_delay=soon 2>/dev/null || rc=$?
assert_eq "$rc" 2 "exit status for a bad value"
assert_eq "$("$CTL" config "$T/s1")" "$listing" "settings after refused changes"

note "archive=DIR: a missing directory is refused; an existing one gets a marker; none clears"
rc=0; "$CTL" config "$T/s1" archive="$T/gone" 2>/dev/null || rc=$?
assert_eq "$rc" 1 "exit status for a missing archive directory"
[[ ! -e $T/gone ]] || fail "lsnfsctl config created the archive root"
mkdir "$T/arch2"
"$CTL" config "$T/s1" archive="$T/arch2" >/dev/null
ID2=$(sed -n 's/^archive_id=//p' "$T/arch2/.lsnfs-archive")
assert_ne "$ID2" "$ID" "a new archive's id"
assert_match "$("$CTL" config "$T/s1")" "^archive_id=$ID2\$" "archive_id follows archive"
"$CTL" config "$T/s1" archive=none >/dev/null
listing=$("$CTL" config "$T/s1")
grep -qx "archive=" <<<"$listing" || fail "archive=none did not clear archive: $listing"
grep -qx "archive_id=" <<<"$listing" || fail "archive=none did not clear archive_id: $listing"
[[ -f $T/arch2/.lsnfs-archive ]] || fail "archive=none removed the marker"
"$CTL" config "$T/s1" archive="$ARCH" archive_command= archive_check_command= >/dev/null
assert_match "$("$CTL" config "$T/s1")" "^archive_id=$ID\$" "archive_id after re-adopting"

note "mounted: lsnfsctl config is refused (the store's flock); the mount uses the stored settings"
mkdir "$T/m"
mount_fs "$T/s1" "$T/m"
assert_errno "$CTL" config "$T/s1" "is in use"
assert_errno "$CTL" config "$T/s1" trim_delay=1 "is in use"
assert_eq "$(xattr_get "$T/m" user.lsnfs.node_id)" "cfg-renamed" "node_id of the mount"
assert_eq "$(xattr_get "$T/m" user.lsnfs.archive)" "$ARCH" "archive of the mount"
[[ -f $ARCH/.nodes/cfg-renamed ]] || fail "the mount did not register as cfg-renamed in $ARCH/.nodes"
grep -qx "format=2" "$ARCH/.nodes/cfg-renamed" || fail "registration is not format 2: $(cat "$ARCH/.nodes/cfg-renamed")"
umount_fs "$T/m"
assert_match "$("$CTL" config "$T/s1")" "^trim_delay=7\$" "config after unmount"

finish
