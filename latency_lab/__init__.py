"""latency-lab: the shared package of a Jupyter-first course on low-latency engineering.

One concept per module; dependencies point downward (teaching tools use the simulator,
the simulator uses the measuring modules, everything uses ``units`` and ``validate``):

- foundations: ``units`` (µs, ns, events/s), ``validate`` (parameter checks), ``config``
  (quick mode), ``machine`` (the stamp every notebook prints first);
- measuring: ``timing`` (clocks and the interleaved timing harness), ``stats``
  (nearest-rank percentiles, HDR-style histograms), ``tracker`` (``LatencyTracker``),
  ``gcwatch`` (garbage-collector pauses);
- hot-path building blocks: ``structures`` (ring buffer, channel, tick buffer, object
  pool), with the experiments of lessons 03–04 in ``memory``, ``allocation`` and ``handoff``;
- simulating: ``traffic`` (arrival processes), ``engine`` (the batching simulator and its
  controller protocol), ``policies`` (batch formation), ``queueing`` (closed forms),
  ``scenarios`` (named workloads);
- teaching: ``plots`` (one visual style) and ``checks`` (exercise checkers, one module per
  lesson).
"""

from latency_lab.tracker import LatencyTracker

__all__ = ["LatencyTracker"]
__version__ = "0.1.0"
