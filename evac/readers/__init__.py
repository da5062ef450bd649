"""Card readers paired with desk screens: pairing codes, reader tokens, and reads on their way to the desk."""
