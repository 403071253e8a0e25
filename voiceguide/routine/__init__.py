"""Routines as data: the model, pacing values, and the loader that reads them from TOML."""
