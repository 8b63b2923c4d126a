"""Fake platform servers for tests: starlette apps served on loopback, recording what they get."""
