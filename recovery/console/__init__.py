"""The appeals desk's web console: server-rendered pages over the same services as the API."""
