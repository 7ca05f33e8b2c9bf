"""Test support shared by the collection's unit and integration tests."""
