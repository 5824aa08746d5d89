#!/bin/sh
# The folders' layering (docs/README.md): each folder may include only the headers of the folders
# below it. A line per folder: the folder, then the project headers its files may include. A file
# that includes anything else fails the test, naming the file and the header.
set -eu
cd "$(dirname "$0")/.."
rules='
support  support.h
spec     support.h spec.h
frontend support.h spec.h frontend.h lexstate.h sema.h parser.h lexer.h
ir       support.h spec.h ir.h ops.h
cost     support.h spec.h ir.h ops.h cost.h
search   support.h spec.h ir.h ops.h cost.h search.h
sparse   support.h spec.h ir.h ops.h cost.h search.h sparse.h
artifact support.h spec.h ir.h ops.h cost.h search.h frontend.h artifact.h
passes   support.h spec.h ir.h ops.h cost.h search.h sparse.h artifact.h passes.h
backend  support.h spec.h ir.h ops.h cost.h search.h sparse.h artifact.h passes.h kernels.h backend.h
runtime  support.h runtime.h kernels.h
'
# ir/lower.c is the bridge from the front end: it alone in ir/ reads the checked program.
exceptions='
ir/lower.c frontend.h
'
# Files narrower than their folder: the kernel library (its own CMake library, which the runtime
# links without the compiler) uses the ground floor only. A line per file: the file, then the headers
# it may include.
narrow='
backend/kernels.h support.h
backend/kdesc.c kernels.h
backend/kjson.c kernels.h
backend/target.c kernels.h
backend/emit_c.c kernels.h
backend/llvm.c kernels.h
'
check() {
    echo "$rules" | while read -r dir allowed; do
        [ -n "$dir" ] || continue
        for f in "$dir"/*.c "$dir"/*.h "$dir"/*.l "$dir"/*.y; do
            [ -f "$f" ] || continue
            for h in $(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f"); do
                case " $allowed " in *" $h "*) continue ;; esac
                if echo "$exceptions" | grep -qx "$f $h"; then continue; fi
                echo "$f includes $h, which $dir/ may not (allowed: $allowed)"
            done
        done
    done
}
check_narrow() {
    echo "$narrow" | while read -r f allowed; do
        [ -n "$f" ] || continue
        [ -f "$f" ] || { echo "$f: listed in tests/layout.sh but missing"; continue; }
        for h in $(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f"); do
            case " $allowed " in *" $h "*) continue ;; esac
            echo "$f includes $h, which the kernel library may not (allowed: $allowed)"
        done
    done
}
out=$(check; check_narrow)
if [ -n "$out" ]; then
    echo "$out"
    exit 1
fi
echo "layout: every include points down"
