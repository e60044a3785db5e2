"""Make the shipped model, foley_engine/checkpoints/default.pt, with one command:

    .venv/bin/python scripts/train-default-model.py

1. builds the synthetic dataset (12 h of synthetic performers, all 23 instruments, dataset seed 3) into
   runs/data/synth-12h-s3 (resumable: shards already there are kept);
2. trains with the default TrainConfig (seed 0, <= 57 min on 2 CPU cores) into runs/default-v6
   (equivalent to `foley train --data runs/data/synth-12h-s3 --out runs/default-v6 --seed 0`), which ends by
   choosing the onset-guidance threshold and mass on the validation split (foley_engine/model/calibration.py);
3. evaluates model and baseline on the first 60 examples of the dataset's held-out test split (`foley eval`,
   pieces never seen in training), and
4. exports float16 weights + default.json (command, seeds, config, data manifest, metrics) into the package.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see train_cli.py; before torch is imported

REPO = Path(__file__).resolve().parents[1]
COMMAND = "python scripts/train-default-model.py"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=12.0)
    parser.add_argument("--data-seed", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=REPO / "runs/data/synth-12h-s3")
    parser.add_argument("--run", type=Path, default=REPO / "runs/default-v6")
    parser.add_argument("--eval-limit", type=int, default=60, help="test examples to evaluate on")
    parser.add_argument("--skip-train", action="store_true",
                        help="calibrate, evaluate and export an existing run")
    args = parser.parse_args()

    from foley_engine.cli import main as foley
    from foley_engine.data.shards import build_synthetic_dataset
    from foley_engine.model.checkpoint import export_checkpoint
    from foley_engine.training.loop import TrainConfig, calibrate_checkpoint, train

    clock = time.time()
    manifest = build_synthetic_dataset(args.data, args.hours, args.data_seed, workers=os.cpu_count() or 1)
    print(f"dataset: {manifest['seconds']} s per split in {args.data} ({time.time() - clock:.0f} s)")
    if not args.skip_train:
        resume = (args.run / "state.pt").exists()
        train([args.data], args.run, TrainConfig(seed=args.seed), resume=resume, log=lambda s: print(s, flush=True))
    else:
        calibrate_checkpoint(args.run / "checkpoint.pt", [args.data])
    report = args.run / "eval-test"
    code = foley(["eval", "--data", str(args.data), "--split", "test", "--model", str(args.run / "checkpoint.pt"),
                  "--out", str(report), "--limit", str(args.eval_limit), "--force"])
    if code:
        return code
    evaluation = json.loads((report / "report.json").read_text())
    card = export_checkpoint(args.run / "checkpoint.pt", REPO / "foley_engine/checkpoints/default.pt", {
        "command": COMMAND, "data_seed": args.data_seed, "hours": args.hours,
        "equivalent_commands": [
            f"build_synthetic_dataset('{args.data.name}', hours={args.hours}, seed={args.data_seed})",
            f"foley train --data {args.data.name} --out {args.run.name} --seed {args.seed}",
            f"foley eval --data {args.data.name} --split test --model {args.run.name}/checkpoint.pt "
            f"--limit {args.eval_limit}"],
        "evaluation_synthetic_test": evaluation.get("summary", evaluation)})
    print(f"exported {card['file']} ({card['size_bytes'] / 1e6:.1f} MB, {card['parameters'] / 1e6:.2f} M params)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
