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

# The main recipe settings the Train tab edits (vaestudio.training.recipe_settings): key -> (minimum, maximum).
# Hosted studios cap some of them lower (studio.hosting.HostedLimits).
RECIPE_SETTINGS = {
    "model.beta": (0.0, 1000.0),
    "model.latent_dim": (1, 1024),
    "model.num_codes": (2, 65536),
    "model.iwae_samples": (1, 100_000),
    "evaluation.iwae_k": (0, 100_000),  # 0: no IWAE bound at the end of the run
    "training.kl_warmup_steps": (0, 10_000_000),
    "model.free_bits": (0.0, 100.0),
}
LATENT_UNIT_IMAGES = (2, 5000)  # images over which active units and KL per dimension are measured
