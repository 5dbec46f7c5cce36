#!/usr/bin/env bash
# Runs every fuzz target of the module for FUZZTIME each (default 60s), one at a time: go test's -fuzz takes one
# target per package per invocation. Targets are found by grepping for `func FuzzXxx(` in *_test.go, so a new one
# is included without editing anything. Seed corpora live in each package's testdata/fuzz/<Target>/; a crash is
# written there by go test (commit it once fixed: it becomes a regression case run by every plain `go test`).
#
#   scripts/fuzz.sh            # 60s per target (make fuzz)
#   FUZZTIME=2000x scripts/fuzz.sh  # a short pass of 2,000 inputs per target (make test)
#   FUZZ_PARALLEL=2 ...        # fuzzing workers per target (go test -parallel); default 2, the machine is shared
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-60s}
PARALLEL=${FUZZ_PARALLEL:-2}
GO=${GO:-go}

mapfile -t targets < <(grep -rEo --include='*_test.go' --exclude-dir=.cache --exclude-dir=.local-env --exclude-dir=.git --exclude-dir=dist \
	'^func Fuzz[A-Za-z0-9_]*\(' . |
	grep -v '^./\.cache/' | sed -E 's#^\./(.*)/[^/]*_test\.go:func (Fuzz[A-Za-z0-9_]*)\(#\1 \2#' | sort -u)
if [ ${#targets[@]} -eq 0 ]; then
	echo "fuzz: no targets found" >&2
	exit 1
fi
failed=()
printf '%-28s %-28s %s\n' package target result
for t in "${targets[@]}"; do
	pkg=${t% *} name=${t#* }
	log=$(mktemp)
	if $GO test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" -parallel "$PARALLEL" "./$pkg" >"$log" 2>&1; then
		execs=$(grep -Eo 'execs: [0-9]+' "$log" | tail -1 | cut -d' ' -f2 || true)
		printf '%-28s %-28s ok (%s execs)\n' "$pkg" "$name" "${execs:-?}"
	else
		printf '%-28s %-28s FAILED\n' "$pkg" "$name"
		grep -vE '^fuzz: elapsed' "$log" | tail -30 >&2
		failed+=("$pkg $name")
	fi
	rm -f "$log"
done
if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]} (inputs saved under <package>/testdata/fuzz/)" >&2
	exit 1
fi
echo "fuzz: ${#targets[@]} targets, ${FUZZTIME} each: no failure"
