# plot-sweep.gp: draws a sweep's CSV (h2c explore --csv on an explore block with sweep axes) as SVG:
#   OUT/sweep.svg   speedup and energy gain of the sparse plan over the dense HB baseline vs context
#   OUT/decode.svg  the dense baseline's decode time per step and decode energy per token vs context
# one line per combination of the other sweep values (static_heads, dynamic.budget, static.sink,
# static.window), through its points sorted by context (smooth unique: the rows may come in any
# order). Columns are found by name, so the CSV's other columns may come and go. Points where no
# design fits (empty columns) are left out.
# usage: gnuplot -e "csv='sweep.csv'; out='DIR'" tools/plot-sweep.gp      (`make plots` runs it)
if (!exists("csv")) { print "plot-sweep.gp: set csv='FILE.csv' (and out='DIR') with -e"; exit status 2 }
if (!exists("out")) { out = "." }

set datafile separator ","
set datafile columnheaders
set datafile missing NaN    # a row of another line is skipped, not a break in this one
set termoption noenhanced

# which of the other sweep values vary (a value that does not stays out of the legend)
stats csv using "static_heads" nooutput
vary_static = STATS_min != STATS_max
stats csv using "budget" nooutput
vary_budget = STATS_min != STATS_max
stats csv using "sink" nooutput
vary_sink = STATS_min != STATS_max
stats csv using "window" nooutput
vary_window = STATS_min != STATS_max

# a line's name: the values that vary, e.g. "static=50%,budget=2048" (one word: no spaces)
name(dummy) = (vary_static ? sprintf("static=%g%%,", 100 * column("static_heads")) : "") . \
              (vary_budget ? sprintf("budget=%g,", column("budget")) : "") . \
              (vary_sink ? sprintf("sink=%g,", column("sink")) : "") . \
              (vary_window ? sprintf("window=%g,", column("window")) : "")
key(dummy) = (n = name(0), strlen(n) > 0 ? n[1:strlen(n) - 1] : "all")
names = ""
add(k) = (strstrt(names, " " . k . " ") == 0 ? names = names . " " . k . " " : 0, 0)
stats csv using (add(key(0))) nooutput
nlines = words(names)

set terminal svg size 1100,440 dynamic background rgb "white" font "sans,11"
set logscale x 2
set xlabel "context (k tokens)"
set grid
set key top left font ",9"

set output out . "/sweep.svg"
set multiplot layout 1,2 title "sparse plan vs dense HB baseline (" . csv . ")"
set yrange [0:*]                # ratios from 0 (and no empty range while they are all 1)
set ylabel "decode speedup (x)"
plot for [i=1:nlines] csv using (key(0) eq word(names, i) ? column("context") / 1024.0 : NaN):"speedup" \
    smooth unique with linespoints title word(names, i)
set ylabel "decode energy gain (x)"
plot for [i=1:nlines] csv using (key(0) eq word(names, i) ? column("context") / 1024.0 : NaN):"energy_gain" \
    smooth unique with linespoints title word(names, i)
unset multiplot

set output out . "/decode.svg"
set multiplot layout 1,2 title "dense HB baseline: decode (" . csv . ")"
set autoscale y
set logscale y 10
set ylabel "decode time per step (ms)"
plot csv using (column("context") / 1024.0):(1000 * column("decode_step_s")) smooth unique with linespoints \
    title "decode step"
set ylabel "decode energy per generated token (mJ)"
plot csv using (column("context") / 1024.0):(1000 * column("decode_energy_j") / column("generate") / column("batch")) \
    smooth unique with linespoints title "decode energy / token"
unset multiplot
set output
