"""One module per section of `python -m bench`; each `run(bench)` adds its figures."""
