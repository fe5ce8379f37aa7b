"""Model pickers across the tabs: each offers the models that can do its tab's work.

Tabs make their dropdowns with :meth:`ModelPickers.dropdown`; when a model is loaded or trained,
:meth:`ModelPickers.refresh` returns the new choices for all of them at once.
"""

from __future__ import annotations

import gradio as gr

from studio.engine_api import Capability, StudioEngine


class ModelPickers:
    def __init__(self, engine: StudioEngine):
        self.engine = engine
        self._pickers: list[tuple[gr.Dropdown, Capability | None]] = []

    def names(self, capability: Capability | None) -> list[str]:
        """The models that have `capability` (all of them for None)."""
        return [info.name for info in self.engine.list_models() if capability is None or info.can(capability)]

    def dropdown(self, capability: Capability | None, label: str = "Model", prefer: Capability | None = None,
                 **options) -> gr.Dropdown:
        """A picker of the models that have ``capability``; it opens on the first that has ``prefer`` (if any)."""
        names = self.names(capability)
        preferred = [name for name in self.names(prefer) if name in names] if prefer is not None else []
        if not names:
            options["info"] = "No loaded model can do this yet: load or train one (Models, Train tabs)."
        # Custom values are allowed so API clients can name a model loaded after the page was built;
        # the engine answers an unknown name with the models that would do.
        dropdown = gr.Dropdown(
            choices=names, value=(preferred or names or [None])[0], label=label, allow_custom_value=True, **options
        )
        self._pickers.append((dropdown, capability))
        return dropdown

    @property
    def components(self) -> list[gr.Dropdown]:
        return [dropdown for dropdown, _ in self._pickers]

    def refresh(self, *current: str | None) -> list[dict]:
        """New choices for every picker, keeping each one's current choice where it is still offered."""
        updates = []
        for (_, capability), chosen in zip(self._pickers, current):
            names = self.names(capability)
            updates.append(gr.update(choices=names, value=chosen if chosen in names else (names[0] if names else None)))
        return updates
