"""Coverage-guided fuzzing of OneCode's byte parsers: see tools/fuzz/__main__.py."""
