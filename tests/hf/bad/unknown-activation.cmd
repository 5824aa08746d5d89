RUN: h2c import-hf %s
