"""Stays (who is where) and the live counters kept with them: below shelters, checkin and hq."""
