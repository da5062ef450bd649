"""Incidents (a disaster or a drill): what every stay, event and audit entry belongs to."""
