"""Scenario YAML: safe loading, validation with pydantic, overrides, variants and sweeps.

A scenario is a YAML mapping with the top-level keys of docs/design.md §3. Each component is
``{type: name, ...settings}``; the settings are validated by the registered class's pydantic
``Settings`` model, so unknown keys and bad values fail at load time with the file, line and
key path of the offending value. A loaded :class:`Scenario` carries each block as a
:class:`Component` (its type and an instance of the type's ``Settings``) and the loop settings
as :class:`LoopSettings`; it is validated once, variants and sweep points included.
"""

from simlab.config.loading import dump_yaml, load_scenario
from simlab.config.overrides import apply_overrides, parse_set
from simlab.config.schema import (
    COMPONENTS,
    DEFAULT_TYPES,
    LOOP_KEYS,
    YAML_KEYS,
    CandidateSettings,
    Component,
    LoopSettings,
    MetricsSettings,
    OutputSettings,
    Scenario,
)

__all__ = [
    "COMPONENTS",
    "DEFAULT_TYPES",
    "LOOP_KEYS",
    "YAML_KEYS",
    "CandidateSettings",
    "Component",
    "LoopSettings",
    "MetricsSettings",
    "OutputSettings",
    "Scenario",
    "apply_overrides",
    "dump_yaml",
    "load_scenario",
    "parse_set",
]
