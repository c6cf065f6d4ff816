"""Hostile documents, generated (issue 13): alias bombs, deep nesting, huge integers, bad data
files, impossible graph settings, resource-heavy settings and bad values. Each must exit 2 with
one "error:" line, no traceback, within 10 s and 500 MB (the sandboxed CLI, tests/config/sandbox.py).

The default run draws SIMLAB_FUZZ_EXAMPLES (default 40) documents; ``python -m
tests.config.fuzz_session N`` draws N and prints the outcome counts instead of asserting.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import numpy as np
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.config.sandbox import outcome

BASE = {
    "name": "fuzz",
    "steps": 2,
    "device": "cpu",
    "population": {"type": "uniform", "size": 40},
    "network": {"type": "erdos_renyi", "mean_degree": 3},
    "catalog": {"type": "default", "size": 50, "topics": 3, "creators": 5, "new_per_step": 3},
    "recommender": {"type": "popularity", "slate_size": 4, "candidates": {"size": 12}},
    "output": {"snapshot_every": 0, "figures": False, "report": False, "parquet": False},
}
PLACES = ["metrics.params.x", "sweep", "variants.v", "population", "description", "junk"]
FUZZ = settings(
    max_examples=int(os.environ.get("SIMLAB_FUZZ_EXAMPLES", "40")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def _dump(doc: dict) -> str:
    return yaml.safe_dump(doc, sort_keys=False)


def _at(draw: st.DrawFn, text: str) -> str:
    """The base document with ``text`` (a YAML value) placed under a random key."""
    place = draw(st.sampled_from(PLACES)).split(".")
    lines = _dump(BASE)
    indent = "".join(f"{'  ' * i}{key}:\n" for i, key in enumerate(place[:-1]))
    return lines + indent + "  " * (len(place) - 1) + f"{place[-1]}: {text}\n"


@st.composite
def alias_bombs(draw: st.DrawFn) -> dict:
    levels, fanout = draw(st.integers(3, 14)), draw(st.integers(3, 12))
    if fanout**levels <= 200_000:
        levels = 12
    anchors = [f"l0: &l0 [{', '.join(['lol'] * fanout)}]"]
    anchors += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * fanout)}]" for i in range(1, levels)]
    if draw(st.booleans()):  # the anchors at the top level, the bomb used elsewhere
        return {"text": "\n".join(anchors) + "\n" + _dump(BASE) + f"sweep: {{seed: *l{levels - 1}}}\n"}
    return {"text": _at(draw, "{" + ", ".join(a.replace(": ", ": ", 1) for a in anchors) + "}")}


@st.composite
def deep_nesting(draw: st.DrawFn) -> dict:
    depth = draw(st.integers(65, 20_000))
    style = draw(st.sampled_from(["[", "{a: ", "mixed"]))
    if style == "[":
        value = "[" * depth + "]" * depth
    elif style == "{a: ":
        value = "{a: " * depth + "1" + "}" * depth
    else:
        value = "[{a: " * (depth // 2) + "1" + "}]" * (depth // 2)
    return {"text": _at(draw, value)}


@st.composite
def huge_integers(draw: st.DrawFn) -> dict:
    digits = draw(st.integers(101, 50_000))
    number = draw(st.sampled_from(["", "-", "+"])) + "9" * digits
    key = draw(st.sampled_from(["steps", "seed", "replicates", "population.size", "catalog.size", "sweep.seed"]))
    doc = _dump(BASE).replace("steps: 2\n", "")
    if key == "sweep.seed":
        return {"text": doc + f"steps: 2\nsweep: {{seed: [1, {number}]}}\n"}
    if "." in key:
        block, field = key.split(".")
        return {"text": doc + f"steps: 2\n{block}: {{type: {BASE[block]['type']}, {field}: {number}}}\n"}
    if draw(st.booleans()):  # as a --set value
        return {"text": doc + "steps: 2\n", "set": f"{key}={number}"}
    return {"text": doc + f"{key}: {number}\n" + ("" if key == "steps" else "steps: 2\n")}


POP_DEFECTS = [
    "empty",
    "nan",
    "inf",
    "outside",
    "text",
    "ragged",
    "undecodable",
    "truncated",
    "pickled",
    "complex",
    "ndim",
    "size",
]
EDGE_DEFECTS = ["text", "outside", "negative", "int64", "negative_weight", "nan_weight", "undecodable", "ragged"]


@st.composite
def data_files(draw: st.DrawFn) -> dict:
    rows = draw(st.integers(2, 30))
    values = draw(st.lists(st.floats(-1, 1), min_size=rows, max_size=rows))
    bad_row = draw(st.integers(0, rows - 1))
    if draw(st.booleans()):
        defect = draw(st.sampled_from(POP_DEFECTS))
        lines = [repr(v) for v in values]
        name, content = "opinions.csv", None
        if defect == "text":
            bad_row = max(bad_row, 1)  # a text first line is a valid CSV header, not a defect
        if defect in ("nan", "inf", "outside", "text"):
            lines[bad_row] = {"nan": "nan", "inf": "-inf", "outside": "1.0001", "text": "s3cr3t-value"}[defect]
        elif defect == "ragged":
            lines[bad_row] += ",0.1"
            lines[(bad_row + 1) % rows] += ",0.1,0.2"
        elif defect == "undecodable":
            content = ("\n".join(lines[:bad_row]) + "\n").encode() + b"\xff\xfe\n"
        elif defect == "empty":
            content = draw(st.sampled_from([b"", b"# only a comment\n", b"header\n", b"\n\n"]))
        else:
            name = "opinions.npy"
            array = np.array(values)
            if defect == "pickled":
                array = np.array([{"v": v} for v in values], dtype=object)
            elif defect == "complex":
                array = array * 1j
            elif defect == "ndim":
                array = array.reshape(1, 1, -1)
            buffer = io.BytesIO()
            np.save(buffer, array, allow_pickle=True)
            buffer.seek(0)
            content = buffer.read()
            if defect == "truncated":
                content = content[: draw(st.integers(0, len(content) - 1))]
        if content is None:
            content = ("\n".join(lines) + "\n").encode()
        size = rows + 1 if defect == "size" else None
        block = {"type": "file", "path": name} | ({"size": size} if size else {})
        return {"text": _dump(BASE | {"population": block}), "files": {name: content}}
    defect = draw(st.sampled_from(EDGE_DEFECTS))
    pairs = [f"{draw(st.integers(0, 39))} {draw(st.integers(0, 39))} 1.0" for _ in range(rows)]
    u, v = (f"{draw(st.integers(0, 39))}", f"{draw(st.integers(0, 39))}")
    pairs[bad_row] = {
        "text": f"{u} passw0rd 1.0",
        "outside": f"{u} {draw(st.integers(40, 10**6))} 1.0",
        "negative": f"-{draw(st.integers(1, 9))} {v} 1.0",
        "int64": f"{u} {'9' * draw(st.integers(19, 40))} 1.0",
        "negative_weight": f"{u} {v} -{draw(st.floats(1e-3, 1e3))}",
        "nan_weight": f"{u} {v} nan",
        "undecodable": f"{u} {v} 1.0",
        "ragged": f"{u} {v}",
    }[defect]
    content = ("\n".join(pairs) + "\n").encode()
    if defect == "undecodable":
        content = content.replace(pairs[bad_row].encode(), b"\xc3\x28 1")
    return {
        "text": _dump(BASE | {"network": {"type": "edge_list", "path": "edges.txt"}}),
        "files": {"edges.txt": content},
    }


@st.composite
def impossible_graphs(draw: st.DrawFn) -> dict:
    n = draw(st.integers(2, 200))
    network = draw(
        st.sampled_from(
            [
                {"type": "watts_strogatz", "k": max(2, n + draw(st.integers(0, 50)))},
                {"type": "barabasi_albert", "m": n + draw(st.integers(0, 50))},
                {"type": "sbm", "blocks": draw(st.integers(n + 1, n + 5000))},
                {"type": "karate_club"} if n != 34 else {"type": "sbm", "blocks": 10**6},
            ]
        )
    )
    return {"text": _dump(BASE | {"population": {"type": "uniform", "size": n}, "network": network})}


@st.composite
def resource_heavy(draw: st.DrawFn) -> dict:
    """Valid settings whose estimate is over 1 GiB: `simlab run --max-memory 1G` must refuse."""
    doc = {k: dict(v) if isinstance(v, dict) else v for k, v in BASE.items()}
    choice = draw(st.sampled_from(["users", "log", "catalog", "graph", "candidates", "dlrm", "workers"]))
    if choice == "users":
        doc["population"]["size"] = draw(st.integers(5_000_000, 100_000_000))
    elif choice == "log":
        doc["recommender"] |= {"log_capacity": draw(st.integers(3_000_000, 10_000_000)), "history_length": 100}
    elif choice == "catalog":
        doc["catalog"]["size"] = draw(st.integers(30_000_000, 100_000_000))
    elif choice == "graph":
        doc["population"]["size"] = draw(st.integers(100_000, 1_000_000))
        doc["network"]["mean_degree"] = draw(st.floats(200, 1e9))
    elif choice == "candidates":
        doc["population"]["size"] = draw(st.integers(1_000_000, 10_000_000))
        doc["recommender"]["candidates"] = {"size": draw(st.integers(100, 100_000))}
    elif choice == "dlrm":
        doc["catalog"]["size"] = draw(st.integers(1_000_000, 10_000_000))
        dim = draw(st.sampled_from([256, 1024, 4096]))
        doc["recommender"] |= {"type": "dlrm", "embedding_dim": dim, "bottom_mlp": [64, dim]}
    else:
        doc["population"]["size"] = draw(st.integers(3_000_000, 20_000_000))
        return {"text": _dump(doc), "run": True, "workers": draw(st.integers(2, 1000))}
    return {"text": _dump(doc), "run": True}


@st.composite
def bad_values(draw: st.DrawFn) -> dict:
    kind = draw(
        st.sampled_from(["float32", "bool", "duplicate", "sweep_repeat", "run_key", "metrics", "name", "set_nan"])
    )
    doc = _dump(BASE)
    if kind == "float32":
        field = draw(
            st.sampled_from(
                ["population.susceptibility", "population.confidence", "behavior.b0", "dynamics.beta_backfire"]
            )
        )
        block, key = field.split(".")
        value = draw(st.sampled_from([".inf", "-.inf", ".nan", "1.0e308", "-3.5e38", "1e39"]))
        types = {"population": "uniform", "behavior": "default", "dynamics": "assimilation"}
        return {"text": doc.replace(f"{block}:\n", "XX:\n") + f"{block}: {{type: {types[block]}, {key}: {value}}}\n"}
    if kind == "bool":
        field = draw(st.sampled_from(["steps", "seed", "replicates"]))
        return {
            "text": doc.replace("steps: 2\n", "")
            + f"{field}: {draw(st.sampled_from(['true', 'false', 'yes', 'on']))}\n"
        }
    if kind == "duplicate":
        key = draw(st.sampled_from(["steps", "name", "device", "population"]))
        return {"text": doc + f"{key}: {draw(st.sampled_from(['3', 'x', '{}']))}\n"}
    if kind == "sweep_repeat":
        value = draw(st.integers(0, 100))
        values = draw(st.permutations([value, value, *draw(st.lists(st.integers(101, 200), max_size=3, unique=True))]))
        return {"text": doc + f"sweep: {{seed: {values}}}\n"}
    if kind == "run_key":
        key, value = draw(
            st.sampled_from(
                [("device", "cuda"), ("replicates", 2), ("name", "x"), ("output.dir", "/tmp"), ("plugins", [])]
            )
        )
        if draw(st.booleans()):
            return {"text": doc + f"variants: {{a: {{{key}: {value}}}, b: {{}}}}\n"}
        return {"text": doc + f"sweep: {{{key}: [{value!r}]}}\n".replace("'", "")}
    if kind == "metrics":
        return {
            "text": doc
            + draw(
                st.sampled_from(
                    ["metrics: {include: []}\n", "metrics: {include: [polarization], exclude: [polarization]}\n"]
                )
            )
        }
    if kind == "name":
        name = draw(st.sampled_from(["..", ".", ".x", "../x", "a/b", "-x", "x" * 300]))
        return {"text": doc.replace("name: fuzz", f"name: '{name}'")}
    value = draw(st.sampled_from(["nan", ".nan", "inf", "-inf", ".inf", "NaN", "-Infinity"]))
    key = draw(st.sampled_from(["behavior.b0", "population.susceptibility", "seed", "variants.a.behavior.b0"]))
    return {"text": doc, "set": f"{key}={value}"}


FAMILIES = {
    "alias_bombs": alias_bombs(),
    "deep_nesting": deep_nesting(),
    "huge_integers": huge_integers(),
    "data_files": data_files(),
    "impossible_graphs": impossible_graphs(),
    "resource_heavy": resource_heavy(),
    "bad_values": bad_values(),
}
DOCUMENTS = st.one_of(*FAMILIES.values())


def attempt(sandbox, case: dict) -> dict:
    """Write the case's files to a fresh folder and run the CLI on them; returns the reply."""
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "scenario.yaml").write_text(case["text"])
        for name, content in case.get("files", {}).items():
            Path(folder, name).write_bytes(content)
        if case.get("run") or case.get("set"):
            argv = ["run", "scenario.yaml", "--out", "out", "--quiet", "--max-memory", "1G"]
            argv += ["--set", case["set"]] if case.get("set") else []
            argv += ["--workers", str(case["workers"])] if case.get("workers") else []
        else:
            argv = ["validate", "scenario.yaml"]
        reply = sandbox.run(argv, folder)
        reply["ran"] = Path(folder, "out").exists()
        return reply


@FUZZ
@given(DOCUMENTS)
def test_hostile_documents_are_refused_in_one_line(sandbox, case):
    reply = attempt(sandbox, case)
    assert outcome(reply) == "exit 2", (case["text"][:300], case.get("set"), reply)
    assert reply["wall"] < 10 and not reply["ran"], reply
    assert not any(s in reply["stderr"] for s in ("s3cr3t", "passw0rd")), reply["stderr"]
