"""Test servers and helpers shared by several test folders (imported as ``tests.support``)."""
