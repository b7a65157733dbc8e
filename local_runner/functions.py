"""Index a FunctionApp from its own metadata (what the Python worker sends the host) and invoke functions."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import logging
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import azure.functions as func

logger = logging.getLogger(__name__)

SUPPORTED_TRIGGERS = ("httpTrigger", "queueTrigger")
SUPPORTED_OUTPUTS = ("http", "queue", "table")


@dataclass(frozen=True)
class Binding:
    name: str
    type: str
    direction: str
    raw: dict[str, Any]

    def get(self, key: str, default: Any = None) -> Any:
        return self.raw.get(key, default)


@dataclass(frozen=True)
class IndexedFunction:
    name: str
    func: Callable[..., Any]
    trigger: Binding
    outputs: tuple[Binding, ...] = field(default=())

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.func)


class UnsupportedBindingError(Exception):
    pass


def load_app(spec: str) -> func.FunctionApp:
    """`module` or `module:attribute`; the attribute defaults to the FunctionApp the module defines."""
    module_name, _, attribute = spec.partition(":")
    module = importlib.import_module(module_name)
    if attribute:
        app = getattr(module, attribute)
    else:
        apps = [value for value in vars(module).values() if isinstance(value, func.FunctionApp)]
        if len(apps) != 1:
            raise ValueError(f"{module_name} must define exactly one FunctionApp, found {len(apps)}")
        app = apps[0]
    return app  # type: ignore[no-any-return]


def index(app: func.FunctionApp) -> list[IndexedFunction]:
    functions = []
    for fn in app.get_functions():
        bindings = [_binding(json.loads(raw)) for raw in fn.get_raw_bindings()]
        triggers = [b for b in bindings if b.type.endswith("Trigger")]
        name = str(fn.get_function_name())
        if len(triggers) != 1 or triggers[0].type not in SUPPORTED_TRIGGERS:
            raise UnsupportedBindingError(
                f"Function {name!r}: the local runner hosts {', '.join(SUPPORTED_TRIGGERS)} functions; "
                "run this app with Azure Functions Core Tools (func start)."
            )
        outputs = []
        for binding in bindings:
            if binding is triggers[0]:
                continue
            if binding.direction != "OUT" or binding.type not in SUPPORTED_OUTPUTS:
                raise UnsupportedBindingError(
                    f"Function {name!r}: {binding.direction.lower()} binding {binding.type!r} is not supported by "
                    "the local runner; run this app with Azure Functions Core Tools (func start)."
                )
            outputs.append(binding)
        functions.append(IndexedFunction(name, fn.get_user_function(), triggers[0], tuple(outputs)))
    return functions


def _binding(raw: dict[str, Any]) -> Binding:
    return Binding(name=raw["name"], type=raw["type"], direction=str(raw.get("direction", "IN")).upper(), raw=raw)


class Out(func.Out[Any]):
    """An output binding's value holder, as the worker passes one to the function (tests call bodies with it)."""

    def __init__(self) -> None:
        self.value: Any = None

    def set(self, val: Any) -> None:
        self.value = val

    def get(self) -> Any:
        return self.value


@dataclass
class Invocation:
    """The result of one run: the return value and every output binding's value that the function set."""

    id: str
    returned: Any
    outputs: dict[str, Any]


async def invoke(
    fn: IndexedFunction, trigger_value: Any, executor: Executor, reason: str, quiet: bool = False
) -> Invocation:
    """Run a function as the worker does: sync functions on the thread pool, async ones on the event loop.

    `quiet` logs a success at DEBUG only: the HTTP server logs one line per request instead, with its status.
    """
    invocation_id = str(uuid.uuid4())
    outs = {b.name: Out() for b in fn.outputs if b.name != "$return"}
    kwargs = {fn.trigger.name: trigger_value, **outs}
    level = logging.DEBUG if quiet else logging.INFO
    logger.log(level, "Executing 'Functions.%s' (Reason='%s', Id=%s)", fn.name, reason, invocation_id)
    started = time.perf_counter()
    try:
        if fn.is_async:
            returned = await fn.func(**kwargs)
        else:
            returned = await asyncio.get_running_loop().run_in_executor(executor, lambda: fn.func(**kwargs))
    except Exception:
        duration = (time.perf_counter() - started) * 1000
        logger.exception("Executed 'Functions.%s' (Failed, Id=%s, Duration=%.0fms)", fn.name, invocation_id, duration)
        raise
    duration = (time.perf_counter() - started) * 1000
    logger.log(level, "Executed 'Functions.%s' (Succeeded, Id=%s, Duration=%.0fms)", fn.name, invocation_id, duration)
    values = {name: out.get() for name, out in outs.items() if out.get() is not None}
    return Invocation(invocation_id, returned, values)
