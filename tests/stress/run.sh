#!/usr/bin/env bash
# tests/stress/run.sh short|full - the reliability campaign.
#
#   short (make test): the verifier's self-test, 50 kill -9 cycles, a few
#                      power cuts, a short damaged-store series, the archive
#                      monitor's self-test and 6 archive-fault rounds.
#   full (make stress): 1,000 kill -9 cycles, 200 power cuts, the full
#                      damaged-store series, 60 archive-fault rounds; prints
#                      the totals.
#
# Each part prints its totals ("campaign: cycles N records-verified N ...",
# "damage: N trials ...", "archive-faults: rounds N ..."); a summary at the
# end repeats them under each part with its time.  BUILD must name
# the absolute build directory.  SEED fixes the random choices (printed by
# each part, so a failure can be replayed).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${BUILD:?BUILD must be set}"
mode=${1:-short}
seed=()
[[ -n ${SEED:-} ]] && seed=(--seed "$SEED")
py=/usr/bin/python3
[[ -x $py ]] || py=python3

case $mode in
short) cycles=50; cuts=5; trials=15; rounds=6 ;;
full) cycles=${STRESS_CYCLES:-1000}; cuts=${STRESS_POWER_CUTS:-200}; trials=${STRESS_DAMAGE:-200}
      rounds=${STRESS_ARCHIVE_ROUNDS:-60} ;;
*) echo "usage: $0 short|full" >&2; exit 2 ;;
esac

# part TITLE CMD...: run one part; keep its totals lines and its time for
# the summary at the end.
out=$(mktemp -t lsnfs-stress-out.XXXXXX)
summary=$(mktemp -t lsnfs-stress-sum.XXXXXX)
trap 'rm -f "$out" "$summary"' EXIT
part() {
	local title=$1 t0=$SECONDS
	shift
	echo "== $title"
	"$@" | tee "$out"
	{
		echo "$title: $((SECONDS - t0)) s"
		grep -E '^(campaign: (seed|cycles|unacknowledged)|damage: |archive-faults: (seed|rounds|trims resumed)|selftest: ok)' \
			"$out" | sed 's/^/    /' || true
	} >>"$summary"
}

start=$SECONDS
part "verifier self-test" "$py" "$here/campaign.py" --build "$BUILD" --selftest "${seed[@]}"
part "kill -9 campaign ($cycles cycles)" "$py" "$here/campaign.py" --build "$BUILD" --cycles "$cycles" "${seed[@]}"
part "power-loss filesystem self-test" "$py" "$here/../powerloss/selftest.py" "$BUILD/tests/plfs"
part "power-cut campaign ($cuts cuts)" \
	"$py" "$here/campaign.py" --build "$BUILD" --cycles "$cuts" --powerloss "$BUILD/tests/plfs" "${seed[@]}"
part "damaged-store series ($trials trials)" "$py" "$here/damage.py" --build "$BUILD" --trials "$trials" "${seed[@]}"
part "archive monitor self-test" "$py" "$here/archive_faults.py" --build "$BUILD" --selftest "${seed[@]}"
part "archive faults ($rounds rounds)" "$py" "$here/archive_faults.py" --build "$BUILD" --rounds "$rounds" "${seed[@]}"

echo "== totals ($mode)"
cat "$summary"
echo "stress $mode: done in $((SECONDS - start)) s"
