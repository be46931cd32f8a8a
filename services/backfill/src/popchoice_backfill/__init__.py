"""PopChoice backfill: fills missing TMDB identity and metadata."""
