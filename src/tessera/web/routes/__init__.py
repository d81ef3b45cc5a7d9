"""Route tables, one module per protocol family."""
