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

echo "== search time per design, one thread, in CPU ms (64 designs: nmp.channels x pe of examples/llama3-8b.h2;"
echo "   a run's user + system time less that of a run of one design, over the other designs)"
space='nmp.channels = [2, 4, 6, 8];
  pe = [(8, 400 MHz, 6.4 GB/s), (8, 600 MHz, 6.4 GB/s), (8, 800 MHz, 6.4 GB/s), (8, 1 GHz, 6.4 GB/s),
        (8, 400 MHz, 12.8 GB/s), (8, 600 MHz, 12.8 GB/s), (8, 800 MHz, 12.8 GB/s), (4, 1 GHz, 12.8 GB/s),
        (8, 400 MHz, 25.6 GB/s), (8, 600 MHz, 25.6 GB/s), (4, 800 MHz, 25.6 GB/s), (4, 1 GHz, 25.6 GB/s),
        (8, 400 MHz, 51.2 GB/s), (4, 600 MHz, 51.2 GB/s), (4, 800 MHz, 51.2 GB/s), (2, 1 GHz, 51.2 GB/s)];'
# per DESIGNS ARGS...: CPU ms a design of h2c explore ARGS, one thread: the run's user + system time
# (getrusage: finer than GNU time's 10 ms) less that of a run of one design (reading the input, making
# the modules), over the other designs
per() {
    n=$1
    shift
    python3 -c 'import resource, subprocess, sys
def cpu(extra):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(sys.argv[2:] + extra, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
one = min(cpu(["--evaluations", "1"]) for _ in range(3))
print("%.3f" % (1000 * (cpu([]) - one) / (int(sys.argv[1]) - 1)))' "$n" "$h2c" explore "$@" --threads 1 -q --stream
}
printf '%-24s %14s %16s\n' "example" "h2c model" "h2llm-artifact"
for ex in llama3-8b opt-6.7b palm-8b qwen2-7b; do
    printf 'import "%s/examples/%s.h2";\nexplore bench {\n  %s\n}\nuse explore bench;\n' "$PWD" "$ex" "$space" \
        >"$dir/$ex.h2"
    printf '%-24s %11s ms %13s ms\n' "$ex" "$(per 64 "$dir/$ex.h2")" "$(per 64 "$dir/$ex.h2" --cost-model h2llm-artifact)"
done
printf '%-24s %11s ms %16s\n' "llama3-8b-longctx" "$(per 6 examples/llama3-8b-longctx.h2)" "(6 contexts)"
printf '%-24s %14s %13s ms   (the 2-op model of part 2, 20,000 designs)\n' "small" "" \
    "$(per 20000 tests/explore/bad/space-too-large.h2 --cost-model h2llm-artifact --evaluations 20000)"

if [ ! -x "$mpi" ]; then
    echo
    echo "(h2c-mpi is not built: it needs Open MPI, Debian libopenmpi-dev and openmpi-bin)"
    exit 0
fi
echo
space=tests/explore/bad/space-too-large.h2
big=1024000
[ "${QUICK:-}" = 1 ] && big=100000
# run NAME NP EVALS: h2c-mpi on NP ranks, each under GNU time ($dir/NAME.rss.RANK: peak RSS in KB, user
# and system CPU seconds, wall seconds)
run() {
    name=$1 np=$2 evals=$3
    mpirun --oversubscribe -np "$np" sh -c 'exec "$0" -f "%M %U %S %e" -o "$1.rss.$OMPI_COMM_WORLD_RANK" "$2" explore \
        "$3" --cost-model h2llm-artifact --evaluations "$4" -q --progress --stream --top 10' \
        "$GNU_TIME" "$dir/$name" "$mpi" "$space" "$evals" 2>"$dir/$name.err" >/dev/null
    tr '\r' '\n' <"$dir/$name.err" | grep -v '^explore:' >"$dir/$name.stats" || true
}
rss() { # the largest peak RSS of a run's ranks, in MB
    cat "$dir/$1".rss.* | awk '{ if ($1 > m) m = $1 } END { printf "%.1f", m / 1024 }'
}
cpu() { # the CPU seconds of a run's ranks, summed
    cat "$dir/$1".rss.* | awk '{ s += $2 + $3 } END { printf "%.2f", s }'
}
drive() { # the slowest rank's search time
    awk '/^  rank [0-9]+:/ { s = $7 + 0; if (s > m) m = s } END { print m }' "$dir/$1.stats"
}
echo "== $big distinct designs of a space of 4,096,000 (h2llm-artifact), --stream, h2c-mpi"
echo "(load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) processors; other work on the machine"
echo " takes processors from the ranks, which the wall-clock efficiency shows and the CPU efficiency does not)"
rm -f "$dir"/*.rss.*
run small1 1 100000
run big1 1 "$big"
run big2 2 "$big"
"$GNU_TIME" -f %M -o "$dir/plain.rss" "$h2c" explore "$space" --cost-model h2llm-artifact --evaluations 100000 \
    --threads 1 -q 2>/dev/null
cat "$dir/big2.stats"
t1=$(drive big1)
t2=$(drive big2)
c1=$(cpu big1)
c2=$(cpu big2)
echo
printf '%-50s %s\n' "1 rank, $big designs:" "$t1 s, $(awk -v t="$t1" -v n="$big" 'BEGIN { printf "%.0f", n / t }') designs/s ($c1 CPU s, $(awk -v t="$c1" -v n="$big" 'BEGIN { printf "%.0f", n / t }') designs per CPU s)"
printf '%-50s %s\n' "2 ranks, $big designs:" "$t2 s, $(awk -v t="$t2" -v n="$big" 'BEGIN { printf "%.0f", n / t / 2 }') designs/s per rank ($c2 CPU s, $(awk -v t="$c2" -v n="$big" 'BEGIN { printf "%.0f", n / t }') designs per CPU s)"
printf '%-50s %s\n' "parallel efficiency, 2 ranks over 1 (wall clock):" "$(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.2f", a / (2 * b) }')"
printf '%-50s %s\n' "parallel efficiency, 2 ranks over 1 (CPU time):" "$(awk -v a="$c1" -v b="$c2" 'BEGIN { printf "%.2f", a / b }')"
printf '%-50s %s\n' "peak RSS a rank, 10^5 designs (1 rank):" "$(rss small1) MB"
printf '%-50s %s\n' "peak RSS a rank, $big designs (1 rank):" "$(rss big1) MB"
printf '%-50s %s\n' "peak RSS a rank, $big designs (2 ranks):" "$(rss big2) MB"
printf '%-50s %s\n' "for contrast, h2c keeping every design, 10^5:" "$(awk '{ printf "%.1f", $1 / 1024 }' "$dir/plain.rss") MB"
