RUN: h2c compat %s --configs tests/compat/bad/configs
