"""Signals the services send for whoever watches (the metrics), without knowing who does.

Sent after the unit of work they describe has committed, so nothing counts what rolled back.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

# Stays opened at a desk: `method` (qr, mynumber, ic, paper, manual) and how many `stays`.
checked_in = _signals.signal("evac.checked-in")
