"""Stays: who is at which shelter, since when, and how they were checked in."""
