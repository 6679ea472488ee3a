"""Training machinery that knows nothing about DCPT: the loop, schedules, EMA, checkpoints, torchrun.

`build` turns a `RunConfig` into a `Job`; `loop.fit` trains any `Job`.
"""
