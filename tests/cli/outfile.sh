#!/bin/sh
# Output files (support/outfile.c), for every option that writes one: a regular file is replaced
# whole or not at all and keeps its mode; a symbolic link is written through; a FIFO and a device
# are written in place, never replaced by a regular file; every failure (a full device, a file too
# large, a read-only or missing directory) is reported with the path and exits 1. A directory given
# to -o gets one file per --emit kind. Devices are nodes made here with mknod (when run as root), never /dev/null or /dev/full.
# usage: outfile.sh H2C   (from the source root)
set -u
H2C=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
umask 022
IN=examples/tiny.h2
fail=0
bad() { echo "FAIL: $*"; fail=1; }
# run ARGS...: runs h2c, leaving its exit status in $rc and its stderr in $T/err
run() { "$H2C" "$@" >"$T/out" 2>"$T/err"; rc=$?; }
# failed WHAT PATH MESSAGE: the last run exited 1 and said it cannot write PATH because of MESSAGE
failed() {
    [ "$rc" = 1 ] || bad "$1: exit status $rc, expected 1"
    grep -qF "h2c: error: cannot write '$2': $3" "$T/err" || { bad "$1: no \"cannot write '$2': $3\""; cat "$T/err"; }
}
"$H2C" compile "$IN" >"$T/want.h2ir" || bad "compile to stdout"

# a new file: 0666 less the umask
run compile "$IN" -o "$T/new.h2ir"
[ "$rc" = 0 ] && cmp -s "$T/want.h2ir" "$T/new.h2ir" || bad "new file: not written"
[ "$(stat -c %a "$T/new.h2ir")" = 644 ] || bad "new file: mode $(stat -c %a "$T/new.h2ir"), expected 644"

# an existing file keeps its mode
echo old >"$T/old.h2ir"
chmod 600 "$T/old.h2ir"
run compile "$IN" -o "$T/old.h2ir"
[ "$rc" = 0 ] && cmp -s "$T/want.h2ir" "$T/old.h2ir" || bad "existing file: not replaced"
[ "$(stat -c %a "$T/old.h2ir")" = 600 ] || bad "existing file: mode $(stat -c %a "$T/old.h2ir"), expected 600"

# a symbolic link is written through: the link stays, its target gets the output
echo old >"$T/real.h2ir"
ln -s real.h2ir "$T/link.h2ir"
run compile "$IN" -o "$T/link.h2ir"
[ "$rc" = 0 ] || bad "symlink: exit status $rc"
[ -L "$T/link.h2ir" ] || bad "symlink: the link was replaced"
cmp -s "$T/want.h2ir" "$T/real.h2ir" || bad "symlink: its target was not written"
# a dangling one, into another directory, creates its target there
mkdir "$T/sub"
ln -s sub/made.h2ir "$T/dangling.h2ir"
run compile "$IN" -o "$T/dangling.h2ir"
[ "$rc" = 0 ] && [ -L "$T/dangling.h2ir" ] && cmp -s "$T/want.h2ir" "$T/sub/made.h2ir" || bad "dangling symlink"
[ -z "$(ls "$T/sub" | grep -v '^made.h2ir$')" ] || bad "dangling symlink: left $(ls "$T/sub")"

# a FIFO is written in place
mkfifo "$T/fifo"
timeout 20 cat "$T/fifo" >"$T/from-fifo" &
reader=$!
run compile "$IN" -o "$T/fifo"
wait "$reader"
[ "$rc" = 0 ] || bad "fifo: exit status $rc"
[ -p "$T/fifo" ] || bad "fifo: replaced by a regular file"
cmp -s "$T/want.h2ir" "$T/from-fifo" || bad "fifo: the reader did not get the IR"

# standard output named as a file, to a pipe and to a file
"$H2C" compile "$IN" -o /dev/stdout | cat >"$T/piped" || bad "/dev/stdout to a pipe: exit status"
cmp -s "$T/want.h2ir" "$T/piped" || bad "/dev/stdout to a pipe: not written"
"$H2C" compile "$IN" -o /dev/stdout >"$T/redirected" || bad "/dev/stdout to a file: exit status"
cmp -s "$T/want.h2ir" "$T/redirected" || bad "/dev/stdout to a file: not written"

# a failed write leaves the old file whole and no temporary file behind (a file-size limit makes
# the write fail with EFBIG; SIGXFSZ is ignored so that the write returns the error)
mkdir "$T/limit"
echo old >"$T/limit/big.h2ir"
(trap '' XFSZ; ulimit -f 2; "$H2C" compile "$IN" -o "$T/limit/big.h2ir" >"$T/out" 2>"$T/err"); rc=$?
failed "file too large" "$T/limit/big.h2ir" "File too large"
[ "$(cat "$T/limit/big.h2ir")" = old ] || bad "file too large: the old file was changed"
[ "$(ls "$T/limit")" = big.h2ir ] || bad "file too large: left $(ls "$T/limit")"

# a directory gets a file per --emit kind (by default the schedule and its kernels in C); a path
# ending in '/' is made; several kinds need a folder; a file is not one
run compile "$IN" -o "$T/sub"
[ "$rc" = 0 ] && [ -s "$T/sub/tiny.schedule.json" ] && [ -s "$T/sub/tiny.kernels.c" ] || bad "directory: no schedule and kernels"
run compile "$IN" --emit=ir,schedule,llvm -o "$T/new/"
[ "$rc" = 0 ] && cmp -s "$T/want.h2ir" "$T/new/tiny.h2ir" && [ -s "$T/new/tiny.kernels.ll" ] || bad "new directory: not made"
run compile "$IN" --emit=ir,schedule -o "$T/x.h2ir"
[ "$rc" = 2 ] && grep -qF "must name a folder" "$T/err" || bad "several kinds into a file: exit status $rc"
echo x >"$T/afile"
run compile "$IN" -o "$T/afile/"
[ "$rc" = 1 ] && grep -qF "cannot write into '$T/afile/': Not a directory" "$T/err" || bad "a file as a folder: exit status $rc"
run compile "$IN" -o "$T/missing/x.h2ir"
failed "missing directory" "$T/missing/x.h2ir" "No such file or directory"

# a read-only directory (as root, h2c runs as nobody: root may write anywhere)
mkdir "$T/ro"
echo old >"$T/ro/x.h2ir"
chmod 555 "$T/ro"
as=""
if [ "$(id -u)" = 0 ]; then
    chmod 755 "$T"
    if command -v setpriv >"$T/out" && setpriv --reuid=65534 --regid=65534 --clear-groups "$H2C" --version >"$T/out" 2>&1; then
        as="setpriv --reuid=65534 --regid=65534 --clear-groups"
    else
        as=skip
    fi
fi
if [ "$as" = skip ]; then
    echo "skipped: read-only directory (cannot run h2c as another user)"
else
    $as "$H2C" compile "$IN" -o "$T/ro/x.h2ir" >"$T/out" 2>"$T/err"; rc=$?
    failed "read-only directory" "$T/ro/x.h2ir" "Permission denied"
    [ "$(cat "$T/ro/x.h2ir")" = old ] || bad "read-only directory: the old file was changed"
fi

# devices: a null device takes the output and stays a device; a full one fails with ENOSPC, for
# every option that writes a file and for standard output
if mknod "$T/null" c 1 3 2>"$T/err" && mknod "$T/full" c 1 7 2>"$T/err"; then
    run compile "$IN" -o "$T/null"
    [ "$rc" = 0 ] || bad "null device: exit status $rc"
    [ -c "$T/null" ] || bad "null device: replaced by a regular file"
    for args in "compile $IN -o" "compile $IN --emit=ast -o" "compile $IN --emit=dot -o" "opt $T/want.h2ir -o" \
                "compile $IN --emit=schedule -o" "compile $IN --emit=c -o" "compile $IN --emit=llvm -o" \
                "validate $T/sub/tiny.schedule.json -q --dump" \
                "explore $IN --csv" "explore $IN --write-hw" "explore $IN --write-ir"; do
        # shellcheck disable=SC2086
        run $args "$T/full"
        failed "full device ($args)" "$T/full" "No space left on device"
        [ -c "$T/full" ] || { bad "full device ($args): replaced by a regular file"; rm -f "$T/full"; mknod "$T/full" c 1 7; }
    done
    "$H2C" compile "$IN" >"$T/full" 2>"$T/err"; rc=$?
    [ "$rc" = 1 ] && grep -qF "cannot write to standard output: No space left on device" "$T/err" ||
        bad "stdout on a full device: exit status $rc, $(cat "$T/err")"
    "$H2C" check "$IN" >"$T/full" 2>"$T/err"; rc=$?
    [ "$rc" = 1 ] && grep -qF "cannot write to standard output: No space left on device" "$T/err" ||
        bad "check's summary on a full device: exit status $rc, $(cat "$T/err")"
else
    echo "skipped: devices (mknod needs root)"
fi
exit $fail
