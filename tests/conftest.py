"""Shared test settings: hypothesis without per-example deadlines (CI machines are noisy)."""

from hypothesis import settings

settings.register_profile("course", deadline=None, max_examples=200)
settings.load_profile("course")
