"""Errors a user can act on. The CLI prints their message alone (no traceback) and exits 2."""


class CocktailError(Exception):
    """Base: bad input, named precisely (file, key or row, and what was expected)."""


class ConfigError(CocktailError):
    """A config value or CLI argument is wrong."""


class DataError(CocktailError):
    """Input data is missing or malformed."""
