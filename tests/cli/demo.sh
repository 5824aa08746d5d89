#!/bin/sh
# tools/demo.sh (`make demo`): it runs through; with stdout not a terminal it prints no ANSI escape;
# every command it prints works when pasted from the repository root (exit status 0, or the status
# its `# exits N` comment gives); and it stops at the first step that fails.
# usage: demo.sh H2C   (from the source root)
set -u
H2C=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
: >"$T/empty"
bad() { echo "FAIL: $*"; fail=1; }

sh tools/demo.sh "$H2C" >"$T/out" 2>&1 || { bad "the demo exits $?"; tail -20 "$T/out"; }
esc=$(printf '\033')
if grep -q "$esc" "$T/out"; then bad "ANSI escapes in the output although stdout is not a terminal"; fi

grep '^\$ ' "$T/out" | sed 's/^\$ //' >"$T/commands"
[ -s "$T/commands" ] || bad "the demo printed no command"
while IFS= read -r cmd; do
    want=0
    case $cmd in *"# exits "*) want=${cmd##*# exits } ;; esac
    rc=0
    sh -c "$cmd" >"$T/pasted" 2>&1 <"$T/empty" || rc=$?
    [ "$rc" = "$want" ] || { bad "pasted from the repository root, '$cmd' exits $rc, not $want"; tail -5 "$T/pasted"; }
done <"$T/commands"

# an h2c whose explore fails: the demo stops there, with a failing status
real=$(cd "$(dirname "$H2C")" && pwd)/$(basename "$H2C")
printf '#!/bin/sh\n[ "$1" = explore ] && exit 3\nexec "%s" "$@"\n' "$real" >"$T/h2c"
chmod +x "$T/h2c"
if sh tools/demo.sh "$T/h2c" >"$T/out2" 2>&1; then bad "the demo goes on after a failing step (exit 0)"; fi
grep -q 'h2c explore' "$T/out2" || bad "the demo did not reach the failing step"
if grep -q 'h2c compat' "$T/out2"; then bad "the demo went on after the failing step"; fi
exit $fail
