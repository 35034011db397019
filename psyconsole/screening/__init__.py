"""Intake risk screening: a transparent rule layer and a fine-tuned MiniLM classifier.

Either layer can raise the level; safety wins ties. No language model is involved, so
screening works when every drafting worker is down.
"""

from psyconsole.screening.service import RiskFactor, ScreeningResult, screen

__all__ = ["RiskFactor", "ScreeningResult", "screen"]
