"""growthlab: the growth pipeline of a clean-tech B2B company (domain package)."""

__version__ = "0.1.0"
