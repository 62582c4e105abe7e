"""After verification: quotes and acceptance, proof of ownership, the appeals team's review."""
