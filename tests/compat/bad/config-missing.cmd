RUN: h2c compat %s --configs tests/compat/bad/no-such-dir
