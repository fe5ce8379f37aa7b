"""VAE Studio's engine: operators, models, data, training, evaluation and pipelines.

The package root offers the two calls most users start with: ``vaestudio.load(name)`` and
``vaestudio.describe_backend()``. Its imports happen inside them, so ``import vaestudio`` stays light.
"""

__version__ = "0.1.0"


def load(name_or_path: str, **kwargs):
    """Loads a shipped model by name (``pretrained/NAME``), a local folder, or a Hub id."""
    from vaestudio.hub import load as _load

    return _load(name_or_path, **kwargs)


def describe_backend() -> str:
    """Which operator backend is active and why, with the versions and the device: what ``vaestudio info``
    prints and the studio's Models tab shows."""
    import torch

    from vaestudio.ops import backend

    from vaestudio.ops.cpu_capability import cpu_capability

    active = backend()
    lines = [
        f"vaestudio {__version__}, torch {torch.__version__}",
        f"operators: {active.name} (CUDA kernels: {'yes' if active.cuda else 'no'})",
        f"why: {active.reason}",
        f"CUDA device: {torch.cuda.get_device_name() if torch.cuda.is_available() else 'none'}",
        f"CPU threads: {torch.get_num_threads()}",
    ]
    capability = cpu_capability()
    if capability is not None:
        lines.append(f"CPU kernel path: {capability.path}")
        lines.append(f"why this path: {capability.reason}; cap it with VAESTUDIO_CPU_CAPABILITY=<path>")
    return "\n".join(lines)
