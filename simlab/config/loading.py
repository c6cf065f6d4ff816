"""Loading: safe YAML reading and :func:`load_scenario`."""

from __future__ import annotations

import copy
import os
import stat
from pathlib import Path
from typing import Any

import yaml

from simlab.config.overrides import apply_overrides
from simlab.config.schema import YAML_KEYS, Scenario
from simlab.config.validation import line_of, validate_document
from simlab.core.errors import ScenarioError, choices
from simlab.core.limits import hint, limit

_INT_TAG = "tag:yaml.org,2002:int"
_MERGE_TAG = "tag:yaml.org,2002:merge"


def _read_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    """Read a scenario file: a regular file of at most ``document_bytes``, UTF-8, one YAML
    document within the node, depth and integer limits (see :mod:`simlab.core.limits`).
    """
    source = str(path)
    text = _read_text(path, source)
    return parse_yaml(text, source)


def _read_text(path: Path, source: str) -> str:
    if not path.exists():
        raise ScenarioError("file not found", file=source)
    if path.is_dir():
        raise ScenarioError("expected a scenario YAML file, found a directory", file=source)
    max_bytes = limit("document_bytes")
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; the type is checked on the open
        # descriptor (no window between a check and the open)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise ScenarioError(f"cannot read file: {exc.strerror}", file=source) from None
    with os.fdopen(fd, "rb") as handle:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise ScenarioError(f"expected a regular file, found {_file_kind(mode)}", file=source)
        try:
            data = handle.read(max_bytes + 1)  # never more than the limit, whatever st_size says
        except OSError as exc:
            raise ScenarioError(f"cannot read file: {exc.strerror}", file=source) from None
    if len(data) > max_bytes:
        raise ScenarioError(
            f"expected a scenario of at most {max_bytes} bytes, found more ({hint('document_bytes')})", file=source
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(
            f"expected UTF-8 text, found an undecodable byte at offset {exc.start}", file=source
        ) from None


def _file_kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "a special file"


class _BoundedLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses nesting deeper than the ``yaml_depth`` limit while
    composing (PyYAML's composer recurses once per level: without the bound a document nested
    thousands deep ends in a RecursionError).
    """

    def __init__(self, stream: str, source: str):
        super().__init__(stream)
        self.source, self.depth, self.max_depth = source, 0, limit("yaml_depth")

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self.depth += 1
        try:
            if self.depth > self.max_depth:
                mark = self.peek_event().start_mark
                raise ScenarioError(
                    f"expected YAML nested at most {self.max_depth} levels deep, found deeper ({hint('yaml_depth')})",
                    file=self.source,
                    line=mark.line + 1,
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def parse_yaml(text: str, source: str) -> tuple[Any, yaml.Node | None]:
    """``yaml.safe_load(text)`` composed once, with the node graph checked before it is
    constructed: depth, expanded size (aliases counted at every use), recursive aliases,
    integer digits and duplicate mapping keys. Returns (document, root node).
    """
    try:
        loader = _BoundedLoader(text, source)  # the reader checks the characters here
    except yaml.YAMLError as exc:
        raise ScenarioError(f"invalid YAML: {str(exc).splitlines()[0]}", file=source) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return {}, None
        _check_nodes(node, source)
        doc = loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ScenarioError(
            f"invalid YAML: {problem}", file=source, line=None if mark is None else mark.line + 1
        ) from None
    finally:
        loader.dispose()
    return ({} if doc is None else doc), node


def _check_nodes(root: yaml.Node, source: str) -> None:
    """Walk the composed node graph once (an aliased node is visited once: its expanded size is
    memoised), so a "billion laughs" document is refused in milliseconds, before anything
    expands it.
    """
    max_nodes, max_digits = limit("yaml_nodes"), limit("integer_digits")
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def refuse(message: str, node: yaml.Node, path: str) -> ScenarioError:
        return ScenarioError(message, file=source, line=node.start_mark.line + 1, key=path or None)

    def size(node: yaml.Node, path: str) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        if id(node) in open_nodes:
            raise refuse("expected a tree, found an alias that contains itself", node, path)
        open_nodes.add(id(node))
        total = 1
        if isinstance(node, yaml.ScalarNode):
            digits = sum(c.isdigit() for c in node.value)
            if node.tag == _INT_TAG and digits > max_digits:
                raise refuse(
                    f"expected an integer of at most {max_digits} digits, found {digits} digits ({hint('integer_digits')})",
                    node,
                    path,
                )
        elif isinstance(node, yaml.SequenceNode):
            for i, child in enumerate(node.value):
                total += size(child, f"{path}.{i}" if path else str(i))
        elif isinstance(node, yaml.MappingNode):
            seen: dict[tuple[str, str], int] = {}
            for key, value in node.value:
                name = str(key.value) if isinstance(key, yaml.ScalarNode) else "?"
                if isinstance(key, yaml.ScalarNode) and key.tag != _MERGE_TAG:
                    line = key.start_mark.line + 1
                    if (key.tag, key.value) in seen:
                        first = seen[(key.tag, key.value)]
                        raise refuse(
                            f"duplicate key (lines {first} and {line}); keep one",
                            key,
                            f"{path}.{name}" if path else name,
                        )
                    seen[(key.tag, key.value)] = line
                child_path = f"{path}.{name}" if path else name
                total += size(key, child_path) + size(value, child_path)
        open_nodes.discard(id(node))
        if total > max_nodes:
            raise refuse(
                f"expected at most {max_nodes} YAML nodes with aliases expanded, found more ({hint('yaml_nodes')})",
                node,
                path,
            )
        sizes[id(node)] = total
        return total

    size(root, "")


def load_scenario(source: str | Path | dict[str, Any], overrides: dict[str, Any] | None = None) -> Scenario:
    """Load and validate a scenario from a YAML path or a dict, applying dotted overrides.

    Raises :class:`simlab.core.errors.ScenarioError` with file, line and key path on bad input.
    """
    nodes = None
    if isinstance(source, dict):
        doc, name = copy.deepcopy(source), "<dict>"
    else:
        path = Path(source)
        doc, nodes = _read_yaml(path)
        name = str(path)
    if overrides:
        if not isinstance(doc, dict):
            raise ScenarioError("expected a mapping of scenario keys", file=name)
        for key in overrides:
            top = key.split(".")[0]
            if top not in YAML_KEYS:
                raise ScenarioError(f"unknown key {top!r}; {choices(top, YAML_KEYS)}", file="--set", key=key)
        try:
            changed = apply_overrides(doc, overrides)
        except ScenarioError as exc:  # an override that does not fit the document's shape
            raise ScenarioError(exc.detail, file="--set", key=exc.key) from None
        try:
            return validate_document(changed, name, nodes)
        except ScenarioError as exc:
            if (
                exc.file == name
                and exc.key
                and any(exc.key == k or exc.key.startswith(k + ".") or k.startswith(exc.key) for k in overrides)
            ):
                raise ScenarioError(exc.detail, file="--set", key=exc.key) from None
            raise
    return validate_document(doc, name, nodes)


def locate(source: str | None, dotted: str) -> int | None:
    """The 1-based line of ``dotted`` (a key path) in the scenario file ``source`` (None when
    ``source`` is not a readable file or the key is not found).
    """
    if not source or not Path(source).is_file():
        return None
    try:
        _, nodes = _read_yaml(Path(source))
    except ScenarioError:
        return None
    return line_of(nodes, dotted)


def dump_yaml(scenario: Scenario) -> str:
    """The scenario as the YAML document a run folder stores (``scenario.yaml``): keys in schema order."""
    return yaml.safe_dump(scenario.to_dict(), sort_keys=False, allow_unicode=True)
