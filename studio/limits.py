"""The studio's limits at the door: queue, uploads and widget counts. One place to tune them."""

MAX_PIXELS = 4096 * 4096  # checked from the header, before any decoding
MAX_FILE_SIZE = "10mb"  # uploads above this are refused by the server
QUEUE_SIZE = 64  # requests waiting beyond this are refused with "queue full"
ENGINE_CONCURRENCY = 2  # engine calls running at once (they share one CPU pool)
WATCHERS = 8  # training-progress streams at once (they mostly sleep)

MAX_SLIDERS = 16  # latent sliders made up front; a model shows as many as it has
MAX_ATTRIBUTES = 24  # e.g. the shapes models' caption words: sizes, places, colours, shapes
MAX_IMAGES = 8  # text-to-image images per request
MAX_RERANK = 64
MAX_CANDIDATES = 8  # inpainting candidates
DISPLAY_SIZE = 256  # small model outputs are enlarged (nearest neighbour) to at least this
TRAINING_POLL_SECONDS = 0.5
TRAINING_WATCH_LIMIT_SECONDS = 3600  # a progress stream ends after this; the run goes on
MAX_CURVES = 8  # live plots of a run in the Train tab (loss, reconstruction, KL, bound, KL weight; VQ: 3 more)
CURVE_REFRESH_SECONDS = 2.0  # the Train tab re-reads the run's log.jsonl this often while it runs
