"""PopChoice discovery: finds new films on TMDB on a schedule."""
