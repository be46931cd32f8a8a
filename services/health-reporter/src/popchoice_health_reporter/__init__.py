"""PopChoice health reporter: catalog health report and operator screens."""
