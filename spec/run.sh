#!/bin/sh
# Runs every busted spec with the given Lua and ends with one line
# "N passed, N failed" (errors count as failed). Exits non-zero on any failure.
# Usage: sh spec/run.sh lua5.4 [busted args...]
lua="${1:-lua5.4}"
[ $# -gt 0 ] && shift
log="${TMPDIR:-/tmp}/cnnvis-spec.$$.tap"
busted --lua="$lua" -o TAP --pattern=_spec "$@" spec > "$log" 2>&1
status=$?
# Show failures in full, and a dot per passing test to keep the log short.
awk '/^not ok/ { bad = 1 } /^ok/ { bad = 0; next } bad || !/^(ok|1\.\.)/ { print }' "$log"
passed=$(grep -c '^ok ' "$log")
failed=$(grep -c '^not ok ' "$log")
rm -f "$log"
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1 # busted itself failed (a spec file that does not load)
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
