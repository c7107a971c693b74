"""A 1999-compatible petition server for the demo and the tests."""
