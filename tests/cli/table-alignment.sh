#!/bin/sh
# Tables stay aligned when a name is longer than its column: explore's device column with a long
# hardware name, and the evaluation grid of --reproduce-h2llm with a long model name. In each table
# the last fields of the header and of every row end at the same columns.
# usage: table-alignment.sh H2C   (from the source root)
set -u
H2C=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
sed 's/^model llama3_8b /model llama3_8b_instruct_with_a_rather_long_name /' examples/llama3-8b.h2 >"$T/long.h2"
# one design (no explore block) on a device with a long name
sed -e '/^explore/,/^}/d' -e '/^sparsity/,/^}/d' -e 's/^use workload sg;/use workload sg;\nuse hardware a_device_whose_name_is_longer_than_the_device_column;/' \
    "$T/long.h2" >"$T/long-one.h2"
printf 'hardware a_device_whose_name_is_longer_than_the_device_column { }\n' >>"$T/long-one.h2"

# ends LINE K: the end columns of the last K whitespace-separated fields of LINE
ends() {
    printf '%s\n' "$1" | awk -v k="$2" '{ n = 0; pos = 0; line = $0
        while (match(line, /[^ ]+/)) { n++; e[n] = pos + RSTART + RLENGTH - 1; pos += RSTART + RLENGTH - 1
                                       line = substr(line, RSTART + RLENGTH) }
        s = ""; for (i = n - k + 1; i <= n; i++) s = s " " e[i]; print s }'
}
# aligned NAME FILE HEADER_REGEX ROW_REGEX K: the rows of the table under the first header line
# matching HEADER_REGEX end their last K fields where the header does
aligned() {
    header=$(grep -m1 -e "$3" "$2")
    [ -n "$header" ] || { echo "FAIL: $1: no header /$3/"; fail=1; return; }
    want=$(ends "$header" "$5")
    # the rows of that table: the lines after its header, up to the next empty line
    awk -v h="$3" 'found && /^$/ { exit } found { print } !found && $0 ~ h { found = 1 }' "$2" | grep -e "$4" >"$T/rows"
    [ -s "$T/rows" ] || { echo "FAIL: $1: no rows /$4/"; fail=1; return; }
    while IFS= read -r row; do
        got=$(ends "$row" "$5")
        [ "$got" = "$want" ] || { echo "FAIL: $1: '$row' ends at$got, the header at$want"; fail=1; }
    done <"$T/rows"
}

"$H2C" explore -I examples "$T/long-one.h2" >"$T/explore" 2>"$T/err" || { echo "FAIL: explore"; cat "$T/err"; fail=1; }
sed -i 's/energy (J)/energy_(J)/' "$T/explore"   # one field, at the same place
aligned "explore" "$T/explore" '^rank ' '^   1 ' 5

"$H2C" explore --reproduce-h2llm -I examples "$T/long.h2" >"$T/grid" 2>"$T/err" || { echo "FAIL: grid"; cat "$T/err"; fail=1; }
aligned "grid, Figure 10" "$T/grid" ' CP  *ID-NMP ' '^  [hsl][egb]  *b[0-9]' 4
aligned "grid, geomean" "$T/grid" ' CP  *ID-NMP ' '^  geomean' 4
aligned "grid, Figure 13" "$T/grid" '^  model ' '^  llama3_8b_instruct_with_a_rather_long_name [0-9]' 5
grep -q ': 1 model x ' "$T/grid" || { echo "FAIL: grid: $(head -1 "$T/grid")"; fail=1; }
exit $fail
