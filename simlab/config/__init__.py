"""Scenario YAML: safe loading, validation with pydantic, overrides, variants and sweeps.

A scenario is a YAML mapping with the top-level keys of docs/design.md §3. Each component is
``{type: name, ...settings}``; the settings are validated by the registered class's pydantic
``Settings`` model, so unknown keys and bad values fail at load time with the file, line and
key path of the offending value.
"""

from simlab.config.loading import dump_yaml, load_scenario
from simlab.config.overrides import apply_overrides, parse_set
from simlab.config.schema import (
    COMPONENTS,
    DEFAULT_TYPES,
    CandidateSettings,
    MetricsSettings,
    OutputSettings,
    RecommenderCommon,
    Scenario,
)

__all__ = [
    "COMPONENTS",
    "DEFAULT_TYPES",
    "CandidateSettings",
    "MetricsSettings",
    "OutputSettings",
    "RecommenderCommon",
    "Scenario",
    "apply_overrides",
    "dump_yaml",
    "load_scenario",
    "parse_set",
]
