"""Cases, their states and events: pure code with no web, ORM or chain imports."""
