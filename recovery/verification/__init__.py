"""Checking each claim against the chain: find the transfer, match it, judge it."""
