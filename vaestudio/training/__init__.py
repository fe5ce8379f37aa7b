"""Training: recipes (TOML -> dataclass), the trainer, checkpoints, distributed helpers, plots and progress."""

from vaestudio.training.progress import ProgressEvent
from vaestudio.training.recipes import Recipe, RecipeError, load_recipe
from vaestudio.training.trainer import TrainResult, train

__all__ = ["ProgressEvent", "Recipe", "RecipeError", "TrainResult", "load_recipe", "train"]
