"""The shelter desk pages used on tablets at the entrance."""
