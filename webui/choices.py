"""Option choices the dashboard offers without importing the engine (kept equal to the engine's by a test)."""
from __future__ import annotations

FALLBACK_BACKENDS = ("rewrite", "none")  # offered when no worker has published its list yet
FRONT_ENDS = ("mouth-model", "phones+loudness", "phones", "loudness", "mel-fit", "phones-fit")  # engine.speech
# the narration's language -> the shipped mouth model for it (engine.speech.learned.SHIPPED_MODELS):
# Chinese (and any language but English) the model that hears no phones; English the one that adds them
NARRATION_MODELS = {"zh": "default", "en": "en"}
