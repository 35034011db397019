"""Which drafting model is active, and the model versions that can be chosen.

The active model, in order of precedence:
1. `PSY_LLM_MODEL_VERSION`, the name of a registered version (or the packaged base);
2. the promoted version (`manage.py promote`);
3. the model path and adapter from settings: by default the packaged SmolLM2 base with
   the LoRA adapter shipped in `inference/adapters/`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from inference.loading import (
    PACKAGED_MODEL_NAME,
    ModelSpec,
    configured_spec,
    default_model_dir,
)
from inference.models import ModelVersion


class VersionNotFound(LookupError):
    pass


@dataclass(frozen=True)
class Version:
    name: str
    spec: ModelSpec

    def model_dir(self) -> Path:
        return Path(self.spec.path) if self.spec.path else default_model_dir()


def _from_row(row: ModelVersion) -> Version:
    if row.backend != ModelVersion.Backend.TRANSFORMERS:
        raise VersionNotFound(f"{row.name} is served by an {row.backend} server, not "
                              "loaded here.")
    return Version(row.name, ModelSpec(name=row.name, path=row.path,
                                       adapter=row.adapter_path))


def use_version_in_this_process(name: str) -> Version:
    """Drafts made by this process (a command) use the registered version `name`; the
    worker keeps the active one. Raises VersionNotFound for an unknown name."""
    version = resolve_version(name)
    settings.LLM_MODEL_VERSION = name
    return version


def resolve_version(name: str | None, *, base_only: bool = False) -> Version:
    """A version by name; None means the packaged base model."""
    if name in (None, "", PACKAGED_MODEL_NAME):
        return Version(PACKAGED_MODEL_NAME, ModelSpec(name=PACKAGED_MODEL_NAME))
    configured = configured_spec()
    if name == configured.name:  # the model from settings, e.g. the shipped adapter
        return Version(name, configured)
    row = ModelVersion.objects.filter(name=name).first()
    if row is None:
        known = ", ".join(ModelVersion.objects.values_list("name", flat=True)[:20])
        raise VersionNotFound(f"No model version {name!r}. Known: {known or 'none'}.")
    version = _from_row(row)
    if base_only and version.spec.adapter:
        raise VersionNotFound(f"{name} carries an adapter; fine-tune from a base model.")
    return version


def active_spec() -> ModelSpec:
    if settings.LLM_MODEL_VERSION:
        return resolve_version(settings.LLM_MODEL_VERSION).spec
    promoted = ModelVersion.objects.filter(
        is_default=True, backend=ModelVersion.Backend.TRANSFORMERS).first()
    if promoted is not None:
        return _from_row(promoted).spec
    return configured_spec()


def register_adapter(name: str, base: Version, adapter_dir: Path,
                     record: dict[str, Any]) -> ModelVersion:
    version, _ = ModelVersion.objects.update_or_create(
        name=name,
        defaults={"backend": ModelVersion.Backend.TRANSFORMERS, "base_model": base.name,
                  "path": base.spec.path, "adapter_path": str(adapter_dir.resolve()),
                  "metadata": {"training": record}},
    )
    return version


@transaction.atomic
def do_promote(version: ModelVersion, *, by: str, forced_past: list[str],
               reason: str = "") -> None:
    """Makes `version` the default drafting model and audits it, in one transaction.
    `forced_past` lists the checks it failed; `reason` says why it is promoted anyway."""
    from psyconsole.questions.models import AuditEvent

    ModelVersion.objects.select_for_update().filter(is_default=True).update(is_default=False)
    version.is_default = True
    if forced_past:
        version.metadata = {**version.metadata, "forced_promotion_reason": reason}
    version.save(update_fields=["is_default", "metadata"])
    AuditEvent.objects.create(actor_label=by[:64], action="model_promoted",
                              reason=reason if forced_past else "",
                              data={"model_version": version.name,
                                    "overridden": forced_past})
