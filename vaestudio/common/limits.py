"""Request limits of the pipelines, in one place: the pipelines refuse (ValueError) what lies outside them,
and the studio's engines (real and fake) import them from here. Plain numbers: no torch."""

MAX_PROMPT_CHARACTERS = 1000  # longer prompts are cut at a word boundary, with a note (not refused)
IMAGES = (1, 64)  # text to image: images returned per request
RERANK = (1, 256)  # text to image: candidates sampled and ranked (at least the number of images)
MAX_GUIDANCE = 20.0  # classifier-free guidance scale in [0, MAX_GUIDANCE]; 1: none
INPAINT_CANDIDATES = (1, 256)
INTERPOLATION_STEPS = (2, 64)
MANIFOLD_GRID = (2, 40)  # decodes per side of the 2-D manifold grid
SCATTER_POINTS = (2, 5000)
PRIOR_SAMPLES = (1, 256)
