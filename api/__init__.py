"""Fenwei package."""
