"""The registry of deposit addresses: who owns one and which networks it was opened for."""
