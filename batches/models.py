"""Models of the batches app."""
