RUN: h2c import-hf %s --name m
