from __future__ import annotations

from inference.loading import PACKAGED_MODEL_NAME
from inference.models import ModelVersion


def ensure_model_version(name: str, backend: str = ModelVersion.Backend.TRANSFORMERS
                         ) -> ModelVersion:
    """The ModelVersion row for a model in use, created on first use."""
    version, _ = ModelVersion.objects.get_or_create(
        name=name,
        defaults={
            "base_model": "SmolLM2-135M-Instruct" if name == PACKAGED_MODEL_NAME else name,
            "backend": backend,
        },
    )
    return version
