"""Small pieces shared by every feature package."""
