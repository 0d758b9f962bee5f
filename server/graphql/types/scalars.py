"""Scalars shared by the types: Strawberry's own JSON (any JSON value)."""

from strawberry.scalars import JSON

__all__ = ["JSON"]
