"""The outbox sender: connectors, lease, scheduler and the reference receiver (imports evac; never the reverse)."""
