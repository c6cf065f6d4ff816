"""The platform: what it observes (:mod:`~simlab.core.view`), where candidates come from
(:mod:`~simlab.platform.candidates`), how ranking policies pick slates
(:mod:`~simlab.platform.policies`) and the feed interventions wrap
(:mod:`~simlab.platform.slates`).
"""
