"""The services: one module per area, each given its stores by the composition root (`server/wiring.py`)."""
