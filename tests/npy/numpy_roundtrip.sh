#!/bin/sh
# numpy_roundtrip.sh NPY_TOOL: runs numpy_roundtrip.py with a Python that has numpy
# (H2C_NUMPY_PYTHON, else /usr/bin/python3); exits 77, which ctest reports as skipped, if none.
py=${H2C_NUMPY_PYTHON:-/usr/bin/python3}
if ! [ -x "$py" ] || ! "$py" -c 'import numpy' 2>/dev/null; then
  echo "skipped: $py with numpy not found"
  exit 77
fi
exec "$py" "$(dirname "$0")/numpy_roundtrip.py" "$1"
