"""VAE Studio's engine: operators, models, data, training, evaluation and pipelines."""

__version__ = "0.1.0"


def load(name_or_path: str, **kwargs):
    """Loads a shipped model by name (``pretrained/NAME``), a local folder, or a Hub id."""
    from vaestudio.hub import load as _load

    return _load(name_or_path, **kwargs)
