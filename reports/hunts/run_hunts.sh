#!/bin/sh
# Regenerate the hunt outcomes in this folder (run from the repository root):
#   sh reports/hunts/run_hunts.sh [all | conjectures | proved | followup | THEOREM_ID ...]
# Each hunt writes its counterexamples, the ERROR and margin-0 instances it kept, hunt.log and
# summary.json into reports/hunts/<THEOREM> (conjectures) or reports/hunts/proved/<THEOREM>.
# The Hypothesis databases (.hypothesis/) are caches and are not committed.  Hunts are seeded,
# but a rerun need not draw the same instances: two workers share one corpus, and the draws
# were seen to change with the set of imported modules.
set -u

PROVED="M C H1 H2 L1 L2 P1 P2 P3 Q1 Q2 D E"

hunt() {
    folder=$1; theorem=$2; budget=$3; shift 3
    mkdir -p "$folder"
    dmfverify hunt "$theorem" --budget "$budget" --workers 2 --seed 0 --corpus "$folder" \
        --json "$folder/summary.json" "$@" > "$folder/hunt.log" 2>&1
}

one() {
    case "$1" in
        ER|H3) hunt "reports/hunts/$1" "$1" 20000 ;;
        ER-rising)
            # ER where it is meant to apply: noiseless, every eigenvalue positive and rising from alpha^N below it.
            hunt reports/hunts/ER-rising ER 5000 --steer noise=none --steer alpha_ceiling=below_all \
                --steer spectrum_kinds=geometric,polynomial,clustered,repeated,near_degenerate,ill_conditioned ;;
        *) hunt "reports/hunts/proved/$1" "$1" 2000 --check-timeout 20 ;;
    esac
}

[ $# -eq 0 ] && set -- all
for target in "$@"; do
    case "$target" in
        all) for name in ER H3 $PROVED ER-rising; do one "$name"; done ;;
        conjectures) one ER; one H3 ;;
        proved) for name in $PROVED; do one "$name"; done ;;
        followup) one ER-rising ;;
        *) one "$target" ;;
    esac
done
