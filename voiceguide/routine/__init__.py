"""Routines as data: the model, pacing values (and the one number parser), TOML files read
with every problem placed on its line, and the loader that parses them into the model."""
