RUN: h2c compat %s --configs ../shared/reference/h2llm-configs
