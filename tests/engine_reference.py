"""A literal, slow transcription of the engine's batching rule, to test the kernel against.

The rule: one server; when it is free and an event waits, the next batch starts at the
earliest time at which ``max_batch`` events wait or the oldest waiting event has waited
``max_wait_us`` (with ``max_wait_us = inf``, once no full batch can ever form, the remainder
starts when the input is exhausted), and takes the ``min(waiting, max_batch)`` oldest
events. A ``max_batch`` above the trace length means the trace length. A batch of ``k``
takes ``(setup_us + per_item_us·k)·m`` with ``m`` the batch's multiplier (1 if none).

It is written differently from the kernel on purpose: it scans candidate start times in
order and checks the rule at each, instead of computing the trigger time directly.
"""

import math


def reference_simulate(arrivals, setup_us, per_item_us, max_batch, max_wait_us, multipliers=()):
    """Return (start, departure, batch_id) lists for every event."""
    n = len(arrivals)
    max_batch = min(max_batch, n)
    start, departure, batch_id = [None] * n, [None] * n, [None] * n
    head, free_at, batch = 0, -math.inf, 0
    while head < n:
        earliest = max(free_at, arrivals[head])
        deadline = arrivals[head] + max_wait_us
        candidates = {earliest, *(a for a in arrivals[head:] if a >= earliest)}
        if deadline >= earliest and deadline != math.inf:
            candidates.add(deadline)
        s = None
        for t in sorted(candidates):
            waiting = sum(1 for a in arrivals[head:] if a <= t)
            if waiting >= max_batch or t >= deadline:
                s = t
                break
        if s is None:  # max_wait = inf and no full batch can ever form: input exhausted
            s = max(earliest, arrivals[-1])
        k = min(sum(1 for a in arrivals[head:] if a <= s), max_batch)
        service = setup_us + per_item_us * k
        if len(multipliers):
            service *= multipliers[batch]
        free_at = s + service
        for j in range(head, head + k):
            start[j], departure[j], batch_id[j] = s, free_at, batch
        head += k
        batch += 1
    return start, departure, batch_id
