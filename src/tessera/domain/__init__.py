"""Domain services: the rules of what Tessera stores (tenants, clients, keys, tokens, audit)."""
