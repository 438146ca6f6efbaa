"""Fake of the Greengrass V1 core's IPC client package greengrasssdk imports (the core provides it)."""
