"""Training machinery that knows nothing about DCPT: the loop, schedules, EMA, checkpoints, torchrun.

`loop.fit` trains any `Job`; `dcpt.recipes` (the layer above) builds one from a `RunConfig`.
"""
