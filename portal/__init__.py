"""Pages and API for CPAS staff. Built in its own issue."""
