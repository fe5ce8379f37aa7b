"""Local or hosted: what a visitor's paths, data specs and training runs may reach (no torch).

Local mode (``python -m studio``) keeps full paths: every method hands its input back unchanged.
Hosted mode (a Hugging Face Space, detected by ``SPACE_ID``, or ``python -m studio --public``)
gives each visitor (each Gradio session) a workspace under one root, confines every path to it
(:func:`studio.workspace.confine`), refuses data specs that name server files or the network,
caps each visitor's training (one run at a time, a step and batch cap) and expires idle workspaces.
The tabs call these methods with the event's ``gr.Request``; the engine only ever sees confined paths.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from studio import workspace
from studio.engine_api import BusyError, InputError, StudioError, TrainingSettings

SPACE_VARIABLES = ("SPACE_ID", "SPACE_HOST")  # set by Hugging Face Spaces in the app's environment
CONFINED_SOURCES = ("folder", "idx")  # data specs whose argument is a path
MAX_VISITORS_REMEMBERED = 1000  # past this, visitors with no run going are forgotten (their job ids with them)


def detect_hosted(environment: Mapping[str, str] | None = None, public: bool = False) -> bool:
    """Hosted when asked (--public) or when running on a Space."""
    environment = os.environ if environment is None else environment
    return public or any(environment.get(name) for name in SPACE_VARIABLES)


@dataclass(frozen=True)
class HostedLimits:
    max_trainings: int = 2  # training runs at once, all visitors together
    max_steps: int = 2000  # per run
    max_batch_size: int = 256
    max_training_seconds: float = 600.0  # a run is stopped after this
    max_iwae_k: int = 1000  # importance samples per image (training objective and the bound at the end)
    max_latent_dim: int = 256
    max_num_codes: int = 4096
    workspace_bytes: int = 200 * 1024**2  # a visitor's workspace may hold this much
    workspace_max_age_seconds: float = 6 * 3600.0  # idle workspaces are deleted after this


class Hosting:
    """The studio's mode. `Hosting()` is local; `Hosting(hosted=True, root=...)` confines visitors."""

    def __init__(self, hosted: bool = False, root: str | Path | None = None, limits: HostedLimits = HostedLimits()):
        self.hosted = hosted
        self.root = Path(root) if root else workspace.default_root()
        self.limits = limits
        self._lock = threading.Lock()
        self._jobs_by_visitor: dict[str, list[str]] = {}
        self._last_expiry = 0.0

    def engine_options(self) -> dict:
        """Keyword arguments for Engine/FakeEngine: the training caps of all visitors together, when hosted."""
        if not self.hosted:
            return {}
        return {"max_trainings": self.limits.max_trainings, "training_time_limit": self.limits.max_training_seconds,
                "setting_caps": self.setting_caps()}

    def setting_caps(self) -> dict[str, float]:
        """The most a visitor may set each capped recipe setting to (none when local). The engine also lowers a
        recipe's own values above these (e.g. an evaluation with k = 5000)."""
        if not self.hosted:
            return {}
        cap = self.limits
        return {"model.iwae_samples": cap.max_iwae_k, "evaluation.iwae_k": cap.max_iwae_k,
                "model.latent_dim": cap.max_latent_dim, "model.num_codes": cap.max_num_codes,
                "training.kl_warmup_steps": cap.max_steps}

    # ----------------------------------------------------------------- what the Models tab says

    def describe(self) -> str:
        if not self.hosted:
            return ("**Local mode**: paths are read and written anywhere this server's user may reach. "
                    "Run `python -m studio --public` to serve strangers.")
        hours = self.limits.workspace_max_age_seconds / 3600
        return (f"**Hosted mode**: every path is inside your own workspace (other visitors cannot see it, and it "
                f"is deleted after {hours:g} hours unused). Upload data in the Train tab; download what you "
                "save as a zip.")

    # ----------------------------------------------------------------- workspaces

    def workspace(self, request) -> Path:
        """The visitor's own folder (made on first use; its time is refreshed on every use)."""
        self._expire_now_and_then()
        folder = self.root / workspace.visitor_name(_visitor_key(request))
        folder.mkdir(parents=True, exist_ok=True)
        os.utime(folder)
        return folder

    def path(self, request, user_path: str) -> str:
        """A path the visitor typed, as the engine should read it: confined when hosted, else unchanged."""
        if not self.hosted:
            return user_path
        return str(workspace.confine(self.workspace(request), user_path))

    def shown(self, request, path: str) -> str:
        """A path for the visitor's eyes: relative to their workspace when hosted (never the server's layout)."""
        if not self.hosted:
            return path
        home = self.workspace(request).resolve()
        resolved = Path(path).resolve()
        return str(resolved.relative_to(home)) if resolved.is_relative_to(home) else Path(path).name

    @contextlib.contextmanager
    def private(self, request):
        """Errors raised inside name paths relative to the visitor's workspace (hosted), not the server's layout."""
        if not self.hosted:
            yield
            return
        home = str(self.workspace(request).resolve())
        try:
            yield
        except StudioError as error:
            message = str(error).replace(home + os.sep, "").replace(home, "your workspace")
            raise type(error)(message.replace(str(self.root.resolve()), "the workspaces")) from None

    def data_spec(self, request, spec: str) -> str:
        """A data spec with its path confined; the network (hf:) and unknown arguments refused when hosted."""
        if not self.hosted:
            return spec
        name, separator, argument = (spec or "").strip().partition(":")
        if not separator:
            return spec  # a built-in source, or an empty choice (the engine checks the name)
        if name.strip() in CONFINED_SOURCES:
            return f"{name.strip()}:{workspace.confine(self.workspace(request), argument)}"
        raise workspace.PathRefused(
            f"Refused (403): the data source {spec.strip()!r} is not offered in this hosted studio. Pick a built-in "
            "source, or upload images (or a zip of a folder with metadata.jsonl) and use folder:uploads/NAME."
        )

    def model_source(self, request, spec: str) -> str:
        """Models' "load a model": a folder inside the workspace when hosted (no Hub ids, no server paths)."""
        if not self.hosted or not (spec or "").strip():
            return spec
        return self.path(request, spec)

    def _expire_now_and_then(self) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last_expiry < 60:
                return
            self._last_expiry = now
            busy = frozenset(map(workspace.visitor_name, self._jobs_by_visitor))
        workspace.expire(self.root, self.limits.workspace_max_age_seconds, keep=busy)

    # ----------------------------------------------------------------- training

    def settings(self, settings: TrainingSettings) -> TrainingSettings:
        """A run's settings within the hosted caps (0 steps: the cap); a clear refusal above them."""
        if not self.hosted:
            return settings
        cap = self.limits
        if settings.steps > cap.max_steps:
            raise InputError(f"This hosted studio trains at most {cap.max_steps} steps per run; set Steps to "
                             f"{cap.max_steps} or fewer (0 means {cap.max_steps}).")
        if settings.batch_size > cap.max_batch_size:
            raise InputError(f"This hosted studio trains with batches of at most {cap.max_batch_size}; set the "
                             "batch size lower.")
        for key, value in settings.overrides.items():
            most = self.setting_caps().get(key)
            if most is not None and value > most:
                raise InputError(f"This hosted studio allows {key} up to {most:g}; set it to {most:g} or lower.")
        if settings.steps == 0:
            return TrainingSettings(cap.max_steps, settings.batch_size, settings.learning_rate, settings.seed,
                                    settings.overrides)
        return settings

    def start(self, request, is_running: Callable[[str], bool], start: Callable[[], str]) -> str:
        """Starts a run for the visitor: one at a time each when hosted (the engine caps all visitors together)."""
        if not self.hosted:
            return start()
        key = _visitor_key(request)
        with self._lock:
            if any(is_running(job_id) for job_id in self._jobs_by_visitor.get(key, ())):
                raise BusyError("You already have a training run going. Stop it or wait for it to finish, then "
                                "start again (one run per visitor in this hosted studio).")
            job_id = start()
            self._jobs_by_visitor.setdefault(key, []).append(job_id)
            del self._jobs_by_visitor[key][:-16]
            if len(self._jobs_by_visitor) > MAX_VISITORS_REMEMBERED:  # forget visitors with nothing running
                for idle in [visitor for visitor, jobs in self._jobs_by_visitor.items()
                             if visitor != key and not any(map(is_running, jobs))]:
                    del self._jobs_by_visitor[idle]
        return job_id

    def job(self, request, job_id: str) -> str:
        """The job id, if the visitor may see it: when hosted, only their own runs."""
        if not self.hosted:
            return job_id
        with self._lock:
            owned = (job_id or "").strip() in self._jobs_by_visitor.get(_visitor_key(request), ())
        if not owned:
            raise InputError(f"There is no training job {job_id!r} of yours. Start a training run first.")
        return job_id


def _visitor_key(request) -> str:
    """The visitor's Gradio session (one per page load, one per gradio_client.Client)."""
    key = getattr(request, "session_hash", None) if request is not None else None
    if not key:
        raise InputError("This hosted studio needs a browser session for this; reload the page and try again.")
    return str(key)
