"""The weather family: haze, rain, raindrop and snow (one module each; importing this one registers all)."""

from . import weather_haze, weather_rain, weather_snow  # noqa: F401
from .weather_haze import add_haze, pseudo_depth  # noqa: F401
from .weather_rain import rain_layer  # noqa: F401
