"""Resident QR cards and linked IC cards."""
