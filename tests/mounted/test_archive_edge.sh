#!/usr/bin/env bash
# Archive format edge cases (SPEC section 3): every archived copy is a
# valid zstd stream that `zstd -dc` turns back into the snapshot - also for
# an empty snapshot and at the 1 MiB chunk boundaries; archive_command gets
# %p, %f and a literal %% expanded; another node reads each of them back.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_trim.sh"

problems=()
problem() { printf '  ! %s\n' "$*"; problems+=("$*"); }

ARCH=$T/archive
DEST=$T/dest
mkdir "$ARCH" "$DEST"
cat >"$T/cmd.sh" <<EOF
#!/bin/sh
# \$1 = %p, \$2 = %f, \$3 = literal "100%"
printf '%s\n' "\$2 \$3" >> "$T/cmd.calls"
mkdir -p "\$(dirname "$DEST/\$2")"
cp "\$1" "$DEST/\$2"
EOF
chmod +x "$T/cmd.sh"
"$MKFS" --segment-size 4096 --node-id edge-a --archive "$ARCH" "$T/storeA" >/dev/null
"$MKFS" --segment-size 4096 --node-id edge-b "$T/storeB" >/dev/null
A=$T/mntA
B=$T/mntB
# Both an archive directory (from mkfs) and an archive_command.
mount_fs "$T/storeA" "$A" "archive_command=$T/cmd.sh %p %f 100%%" trim_delay=0
mkdir "$A/e-1.x"
L=$A/e-1.x
append_records "$L" "$T/ref" 40 1024 95

MiB=1048576
declare -A SIZE=([10]=0 [11]=1 [12]=$((MiB - 1)) [13]=$MiB [14]=$((MiB + 1)) [15]=$((2 * MiB)) [16]=$((2 * MiB + 3)))
for lsn in "${!SIZE[@]}"; do
	rand_file "$T/s$lsn" "${SIZE[$lsn]}" "$lsn"
	cp "$T/s$lsn" "$L/snapshots/.in$lsn"
	mv "$L/snapshots/.in$lsn" "$L/snapshots/$(lsn20 "$lsn").snap"
done
note "snapshots of 0, 1, 1 MiB - 1, 1 MiB, 1 MiB + 1, 2 MiB, 2 MiB + 3 bytes committed"
for lsn in "${!SIZE[@]}"; do
	assert_eq "$(stat -c %s "$L/snapshots/$(lsn20 "$lsn").snap")" "${SIZE[$lsn]}" "size of snapshot $lsn"
	assert_file_eq "$L/snapshots/$(lsn20 "$lsn").snap" "$T/s$lsn" "snapshot $lsn read back"
done
wait_attr "$L" archived_lsn '^16$' 10
for lsn in "${!SIZE[@]}"; do
	wait_for 10 "snapshot $lsn archived" snap_archived_is "$L/snapshots/$(lsn20 "$lsn").snap" yes
done

note "each archived copy (directory and command) decompresses to the snapshot"
for lsn in $(printf '%s\n' "${!SIZE[@]}" | sort -n); do
	for f in "$ARCH/e-1.x/$(lsn20 "$lsn").snap.zst" "$DEST/e-1.x/$(lsn20 "$lsn").snap.zst"; do
		if [[ ! -f $f ]]; then
			problem "snapshot $lsn (${SIZE[$lsn]} bytes): no archived copy $f"
		elif ! zstd -q -dc "$f" >"$T/out" 2>"$T/err"; then
			problem "snapshot $lsn (${SIZE[$lsn]} bytes): zstd -dc $f fails: $(tr '\n' ' ' <"$T/err")(file is $(stat -c %s "$f") bytes)"
		elif ! cmp -s "$T/out" "$T/s$lsn"; then
			problem "snapshot $lsn (${SIZE[$lsn]} bytes): zstd -dc $f differs from the snapshot"
		fi
	done
done
note "archive_command got %f and a literal %%"
grep -qx "e-1.x/$(lsn20 10).snap.zst 100%" "$T/cmd.calls" ||
	problem "archive_command arguments: $(head -n 3 "$T/cmd.calls" | tr '\n' '|') (expected 'e-1.x/$(lsn20 10).snap.zst 100%')"

note "another node reads every one of them through the archive"
mount_fs "$T/storeB" "$B" "archive=$ARCH" trim_delay=0
mkdir "$B/e-1.x"
wait_for 10 "B to list A's snapshots" test -e "$B/e-1.x/snapshots/$(lsn20 16).snap"
for lsn in $(printf '%s\n' "${!SIZE[@]}" | sort -n); do
	f=$B/e-1.x/snapshots/$(lsn20 "$lsn").snap
	if [[ ! -e $f ]]; then
		problem "B does not list snapshot $lsn (${SIZE[$lsn]} bytes): $(ls "$B/e-1.x/snapshots" | tr '\n' ' ')"
	elif ! cmp -s "$f" "$T/s$lsn" 2>/dev/null; then
		problem "B reads snapshot $lsn (${SIZE[$lsn]} bytes) differently: size $(stat -c %s "$f" 2>&1)"
	fi
done
umount_fs "$B"
umount_fs "$A"
if ((${#problems[@]})); then
	fail "$(printf '%s; ' "${problems[@]}")"
fi
echo "ok"
