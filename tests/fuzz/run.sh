#!/bin/sh
# Runs the libFuzzer targets that `make fuzz` builds (build/fuzz/fuzz_<name>).
#   run.sh SECONDS TARGET...   fuzzes each target for SECONDS from a scratch copy of its seed
#                              corpus tests/fuzz/corpus/<name>/ (so the checked-in corpus
#                              never grows), with tests/fuzz/<name>.dict when there is one
#   run.sh --replay TARGET...  runs every checked-in corpus file, of every target, through
#                              each target once: a regression input is tried everywhere
# Stops at the first crash, leak or UBSan report, printing its report and keeping its input
# in build/fuzz/artifacts/; prints one summary line a target otherwise.
set -eu
cd "$(dirname "$0")/../.."
mode=$1
shift

export ASAN_OPTIONS="detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# Targets that need scratch files make them here, so that a crash leaves none behind.
export TMPDIR="$scratch"
mkdir -p build/fuzz/artifacts build/fuzz/logs

for target in "$@"; do
    name=${target##*/fuzz_}
    log=build/fuzz/logs/$name.log
    if [ "$mode" = --replay ]; then
        set -- tests/fuzz/corpus/*/*
    else
        mkdir "$scratch/$name"
        cp tests/fuzz/corpus/"$name"/* "$scratch/$name/"
        set -- -max_total_time="$mode" -timeout=10 -print_final_stats=1 "$scratch/$name"
        [ -f tests/fuzz/"$name".dict ] && set -- -dict=tests/fuzz/"$name".dict "$@"
    fi
    if ! "$target" -artifact_prefix=build/fuzz/artifacts/"$name"- "$@" >"$log" 2>&1; then
        # The report, without the thousands of lines of progress before it.
        grep -v '^#[0-9]' "$log" | tail -60 >&2
        echo "fuzz: $name failed (whole log: $log; input: build/fuzz/artifacts/$name-*)" >&2
        exit 1
    fi
    if [ "$mode" = --replay ]; then
        echo "fuzz: $name: $# corpus files, no failure"
    else
        # From libFuzzer's last line: "#runs<TAB>DONE cov: .. ft: .. corp: .. lim: .. exec/s: .."
        echo "fuzz: $name: $(sed -n 's/^#\([0-9]*\)[[:space:]]*DONE *\(.*\) lim: [0-9]* \(exec\/s: [0-9]*\).*/\1 runs, \2, \3/p' "$log")"
    fi
done
