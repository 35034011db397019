"""Exports of reviewed replies for retraining."""
