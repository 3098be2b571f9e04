"""``Stores``: one open backend per storage role, as the processes that use them hold them.

Naming the type imports no backend: :mod:`mairust.storage.factory` opens them.
"""

from __future__ import annotations

from dataclasses import dataclass

from mairust.storage.protocols import BlobStore, MetadataStore, SearchIndex


@dataclass
class Stores:
    """One open backend per storage role."""

    metadata: MetadataStore
    blobs: BlobStore
    search: SearchIndex

    def close(self) -> None:
        """Close every store, even when closing one of them fails."""
        try:
            self.search.close()
        finally:
            try:
                self.blobs.close()
            finally:
                self.metadata.close()
