from __future__ import annotations

from inference.loading import PACKAGED_MODEL_NAME
from inference.models import ModelVersion


def ensure_model_version(name: str, path: str) -> ModelVersion:
    """The ModelVersion row for a loaded model, created on first use."""
    version, _ = ModelVersion.objects.get_or_create(
        name=name,
        defaults={
            "base_model": "SmolLM2-135M-Instruct" if name == PACKAGED_MODEL_NAME else name,
            "path": path,
        },
    )
    return version
