"""`foley train`: fit the Graph-Transformer on example shards, on one CPU or many GPUs with the same command.

The default config is sized to train a useful model on a 2-core CPU in under an hour; launched by torchrun
the same loop runs DistributedDataParallel (gloo on CPU, nccl on GPUs), each rank reading its own share of the
shards. A run folder holds checkpoint.pt (a model checkpoint: config, vocabulary, data provenance, metrics),
state.pt (optimizer and position, for --resume), metrics.csv and loss.png.
"""

from __future__ import annotations

import csv
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.nn import functional as F

from ..errors import InputError
from ..model.checkpoint import atomic_save, load_checkpoint, save_checkpoint
from ..model.generate import generate_tracks
from ..model.network import FoleyModel, ModelConfig
from ..model.sampling import Sampling
from ..model.vocabulary import PAD_TOKEN
from ..outputs import atomic_path
from .batches import Batch, Performer, WindowSampler, collate, load_performers
from .calibration import calibrate_motion_floor, calibrate_onset_mass, calibrate_onset_threshold
from .metrics import matched_onsets

CALIBRATION_CLIPS = 200  # validation clips the onset threshold is chosen on
CSV_FIELDS = ("step", "seconds", "lr", "train_loss", "val_loss", "val_onset_f1")


@dataclass
class TrainConfig:
    """Optimisation and schedule; `model` overrides ModelConfig fields. Steps fit 60 min on 2 CPU cores."""

    steps: int = 2600
    batch_size: int = 16  # windows per step, over all ranks
    learning_rate: float = 2e-3
    warmup_steps: int = 100
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    max_minutes: float = 57.0  # stop (and save) early when the wall clock runs out
    eval_every: int = 400
    eval_windows: int = 64  # validation windows for the loss
    eval_clips: int = 10  # validation clips generated for onset F1 (default sampling)
    checkpoint_minutes: float = 10.0
    log_every: int = 20
    primed_probability: float = 0.7
    onset_weight: float = 0.5  # weight of the encoder's per-frame onset loss next to the token loss
    max_tokens: int = 512
    seed: int = 0
    model: dict = field(default_factory=lambda: {"dropout": 0.0})

    @classmethod
    def from_file(cls, path: str | Path) -> TrainConfig:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read training config {path}: {exc}") from exc
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise InputError(f"unknown training config keys in {path}: {', '.join(sorted(unknown))}")
        return cls(**data)


@dataclass
class Distributed:
    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls) -> Distributed:
        """torchrun sets RANK/WORLD_SIZE/LOCAL_RANK; without them this is a single process."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
        if torch.cuda.is_available():
            device = torch.device("cuda", local)
            torch.cuda.set_device(device)
        else:
            device = torch.device("cpu")
        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        return cls(rank, world, device)

    def from_main(self, value: float) -> float:
        """Rank 0's value on every rank: its clock sets the learning rate and when all ranks stop."""
        if self.world == 1:
            return value
        tensor = torch.tensor([value], dtype=torch.float64, device=self.device)
        dist.broadcast(tensor, 0)
        return float(tensor.item())


def learning_rate(config: TrainConfig, step: int, minutes: float) -> float:
    """Linear warmup, then cosine decay to 5 %. Progress is by steps or by the wall clock, whichever is
    further along, so a run slowed by a busy machine still anneals before its time budget ends."""
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    by_steps = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    progress = min(1.0, max(by_steps, minutes / config.max_minutes))
    return config.learning_rate * (0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * progress)))


def _optimizer(model: FoleyModel, config: TrainConfig) -> torch.optim.Optimizer:
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "embedding" not in n]
    rest = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and "embedding" not in n)]
    return torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                              {"params": rest, "weight_decay": 0.0}], lr=config.learning_rate, betas=(0.9, 0.98))


def batch_loss(model: torch.nn.Module, batch: Batch, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean cross-entropy of the predicted tokens (prefix and padding excluded), and the per-frame onset
    loss (binary cross-entropy: onset or not, up-weighted as onsets are rare, plus which pitches start)."""
    logits, onsets = model(batch.features.to(device), batch.mask.to(device), batch.instrument_ids.to(device),
                           batch.inputs.to(device), batch.times.to(device))
    tokens = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch.targets.to(device).reshape(-1),
                             ignore_index=PAD_TOKEN)
    if onsets is None:
        return tokens, torch.zeros((), device=device)
    target = batch.onsets.to(device)
    onset = F.binary_cross_entropy_with_logits(onsets[..., 0], target[..., 0],
                                               pos_weight=torch.tensor(4.0, device=device))
    pitch = F.binary_cross_entropy_with_logits(onsets[..., 1:], target[..., 1:])
    return tokens, onset + 20.0 * pitch


def data_provenance(directories: list[Path], train: list[Performer], val: list[Performer]) -> dict:
    """What a model learned from: each dataset's manifest summary and the counts actually read."""
    datasets = []
    for directory in directories:
        manifest = directory / "manifest.json"
        summary: dict = {"path": str(directory)}
        if manifest.is_file():
            content = json.loads(manifest.read_text())
            summary |= {key: content.get(key) for key in ("format", "version", "config", "counts", "seconds",
                                                           "sources")}
        datasets.append(summary)
    return {"datasets": datasets, "train_performers": len(train), "val_performers": len(val),
            "train_sources": sorted({p.source.split(":")[0] for p in train})}


class Evaluator:
    """Validation loss on fixed windows and onset F1 of whole generated validation clips."""

    def __init__(self, performers: list[Performer], config: ModelConfig, train_config: TrainConfig) -> None:
        self.config, self.train_config = config, train_config
        rng = np.random.default_rng(12345)
        sampler = WindowSampler(performers, config, train_config.primed_probability, augment=False)
        self.batches = [collate([sampler.window(rng) for _ in range(min(16, train_config.eval_windows - i))],
                                config, train_config.max_tokens)
                        for i in range(0, train_config.eval_windows, 16)]
        order = rng.permutation(len(performers))[:train_config.eval_clips]
        self.clips = [performers[i] for i in order]

    def __call__(self, model: FoleyModel, device: torch.device) -> dict:
        model.eval()
        with torch.no_grad():
            losses = [(batch_loss(model, b, device)[0].item(), b.tokens) for b in self.batches]
        val_loss = sum(loss * n for loss, n in losses) / max(1, sum(n for _, n in losses))
        matches = reference = estimated = 0
        cpu_model = model if device.type == "cpu" else FoleyModel(self.config).eval()
        if cpu_model is not model:
            cpu_model.load_state_dict({k: v.cpu() for k, v in model.state_dict().items()})
        for i, clip in enumerate(self.clips):
            duration = len(clip.joints) / self.config.rate
            notes = generate_tracks(cpu_model, [clip.joints.astype(np.float32)], self.config.rate,
                                    clip.frame_size, clip.instrument, duration, sampling=Sampling(), seed=i)[0][0]
            truth = [n.start for n in clip.notes if n.start < duration]
            matches += matched_onsets(truth, [n.start for n in notes])
            reference, estimated = reference + len(truth), estimated + len(notes)
        model.train()
        f1 = 2 * matches / max(1, reference + estimated)
        return {"val_loss": round(val_loss, 4), "val_onset_f1": round(f1, 4)}


def calibrate(model: FoleyModel, performers: list[Performer], log: Callable[[str], None] = print,
              clips: int = CALIBRATION_CLIPS) -> dict:
    """Set the model's onset guidance (threshold, motion-floor scales, mass) on (up to `clips` of) the
    validation performers; returns the numbers for the checkpoint's metrics."""
    chosen = [performers[i] for i in np.random.default_rng(0).permutation(len(performers))[:clips]]
    threshold, scores = calibrate_onset_threshold(model, chosen)
    model.config = replace(model.config, motion_floor_scale=calibrate_motion_floor(model, chosen))
    mass, mass_scores = calibrate_onset_mass(model, chosen, threshold)
    model.config = replace(model.config, onset_threshold=threshold, onset_mass=mass)
    log(f"onset threshold {threshold} (validation onset-head F1 {scores.get(threshold, float('nan')):.3f} "
        f"over {len(chosen)} clips; at 0.5: {scores.get(0.5, float('nan')):.3f})")
    log(f"motion floor: onsets per strike by instrument {model.config.motion_floor_scale}")
    if mass_scores:
        log(f"onset mass {mass} (validation onset-head F1 by condition: {mass_scores[mass]}; "
            f"threshold alone: {mass_scores[0.0]})")
    return {"onset_threshold": threshold, "onset_threshold_f1": {f"{t:.2f}": f for t, f in scores.items()},
            "onset_mass": mass, "onset_mass_f1": {f"{m:.1f}": f for m, f in mass_scores.items()},
            "motion_floor_scale": model.config.motion_floor_scale}


def calibrate_checkpoint(path: str | Path, data: list[str | Path], log: Callable[[str], None] = print) -> dict:
    """calibrate() for a finished run's checkpoint, rewritten in place with the threshold in its config."""
    loaded = load_checkpoint(path)
    performers = load_performers(data, "val", loaded.model.config.rate)
    if not performers:
        raise InputError(f"no validation split in {', '.join(str(d) for d in data)} to calibrate on")
    found = calibrate(loaded.model, performers, log)
    info = loaded.info
    save_checkpoint(path, loaded.model, training=info.get("training"), data=info.get("data"),
                    metrics=info.get("metrics", {}) | found)
    return found


def _write_plot(rows: list[dict], path: Path) -> None:
    """loss.png: train and validation loss, and validation onset F1, against steps."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    def series(key: str) -> tuple[list[int], list[float]]:
        points = [(int(r["step"]), float(r[key])) for r in rows if r.get(key) not in ("", None)]
        return [p[0] for p in points], [p[1] for p in points]

    figure, loss_axis = plt.subplots(figsize=(8, 4.5))
    loss_axis.plot(*series("train_loss"), label="train loss", alpha=0.7)
    loss_axis.plot(*series("val_loss"), "o-", label="val loss")
    loss_axis.set_xlabel("step")
    loss_axis.set_ylabel("cross-entropy (nats/token)")
    f1_axis = loss_axis.twinx()
    f1_axis.plot(*series("val_onset_f1"), "s-", color="tab:green", label="val onset F1")
    f1_axis.set_ylabel("onset F1 (50 ms)")
    f1_axis.set_ylim(0, 1)
    figure.legend(loc="upper right")
    figure.tight_layout()
    with atomic_path(path) as temp:
        figure.savefig(temp, dpi=100, format="png")
    plt.close(figure)


def train(data: list[str | Path], out: str | Path, config: TrainConfig | None = None, *, resume: bool = False,
          init: str | Path | None = None, log: Callable[[str], None] = print) -> dict:
    """Train into the run folder `out` (with TrainConfig() when no config is given: a fresh one each call, since
    the config is mutable); returns the final metrics. See the module docstring for the files."""
    config = TrainConfig() if config is None else config
    ctx = Distributed.from_env()
    out, data = Path(out), [Path(d) for d in data]
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // ctx.world))
    torch.manual_seed(config.seed)
    rng = np.random.default_rng([config.seed, ctx.rank])
    if init is not None:
        loaded = load_checkpoint(init)
        model_config, model = loaded.model.config, loaded.model
    else:
        model_config = ModelConfig(**config.model)
        model = FoleyModel(model_config)
    model.to(ctx.device).train()
    train_set = load_performers(data, "train", model_config.rate, ctx.rank, ctx.world)
    val_set = load_performers(data, "val", model_config.rate) if ctx.main else []
    sampler = WindowSampler(train_set, model_config, config.primed_probability)
    evaluator = Evaluator(val_set, model_config, config) if ctx.main and val_set else None
    optimizer = _optimizer(model, config)
    step, elapsed, rows = 0, 0.0, []
    state_path, checkpoint_path, csv_path = out / "state.pt", out / "checkpoint.pt", out / "metrics.csv"
    if resume:
        if not state_path.is_file():
            raise InputError(f"nothing to resume in {out} (no state.pt)")
        state = torch.load(state_path, map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step, elapsed = state["step"], state["elapsed"]
        rng = np.random.default_rng([config.seed, ctx.rank, step])
        torch.set_rng_state(state["torch_rng"])
        with csv_path.open() as handle:
            rows = list(csv.DictReader(handle))
    elif ctx.main and checkpoint_path.exists():
        raise InputError(f"{out} already holds a run; use --resume to continue it or another folder")
    out.mkdir(parents=True, exist_ok=True)
    provenance = data_provenance([Path(d) for d in data], train_set, val_set)
    wrapped = torch.nn.parallel.DistributedDataParallel(model) if ctx.world > 1 else model
    per_rank = max(1, config.batch_size // ctx.world)
    metrics: dict = {}
    clock, last_save, running = time.monotonic() - elapsed * 60, time.monotonic(), []

    def save() -> None:
        payload = {"training": asdict(config) | {"steps_done": step, "minutes": round(elapsed, 2),
                                                 "world_size": ctx.world, "init": str(init) if init else None},
                   "data": provenance, "metrics": metrics | {"step": step}}
        save_checkpoint(checkpoint_path, model, **payload)
        atomic_save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
                     "elapsed": elapsed,
                     "torch_rng": torch.get_rng_state()}, state_path)
        with atomic_path(csv_path) as temp, temp.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, CSV_FIELDS)
            writer.writeheader()
            writer.writerows(rows)
        _write_plot(rows, out / "loss.png")

    while True:
        elapsed = ctx.from_main((time.monotonic() - clock) / 60)
        if step >= config.steps or elapsed >= config.max_minutes:
            break
        batch = collate([sampler.window(rng) for _ in range(per_rank)], model_config, config.max_tokens)
        rate = learning_rate(config, step, elapsed)
        for group in optimizer.param_groups:
            group["lr"] = rate
        token_loss, onset_loss = batch_loss(wrapped, batch, ctx.device)
        loss = token_loss + config.onset_weight * onset_loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        step += 1
        running.append(token_loss.item())
        if not ctx.main:
            continue
        row: dict[str, float | str] = {}
        if step % config.log_every == 0:
            row = {"train_loss": round(float(np.mean(running)), 4)}
            running = []
        if evaluator is not None and (step % config.eval_every == 0 or step == config.steps):
            metrics = evaluator(model, ctx.device)
            row |= metrics
        if row:
            row |= {"step": step, "seconds": round(time.monotonic() - clock, 1),
                    "lr": f"{rate:.3g}"}
            rows.append({key: row.get(key, "") for key in CSV_FIELDS})
            log(" ".join(f"{key}={value}" for key, value in rows[-1].items() if value != ""))
        if time.monotonic() - last_save > config.checkpoint_minutes * 60:
            save()
            last_save = time.monotonic()
    if ctx.main:
        used = (model.config.onset_threshold, model.config.onset_mass)
        calibration = calibrate(model, val_set, log) if val_set else {}  # the guidance generation will use
        evaluated = (rows and int(rows[-1]["step"]) == step and rows[-1]["val_loss"] != ""
                     and (model.config.onset_threshold, model.config.onset_mass) == used)  # else stale
        if evaluator is not None and not evaluated:  # the final model always gets validation numbers
            metrics = evaluator(model, ctx.device)
            if rows and int(rows[-1]["step"]) == step:
                rows[-1].update(metrics)
            else:
                rows.append({key: ({"step": step, "seconds": round(time.monotonic() - clock, 1)} | metrics)
                             .get(key, "") for key in CSV_FIELDS})
        metrics |= calibration
        save()
        log(f"saved {checkpoint_path} after {step} steps, {elapsed:.1f} min")
    if ctx.world > 1:
        dist.barrier()
    return metrics | {"step": step, "minutes": round(elapsed, 2)}
