#!/bin/sh
# The exploration at scale (issue 15, docs/distributed.md). Two parts:
#  1. the search time per design of the shipped examples, on one thread, under both cost models: each
#     model on the H2-LLM design space of examples/llama3-8b.h2 (4 nmp.channels x 16 pe = 64 designs),
#     and the long-context sweep (6 contexts);
#  2. a space of 1,024,000 distinct designs (tests/explore/bad/space-too-large.h2, 4,096,000 in all,
#     the h2llm-artifact cost model) searched whole with --stream, by h2c-mpi on 1 rank and on 2 ranks:
#     designs per second per rank (h2c-mpi's statistics), each rank's peak RSS (GNU time) at 10^5 and at
#     10^6 designs, and the parallel efficiency of 2 ranks over 1; for contrast, the peak RSS of the
#     plain run (every design kept) at 10^5.
# usage: bench/explore_scale.sh BUILD_DIR   (from the source root; writes only under BUILD_DIR/bench)
# QUICK=1 searches 10^5 designs instead of 10^6 in part 2.
set -eu
build=${1:?usage: bench/explore_scale.sh BUILD_DIR}
h2c=$build/h2c
mpi=$build/h2c-mpi
dir=$build/bench/explore
mkdir -p "$dir"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1   # (mpirun refuses root without them)
GNU_TIME=/usr/bin/time
[ -x "$GNU_TIME" ] || { echo "bench/explore_scale.sh: needs GNU time (Debian package time)" >&2; exit 2; }

# the seconds an exploration took, from its report's summary line
explore_seconds() { sed -n 's/.* in \([0-9.]*\) s on .*/\1/p' "$1"; }

echo "== search time per design, one thread (64 designs: nmp.channels x pe of examples/llama3-8b.h2)"
space='nmp.channels = [2, 4, 6, 8];
  pe = [(8, 400 MHz, 6.4 GB/s), (8, 600 MHz, 6.4 GB/s), (8, 800 MHz, 6.4 GB/s), (8, 1 GHz, 6.4 GB/s),
        (8, 400 MHz, 12.8 GB/s), (8, 600 MHz, 12.8 GB/s), (8, 800 MHz, 12.8 GB/s), (4, 1 GHz, 12.8 GB/s),
        (8, 400 MHz, 25.6 GB/s), (8, 600 MHz, 25.6 GB/s), (4, 800 MHz, 25.6 GB/s), (4, 1 GHz, 25.6 GB/s),
        (8, 400 MHz, 51.2 GB/s), (4, 600 MHz, 51.2 GB/s), (4, 800 MHz, 51.2 GB/s), (2, 1 GHz, 51.2 GB/s)];'
printf '%-22s %16s %16s\n' "example" "h2c model" "h2llm-artifact"
for ex in llama3-8b opt-6.7b palm-8b qwen2-7b; do
    printf 'import "%s/examples/%s.h2";\nexplore bench {\n  %s\n}\nuse explore bench;\n' "$PWD" "$ex" "$space" \
        >"$dir/$ex.h2"
    line=$(printf '%-22s' "$ex")
    for cm in h2c h2llm-artifact; do
        "$h2c" explore "$dir/$ex.h2" --cost-model $cm --threads 1 --top 1 >"$dir/out" 2>/dev/null
        s=$(explore_seconds "$dir/out")
        line="$line $(awk -v s="$s" 'BEGIN { printf "%13.3f ms", 1000 * s / 64 }')"
    done
    echo "$line"
done
"$h2c" explore examples/llama3-8b-longctx.h2 --threads 1 >"$dir/out" 2>/dev/null
s=$(explore_seconds "$dir/out")
printf '%-22s %13.3f ms %16s\n' "llama3-8b-longctx" "$(awk -v s="$s" 'BEGIN { print 1000 * s / 6 }')" \
    "(4k..128k)"
"$h2c" explore tests/explore/bad/space-too-large.h2 --cost-model h2llm-artifact --threads 1 --stream \
    --evaluations 20000 >"$dir/out" 2>/dev/null
s=$(explore_seconds "$dir/out")
printf '%-22s %16s %13.3f ms   (2-op model, the space of part 2)\n' "small (20,000 designs)" "" \
    "$(awk -v s="$s" 'BEGIN { print 1000 * s / 20000 }')"

if [ ! -x "$mpi" ]; then
    echo
    echo "(h2c-mpi is not built: it needs Open MPI, Debian libopenmpi-dev and openmpi-bin)"
    exit 0
fi
echo
space=tests/explore/bad/space-too-large.h2
big=1024000
[ "${QUICK:-}" = 1 ] && big=100000
# run NAME NP EVALS [OPTS]: h2c-mpi on NP ranks, each under GNU time (its peak RSS in $dir/NAME.rss.RANK)
run() {
    name=$1 np=$2 evals=$3
    shift 3
    mpirun --oversubscribe -np "$np" sh -c 'exec "$0" -f %M -o "$1.rss.$OMPI_COMM_WORLD_RANK" "$2" explore "$3" \
        --cost-model h2llm-artifact --evaluations "$4" -q --progress --stream --top 10' \
        "$GNU_TIME" "$dir/$name" "$mpi" "$space" "$evals" 2>"$dir/$name.err" >/dev/null
    tr '\r' '\n' <"$dir/$name.err" | grep -v '^explore:' >"$dir/$name.stats" || true
}
rss() { # the largest peak RSS of a run's ranks, in MB
    cat "$dir/$1".rss.* | awk '{ if ($1 > m) m = $1 } END { printf "%.1f", m / 1024 }'
}
drive() { # the slowest rank's search time
    awk '/^  rank [0-9]+:/ { s = $7 + 0; if (s > m) m = s } END { print m }' "$dir/$1.stats"
}
echo "== $big distinct designs of a space of 4,096,000 (h2llm-artifact), --stream, h2c-mpi"
rm -f "$dir"/*.rss.*
run small1 1 100000
run big1 1 "$big"
run big2 2 "$big"
"$GNU_TIME" -f %M -o "$dir/plain.rss" "$h2c" explore "$space" --cost-model h2llm-artifact --evaluations 100000 \
    --threads 1 -q 2>/dev/null
cat "$dir/big2.stats"
t1=$(drive big1)
t2=$(drive big2)
echo
printf '%-44s %s\n' "1 rank, $big designs:" "$t1 s, $(awk -v t="$t1" -v n="$big" 'BEGIN { printf "%.0f", n / t }') designs/s"
printf '%-44s %s\n' "2 ranks, $big designs:" "$t2 s, $(awk -v t="$t2" -v n="$big" 'BEGIN { printf "%.0f", n / t / 2 }') designs/s per rank"
printf '%-44s %s\n' "parallel efficiency, 2 ranks over 1:" "$(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.2f", a / (2 * b) }')"
printf '%-44s %s\n' "peak RSS a rank, 10^5 designs (1 rank):" "$(rss small1) MB"
printf '%-44s %s\n' "peak RSS a rank, $big designs (1 rank):" "$(rss big1) MB"
printf '%-44s %s\n' "peak RSS a rank, $big designs (2 ranks):" "$(rss big2) MB"
printf '%-44s %s\n' "for contrast, h2c keeping every design, 10^5:" "$(awk '{ printf "%.1f", $1 / 1024 }' "$dir/plain.rss") MB"
