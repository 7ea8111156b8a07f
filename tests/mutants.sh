#!/usr/bin/env bash
# make check-mutants: does `make check` catch real bugs? Each mutant is one deliberate bug
# applied to a scratch copy of the tree (the files git tracks, plus what is not committed
# yet); `make check` must then fail, and this script names the suite that caught it. A
# mutant whose edit no longer applies (the code moved) fails too: update its pattern.
# Takes minutes (each mutant builds from scratch); not part of make check; .ci/run runs it.
# Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD
WORK=$(mktemp -d /tmp/kt-mutants-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
passed=0 failed=0

# copy_tree DIR: the files git tracks and those not committed yet, without build products
# or .git.
copy_tree() {
    rm -rf "$1" && mkdir -p "$1"
    git ls-files -co --exclude-standard -z | xargs -0 tar -cf - 2>/dev/null | tar -xf - -C "$1"
}

# A mutant caught by a tree that fails anyway proves nothing: the unmutated copy must pass.
copy_tree "$WORK/tree"
if make -C "$WORK/tree" -s check >"$WORK/log" 2>&1; then
    echo "ok - the unmutated tree passes make check"
    passed=$((passed + 1))
else
    echo "FAIL - the unmutated tree fails make check: no mutant can be judged"
    tail -n 5 "$WORK/log" | sed 's/^/#   /'
    echo "$passed passed, 1 failed"
    exit 1
fi

# The mutants: name | file | sed expression (extended regex). Each edit must change the file.
MUTANTS=(
    "/count counts twice|fcgi-app/pages.c|s/: storeIncr\(c->store, KEY_VISITS, &visits\);/: (storeIncr(c->store, KEY_VISITS, \&visits), storeIncr(c->store, KEY_VISITS, \&visits));/"
    "HTML escaping removed|fcgi-app/template.c|s/if \(set\) bufAppendHtml\(out, v, strlen\(v\)\);/if (set) bufAppendStr(out, v);/"
    "a leak per request|fcgi-app/worker.c|s/^(static void serve\(worker \*w\) \{)$/\1\n    { char *volatile leak = malloc(64); (void)leak; }/"
    "unknown paths answered 200|fcgi-app/routes.c|s/pageError\(c, 404, NULL\);/pageError(c, 200, NULL);/"
    "the Redis command timeout ignored|fcgi-app/store.c|s/if \(redisSetTimeout\(p->ctx, p->timeout\) != REDIS_OK \|\|/if (0 ||/"
    "a page view counted twice|fcgi-app/routes.c|s/^( +)(trackerView\(c->tracker, c->thread, c->req, r->path, clockNow\(\)\);)$/\1{ \2 \2 }/"
)

for m in "${MUTANTS[@]}"; do
    IFS='|' read -r name file expr <<<"$m"
    dir=$WORK/tree
    copy_tree "$dir"
    cp -p "$dir/$file" "$WORK/original"
    sed -E -i "$expr" "$dir/$file"
    if cmp -s "$dir/$file" "$WORK/original"; then
        echo "FAIL - $name: the mutation no longer applies to $file (update tests/mutants.sh)"
        failed=$((failed + 1)); continue
    fi
    echo "# $name: $file mutated; running make check"
    t0=$SECONDS
    CHECK_FAIL_FAST=1 make -C "$dir" -s check >"$WORK/log" 2>&1
    rc=$?
    # A mutant that does not build proves nothing about the tests: fix its edit.
    if grep -q '^--- the .* build failed' "$WORK/log"; then
        echo "FAIL - $name: the mutated tree does not build (update tests/mutants.sh)"
        grep -m 3 'error' "$WORK/log" | sed 's/^/#   /'
        failed=$((failed + 1)); continue
    fi
    # The suite that caught it: the title of the last suite started before the first failure.
    caught=$(awk '/^=== /{title=substr($0, 5); sub(/: .*/, "", title)} /^(FAIL - |--- )/{print title; exit}' "$WORK/log")
    if [ "$rc" != 0 ] && [ -n "$caught" ]; then
        echo "ok - $name: caught by $caught ($((SECONDS - t0)) s)"
        passed=$((passed + 1))
    else
        echo "FAIL - $name: make check passed (exit $rc) with this bug in $file"
        tail -n 5 "$WORK/log" | sed 's/^/#   /'
        failed=$((failed + 1))
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
