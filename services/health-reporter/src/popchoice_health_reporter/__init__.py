"""PopChoice health reporter: the catalog health report (missing TMDB data, coverage gaps, duplicates)."""
