"""Triage: a user's own words read into a draft appeal, completed from the chain."""
