"""API keys, roles and who may see what."""
