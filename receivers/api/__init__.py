"""Read-only history API over what the receivers stored: known agents and their statistics."""
