"""The REST API under /api/v1/: thin DRF views over the ledger's and the channels'
services and selectors. It sits above both apps (the SKU detail reads the ledger's levels
and the channels' listings together); neither app imports it."""
