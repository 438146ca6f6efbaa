"""Fake of the Greengrass V1 core's Python runtime package greengrasssdk imports (not on PyPI: the core provides it)."""
