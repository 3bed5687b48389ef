"""The wire schemas compiled into plain functions, for the hot paths.

The marshmallow schemas of this package are the one definition of every JSON form.
Running them through marshmallow's generic machinery (error stores, processor lookup,
getters per field) cost most of a full verification, about 300 µs an entry, so
:func:`loader` and :func:`dumper` generate straight-line Python for a schema, one block
per field, that calls the very same field objects (their ``_deserialize``/``_serialize``,
their validators, the schema's ``post_load`` hooks) without the bookkeeping; only plain
strings and strict integers are type-checked inline. Nothing is re-stated here: a rule
lives in its schema and only there.

A compiled loader takes the happy path only. On anything unexpected it raises
:class:`Fallback` and :func:`load` runs the schema itself, whose answer (value or the
exact error) is the one that counts; schemas using features this compiler does not
model (pre-load hooks, schema validators, ``many``) are simply never compiled. Tests
hold compiled and plain schemas equal on valid and on mutated documents.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, fields, missing
from marshmallow.decorators import POST_DUMP, POST_LOAD, PRE_DUMP, PRE_LOAD, VALIDATES
from marshmallow.decorators import VALIDATES_SCHEMA as SCHEMA_VALIDATORS
from marshmallow.validate import Regexp, Validator

Load = Callable[[Any], Any]
Dump = Callable[[Any], Any]


class Fallback(Exception):  # a signal: "ask the schema"
    """The compiled path declines; the schema itself must answer."""


class NotCompilable(Exception):
    """The schema uses a feature the compiler does not model."""


_LOADERS: dict[int, tuple[Schema, Any]] = {}
_DUMPERS: dict[int, tuple[Schema, Any]] = {}


def load(schema: Schema, data: Any) -> Any:
    """``schema.load(data)``, through the compiled loader when it can answer."""
    compiled = loader(schema)
    if compiled is not None:
        try:
            return compiled(data)
        except Exception:  # any doubt: the schema decides, and says why
            pass
    return schema.load(data)


def dump(schema: Schema, obj: Any) -> Any:
    """``schema.dump(obj)``, through the compiled dumper when there is one."""
    compiled = dumper(schema)
    return schema.dump(obj) if compiled is None else compiled(obj)


def loader(schema: Schema) -> Load | None:
    """The compiled loader of ``schema`` (built once per instance), or None."""
    return _compiled(_LOADERS, schema, _compile_load)


def dumper(schema: Schema) -> Dump | None:
    """The compiled dumper of ``schema`` (built once per instance), or None."""
    return _compiled(_DUMPERS, schema, _compile_dump)


def _compiled(cache: dict[int, tuple[Schema, Any]], schema: Schema,
              compile_: Callable[[Schema], Callable[[Any], Any]]
              ) -> Callable[[Any], Any] | None:
    cached = cache.get(id(schema))
    if cached is None or cached[0] is not schema:  # an id may be reused by a new schema
        function: Callable[[Any], Any] | None
        try:
            function = compile_(schema)
        except NotCompilable:
            function = None
        cached = cache[id(schema)] = (schema, function)
    result: Callable[[Any], Any] | None = cached[1]
    return result


def _check_schema(schema: Schema, hooks: tuple[str, ...]) -> None:
    if schema.many or schema.partial:
        raise NotCompilable("many or partial schemas")
    for tag in hooks:
        if schema._hooks[tag]:
            raise NotCompilable(f"{type(schema).__name__} has {tag} hooks")


def _compile_load(schema: Schema) -> Load:
    """Generate straight-line Python for ``schema``: one block per field, no loops."""
    _check_schema(schema, (PRE_LOAD, VALIDATES, SCHEMA_VALIDATORS))
    if schema.unknown not in (RAISE, EXCLUDE):
        raise NotCompilable("unknown=INCLUDE")
    scope: dict[str, Any] = {"Fallback": Fallback, "MISSING": missing,
                             "UNKNOWN": schema.unknown}
    lines = ["def load_schema(data):", "    if type(data) is not dict: raise Fallback"]
    if schema.unknown == RAISE:
        scope["KNOWN"] = frozenset(field.data_key if field.data_key is not None else name
                                   for name, field in schema.load_fields.items())
        lines.append("    if not KNOWN.issuperset(data): raise Fallback")
    lines.append("    out = {}")
    for index, (attr_name, field) in enumerate(schema.load_fields.items()):
        name = field.attribute or attr_name
        if "." in name:
            raise NotCompilable("dotted attributes")
        scope[f"K{index}"] = field.data_key if field.data_key is not None else attr_name
        scope[f"N{index}"], scope[f"D{index}"] = name, field.load_default
        lines += [f"    v = data.get(K{index}, MISSING)", "    if v is MISSING:"]
        if field.required:
            lines.append("        raise Fallback")
        elif field.load_default is missing:
            lines.append("        pass")
        else:
            call = "()" if callable(field.load_default) else ""
            lines.append(f"        out[N{index}] = D{index}{call}")
        lines.append("    else:")
        lines += ["        " + line for line in _field_lines(field, f"F{index}", scope,
                                                             f"K{index}")]
        lines.append(f"        out[N{index}] = x")
    lines.append("    result = out")
    for index, (attr_name, many, kwargs) in enumerate(schema._hooks[POST_LOAD]):
        if many or kwargs.get("pass_original"):
            raise NotCompilable("collection or pass_original post_load hooks")
        scope[f"H{index}"] = getattr(schema, attr_name)
        lines.append(f"    result = H{index}(result, many=False, partial=None, "
                     "unknown=UNKNOWN)")
    lines.append("    return result")
    return _define("load_schema", lines, scope, type(schema).__name__)  # type: ignore[no-any-return]


def _define(name: str, lines: list[str], scope: dict[str, Any], what: str) -> Any:
    exec(compile("\n".join(lines) + "\n", f"<compiled {what}>", "exec"), scope)
    return scope[name]


def _field_lines(field: fields.Field[Any], prefix: str, scope: dict[str, Any],
                 key: str) -> list[str]:
    """Lines that turn a present input value ``v`` into ``x``, or raise Fallback."""
    if field.pre_load or field.post_load:
        raise NotCompilable("field processors")
    lines = ["if v is None:", "    x = None" if field.allow_none else "    raise Fallback",
             "else:"]
    body = _convert_lines(field, prefix, scope, key)
    for index, validator in enumerate(field.validators):
        if not isinstance(validator, Validator):
            raise NotCompilable("plain-function validators")
        if type(validator) is Regexp:
            scope[f"{prefix}R{index}"] = validator.regex
            body.append(f"if {prefix}R{index}.match(x) is None: raise Fallback")
        else:
            scope[f"{prefix}V{index}"] = validator
            body.append(f"{prefix}V{index}(x)")
    return lines + ["    " + line for line in body]


def _convert_lines(field: fields.Field[Any], prefix: str, scope: dict[str, Any],
                   key: str) -> list[str]:
    # The two commonest fields, written out: for a str (an int) input marshmallow's own
    # conversion returns the input itself; any other input takes the schema's path.
    if type(field) is fields.String:
        return ["if type(v) is not str: raise Fallback", "x = v"]
    if type(field) is fields.Integer and field.strict:
        return ["if type(v) is not int: raise Fallback", "x = v"]
    if isinstance(field, fields.Nested):
        if field.many or field.unknown is not None or field.only or field.exclude:
            raise NotCompilable("nested options")
        scope[f"{prefix}S"] = _compile_load(field.schema)
        return [f"x = {prefix}S(v)"]
    if isinstance(field, fields.List):
        # List deserializes each item with the inner field, without a key or data.
        item = ["def item(v):"] + ["    " + line for line in _field_lines(
            field.inner, f"{prefix}I", scope, "None")] + ["    return x"]
        scope[f"{prefix}L"] = _define("item", item, dict(scope), "list item")
        return ["if type(v) is not list: raise Fallback",
                f"x = [{prefix}L(each) for each in v]"]
    if type(field)._deserialize is fields.Field._deserialize:
        raise NotCompilable("field without a deserializer")
    scope[f"{prefix}C"] = field._deserialize
    return [f"x = {prefix}C(v, {key}, {'None' if key == 'None' else 'data'})"]


def _compile_dump(schema: Schema) -> Dump:
    """Generate straight-line Python for ``schema.dump``: one block per field."""
    _check_schema(schema, (PRE_DUMP, POST_DUMP))
    default_access = type(schema).get_attribute is Schema.get_attribute
    scope: dict[str, Any] = {"MISSING": missing, "GET": schema.get_attribute,
                             "VALUE_FOR_KEY": _value_for_key}
    # marshmallow reads obj[key] from anything with __getitem__, else the attribute.
    lines = ["def dump_schema(obj):", "    out = {}",
             "    plain = not hasattr(obj, '__getitem__')"]
    for index, (attr_name, field) in enumerate(schema.dump_fields.items()):
        if not field._CHECK_ATTRIBUTE:
            raise NotCompilable("fields that do not read an attribute")
        scope[f"K{index}"] = field.data_key if field.data_key is not None else attr_name
        scope[f"S{index}"] = field.attribute or attr_name
        scope[f"A{index}"], scope[f"D{index}"] = attr_name, field.dump_default
        read = (f"getattr(obj, S{index}, MISSING) if plain else "
                f"VALUE_FOR_KEY(obj, S{index}, MISSING)") if default_access \
            else f"GET(obj, S{index}, MISSING)"
        lines += [f"    v = {read}", "    if v is MISSING:"]
        call = "()" if callable(field.dump_default) else ""
        lines += [f"        v = D{index}{call}", "    if v is not MISSING:"]
        lines += ["        " + line for line in _dump_lines(field, f"F{index}", scope,
                                                            f"A{index}")]
        lines.append(f"        out[K{index}] = x")
    lines.append("    return out")
    return _define("dump_schema", lines, scope, f"dump of {type(schema).__name__}")  # type: ignore[no-any-return]


def _value_for_key(obj: Any, key: str, default: Any) -> Any:
    """marshmallow's default attribute access (``utils.get_value`` for a plain key)."""
    if not hasattr(obj, "__getitem__"):
        return getattr(obj, key, default)
    try:
        return obj[key]
    except (KeyError, IndexError, TypeError, AttributeError):
        return getattr(obj, key, default)


def _dump_lines(field: fields.Field[Any], prefix: str, scope: dict[str, Any],
                attr: str) -> list[str]:
    """Lines that turn the attribute value ``v`` into its dumped form ``x``."""
    if isinstance(field, fields.Nested):
        if field.many or field.only or field.exclude:
            raise NotCompilable("nested options")
        scope[f"{prefix}S"] = _compile_dump(field.schema)
        return [f"x = None if v is None else {prefix}S(v)"]
    if isinstance(field, fields.List):
        # List dumps each item with the inner field's _serialize (Nested: its schema).
        inner = ["def item(v, obj):"] + ["    " + line for line in _dump_lines(
            field.inner, f"{prefix}I", scope, attr)] + ["    return x"]
        scope[f"{prefix}L"] = _define("item", inner, dict(scope), "list item dump")
        return [f"x = None if v is None else [{prefix}L(each, obj) for each in v]"]
    scope[f"{prefix}C"] = field._serialize
    # For a str (an int) marshmallow's String (Integer) dumps the value itself.
    if type(field) is fields.String:
        return [f"x = v if type(v) is str else {prefix}C(v, {attr}, obj)"]
    if type(field) is fields.Integer and not field.as_string:
        return [f"x = v if type(v) is int else {prefix}C(v, {attr}, obj)"]
    return [f"x = {prefix}C(v, {attr}, obj)"]


__all__ = ["Fallback", "NotCompilable", "dump", "dumper", "load", "loader"]
