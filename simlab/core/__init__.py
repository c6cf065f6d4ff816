"""The leaf layer: state types, random streams, the platform's view, the Protocols, errors and
limits. Nothing here imports any other part of simlab, so every component can import it without
cycles (a test walks the package to keep it so).
"""
