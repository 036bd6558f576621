"""A plausible Japanese household behind the meter.

Exporter dashboards and tests need values that move like real ones (a daily load
curve, midday solar export, noise) yet are reproducible: every value is a pure
function of the seed and the meter's clock, so two runs with one seed agree.
"""

from __future__ import annotations

import math
import random
from datetime import datetime

import attrs

#: (hour of day, width in hours, extra watts) bumps on top of the base load.
_LOAD_BUMPS = ((7.5, 1.0, 1100.0), (12.5, 1.2, 450.0), (19.5, 2.0, 1600.0), (23.0, 0.8, 500.0))
_NOISE_BUCKET_S = 10


@attrs.frozen
class Household:
    seed: int = 0
    base_watts: float = 220.0
    solar_peak_watts: float = 0.0
    noise_fraction: float = 0.08

    def load_watts(self, at: datetime) -> float:
        hour = at.hour + at.minute / 60 + at.second / 3600
        watts = self.base_watts
        for centre, width, extra in _LOAD_BUMPS:
            for shift in (-24.0, 0.0, 24.0):
                watts += extra * math.exp(-(((hour - centre - shift) / width) ** 2))
        bucket = int(at.timestamp()) // _NOISE_BUCKET_S
        rng = random.Random(f"{self.seed}:{bucket}")
        return max(60.0, watts * (1.0 + rng.gauss(0.0, self.noise_fraction)))

    def solar_watts(self, at: datetime) -> float:
        if self.solar_peak_watts <= 0:
            return 0.0
        hour = at.hour + at.minute / 60 + at.second / 3600
        if not 6.0 < hour < 18.0:
            return 0.0
        shape: float = math.sin(math.pi * (hour - 6.0) / 12.0) ** 1.5
        return self.solar_peak_watts * shape

    def net_watts(self, at: datetime) -> int:
        """Power at the meter, signed: negative while exporting."""
        return round(self.load_watts(at) - self.solar_watts(at))
