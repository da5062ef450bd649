"""Headquarters (災害対策本部): live occupancy of every shelter, trend, safety inquiries, exports,
and the public crowding page."""
