"""Airflow glue for growthlab: hooks and helpers, thin wrappers over the growthlab package."""
