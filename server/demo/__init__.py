"""Fixtures for trying Granular out: a seeded synthetic shop that `granular demo` sends through ingest."""
