from __future__ import annotations

from inference.loading import PACKAGED_MODEL_NAME, configured_spec
from inference.models import ModelVersion


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
