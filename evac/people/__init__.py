"""Households and persons: residents registered before a disaster and evacuees registered at a shelter."""
