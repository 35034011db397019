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

A trained model is a directory: the encoder and tokenizer (transformers format), the
classification head, and `screener.json` with the thresholds and a training record.
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


@dataclass(frozen=True)
class TrainingOptions:
    epochs: int = 6
    learning_rate: float = 5e-5
    batch_size: int = 16
    calibration_share: float = 0.2
    seed: int = 0


def _encoder_class() -> type:
    import torch
    import torch.nn.functional as F
    from transformers import AutoModel

    class RiskEncoder(torch.nn.Module):
        """Mean-pooled MiniLM, normalised as sentence-transformers does, then a linear
        layer over the five levels."""

        def __init__(self, encoder: Any) -> None:
            super().__init__()
            self.encoder = encoder
            self.head = torch.nn.Linear(encoder.config.hidden_size, len(LEVELS))

        @classmethod
        def from_path(cls, path: str) -> RiskEncoder:
            return cls(AutoModel.from_pretrained(path, local_files_only=True))

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
        """The highest level whose cumulative probability clears its threshold."""
        at_least = np.cumsum(probabilities[::-1])[::-1]  # P(level or above)
        chosen = "none"
        for level in LEVELS[1:]:
            if at_least[RANK[level]] >= self.thresholds[level]:
                chosen = level
        return chosen, float(probabilities[RANK[chosen]])

    def save(self, path: Path) -> None:
        """Writes the model beside `path` and swaps it in, so a reader never sees half."""
        from safetensors.torch import save_file

        partial = path.with_name(path.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        self.network.encoder.save_pretrained(partial)
        self.tokenizer.save_pretrained(partial)
        save_file({k: v.contiguous() for k, v in self.network.head.state_dict().items()},
                  partial / HEAD)
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
        from safetensors.torch import load_file
        from transformers import AutoTokenizer

        record = json.loads((path / RECORD).read_text(encoding="utf-8"))
        network = _encoder_class().from_path(str(path))
        network.head.load_state_dict(load_file(path / HEAD))
        network.eval()
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        thresholds = record.pop("thresholds")
        return cls(tokenizer, network, thresholds, record)


def model_path() -> Path:
    return Path(settings.SCREENER_MODEL_PATH)


_lock = threading.Lock()
_cache: dict[str, tuple[float, ScreeningModel]] = {}


def get_model() -> ScreeningModel | None:
    """The trained model, reloaded when it is retrained; None if none is trained."""
    path = model_path()
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
          progress: bool = False) -> tuple[ScreeningModel, dict[str, float]]:
    """Fine-tunes the encoder on most of the messages and picks thresholds on the rest:
    the strictest thresholds at which rules and classifier together still keep crisis
    recall and ideation recall at their targets on messages the model did not see."""
    import torch
    import torch.nn.functional as F
    from sklearn.model_selection import train_test_split
    from tqdm import tqdm
    from transformers import AutoTokenizer

    from psyconsole.screening.service import rule_level
    from retrieval.embeddings import embedding_model_path

    options = options or TrainingOptions()
    y = np.array([RANK[level] for level in levels])
    fit_rows, calibration_rows = train_test_split(
        np.arange(len(texts)), test_size=options.calibration_share,
        random_state=options.seed, stratify=y if min(np.bincount(y)[np.unique(y)]) > 1 else None)
    torch.manual_seed(options.seed)
    base = embedding_model_path()
    tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
    network = _encoder_class().from_path(base)
    counts = np.bincount(y[fit_rows], minlength=len(LEVELS)).astype("float32")
    # Balanced class weights; a level with no examples gets none.
    weights = torch.tensor(np.where(counts > 0, counts.sum() / (len(LEVELS) * np.maximum(
        counts, 1)), 0.0), dtype=torch.float32)
    batches_per_epoch = -(-len(fit_rows) // options.batch_size)
    total = options.epochs * batches_per_epoch
    optimizer = torch.optim.AdamW(network.parameters(), lr=options.learning_rate,
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
                                       weight=weights)
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
                                   floor=settings.SCREENING_MIN_THRESHOLD)
    model.thresholds = thresholds
    model.meta = {
        "examples": len(texts), "trained_on": len(fit_rows),
        "thresholds_chosen_on": len(calibration_rows), "base_encoder": "all-MiniLM-L6-v2",
        "options": options.__dict__, "final_loss": round(float(np.mean(losses[-10:])), 4),
        "seconds": round(time.perf_counter() - started, 1),
    }
    return model, thresholds


def choose_thresholds(probabilities: np.ndarray, y: np.ndarray,
                      rule_ranks: np.ndarray | None = None,
                      crisis_recall: float = 0.98, ideation_recall: float = 0.95,
                      floor: float = 0.02) -> dict[str, float]:
    """For high and moderate: the largest threshold at which the rules (`rule_ranks`, the
    rank the rules alone give each message) and the classifier together still catch
    `target` of the true cases, but not below `floor`: on a small calibration set the
    single lowest-scoring true case would otherwise set it, and flood the queue."""
    at_least = np.cumsum(probabilities[:, ::-1], axis=1)[:, ::-1]
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
