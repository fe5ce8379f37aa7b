"""Neutral types and helpers every package may use, importing nothing else from vaestudio: the ``Batch``
(``batch``), metric arithmetic (``metrics``), request limits (``limits``, no torch) and atomic writes
(``files``). Import from the submodules; this package itself stays empty so ``limits`` loads without torch."""
