"""Reusable constructs; each takes typed keyword-only props and exposes its resources."""
