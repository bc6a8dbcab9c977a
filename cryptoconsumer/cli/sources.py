"""Where each option's value comes from: the command line, then the environment
(CRYPTOCONSUMER_*), then the stack file (cryptoconsumer.toml). What none of them gives is
left to the settings recorded on the stack and then to the built-in defaults (config.py).

Every command is wrapped by `sourced`, which adds `--config` and `--env`, refuses empty values
(an empty value is an error, not a default: `CRYPTOCONSUMER_STACK= cryptoconsumer destroy`
must not mean stack "crypto"), fills from the stack file what the command line and the
environment left unset, and tells the command where each value came from.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import os
import typing
import unicodedata
from collections.abc import Callable, Iterator
from typing import Annotated, Any, TypeVar

import typer

from cryptoconsumer.errors import InputError
from cryptoconsumer.origins import COMMAND_LINE, DEFAULT, ENVIRONMENT, STACK_FILE

F = TypeVar("F", bound=Callable[..., Any])

# The keyword a command with **options receives its values' origins under.
ORIGINS = "_origins"
# Consent is given where it is read, on the command line: a checked-in file must not be able
# to say "yes, delete the table".
CONSENT = frozenset(
    {
        "yes",
        "delete_table",
        "delete_failed_batches",
        "purge_bad",
        "replace_mapping",
        "force",
        "allow_remote",
        "force_unknown",
    }
)
NEVER_FROM_FILE = CONSENT | {"config", "env", "version", "help"}

ConfigOpt = Annotated[
    str | None,
    typer.Option(
        "--config",
        envvar="CRYPTOCONSUMER_CONFIG",
        help="The stack file (default: ./cryptoconsumer.toml when there is one).",
    ),
]
EnvOpt = Annotated[
    str | None,
    typer.Option(
        "--env",
        envvar="CRYPTOCONSUMER_ENV",
        help="The stack file's environment to use (default: its [default] table).",
    ),
]


def file_key(param: Any) -> str:
    """An option's name in the stack file: its long flag without dashes (--batch-size)."""
    longs = [opt for opt in param.opts if opt.startswith("--")]
    return (longs[0] if longs else param.opts[0]).lstrip("-")


def flag(param: Any) -> str:
    return "--" + file_key(param)


def _source_name(source: Any) -> str:
    name = getattr(source, "name", str(source))
    return {"COMMANDLINE": COMMAND_LINE, "ENVIRONMENT": ENVIRONMENT}.get(name, DEFAULT)


def _env_names(param: Any) -> list[str]:
    envvar = getattr(param, "envvar", None)
    if not envvar:
        return []
    return [envvar] if isinstance(envvar, str) else list(envvar)


def _is_empty(value: Any) -> bool:
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple):
        return any(isinstance(item, str) and not item.strip() for item in value)
    return False


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [item for item in value if isinstance(item, str)]
    return []


def has_control(text: str) -> bool:
    return any(unicodedata.category(char) == "Cc" for char in text)


def _refuse_empty(param: Any, value: Any, origin: str, where: str = "") -> None:
    """No option takes an empty value, or a control character (a newline, an escape)."""
    if any(has_control(text) for text in _texts(value)):
        prefix = f"{where}: " if where else ""
        raise InputError(f"{prefix}{flag(param)} holds a control character: {value!r}")
    if not _is_empty(value):
        return
    if origin == ENVIRONMENT:
        names = [name for name in _env_names(param) if name in os.environ]
        source = names[0] if names else flag(param)
        raise InputError(f"{source} is empty: give it a value or unset it")
    prefix = f"{where}: " if where else ""
    raise InputError(f"{prefix}{flag(param)} is empty: give it a value or leave the option out")


def _refuse_empty_variables(param: Any, origin: str) -> None:
    """Click treats VAR= as unset; here it is an error unless the command line overrides it."""
    if origin == COMMAND_LINE:
        return
    for name in _env_names(param):
        if name in os.environ and not os.environ[name].strip():
            raise InputError(f"{name} is set but empty: give it a value or unset it")


def command_tree(root: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command under the root group, by its path (("dlq", "redrive"), ...)."""
    for name, command in sorted(getattr(root, "commands", {}).items()):
        if hasattr(command, "commands"):
            yield from command_tree(command, (*path, name))
        else:
            yield (*path, name), command


def _file_options(command: Any) -> dict[str, Any]:
    return {
        file_key(param): param
        for param in command.params
        if getattr(param, "opts", None) and param.name not in NEVER_FROM_FILE
    }


def check_file(stack_file: Any, root: Any) -> None:
    """Every key of every environment is an option of some command (of that command, inside
    its own table); anything else is refused with the file, line and key."""
    tree = {path: _file_options(command) for path, command in command_tree(root)}
    everywhere = {key for options in tree.values() for key in options}
    consent = {
        file_key(param)
        for _, command in command_tree(root)
        for param in command.params
        if param.name in CONSENT and getattr(param, "opts", None)
    }
    for table, key, value in stack_file.walk():
        where = stack_file.entry(table, key, value).where
        command = table[1:]
        if command and command not in tree:
            raise InputError(
                f"{where}: [{'.'.join(table)}] is not a command "
                f"(`cryptoconsumer {' '.join(command)}` does not exist)"
            )
        known = tree[command] if command else everywhere
        if key in consent:
            raise InputError(
                f"{where}: {key} is consent to a destructive step: give it on the command line"
            )
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            scope = f"of `{' '.join(command)}`" if command else "of any command"
            raise InputError(f"{where}: {key!r} is not an option {scope}{hint}")


def _from_file(
    ctx: Any, values: dict[str, Any], origins: dict[str, str], config: str | None, env: str | None
) -> None:
    from cryptoconsumer import stackfile

    path = stackfile.find(config)
    if path is None:
        if env is not None:
            raise InputError(
                f"--env {env!r} needs a stack file: {stackfile.FILE_NAME} here, or --config"
            )
        return
    loaded = stackfile.load(path)
    check_file(loaded, ctx.find_root().command)
    command_path = tuple(ctx.command_path.split()[1:])
    by_key = _file_options(ctx.command)
    for key, entry in loaded.entries(env or stackfile.DEFAULT_ENV, command_path).items():
        param = by_key.get(key)
        if param is None or origins.get(param.name) != DEFAULT:
            continue  # an option of other commands, or given more strongly
        raw = entry.value
        if getattr(param, "multiple", False) and not isinstance(raw, list):
            raw = [raw]
        _refuse_empty(param, raw, STACK_FILE, entry.where)
        try:
            value = param.process_value(ctx, raw)
        except Exception as err:
            message = getattr(err, "message", None) or str(err)
            raise InputError(f"{entry.where}: {message}") from None
        values[param.name] = value
        origins[param.name] = STACK_FILE
        _check_stack_field(param.name, value, entry.where)


def _check_stack_field(name: str, value: Any, where: str) -> None:
    """A stack option from the file is judged here, so its error names the file and line."""
    from cryptoconsumer.config import OPTION_FIELDS, StackOptions, check_fields

    field = "managed_policies" if name == "managed_policy" else name
    if field not in OPTION_FIELDS:
        return
    try:
        check_fields(StackOptions(**{field: tuple(value) if isinstance(value, list) else value}))
    except InputError as err:
        raise InputError(f"{where}: {err}") from None


def resolve(
    ctx: Any, values: dict[str, Any], config: str | None, env: str | None
) -> tuple[dict[str, Any], dict[str, str]]:
    """The command's values after command line > environment > stack file, with origins."""
    params = {param.name: param for param in ctx.command.params}
    origins: dict[str, str] = {}
    for name in values:
        origin = _source_name(ctx.get_parameter_source(name))
        origins[name] = origin
        param = params.get(name)
        if param is None:
            continue
        _refuse_empty_variables(param, origin)
        if origin != DEFAULT:
            _refuse_empty(param, values[name], origin)
    for name, value in (("config", config), ("env", env)):
        if name in params:
            origin = _source_name(ctx.get_parameter_source(name))
            _refuse_empty_variables(params[name], origin)
            if value is not None:
                _refuse_empty(params[name], value, origin)
    resolved = dict(values)
    _from_file(ctx, resolved, origins, config, env)
    return resolved, origins


def sourced(command: F) -> F:
    """Give a command the stack file (--config/--env) and its values' origins."""
    signature = inspect.signature(command)
    # A module with `from __future__ import annotations` gives strings; resolve them here, in
    # the command's own module, since Typer will read them from this wrapper's.
    hints = typing.get_type_hints(command, include_extras=True)
    own = [
        p.replace(annotation=hints.get(p.name, p.annotation)) for p in signature.parameters.values()
    ]
    # with_options hides **options from the signature Typer reads; the code still takes it.
    takes_origins = bool(command.__code__.co_flags & inspect.CO_VARKEYWORDS)
    shown = [p for p in own if p.kind is not p.VAR_KEYWORD]
    extra = [
        inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context),
        *shown,
        inspect.Parameter(
            "config", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=ConfigOpt
        ),
        inspect.Parameter("env", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=EnvOpt),
    ]
    # Keyword-only parameters may not precede positional ones in a signature.
    ordered = sorted(extra, key=lambda p: p.kind)

    @functools.wraps(command)
    def run(ctx: typer.Context, *args: Any, config: str | None = None, **kwargs: Any) -> Any:
        env = kwargs.pop("env", None)
        values, origins = resolve(ctx, kwargs, config, env)
        if takes_origins:
            values[ORIGINS] = origins
        return command(*args, **values)

    run.__signature__ = signature.replace(parameters=ordered)  # type: ignore[attr-defined]
    return run  # type: ignore[return-value]
