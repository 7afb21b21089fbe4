"""The fixed EduGraph answers the tiny model is taught, one per sample worksheet kind.

Every term is a real EduGraph v0.4.0 term under the dimension it is listed in. The
multiplication answer names ProcedureApplication beside its child ProcedureExecution, so tests
see a label that is implied by another.
"""

from __future__ import annotations

TAUGHT_ANSWERS: dict[str, str] = {
    "addition": (
        '{"Area": ["IntegerAddition"], "Scope": ["NumbersSmaller20", "NumbersWithoutZero"], '
        '"Ability": ["ProcedureExecution"]}'
    ),
    "multiplication": (
        '{"Area": ["IntegerMultiplication"], "Scope": ["NumbersSmaller100"], '
        '"Ability": ["ProcedureApplication", "ProcedureExecution"]}'
    ),
    "counting": (
        '{"Area": ["NumerationWithIntegers"], "Scope": ["NumbersSmaller10", "CountingSymbols"], '
        '"Ability": ["VisualRecognition"]}'
    ),
    "clock": (
        '{"Area": ["MeasuringTime"], "Scope": ["AnalogClock", "HourIntervals"], '
        '"Ability": ["VisualRecognition"]}'
    ),
    "picture": '{"Error": "UnsupportedMaterial"}',
}
"""Sample kind (see `mlx_edugraph.pages.samples.ALL_KINDS`) -> the exact JSON text taught for it."""
