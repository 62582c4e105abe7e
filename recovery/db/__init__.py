"""Persistence: tables, the engine, units of work and migrations."""
