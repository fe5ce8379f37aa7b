"""What a loaded model (or bundle) can do in the pipelines, as names the studio offers it under.

``text_to_image`` for text_to_image bundles, ``class_to_image`` for class_to_image bundles (draw a chosen class,
inpaint as a class), plus what the :class:`~vaestudio.pipelines.editing.Editor`
can do with the image model: ``encode`` (and ``attributes``), ``interpolate``, ``scatter``, ``sample``
(as ``prior``), ``codebook``, ``inpaint``, ``manifold``. A ``photo_editing`` bundle (``photos``) offers
``encode`` and ``inpaint``, which the studio serves through
:class:`~vaestudio.pipelines.photo_editing.PhotoEditing` at the upload's own size. Conditional models take
their condition from the studio's pickers: a class-conditional model its class (encode, each end of an
interpolation, samples, manifold), a text-conditional one a prompt (encode, each end of an interpolation,
samples); the editor picks a condition itself for the rest (scatter, manifold, class-conditional samples).
"""

from __future__ import annotations

from vaestudio.checkpoints import Bundle
from vaestudio.models.base import StudioModel
from vaestudio.pipelines.editing import Editor

BUNDLE_KINDS = ("text_to_image", "class_to_image")  # a bundle of such a kind is offered under its kind's name
EDITOR_NAMES = {
    "encode": ("encode", "attributes"),
    "interpolate": ("interpolate",),
    "scatter": ("scatter",),
    "sample": ("prior",),
    "codebook": ("codebook",),
    "inpaint": ("inpaint",),
    "manifold": ("manifold",),
}
PHOTO_EDITING = frozenset({"encode", "inpaint"})  # a photo_editing bundle: any size, through PhotoEditing, no data
NEEDS_NO_CONDITION = {"scatter", "manifold", "sample"}  # the editor picks a condition (or the neutral prompt)
PICKED = {  # what a conditional model takes its condition for from the studio's pickers, by condition kind
    "class": {"encode", "interpolate"},  # its class pickers
    "text": {"encode", "interpolate", "sample"},  # a prompt (its example prompts, or typed)
}


def capabilities(model: StudioModel | Bundle, editor: Editor | None = None) -> frozenset[str]:
    """The capability names of ``model`` (``editor``: one already built for it, to reuse; None builds one)."""
    if isinstance(model, Bundle) and model.kind == "photo_editing":
        return PHOTO_EDITING
    bundle_kind = model.kind if isinstance(model, Bundle) else None
    names = {bundle_kind} if bundle_kind in BUNDLE_KINDS else set()
    if editor is None:
        try:
            editor = Editor(model)
        except (TypeError, ValueError, KeyError):  # a prior or scorer alone, a two-level VQ-VAE: nothing to edit
            return frozenset(names)
    condition = editor.space.condition_kind
    for name in editor.capabilities:
        if condition == "none" or name in NEEDS_NO_CONDITION or name in PICKED.get(condition, ()):
            names.update(EDITOR_NAMES.get(name, ()))
    return frozenset(names)
