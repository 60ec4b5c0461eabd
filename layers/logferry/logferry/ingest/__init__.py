"""Notifications in, objects read and parsed, documents out: the hot path and its reliability."""
