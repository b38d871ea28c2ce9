"""Packaged scenario files (TOML); a package only so wheels carry them."""
