"""Camera registry, clips and motion events, ingest, retention and the owner's timeline."""
