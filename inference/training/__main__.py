"""`python -m inference.training --method sft|dpo|kto ...`: the same training without
Django, for a machine with only the ML stack (a GPU box)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from inference.sft_data import DataError
from inference.training import METHODS, hyperparameter_names, make_hyperparameters, train


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fine-tune a LoRA adapter (no Django).")
    parser.add_argument("--method", choices=METHODS, default="sft")
    parser.add_argument("--data", type=Path, required=True,
                        help="JSONL file, or an export's folder")
    parser.add_argument("--base-model-dir", type=Path, required=True)
    parser.add_argument("--base-model-name", default="")
    parser.add_argument("--adapter-dir", type=Path, default=None,
                        help="continue this LoRA adapter instead of starting a new one")
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--fresh", action="store_true")
    for name, kind in hyperparameter_names().items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind, default=None)
    args = parser.parse_args(argv)
    try:
        hparams = make_hyperparameters(args.method, {
            name: getattr(args, name) for name in hyperparameter_names()})
        result = train(args.method, args.data, args.base_model_dir, args.output, hparams,
                       base_model_name=args.base_model_name, adapter_dir=args.adapter_dir,
                       fresh=args.fresh)
    except DataError as exc:
        parser.error(str(exc))
    print(json.dumps(result.record["metrics"], indent=2))


if __name__ == "__main__":
    main()
