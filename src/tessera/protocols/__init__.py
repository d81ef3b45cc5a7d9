"""Pure protocol cores: no web framework, no storage."""
