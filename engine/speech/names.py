"""Names the speech front end answers to, in a module light enough for option declarations
(the front ends themselves are in `frontend`, the shipped models in `learned`; tests keep them equal)."""
from __future__ import annotations

FRONT_END_NAMES = ("mouth-model", "phones+loudness", "phones", "loudness", "mel-fit", "phones-fit")
DEFAULT_FRONT_END = "mouth-model"
# the default model hears no phones (any language); "en" adds the English phone recogniser's phones
SHIPPED_MODEL_NAMES = ("default", "en")
