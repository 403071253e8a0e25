"""A session: a routine prepared, its speech synthesized, played with its check-in dialogue."""
