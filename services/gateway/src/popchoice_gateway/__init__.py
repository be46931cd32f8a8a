"""PopChoice gateway: the browser's only HTTP entry."""
