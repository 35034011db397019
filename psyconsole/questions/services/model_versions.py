"""Model versions on the console's side: the promotion gate and the audited promotion.

Contract:
- `promotion_problems(version)` is the gate: why `version` should not become the
  default drafting model (unevaluated, no comparable evaluation of the current default,
  or worse on a safety figure). An empty list means it may be promoted.
- `do_promote(version, by=..., forced_past=..., reason=...)` makes it the default
  (`inference.versions.make_default`) and writes the `model_promoted` audit event, in
  one transaction. `forced_past` lists the problems it was promoted past; `reason` says
  why, and is required by the caller when there are any.

Which model is active stays `inference.versions`' answer; this module only adds what
the product requires around a promotion.
"""

from __future__ import annotations

from django.db import transaction

from inference.evaluation import safety_regressions
from inference.models import EvaluationRun, ModelVersion
from inference.versions import make_default
from psyconsole.questions import states
from psyconsole.questions.states import Actor


def promotion_problems(version: ModelVersion) -> list[str]:
    """Why `version` should not be promoted; empty when nothing stands in the way."""
    latest = EvaluationRun.objects.filter(model_version=version).first()
    if latest is None:
        return [f"{version.name} has not been evaluated (manage.py evaluate)"]
    current = ModelVersion.objects.filter(is_default=True).exclude(pk=version.pk).first()
    if current is None:
        return []
    # Figures are comparable only on the same data: the baseline must share the digest.
    baseline = EvaluationRun.objects.filter(model_version=current,
                                            data_sha256=latest.data_sha256).first()
    if baseline is None:
        return [f"the current default {current.name} has no evaluation on the same set "
                "to compare with"]
    return [f"worse than {current.name} on {worse}"
            for worse in safety_regressions(latest.metrics, baseline.metrics)]


@transaction.atomic
def do_promote(version: ModelVersion, *, by: str, forced_past: list[str],
               reason: str = "") -> None:
    """Makes `version` the default drafting model and audits it, in one transaction."""
    make_default(version, forced_reason=reason if forced_past else None)
    states.record_event(None, Actor(by[:64]), "model_promoted",
                        reason=reason if forced_past else "",
                        data={"model_version": version.name, "overridden": forced_past})
