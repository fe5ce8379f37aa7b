"""Autograd for the compiled operators (masked_conv2d's backward is its own operator)."""

from __future__ import annotations
