"""Rehearsals: what we ship, run through the platform's own code on this machine (`make rehearse`)."""
