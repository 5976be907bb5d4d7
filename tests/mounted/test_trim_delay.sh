#!/usr/bin/env bash
# Exact trim_delay semantics (SPEC section 4): "nothing is trimmed during the
# first trim_delay seconds after mount, and a point becomes usable only once
# it has been safe for trim_delay seconds" - measured with sub-second
# precision, and a hold that lowers the point must not lower the safe trim
# LSN below the hold when the hold's LSN has itself been safe long enough.
#
# The mount and the raise are timed to land late in a second of
# CLOCK_MONOTONIC, so a daemon that counts whole seconds (truncating the
# start time) lets trimming start up to ~0.9 s early and this test sees it.
# All three checks run; the test fails at the end listing every violation.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_trim.sh"

DELAY=3
problems=()
problem() { printf '  ! %s\n' "$*"; problems+=("$*"); }

now() { echo "$EPOCHREALTIME"; }
elapsed_since() { python3 -c 'import sys; print("%.3f" % (float(sys.argv[2]) - float(sys.argv[1])))' "$1" "$(now)"; }
ge() { python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) >= float(sys.argv[2]) else 1)' "$1" "$2"; }
# Wait until CLOCK_MONOTONIC is between LO and HI ms into its second.
align_ms() { # LO HI
	local i f
	for ((i = 0; i < 300; i++)); do
		f=$(mono_frac)
		((f >= $1 && f <= $2)) && return 0
		sleep 0.01
	done
	fail "could not align to the monotonic clock"
}

STORE=$T/store
M=$T/mnt
L=$M/p0
"$MKFS" --segment-size 4096 --node-id delay-node "$STORE" >/dev/null
mount_fs "$STORE" "$M" trim_delay=0
mkdir "$L"
append_records "$L" "$T/ref" 42 1024 61
set_attr "$L" persisted_lsn 18
umount_fs "$M"

note "1. startup protection lasts the full $DELAY s"
align_ms 550 650
t0=$(now)
mount_fs "$STORE" "$M" "trim_delay=$DELAY"
first_ok=""
for ((i = 0; i < 200; i++)); do
	if setfattr -n user.lsnfs.trim -v 4 "$L" 2>/dev/null; then
		first_ok=$(elapsed_since "$t0")
		break
	fi
	sleep 0.02
done
[[ -n $first_ok ]] || fail "trim 4 never allowed within 4 s... of trim_delay $DELAY"
note "first trim allowed $first_ok s after the mount was started"
if ! ge "$first_ok" "$DELAY"; then
	problem "startup protection: trim 4 succeeded $first_ok s after starting the mount, before trim_delay=$DELAY s had passed"
fi
assert_eq "$(lsn_attr "$L" trim_point)" "4" "trim_point after the first allowed trim"

note "2. a raised point settles for the full $DELAY s"
align_ms 820 900
t1=$(now)
set_attr "$L" persisted_lsn 30
v=$(lsn_attr "$L" safe_trim_lsn)
assert_eq "$v" "18" "safe_trim_lsn right after raising persisted to 30"
usable=""
for ((i = 0; i < 250; i++)); do
	if [[ $(lsn_attr "$L" safe_trim_lsn) == 30 ]]; then
		usable=$(elapsed_since "$t1")
		break
	fi
	sleep 0.02
done
[[ -n $usable ]] || fail "point 30 never became usable"
note "point 30 usable $usable s after persisted_lsn was raised"
if ! ge "$usable" "$DELAY"; then
	problem "settling: persisted_lsn 30 became the safe trim LSN $usable s after it was set, before trim_delay=$DELAY s"
fi

note "3. a hold below a settled point: safe_trim_lsn is the hold"
set_attr "$L" persisted_lsn 40
wait_attr "$L" safe_trim_lsn '^40$' 10
sleep 1
set_attr "$L" hold.reader 32
v=$(lsn_attr "$L" safe_trim_lsn)
note "persisted 40 settled, hold at 32: safe_trim_lsn $v, trim_blocked '$(lsn_attr "$L" trim_blocked)'"
if [[ $v != 32 ]]; then
	problem "hold: with persisted 40 safe for > $DELAY s and a hold at 32, safe_trim_lsn is $v, not 32 (LSN 32 has been continuously safe for > $DELAY s)"
	if setfattr -n user.lsnfs.trim -v 32 "$L" 2>/dev/null; then :; else
		problem "hold: setfattr user.lsnfs.trim 32 refused with EPERM although 32 <= hold and <= a settled persisted point"
	fi
fi
setfattr -x user.lsnfs.hold.reader "$L"
umount_fs "$M"

if ((${#problems[@]})); then
	fail "$(printf '%s; ' "${problems[@]}")"
fi
echo "ok"
