"""The region config, for the cluster tooling: the model and loader live in
:mod:`mairust.regions` (the core reads it to route a tenant's mail and API calls to its
home region); this module keeps the names the deploy tooling imports."""

from mairust.regions import (
    LOCAL_REGION_VARIABLE,
    Region,
    Regions,
    load_regions,
    regions_from,
)

__all__ = ["LOCAL_REGION_VARIABLE", "Region", "Regions", "load_regions", "regions_from"]
