"""Model identity: which drafting model is active, and the versions that can be chosen.

Contract:
- This is the one module that reads the model settings (PSY_LLM_MODEL_VERSION,
  PSY_LLM_MODEL_PATH, PSY_LLM_MODEL_NAME, PSY_LLM_ADAPTER_PATH) and the `ModelVersion`
  rows to say which `ModelSpec` is active (`active_spec`) or what a name means
  (`resolve_version`). `inference.loading.get_model(spec)` loads whatever spec it is
  given; a command that drafts with another version resolves it here and passes its spec
  down, so no setting is changed at run time.
- It writes `ModelVersion` rows: `register_adapter` (after fine-tuning),
  `ensure_model_version` (the row a draft or an evaluation points to) and `make_default`
  (the promotion itself). Deciding whether a version may be promoted, and auditing it,
  is the product's job (its model-versions service), not this module's.

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

from inference.loading import PACKAGED_MODEL_NAME, ModelSpec, default_model_dir
from inference.models import ModelVersion


class VersionNotFound(LookupError):
    pass


@dataclass(frozen=True)
class Version:
    name: str
    spec: ModelSpec

    def model_dir(self) -> Path:
        return Path(self.spec.path) if self.spec.path else default_model_dir()


def configured_spec() -> ModelSpec:
    """The model from settings: PSY_LLM_MODEL_PATH (or the packaged model) plus
    PSY_LLM_ADAPTER_PATH (by default the shipped adapter)."""
    base = (settings.LLM_MODEL_NAME
            or (Path(settings.LLM_MODEL_PATH).name if settings.LLM_MODEL_PATH else "")
            or PACKAGED_MODEL_NAME)
    adapter = settings.LLM_ADAPTER_PATH
    name = f"{base}+{Path(adapter).name}" if adapter else base
    return ModelSpec(name=name, path=settings.LLM_MODEL_PATH, adapter=adapter)


def configured_model_dir() -> Path:
    return configured_spec().model_dir()


def _from_row(row: ModelVersion) -> Version:
    if row.backend != ModelVersion.Backend.TRANSFORMERS:
        raise VersionNotFound(f"{row.name} is served by an {row.backend} server, not "
                              "loaded here.")
    return Version(row.name, ModelSpec(name=row.name, path=row.path,
                                       adapter=row.adapter_path))


def resolve_version(name: str | None, *, base_only: bool = False) -> Version:
    """A version by name; None means the packaged base model. Raises VersionNotFound
    for an unknown name (the message lists some known ones)."""
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
    """The spec the worker drafts with (see the precedence above)."""
    if settings.LLM_MODEL_VERSION:
        return resolve_version(settings.LLM_MODEL_VERSION).spec
    promoted = ModelVersion.objects.filter(
        is_default=True, backend=ModelVersion.Backend.TRANSFORMERS).first()
    if promoted is not None:
        return _from_row(promoted).spec
    return configured_spec()


def ensure_model_version(name: str, backend: str = ModelVersion.Backend.TRANSFORMERS
                         ) -> ModelVersion:
    """The ModelVersion row for a model in use, created on first use."""
    spec = configured_spec()
    from_settings = name == spec.name and backend == ModelVersion.Backend.TRANSFORMERS
    version, _ = ModelVersion.objects.get_or_create(
        name=name,
        defaults={
            "base_model": ("SmolLM2-135M-Instruct" if name.startswith(PACKAGED_MODEL_NAME)
                           else name),
            "backend": backend,
            "path": spec.path if from_settings else "",
            "adapter_path": spec.adapter if from_settings else "",
        },
    )
    return version


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
def make_default(version: ModelVersion, *, forced_reason: str | None = None) -> None:
    """Makes `version` the default drafting model (the promoted one of the precedence
    above). `forced_reason`, when the promotion went past a failed check, is kept in its
    metadata. Callers that audit the promotion wrap this in their own transaction."""
    ModelVersion.objects.select_for_update().filter(is_default=True).update(is_default=False)
    version.is_default = True
    if forced_reason is not None:
        version.metadata = {**version.metadata, "forced_promotion_reason": forced_reason}
    version.save(update_fields=["is_default", "metadata"])
