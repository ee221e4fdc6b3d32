"""Read YAML config files so that every later error can point at file, line and column.

:func:`load_yaml` parses a file with a private :class:`yaml.SafeLoader` subclass
and returns a :class:`YamlDocument`: the plain data, plus the 1-based
``(line, column)`` of every key and list item (``marks``), plus the scalars
whose YAML 1.1 reading is probably not what the author meant (``coerced``:
``NO`` read as ``False``, ``010`` read as ``8``, ``1e-3`` left a string).
Duplicate keys, which PyYAML silently collapses to the last value, are errors.

:func:`format_validation_error` turns a :class:`pydantic.ValidationError` into
one line per problem, ``file:line:col: dotted.path: message``, with
"did you mean" suggestions, allowed values and the YAML 1.1 cause of a wrong type.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> path = Path(tempfile.mkdtemp()) / "run.yaml"
>>> _ = path.write_text("data:\\n  tickers: [AAPL, NO]\\n")
>>> doc = load_yaml(path)
>>> doc.data
{'data': {'tickers': ['AAPL', False]}}
>>> location(doc, ("data", "tickers", 1)).endswith("run.yaml:2:19")
True
>>> doc.coerced
{('data', 'tickers', 1): 'NO'}
"""

import difflib
import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from backtest.core.errors import ConfigError

__all__ = [
    "KeyPath",
    "YamlDocument",
    "allowed_keys_for",
    "dotted",
    "format_validation_error",
    "load_yaml",
    "location",
    "suggest",
]

KeyPath = tuple[Any, ...]
"""A path into the document: mapping keys (usually ``str``) and list indexes (``int``)."""

_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"
_OCTAL = re.compile(r"^[-+]?0[0-7_]+$")
_YAML12_NUMBER = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|0o[0-7]+|[-+]?\.(?:inf|Inf|INF))$"
)
_SIMPLE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
# Labels pydantic puts into ``loc`` for the member of a (non-discriminated) union.
_CORE_LABELS = frozenset(
    {
        "str",
        "int",
        "float",
        "bool",
        "bytes",
        "none",
        "date",
        "datetime",
        "time",
        "timedelta",
        "decimal",
        "dict",
        "list",
        "tuple",
        "set",
        "frozenset",
        "url",
        "uuid",
        "enum",
        "literal",
    }
)
_ABSENT = object()
# Bounds checked before anything is built: a config is a few KB, a few hundred values.
MAX_CONFIG_BYTES = 4 * 2**20
MAX_NODES = 200_000
MAX_DEPTH = 40


class _Loader(yaml.SafeLoader):
    """Private SafeLoader subclass, so the global :class:`yaml.SafeLoader` is never changed."""


@dataclass(frozen=True)
class YamlDocument:
    """A parsed YAML file plus where each key and list item sits in it.

    Parameters
    ----------
    data : dict
        The plain Python mapping, as :func:`yaml.safe_load` would return it.
    path : Path
        Absolute path of the file.
    marks : dict
        Key path -> 1-based ``(line, column)``. For a mapping entry, the position
        of the key; for a list item, the position of the item.
    coerced : dict
        Key path -> original text, for plain scalars whose YAML 1.1 reading is a
        likely surprise: booleans from words other than true/false (``NO``,
        ``on``), leading-zero octal (``010`` -> 8) and base-60 numbers
        (``9:30`` -> 570), and number-like text that stayed a string
        (``1e-3``, ``0o17``).

    Examples
    --------
    >>> doc = YamlDocument({"a": 1}, Path("/tmp/x.yaml"), {("a",): (1, 1)})
    >>> location(doc, ("a",))
    '/tmp/x.yaml:1:1'
    """

    data: dict
    path: Path
    marks: dict[KeyPath, tuple[int, int]] = field(default_factory=dict)
    coerced: dict[KeyPath, str] = field(default_factory=dict)


# --------------------------------------------------------------------------- loading


def load_yaml(path: Path) -> YamlDocument:
    """Parse a YAML config file into a :class:`YamlDocument`.

    Parameters
    ----------
    path : Path
        The file to read; relative paths are resolved against the working directory.

    Returns
    -------
    YamlDocument
        Data, key marks and the YAML 1.1 coercions found.

    Raises
    ------
    ConfigError
        If the file is missing or unreadable (message has the absolute path), is
        not valid YAML (``file:line:col: problem``), has a duplicate key in any
        mapping (every duplicate is listed, with the line of the first one), is
        empty, or its top level is not a mapping.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "run.yaml"
    >>> _ = path.write_text("a: 1\\nb:\\n  - x: 010\\n")
    >>> doc = load_yaml(path)
    >>> doc.data, doc.marks[("b", 0, "x")], doc.coerced
    ({'a': 1, 'b': [{'x': 8}]}, (3, 5), {('b', 0, 'x'): '010'})
    >>> _ = path.write_text("a: 1\\na: 2\\n")
    >>> load_yaml(path)
    Traceback (most recent call last):
    ...
    backtest.core.errors.ConfigError: ...run.yaml:2:1: duplicate key 'a' (first at line 1)
    """
    path = Path(path).absolute()
    loader = _loader(path, _read_bytes(path))
    try:
        node = _compose(loader, path)
        marks, coerced = _index(loader, node, path)  # before construction flattens merges
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:  # e.g. an unknown or unsafe tag
        raise ConfigError(_syntax_message(path, exc, "YAML error")) from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise ConfigError(f"{path}: the top level is a {kind}; expected a mapping of `key: value`")
    return YamlDocument(data=data, path=path, marks=marks, coerced=coerced)


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, refused before reading when larger than :data:`MAX_CONFIG_BYTES`."""
    try:
        if path.is_dir():
            raise ConfigError(f"{path} is a folder; give the YAML config file inside it")
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise ConfigError(
                f"{path}: {size / 2**20:.1f} MB is more than a config may hold "
                f"({MAX_CONFIG_BYTES / 2**20:.0f} MB); put long event lists in a CSV "
                "(events.sources: type: csv)"
            )
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    if b"\x00" in data:
        raise ConfigError(
            f"{path}: not a text file (it holds NUL bytes); give a YAML config (UTF-8 text)"
        )
    return data


def _loader(path: Path, data: bytes) -> _Loader:
    """A loader over ``data``; undecodable or control-character input is a ConfigError."""
    try:
        return _Loader(data)
    except yaml.YAMLError as exc:  # ReaderError: not UTF-8/16, or control characters
        raise ConfigError(
            f"{path}: not a text YAML file ({_one_line(exc)}); save it as UTF-8 text"
        ) from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _compose(loader: _Loader, path: Path) -> yaml.Node:
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        raise ConfigError(_syntax_message(path, exc)) from None
    except yaml.YAMLError as exc:  # ReaderError: bad encoding or control characters
        raise ConfigError(
            f"{path}: not a text YAML file ({_one_line(exc)}); save it as UTF-8 text"
        ) from None
    except RecursionError:
        raise ConfigError(
            f"{path}: nested deeper than YAML can be read; a config needs a few levels only"
        ) from None
    if node is None:
        raise ConfigError(f"{path}: the file is empty; expected a mapping of `key: value`")
    return node


def _syntax_message(path: Path, exc: yaml.MarkedYAMLError, kind: str = "YAML syntax error") -> str:
    """Format a PyYAML error as ``file:line:col: YAML syntax error: problem (context)``."""
    mark = exc.problem_mark or exc.context_mark
    where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
    text = f"{where}: {kind}: {exc.problem or exc.context or 'invalid YAML'}"
    if exc.context and exc.problem:
        at = f" at line {exc.context_mark.line + 1}" if exc.context_mark else ""
        text += f" ({exc.context}{at})"
    return text


# --------------------------------------------------------------------------- indexing


def _index(loader: _Loader, root: yaml.Node, path: Path) -> tuple[dict, dict]:
    """Walk the node tree: collect marks and coercions, and raise on duplicate keys."""
    marks: dict[KeyPath, tuple[int, int]] = {}
    coerced: dict[KeyPath, str] = {}
    duplicates: list[str] = []
    visited = [0]

    def walk(node: yaml.Node, key_path: KeyPath, active: frozenset[int]) -> None:
        if id(node) in active:  # recursive alias
            return
        visited[0] += 1
        if visited[0] > MAX_NODES:  # aliases expand: "billion laughs" stops here
            line, col = _pos(node)
            raise ConfigError(
                f"{path}:{line}:{col}: the document expands to more than {MAX_NODES:,} values "
                "(aliases * repeating anchors &); write the values out or use fewer aliases"
            )
        if len(key_path) > MAX_DEPTH:
            line, col = _pos(node)
            raise ConfigError(
                f"{path}:{line}:{col}: nested more than {MAX_DEPTH} levels deep; a config "
                "needs a few levels only"
            )
        active = active | {id(node)}
        if isinstance(node, yaml.ScalarNode):
            note = _coercion(node)
            if note is not None and key_path:
                coerced[key_path] = note
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                marks[(*key_path, i)] = _pos(item)
                walk(item, (*key_path, i), active)
        elif isinstance(node, yaml.MappingNode):
            for key, value_node, key_pos in _entries(loader, node, path, duplicates):
                marks.setdefault((*key_path, key), key_pos)
                walk(value_node, (*key_path, key), active)

    walk(root, (), frozenset())
    if duplicates:  # an aliased mapping is walked once per alias: report each line once
        raise ConfigError("\n".join(dict.fromkeys(duplicates)))
    return marks, coerced


def _entries(loader: _Loader, node: yaml.MappingNode, path: Path, duplicates: list[str]):
    """Yield ``(key, value_node, key_position)`` for explicit keys, then merged (``<<``) keys.

    Duplicate explicit keys are appended to ``duplicates``. Keys brought in by a
    merge are yielded only if not written explicitly, as YAML's merge rule says.
    """
    first: dict[Any, int] = {}
    merges: list[yaml.Node] = []
    for key_node, value_node in node.value:
        if key_node.tag == _MERGE:
            merges.append(value_node)
            continue
        key = _key(loader, key_node)
        if key is None:
            continue
        if key in first:
            line, col = _pos(key_node)
            duplicates.append(
                f"{path}:{line}:{col}: duplicate key {key!r} (first at line {first[key]})"
            )
            continue
        first[key] = _pos(key_node)[0]
        yield key, value_node, _pos(key_node)
    for merged in merges:
        sources = merged.value if isinstance(merged, yaml.SequenceNode) else [merged]
        for source in sources:
            if not isinstance(source, yaml.MappingNode):
                continue
            for key, value_node, pos in _entries(loader, source, path, []):
                if key not in first:
                    first[key] = pos[0]
                    yield key, value_node, pos


def _key(loader: _Loader, key_node: yaml.Node) -> Any:
    """The constructed key of a scalar key node; ``None`` for (rare) collection keys."""
    if not isinstance(key_node, yaml.ScalarNode):
        return None
    return loader.construct_object(key_node)


def _pos(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _coercion(node: yaml.ScalarNode) -> str | None:
    """Return the original text if a plain scalar's YAML 1.1 reading is a likely surprise.

    Examples
    --------
    >>> from yaml import ScalarNode
    >>> _coercion(ScalarNode("tag:yaml.org,2002:bool", "NO"))
    'NO'
    >>> _coercion(ScalarNode("tag:yaml.org,2002:bool", "true")) is None
    True
    """
    if node.style is not None:  # quoted or block scalar: the author chose a string
        return None
    text = node.value
    surprising = (
        (node.tag == _BOOL and text.lower() not in ("true", "false"))
        or (node.tag == _INT and (_OCTAL.match(text) is not None or ":" in text))
        or (node.tag == _FLOAT and ":" in text)
        or (node.tag == _STR and _YAML12_NUMBER.match(text) is not None)
    )
    return text if surprising else None


# --------------------------------------------------------------------------- locations


def dotted(loc: Iterable[Any]) -> str:
    """Format a key path the way a user would write it.

    Examples
    --------
    >>> dotted(("strategies", 0, "params", "hold_dyas"))
    'strategies[0].params.hold_dyas'
    >>> dotted(("data", "my key", True))
    "data['my key'][True]"
    >>> dotted(())
    ''
    """
    out = ""
    for part in loc:
        if isinstance(part, str) and _SIMPLE_KEY.match(part):
            out += f".{part}" if out else part
        else:
            out += f"[{part!r}]"
    return out


def location(doc: YamlDocument, loc: Iterable[Any]) -> str:
    """Return ``file:line:col`` of the deepest prefix of ``loc`` that is in the document.

    Elements pydantic inserts into error locations (discriminated-union tags,
    union member labels such as ``str`` or ``list[str]``, model names) are
    skipped; if nothing matches, the file name alone is returned.

    Examples
    --------
    >>> doc = YamlDocument({"s": [{"name": "pead", "params": {"k": 1}}]}, Path("/c.yaml"),
    ...                    {("s",): (1, 1), ("s", 0): (2, 5), ("s", 0, "params"): (3, 5)})
    >>> location(doc, ("s", 0, "pead", "params", "missing_key"))
    '/c.yaml:3:5'
    >>> location(doc, ("other",))
    '/c.yaml'
    """
    path = _doc_path(doc.data, tuple(loc))
    for end in range(len(path), 0, -1):
        mark = doc.marks.get(path[:end])
        if mark is not None:
            return f"{doc.path}:{mark[0]}:{mark[1]}"
    return str(doc.path)


def _doc_path(data: Any, loc: KeyPath, keep_last: bool = False) -> KeyPath:
    """Map a pydantic ``loc`` onto the document's key path, dropping inserted elements.

    A ``loc`` element absent from the document is dropped when it looks inserted
    by pydantic (see :func:`_inserted`); otherwise it is kept (a missing key, or a
    key added by a command-line override) and everything after it is kept too.
    With ``keep_last`` the final element is always kept (``missing`` errors).

    Examples
    --------
    >>> data = {"s": [{"name": "pead", "params": {"k": 1}}], "t": 5}
    >>> _doc_path(data, ("s", 0, "pead", "params", "k"))
    ('s', 0, 'params', 'k')
    >>> _doc_path(data, ("t", "str"))
    ('t',)
    >>> _doc_path(data, ("s", 0, "Params", "days"), keep_last=True)
    ('s', 0, 'days')
    """
    node: Any = data
    out: list[Any] = []
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        nxt = loc[i + 1] if not last else _ABSENT
        if node is _ABSENT:
            out.append(part)
        elif isinstance(node, Mapping) and _has(node, part):
            out.append(part)
            node = node[part]
        elif isinstance(node, Mapping):
            if not (last and keep_last) and _inserted(part, node, nxt):
                continue
            out.append(part)
            node = _ABSENT
        elif isinstance(node, list) and isinstance(part, int) and not isinstance(part, bool):
            out.append(part)
            node = node[part] if 0 <= part < len(node) else _ABSENT
        elif last and keep_last:
            out.append(part)
        # else: a union label applied to a list or a scalar leaf; drop it
    return tuple(out)


def _has(node: Mapping, key: Any) -> bool:
    try:
        return key in node
    except TypeError:
        return False


def _inserted(part: Any, node: Mapping, nxt: Any) -> bool:
    """Whether ``part`` (absent from mapping ``node``) was inserted into ``loc`` by pydantic."""
    if not isinstance(part, str):
        return False
    tags = {v for v in node.values() if isinstance(v, str)}
    return (
        part in tags  # discriminated-union tag: the value of the discriminator key
        or (nxt is not _ABSENT and _has(node, nxt))  # followed by a key that is here
        or "[" in part
        or "-" in part
        or part in _CORE_LABELS  # union member label
        or part[:1].isupper()  # model name of a union member (config keys are snake_case)
    )


def suggest(name: Any, allowed: Iterable[str]) -> str | None:
    """Return the allowed name closest to ``name`` (difflib, cutoff 0.6), or ``None``.

    Examples
    --------
    >>> suggest("hold_dyas", ["hold_days", "entry_offset"])
    'hold_days'
    >>> suggest("Hold_Days", ["hold_days"])
    'hold_days'
    >>> suggest("zzz", ["hold_days"]) is None
    True
    """
    by_lower: dict[str, str] = {}
    for option in allowed:
        by_lower.setdefault(str(option).lower(), str(option))
    match = difflib.get_close_matches(str(name).lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[match[0]] if match else None


# --------------------------------------------------------------------------- messages


def format_validation_error(
    doc: YamlDocument,
    exc: ValidationError,
    allowed_keys: Callable[[tuple], Iterable[str]] | None = None,
) -> str:
    """Describe every error of a pydantic validation, one per line.

    Parameters
    ----------
    doc : YamlDocument
        The document that was validated (for marks and coercions).
    exc : ValidationError
        The pydantic error; all of its errors are reported.
    allowed_keys : callable, optional
        Given the pydantic ``loc`` of the mapping holding an unknown key (it may
        contain union tags such as a strategy name), returns the keys allowed
        there; used for "did you mean" and "allowed:". :func:`allowed_keys_for`
        builds one from a model.

    Returns
    -------
    str
        Lines ``file:line:col: dotted.path: message``.

    Examples
    --------
    >>> from pydantic import BaseModel, ConfigDict
    >>> class Params(BaseModel):
    ...     model_config = ConfigDict(extra="forbid")
    ...     hold_days: int = 5
    >>> doc = YamlDocument({"hold_dyas": 3}, Path("/c.yaml"), {("hold_dyas",): (1, 1)})
    >>> try:
    ...     Params.model_validate(doc.data)
    ... except ValidationError as exc:
    ...     print(format_validation_error(doc, exc, allowed_keys_for(Params)))
    /c.yaml:1:1: hold_dyas: unknown key 'hold_dyas'; did you mean 'hold_days'?; allowed: hold_days
    """
    return "\n".join(_line(doc, err, allowed_keys) for err in exc.errors(include_url=False))


def _line(doc: YamlDocument, err: Mapping[str, Any], allowed_keys: Callable | None) -> str:
    loc = tuple(err["loc"])
    path = _doc_path(doc.data, loc, keep_last=err["type"] == "missing")
    where = location(doc, path)
    message = _message(doc, path, loc, err, allowed_keys)
    return f"{where}: {dotted(path) or '(top level)'}: {message}"


def _message(
    doc: YamlDocument,
    path: KeyPath,
    loc: KeyPath,
    err: Mapping[str, Any],
    allowed_keys: Callable | None,
) -> str:
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind == "extra_forbidden":
        allowed = sorted(map(str, allowed_keys(loc[:-1]))) if allowed_keys else []
        return _unknown_key(loc[-1] if loc else "?", allowed)
    if kind == "missing":
        return "required key missing"
    if kind == "union_tag_invalid":
        return _choice(
            f"unknown {ctx['discriminator'].strip(chr(39))} {ctx['tag']!r}",
            ctx["tag"],
            ctx["expected_tags"],
            "available",
        )
    if kind == "union_tag_not_found":
        return f"required key {ctx['discriminator']} missing (it selects the kind of entry)"
    if kind in ("literal_error", "enum") and "expected" in ctx:
        return _choice(f"got {_show(err['input'])}", err["input"], ctx["expected"], "allowed")
    text = _strip_prefix(err["msg"])
    if not isinstance(err["input"], dict | list):
        text += f", got {_show(err['input'])}"
    note = _coercion_note(doc.coerced.get(path), err["input"])
    return f"{text} — {note}" if note else text


def _unknown_key(key: Any, allowed: list[str]) -> str:
    text = f"unknown key {str(key)!r}"
    close = suggest(key, allowed) if allowed else None
    if close:
        text += f"; did you mean {close!r}?"
    if allowed:
        text += f"; allowed: {', '.join(allowed)}"
    return text


def _choice(head: str, value: Any, expected: str, label: str) -> str:
    """``head; did you mean 'x'?; allowed: 'x', 'y' or 'z'`` from pydantic's ``expected`` text."""
    options = re.findall(r"'((?:[^'\\]|\\.)*)'", expected)
    close = suggest(value, options) if isinstance(value, str) and options else None
    hint = f"; did you mean {close!r}?" if close else ""
    return f"{head}{hint}; {label}: {expected}"


def _strip_prefix(msg: str) -> str:
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            return msg[len(prefix) :]
    return msg


def _show(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _coercion_note(text: str | None, value: Any) -> str | None:
    """Explain a YAML 1.1 reading of the unquoted ``text`` and how to fix it.

    Examples
    --------
    >>> _coercion_note("NO", False)
    "YAML 1.1 reads the unquoted word NO as a boolean; quote it: 'NO'"
    >>> print(_coercion_note("1e-3", "1e-3"))
    YAML 1.1 reads the unquoted 1e-3 as a string (its floats need a dot); write 1.0e-3
    """
    if text is None:
        return None
    if isinstance(value, bool):
        return f"YAML 1.1 reads the unquoted word {text} as a boolean; quote it: '{text}'"
    if isinstance(value, int | float) and ":" in text:
        return (
            f"YAML 1.1 reads the unquoted {text} as a base-60 number ({value}); quote it: '{text}'"
        )
    if isinstance(value, int):
        return (
            f"YAML 1.1 reads the unquoted {text} as an octal number ({value}); "
            f"write {text.lstrip('0') or '0'}, or quote it: '{text}'"
        )
    if isinstance(value, str) and re.search(r"[eE]", text) and "." not in text:
        mantissa, _, exponent = text.partition("e") if "e" in text else text.partition("E")
        return (
            f"YAML 1.1 reads the unquoted {text} as a string (its floats need a dot); "
            f"write {mantissa}.0e{exponent}"
        )
    return f"YAML 1.1 reads the unquoted {text} as a string, not a number"


# --------------------------------------------------------------------------- allowed keys


def allowed_keys_for(model: type[BaseModel]) -> Callable[[tuple], list[str]]:
    """Build an ``allowed_keys`` callback for :func:`format_validation_error` from a model.

    The callback follows a pydantic ``loc`` through fields, lists, dicts,
    optionals and unions (a discriminated-union tag or a member's class name in
    ``loc`` selects the member) and returns the field names (aliases if set) of
    the model it ends at; an empty list if it cannot tell.

    Examples
    --------
    >>> from typing import Literal
    >>> class Pead(BaseModel):
    ...     name: Literal["pead"]
    ...     hold_days: int = 5
    >>> class Drift(BaseModel):
    ...     name: Literal["drift"]
    ...     days: int = 5
    >>> class Run(BaseModel):
    ...     strategies: list[Pead | Drift]
    >>> allowed_keys_for(Run)(("strategies", 0, "pead"))
    ['hold_days', 'name']
    >>> allowed_keys_for(Run)(("strategies", 0, "Drift"))
    ['days', 'name']
    """

    def allowed(loc: tuple) -> list[str]:
        target: Any = model
        for part in loc:
            target = _step(target, part)
            if target is None:
                return []
        found = _as_model(target)
        if found is None:
            return []
        return sorted(f.alias or name for name, f in found.model_fields.items())

    return allowed


def _strip(annotation: Any) -> Any:
    """Remove ``Annotated`` and a single-member ``Optional`` wrapper."""
    while True:
        if typing.get_origin(annotation) is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
            continue
        members = _union_members(annotation)
        if members is not None and len(members) == 1:
            annotation = members[0]
            continue
        return annotation


def _union_members(annotation: Any) -> list[Any] | None:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [a for a in typing.get_args(annotation) if a is not type(None)]
    return None


def _as_model(annotation: Any) -> type[BaseModel] | None:
    annotation = _strip(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _step(annotation: Any, part: Any) -> Any:
    """Follow one ``loc`` element from ``annotation``; ``None`` if it cannot."""
    annotation = _strip(annotation)
    model = _as_model(annotation)
    if model is not None:
        for name, info in model.model_fields.items():
            if part in (name, info.alias):
                return info.annotation
        if part == model.__name__ or part in _literal_values(model):
            return model  # a union tag or member label naming this very model
        return None
    members = _union_members(annotation)
    if members is not None:
        return _union_member(members, part)
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (list, tuple, set, frozenset) and args:
        return args[0] if isinstance(part, int) else annotation
    if origin is dict and len(args) == 2:
        return args[1]
    return None


def _union_member(members: list[Any], part: Any) -> Any:
    """The union member selected by a tag value or a class name in ``loc``."""
    for member in members:
        model = _as_model(member)
        if model is None:
            continue
        if part == model.__name__ or part in _literal_values(model):
            return member
    return None


def _literal_values(model: type[BaseModel]) -> set[Any]:
    values: set[Any] = set()
    for info in model.model_fields.values():
        annotation = _strip(info.annotation)
        if typing.get_origin(annotation) is typing.Literal:
            values.update(typing.get_args(annotation))
    return values
