"""A MyData-compatible server for the demo and the tests."""
