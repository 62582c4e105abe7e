"""Verify a case: anyone can check that a case reference is real."""
