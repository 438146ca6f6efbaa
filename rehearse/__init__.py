"""Rehearsals: what the project ships, run the way the platform that receives it runs it."""
