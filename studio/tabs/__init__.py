"""The studio's tabs, one module per tab (text to image, edit, explore, train, models); each builds its
blocks and wires their events to the engine (``shared.py``: what several tabs do the same way)."""
