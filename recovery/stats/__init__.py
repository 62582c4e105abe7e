"""Statistics: the public outcomes of cases, and what users write about."""
