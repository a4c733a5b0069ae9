"""Fetching documents from URLs that someone else chose, without becoming an SSRF vector."""
