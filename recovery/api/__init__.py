"""The REST API: HTTP in, domain calls, HTTP out."""
