"""The fuzz tier's hypothesis profile: few examples, no deadline, derandomised.

Derandomised, each run draws the same examples, so a fuzz test that passes on one machine passes on
CI (a new failure comes from a code change, never from luck), and the whole folder stays within a
few tens of seconds on two cores. ``DCPT_FUZZ_EXAMPLES=500`` lets a person search longer by hand.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "dcpt-fuzz",
    max_examples=int(os.environ.get("DCPT_FUZZ_EXAMPLES", "40")),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("dcpt-fuzz")
