"""Models of the exports app."""
