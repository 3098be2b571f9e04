"""Storage by role: metadata + queue, blobs, full-text search (SQL lives only here)."""
