"""Paying refunds out: signed, written down, then broadcast; never twice."""
