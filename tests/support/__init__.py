"""Shared test machinery: storage backends, a live server, log watching."""
