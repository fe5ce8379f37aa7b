"""What a loaded model (or bundle) can do in the pipelines, as names the studio offers it under.

``text_to_image`` for text_to_image bundles, plus what the :class:`~vaestudio.pipelines.editing.Editor`
can do with the image model: ``encode`` (and ``attributes``), ``interpolate``, ``scatter``, ``sample``
(as ``prior``), ``codebook``, ``inpaint``, ``manifold``. A ``photo_editing`` bundle (``photos``) offers
``encode`` and ``inpaint``, which the studio serves through
:class:`~vaestudio.pipelines.photo_editing.PhotoEditing` at the upload's own size. Class-conditional models take their class
from the studio's class pickers (encode, samples, manifold); other conditional models are offered
only where the editor picks a condition itself (scatter, manifold, class-conditional samples).
"""

from __future__ import annotations

from vaestudio.checkpoints import Bundle
from vaestudio.models.base import StudioModel
from vaestudio.pipelines.editing import Editor

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
NEEDS_NO_CONDITION = {"scatter", "manifold", "sample"}  # the editor picks a condition for these
CLASS_PICKED = {"encode"}  # a class-conditional model takes the class from the studio's class pickers


def capabilities(model: StudioModel | Bundle, editor: Editor | None = None) -> frozenset[str]:
    """The capability names of ``model`` (``editor``: one already built for it, to reuse; None builds one)."""
    if isinstance(model, Bundle) and model.kind == "photo_editing":
        return PHOTO_EDITING
    names = {"text_to_image"} if isinstance(model, Bundle) and model.kind == "text_to_image" else set()
    if editor is None:
        try:
            editor = Editor(model)
        except (TypeError, ValueError, KeyError):  # a prior or scorer alone, a two-level VQ-VAE: nothing to edit
            return frozenset(names)
    condition = editor.space.condition_kind
    for name in editor.capabilities:
        if condition == "none" or (condition == "class" and name in CLASS_PICKED) or (
                name in NEEDS_NO_CONDITION and not (name == "sample" and condition == "text")):
            names.update(EDITOR_NAMES.get(name, ()))
    return frozenset(names)
