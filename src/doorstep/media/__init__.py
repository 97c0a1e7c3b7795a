"""Media: clip storage backends (local directory, S3-compatible), probing and thumbnails (PyAV)."""
