"""The deposit recovery service: appeals, verification, review and payouts."""

__version__ = "0.1.0"
