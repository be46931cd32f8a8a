"""Catalog work shared by services: turning TMDB films into catalog rows (seeding, linking, refreshing)."""
