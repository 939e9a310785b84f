"""Tools that measure the engine from outside: the benchmark (`bench`) and the evaluator
(`evaluate`). `python -m measure --help` lists the commands."""
