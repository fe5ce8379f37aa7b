"""The training loop: ``train(recipe, out_dir)`` -> a model folder with its card, metrics and pictures.

What lands in ``out_dir`` (rank 0 only writes):

- the model folder itself: ``config.json``, ``model.safetensors`` (``load_model(out_dir)`` works),
  ``README.md`` (model card), ``metrics.json``, and for priors ``vqvae_reference.json``;
- ``recipe.toml`` (the resolved recipe), ``log.jsonl`` (logged numbers), ``loss_curve.png``,
  ``samples/step-N-reconstructions.png`` and ``samples/step-N-samples.png``;
- ``checkpoints/`` (see :mod:`vaestudio.training.checkpointing`).

Exact resume: the data order is a function of (seed, epoch) (``DeterministicSampler``), the
position in the epoch, the optimizer state, every RNG state and the loss history are in the
checkpoint, and the learning rate is a function of the step. A run killed after a checkpoint
and resumed with ``resume=True`` ends with the same weights, bit for bit, as a run that was
never interrupted.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import threading
import time
from typing import Any

import numpy
import torch

from vaestudio.checkpoints import save_model
from vaestudio.common.batch import Batch
from vaestudio.common.files import atomic_write
from vaestudio.data import collate, make_loader
from vaestudio.evaluation import evaluate
from vaestudio.hub import resolve
from vaestudio.models.base import StudioModel
from vaestudio.training import building, checkpointing, distributed
from vaestudio.training.distributed import DeterministicSampler, DistributedContext
from vaestudio.training.model_card import machine_description, render_model_card
from vaestudio.training.plots import loss_curve
from vaestudio.training.previews import Preview, make_preview
from vaestudio.training.progress import ProgressCallback, ProgressReporter, Throughput
from vaestudio.training.recipes import Recipe, RecipeError

VQVAE_REFERENCE = "vqvae_reference.json"


@dataclasses.dataclass
class TrainResult:
    out_dir: str
    model: StudioModel  # the trained model (unwrapped), on the training device
    step: int  # optimizer steps done
    total_steps: int
    stopped_early: bool  # stop_event or training.stop_after ended the run before total_steps
    saved: bool  # whether the final model folder was written (not after training.stop_after)
    metrics: dict[str, Any]
    seconds: float  # training time over all sessions of the run
    rank: int = 0  # this process's rank in a distributed run (only rank 0 wrote files)


def train(
    recipe: Recipe,
    out_dir: str,
    progress_callback: ProgressCallback | None = None,
    stop_event: threading.Event | None = None,
    resume: bool = False,
    show_progress: bool = False,
    command: str | None = None,
) -> TrainResult:
    """Trains what the recipe says into ``out_dir``.

    progress_callback: called with a ProgressEvent at every log step and every sample grid.
    stop_event: when set, the run stops after the current step and still saves everything.
    resume: continue from ``out_dir``'s latest checkpoint (an error if the folder has one and this is False).
    """
    context = distributed.setup(recipe.training.device)
    threads = torch.get_num_threads()
    if recipe.training.num_threads > 0:
        torch.set_num_threads(recipe.training.num_threads)
    try:
        run = Run(recipe, out_dir, context, progress_callback, stop_event, show_progress, command)
        return run.train(resume)
    finally:
        torch.set_num_threads(threads)
        distributed.cleanup(context)


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    numpy.random.seed(seed % 2**32)
    random.seed(seed)


class Run:
    """One training run: everything built from the recipe, and the loop state that checkpoints hold."""

    def __init__(self, recipe: Recipe, out_dir: str, context: DistributedContext,
                 progress_callback: ProgressCallback | None, stop_event: threading.Event | None,
                 show_progress: bool, command: str | None) -> None:
        self.recipe, self.out_dir, self.context = recipe, out_dir, context
        self.progress_callback, self.stop_event = progress_callback, stop_event
        self.show_progress = show_progress and context.is_main
        self.command = command or f"vaestudio.training.train(load_recipe({recipe.path!r}, {recipe.overrides!r}))"
        training = recipe.training
        device = context.device
        seed_everything(training.seed)  # the same initial weights on every rank
        self.vqvae = building.load_frozen_vqvae(recipe, device) if building.needs_codes(recipe) else None
        self.image_size = getattr(self.vqvae.config, "image_size", None) if self.vqvae is not None else None
        self.source = building.open_data(recipe, image_size=self.image_size)
        self.model = building.build_model(recipe, self.source, self.vqvae).to(device)
        self.model.train()
        building.check_kl_warmup(self.model, training, recipe.path)
        if context.rank > 0:  # each rank its own noise (reparameterisation, Gumbel...) from here on
            torch.manual_seed(int(numpy.random.SeedSequence([training.seed, context.rank]).generate_state(1)[0]))
        self.optimizer = building.build_optimizer(self.model, training)
        try:
            self.sampler = DeterministicSampler(len(self.source), training.batch_size, training.seed, True,
                                                context.rank, context.world_size)
        except ValueError as error:
            raise RecipeError(f"{recipe.path}: {error}") from error
        self.loader = make_loader(self.source, self.sampler.per_rank_batch_size, shuffle=False, seed=training.seed,
                                  drop_last=True, num_workers=training.num_workers, sampler=self.sampler)
        self.steps_per_epoch = self.sampler.batches_per_epoch
        self.total_steps = training.steps or training.epochs * self.steps_per_epoch
        self.codes = None
        if self.vqvae is not None:
            cacheable = getattr(self.source, "binarize", None) != "dynamic"
            capacity = len(self.source) if cacheable and len(self.source) <= training.code_cache_limit else 0
            self.codes = building.CodeProvider(self.vqvae, capacity,
                                                building.code_level(self.model, self.vqvae, recipe.path))
        self.regional_captions = building.regional_captions(recipe, self.model)
        self.wrapped = distributed.wrap(self.model, context)
        self.preview_batch = self._preview_batch()
        # loop state (what a checkpoint holds)
        self.step = 0
        self.epoch = 0
        self.position = 0  # batches of the current epoch already done
        self.history: list[list[float]] = []  # [step, mean loss since the previous log]
        self.seconds = 0.0  # loop time of earlier sessions (a resumed run)
        self.session_started = time.perf_counter()
        self.throughput = Throughput()
        self.last_logs: dict[str, float] = {}

    # -- set-up helpers -------------------------------------------------------------------------
    def _preview_batch(self) -> Batch:
        count = min(self.recipe.training.sample_count, len(self.source))
        batch = collate([self.source[index] for index in range(count)]).to(self.context.device)
        if self.codes is not None:
            batch = self.codes.fill(batch, None)
        return batch

    def _check_out_dir(self, resume: bool) -> str | None:
        latest = checkpointing.latest_checkpoint(self.out_dir)
        if latest is not None and not resume:
            raise RecipeError(f"{self.out_dir} already holds a training run (checkpoints/); pass --resume to "
                              "continue it, or choose another --out folder")
        if self.context.is_main:
            os.makedirs(os.path.join(self.out_dir, "samples"), exist_ok=True)
        return latest if resume else None

    def _trainer_state(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "position": self.position, "total_steps": self.total_steps,
                "history": self.history, "seconds": self.elapsed_seconds, "recipe": self.recipe.to_dict(),
                "world_size": self.context.world_size}

    def _restore(self, directory: str) -> None:
        state, tensors = checkpointing.load_checkpoint(directory, self.model, self.optimizer)
        saved, current = state["recipe"], json.loads(json.dumps(self.recipe.to_dict()))  # tuples as lists
        for key in ("data", "model"):
            if saved[key] != current[key]:
                raise checkpointing.ResumeError(f"the recipe's [{key}] differs from the checkpoint's in {directory}; "
                                                "resume with the same recipe and overrides")
        for key in ("batch_size", "seed"):
            if saved["training"][key] != current["training"][key]:
                raise checkpointing.ResumeError(f"training.{key} differs from the checkpoint's ({directory})")
        if state["world_size"] != self.context.world_size:
            raise checkpointing.ResumeError(f"the checkpoint was written by {state['world_size']} process(es); "
                                            f"resume with the same number (not {self.context.world_size})")
        own_tensors, own_values = checkpointing.unpack_rng_states(tensors, state["rng"], self.context.rank)
        checkpointing.restore_rng_states(own_tensors, own_values)
        self.step, self.epoch, self.position = state["step"], state["epoch"], state["position"]
        self.history, self.seconds = state["history"], state["seconds"]

    # -- the loop ---------------------------------------------------------------------------------
    def train(self, resume: bool) -> TrainResult:
        latest = self._check_out_dir(resume)
        if latest is not None:
            self._restore(latest)
        if self.context.is_main:
            self._write_text("recipe.toml", self.recipe.to_toml())
        reporter = ProgressReporter(self.total_steps, self.step, self.out_dir if self.context.is_main else None,
                                    self.show_progress, self.progress_callback if self.context.is_main else None)
        self.session_started = time.perf_counter()
        stop: str | None = None  # "requested" (stop_event: save everything) or "killed" (stop_after: save nothing)
        try:
            while self.step < self.total_steps and stop is None:
                for batch in self._epoch_batches():
                    self._train_step(batch, reporter)
                    stop = self._stop_reason()
                    done = stop is not None or self.step >= self.total_steps
                    self._after_step(reporter, final=done, save=stop != "killed")
                    if done:
                        break
        finally:
            reporter.close()
        killed = stop == "killed"
        metrics = {} if killed else self._finish()
        return TrainResult(self.out_dir, self.model, self.step, self.total_steps, stop is not None, not killed,
                           metrics, self.elapsed_seconds, self.context.rank)

    @property
    def elapsed_seconds(self) -> float:
        """Wall-clock time of the training loop (data, steps, previews, checkpoints) over all its sessions."""
        return self.seconds + time.perf_counter() - self.session_started

    def _stop_reason(self) -> str | None:
        stop_after = self.recipe.training.stop_after
        if stop_after is not None and self.step >= stop_after:
            return "killed"
        requested = self.stop_event is not None and self.stop_event.is_set()
        if self.context.enabled:  # every rank stops at the same step
            flag = torch.tensor([1.0 if requested else 0.0], device=self.context.device)  # (1,)
            torch.distributed.all_reduce(flag)
            requested = bool(flag.item() > 0)
        return "requested" if requested else None

    def _epoch_batches(self):
        """The batches left in the current epoch, each with its dataset indices; advances the epoch after."""
        per_rank = self.sampler.per_rank_batch_size
        start = self.position * per_rank
        self.sampler.set_position(self.epoch, start)
        self.loader.set_epoch(self.epoch)
        if start == 0:  # codebook usage is counted over an epoch, not a batch
            for module in self.model.modules():
                if callable(getattr(module, "reset_usage", None)):
                    module.reset_usage()
        indices = None
        if self.codes is not None:
            indices = torch.tensor(self.sampler.order()[self.context.rank :: self.context.world_size][start:])
        for offset, batch in enumerate(self.loader):
            batch_indices = None if indices is None else indices[offset * per_rank : (offset + 1) * per_rank]
            yield batch, batch_indices
        self.epoch += 1
        self.position = 0

    def _train_step(self, batch_and_indices: tuple[Batch, torch.Tensor | None], reporter: ProgressReporter) -> None:
        batch, indices = batch_and_indices
        training = self.recipe.training
        batch = batch.to(self.context.device)
        if self.codes is not None:
            batch = self.codes.fill(batch, indices)
        if self.regional_captions is not None:
            batch = self.regional_captions.apply(batch)
        for group in self.optimizer.param_groups:
            group["lr"] = building.learning_rate_at(self.step, self.total_steps, training)
        if training.kl_warmup_steps > 0:
            self.model.kl_weight_factor = building.kl_weight_at(self.step, training)
        self.throughput.start()
        with torch.autocast(self.context.device.type, dtype=torch.bfloat16, enabled=training.precision == "bf16"):
            loss, logs = self.wrapped(batch)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"the loss is {float(loss)} at step {self.step}; lower training.learning_rate, "
                                     "set training.grad_clip, or use precision = 'fp32'")
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if training.grad_clip > 0:
            gradient_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), training.grad_clip)
            logs = {**logs, "gradient_norm": float(gradient_norm)}
        self.optimizer.step()
        self.step += 1
        self.position += 1
        self.model.on_train_step_end(self.step)
        self.throughput.stop(training.batch_size)
        reporter.step({"loss": float(loss.detach()), **logs}, self.throughput.images_per_second)

    def _after_step(self, reporter: ProgressReporter, final: bool, save: bool) -> None:
        """Logging, previews and checkpoints at their intervals (and all of them at the end)."""
        training = self.recipe.training
        log_now = self._due(training.log_every) or final
        preview_now = self._due(training.sample_every) or (final and save)
        summary: dict[str, float] = {}
        if log_now:
            summary = distributed.mean_over_ranks(reporter.drain(), self.context)
            if summary:
                self.history.append([self.step, summary.get("loss", float("nan"))])
                self.last_logs = summary
        preview = self._write_preview() if preview_now else None
        if log_now or preview is not None:
            reporter.report(self.step, summary, self.throughput.images_per_second,
                            preview.combined if preview is not None else None)
        if save and (self._due(training.checkpoint_every) or final):
            self._checkpoint()

    def _due(self, every: int) -> bool:
        return every > 0 and self.step % every == 0

    def _write_preview(self) -> Preview:
        preview = make_preview(self.model, self.preview_batch, self.vqvae, seed=self.recipe.training.seed)
        if self.context.is_main:
            for kind in ("reconstructions", "samples"):
                picture = getattr(preview, kind)
                if picture is not None:
                    path = os.path.join(self.out_dir, "samples", f"step-{self.step:08d}-{kind}.png")
                    atomic_write(path, lambda temporary, p=picture: p.save(temporary, format="PNG"))
            steps = [int(step) for step, _ in self.history]
            curve = loss_curve(steps, [loss for _, loss in self.history], title=f"{self.recipe.name}: loss")
            atomic_write(os.path.join(self.out_dir, "loss_curve.png"), lambda t: curve.save(t, format="PNG"))
        return preview

    def _checkpoint(self) -> None:
        per_rank = distributed.all_gather_objects(checkpointing.capture_rng_states(), self.context)
        if self.context.is_main:
            rng_tensors, rng_values = checkpointing.pack_rng_states(per_rank)
            checkpointing.save_checkpoint(self.out_dir, self.step, self.model, self.optimizer,
                                          {**self._trainer_state(), "rng": rng_values}, rng_tensors)
        distributed.barrier(self.context)

    # -- the end ------------------------------------------------------------------------------------
    def _finish(self) -> dict[str, Any]:
        metrics = {"training": {
            "steps": self.step, "total_steps": self.total_steps, "epochs": self.step / self.steps_per_epoch,
            "seconds": self.elapsed_seconds, "images_per_second": self.throughput.images_per_second,
            "final_logs": self.last_logs,
        }}
        if self.context.is_main:
            if self.recipe.evaluation.enabled:
                metrics["evaluation"] = self._evaluate()
            self._save_model(metrics)
        distributed.barrier(self.context)
        return metrics

    def _evaluate(self) -> dict[str, Any]:
        settings = self.recipe.evaluation
        try:
            source = building.open_data(self.recipe, settings.split, self.image_size)
        except RecipeError:
            source = building.open_data(self.recipe, None, self.image_size)  # a source without that split
        result = evaluate(self.model, source, batch_size=settings.batch_size, iwae_k=settings.iwae_k,
                          limit=settings.limit, vqvae=self.vqvae, seed=self.recipe.training.seed)
        return {"split": getattr(source, "split", settings.split), **result}

    def _save_model(self, metrics: dict[str, Any]) -> None:
        save_model(self.model, self.out_dir)
        if self.vqvae is not None:
            reference = {"vqvae": self.recipe.model.vqvae, "resolved": _resolved_path(self.recipe.model.vqvae)}
            self._write_text(VQVAE_REFERENCE, json.dumps(reference, indent=2) + "\n")
        self._write_text("metrics.json", json.dumps(metrics, indent=2, sort_keys=True) + "\n")
        data_description = (f"{len(self.source)} images of {self.source.num_channels} x {self.source.image_size} x "
                            f"{self.source.image_size}")
        card = render_model_card(self.recipe, metrics, self.command, machine_description(self.context.world_size),
                                 data_description, self.recipe.model.vqvae)
        self._write_text("README.md", card)

    def _write_text(self, name: str, text: str) -> None:
        def write(temporary: str) -> None:
            with open(temporary, "w", encoding="utf-8") as stream:
                stream.write(text)

        atomic_write(os.path.join(self.out_dir, name), write)


def _resolved_path(name_or_path: str) -> str | None:
    try:
        return os.path.abspath(resolve(name_or_path))
    except (OSError, ValueError):  # a Hub id that is not downloaded, a folder that moved: the name alone stays
        return None
