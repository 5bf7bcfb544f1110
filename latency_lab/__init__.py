"""latency-lab: the shared package of a Jupyter-first course on low-latency engineering.

One concept per module (see the course's DESIGN.md):

- measuring: ``timing`` (clocks), ``stats`` (nearest-rank percentiles, HDR-style
  histograms), ``tracker`` (``LatencyTracker``);
- hot-path building blocks: ``structures`` (ring buffer, tick buffer, object pool), with
  the experiments of lessons 03–04 in ``memory``, ``allocation`` and ``handoff``;
- simulating: ``traffic`` (arrival processes), ``engine`` (the batching simulator),
  ``policies`` (batch formation), ``queueing`` (closed forms), ``scenarios`` (workloads);
- teaching: ``plots`` (one visual style) and ``checks`` (exercise checkers).
"""

from latency_lab.tracker import LatencyTracker

__all__ = ["LatencyTracker"]
__version__ = "0.1.0"
