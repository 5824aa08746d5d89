#!/bin/sh
# Every `h2c CMD --help` lists exactly the options CMD takes. The options are every option string in
# the CLI's source (tools/h2c.c) and every option some --help mentions; for each command and each
# of them, the command accepts it (it does not say "unknown option") if and only if its --help
# mentions it. The input is a file that does not exist, so nothing runs past the command line.
# usage: help-options.sh H2C   (from the source root)
set -u
H2C=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
cmds=$("$H2C" --help | sed -n 's/^  \([a-z][a-z-]*\)  .*/\1/p')
[ -n "$cmds" ] || { echo "FAIL: h2c --help lists no command"; exit 1; }
# the options an --help text mentions: a line "  -x, --xx[=V] ARG   text" names -x and --xx
mentioned() {
    sed -n 's/^  \(-[^ ].*\)$/\1/p' | sed 's/   *[^ ].*$//; s/  *$//' | tr ',' '\n' |
        sed 's/^ *//; s/[ =[].*$//' | grep -e '^-' | sort -u
}
for cmd in $cmds; do
    "$H2C" "$cmd" --help >"$T/help.$cmd" || { echo "FAIL: h2c $cmd --help exits $?"; fail=1; }
    mentioned <"$T/help.$cmd" >"$T/mentioned.$cmd"
done
{ grep -o '"-\{1,2\}[A-Za-z][A-Za-z0-9-]*=\{0,1\}"' tools/h2c.c | tr -d '"=' ; cat "$T"/mentioned.*; } | sort -u >"$T/all"
for cmd in $cmds; do
    while read -r opt; do
        # a value after the option (taken by those that take one), then the input
        "$H2C" "$cmd" "$opt" 1 tests/does-not-exist.h2 >"$T/out" 2>"$T/err"
        if grep -qF "unknown option '$opt'" "$T/err"; then accepted=no; else accepted=yes; fi
        if grep -qxF -- "$opt" "$T/mentioned.$cmd"; then said=yes; else said=no; fi
        if [ "$accepted" != "$said" ]; then
            if [ "$said" = yes ]; then
                echo "FAIL: 'h2c $cmd --help' mentions $opt, which h2c $cmd does not take"
            else
                echo "FAIL: h2c $cmd takes $opt, which 'h2c $cmd --help' does not mention"
            fi
            fail=1
        fi
    done <"$T/all"
done
[ "$fail" = 0 ] && echo "every --help lists exactly its command's options ($(echo $cmds))"
exit $fail
