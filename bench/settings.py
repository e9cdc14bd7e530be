"""The bench server's settings: Switchboard's own, with the bare view added to the URLs."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
