"""Unified case handling (一网统管): cases from every channel, dispatched, handled and closed on time."""
