"""The recommendation pipeline: pure ranking and text functions, and the pipeline that does the I/O."""
