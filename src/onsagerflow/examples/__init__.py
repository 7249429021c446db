"""Small example inputs for the documentation and the tests."""
