"""Message catalogues: what users read, in their language."""
