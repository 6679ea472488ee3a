"""The pre-training study as code: typed arms (`arms`), one versioned results file (`results`), the runner
that re-makes any row (`runner`, `classifier`) and the tables `docs/experiments.md` shows (`tables`).

Not part of the installed `dcpt` package: a folder of scripts that imports it, run from the repository
root as ``python -m experiments``.
"""
