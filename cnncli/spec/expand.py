"""Spec entries -> a flat list of primitive nodes in execution order.

Blocks, `repeat`, `residual`, `concat: {branches}` and fused `activation:` are unrolled here,
so the graph and everything after it see only primitive layers. Names:
- an entry's `name`, else `<type>_<k>` counted per type within its scope;
- inside a block use, residual or branch, names are prefixed: `layer2.1.conv2d_1`,
  `residual_1.shortcut.conv2d_1`, `inception_1.b2.conv2d_1`; `repeat` adds `.1`, `.2` ...;
- a residual's `add` node and a concat node take the residual's / concat's own name;
- referring to a block use, a residual, or a layer with a fused activation means its output.
`inputs:` may name any earlier node visible from the current scope; `input` is the scope's input.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from cnncli.errors import Position, SpecError
from cnncli.layers.args import ArgContext, parse_args
from cnncli.layers.registry import ACTIVATIONS, LAYER_TYPES
from cnncli.spec.blocks import BlockDef, bind_block_args, substitute
from cnncli.spec.entries import Entry, as_list, split_entry
from cnncli.spec.scale import Scale
from cnncli.suggest import did_you_mean

INPUT = "input"
MAX_NODES = 100_000


@dataclass
class NodeSpec:
    """One primitive node: validated arguments, full input names, and where it was written."""

    name: str
    type: str
    args: dict[str, Any]
    inputs: list[str]
    context: ArgContext
    hint: str = ""
    groups: tuple[tuple[str, str], ...] = ()  # enclosing (name, type) pairs, outermost first


class Scope:
    """Names visible at one nesting level, with per-type counters for automatic names."""

    def __init__(self, prefix: str, parent: Scope | None, input_node: str) -> None:
        self.prefix = prefix
        self.parent = parent
        self.names: dict[str, str] = {INPUT: input_node}
        self.counts: Counter[str] = Counter()

    def resolve(self, local: str) -> str | None:
        scope: Scope | None = self
        while scope is not None:
            if local in scope.names:
                return scope.names[local]
            scope = scope.parent
        return None

    def visible(self) -> list[str]:
        names: list[str] = []
        scope: Scope | None = self
        while scope is not None:
            names += [n for n in scope.names if n not in names]
            scope = scope.parent
        return names

    def auto_name(self, type_name: str, taken: dict[str, Position]) -> str:
        while True:
            self.counts[type_name] += 1
            local = f"{type_name}_{self.counts[type_name]}"
            if local not in self.names and self.prefix + local not in taken:
                return local


class Expander:
    """Walks the entries once, emitting NodeSpecs in order."""

    def __init__(self, blocks: dict[str, BlockDef], scale: Scale) -> None:
        self.blocks = blocks
        self.scale = scale
        self.nodes: list[NodeSpec] = []
        self.taken: dict[str, Position] = {INPUT: Position("", 0, 0)}
        self.block_stack: list[str] = []
        self.group_stack: list[tuple[str, str]] = []  # the composites being expanded: (full name, type)

    def emit(self, name: str, type_name: str, args: dict[str, Any], inputs: list[str], context: ArgContext,
             hint: str = "") -> None:
        """Append a primitive node, recording the composites it sits in (for `cnncli.grouping`)."""
        self.nodes.append(NodeSpec(name, type_name, args, inputs, context, hint, tuple(self.group_stack)))

    @contextmanager
    def group(self, name: str, type_name: str) -> Iterator[None]:
        """Nodes emitted inside sit in the group `name` of type `type_name`."""
        self.group_stack.append((name, type_name))
        try:
            yield
        finally:
            self.group_stack.pop()

    # -- sequences and entries -------------------------------------------------------------
    def sequence(self, entries: list, path: str, scope: Scope, prev: str) -> str:
        for i, raw in enumerate(entries):
            prev = self.entry(raw, f"{path}[{i}]", entries.item_pos[i], scope, prev)  # type: ignore[attr-defined]
        return prev

    def entry(self, raw: Any, path: str, pos: Position, scope: Scope, prev: str) -> str:
        entry = split_entry(raw, path, pos)
        repeat = self.scale.repeats(entry.repeat) if entry.repeat > 1 else 1
        for k in range(1, repeat + 1):
            name = entry.name if repeat == 1 or entry.name is None else f"{entry.name}.{k}"
            inputs = self.resolve_inputs(entry, scope, prev) if k == 1 else [prev]
            prev = self.single(entry, name, inputs, scope)
        return prev

    def resolve_inputs(self, entry: Entry, scope: Scope, prev: str) -> list[str]:
        if entry.inputs is None:
            return [prev]
        resolved = []
        for local in entry.inputs:
            full = scope.resolve(local)
            if full is None:
                visible = scope.visible()
                raise SpecError(entry.value_pos.get("inputs", entry.position), f"{entry.path}.inputs",
                                f"unknown input '{local}'{did_you_mean(local, visible)}: inputs must name "
                                f"earlier nodes (so no cycle can form); visible here: {', '.join(visible[-12:])}")
            resolved.append(full)
        return resolved

    def single(self, entry: Entry, name: str | None, inputs: list[str], scope: Scope) -> str:
        if entry.type in self.blocks:
            return self.block_use(entry, name, inputs, scope)
        if entry.type == "residual":
            return self.residual(entry, name, inputs, scope)
        if entry.type == "concat" and entry.args is not None and "branches" in entry.args:
            return self.branches(entry, name, inputs, scope)
        if entry.type in LAYER_TYPES:
            return self.primitive(entry, name, inputs, scope)
        known = sorted(LAYER_TYPES) + ["residual"] + sorted(self.blocks)
        raise SpecError(entry.position, entry.path,
                        f"unknown layer type '{entry.type}'{did_you_mean(entry.type, known)} "
                        f"(known: {', '.join(known)})")

    # -- naming ----------------------------------------------------------------------------------
    def claim(self, entry: Entry, name: str | None, type_name: str, scope: Scope) -> tuple[str, str]:
        """(local, full) name for a new node or group; refuses duplicates."""
        local = name if name is not None else scope.auto_name(type_name, self.taken)
        full = scope.prefix + local
        if full in self.taken or local in scope.names:
            first = self.taken.get(full)
            where = f" (first used at line {first.line})" if first and first.line else ""
            raise SpecError(entry.value_pos.get("name", entry.position), f"{entry.path}.name",
                            f"duplicate name '{local}'{where}; node names must be unique")
        self.taken[full] = entry.position
        if len(self.taken) > MAX_NODES:
            raise SpecError(entry.position, entry.path, f"the network unrolls to more than {MAX_NODES:,} nodes")
        return local, full

    # -- primitives ------------------------------------------------------------------------------
    def primitive(self, entry: Entry, name: str | None, inputs: list[str], scope: Scope) -> str:
        cls = LAYER_TYPES[entry.type]
        context = ArgContext(entry.type, entry.path, entry.position, entry.value_pos)
        args = parse_args(cls.schema, raw_args(entry, context, "- "), context)
        if entry.type == "conv2d":
            args["filters"] = self.scale.channels(args["filters"])
        n = len(inputs)
        if n < cls.min_inputs or (cls.max_inputs is not None and n > cls.max_inputs):
            want = (f"{cls.min_inputs} or more inputs" if cls.max_inputs is None else
                    "one input" if cls.max_inputs == 1 else f"{cls.max_inputs} inputs")
            raise SpecError(entry.value_pos.get("inputs", entry.position), f"{entry.path}.inputs",
                            f"{entry.type} takes {want}, got {n}")
        activation = args.pop("activation", None)
        local, full = self.claim(entry, name, entry.type, scope)
        self.emit(full, entry.type, args, inputs, context)
        scope.names[local] = full
        if activation is not None:
            scope.names[local] = self.fused_activation(activation, entry, full)
        return scope.names[local]

    def fused_activation(self, written: Any, entry: Entry, owner: str) -> str:
        act = split_entry(written, f"{entry.path}.activation", entry.value_pos.get("activation", entry.position))
        if act.type not in ACTIVATIONS:
            raise SpecError(act.position, act.path, f"unknown activation '{act.type}'"
                            f"{did_you_mean(act.type, ACTIVATIONS)} (known: {', '.join(ACTIVATIONS)})")
        full = f"{owner}.{act.type}"
        self.taken[full] = act.position
        context = ArgContext(act.type, act.path, act.position, act.value_pos)
        args = parse_args(LAYER_TYPES[act.type].schema, raw_args(act, context, "activation: "), context)
        self.emit(full, act.type, args, [owner], context)
        return full

    # -- composites -------------------------------------------------------------------------------
    def composite_args(self, entry: Entry, allowed: tuple[str, ...]) -> dict[str, Any]:
        if entry.args is None:
            raise SpecError(entry.position, entry.path, f"{entry.type} takes a mapping ({', '.join(allowed)})")
        for key in entry.args:
            if key not in allowed:
                raise SpecError(entry.args.key_pos.get(key, entry.position), f"{entry.path}.{key}",
                                f"unknown argument '{key}' for {entry.type}{did_you_mean(key, allowed)} "
                                f"(its arguments: {', '.join(allowed)})")
        return entry.args

    def residual(self, entry: Entry, name: str | None, inputs: list[str], scope: Scope) -> str:
        args = self.composite_args(entry, ("body", "shortcut"))
        if len(inputs) != 1:
            raise SpecError(entry.position, f"{entry.path}.inputs", f"residual takes one input, got {len(inputs)}")
        if not args.get("body"):
            raise SpecError(entry.position, f"{entry.path}.body", "residual needs a non-empty body (a list of layers)")
        local, full = self.claim(entry, name, "residual", scope)
        with self.group(full, "residual"):
            self.residual_body(entry, args, full, inputs[0], scope)
        scope.names[local] = full
        return full

    def residual_body(self, entry: Entry, args: Any, full: str, source: str, scope: Scope) -> None:
        pos = args.value_pos
        body = as_list(args["body"], f"{entry.path}.body", pos["body"], "body")
        body_out = self.sequence(body, f"{entry.path}.body", Scope(full + ".", scope, source), source)
        shortcut_out = source
        if args.get("shortcut"):
            shortcut = as_list(args["shortcut"], f"{entry.path}.shortcut", pos["shortcut"], "shortcut")
            with self.group(full + ".shortcut", "shortcut"):
                shortcut_out = self.sequence(shortcut, f"{entry.path}.shortcut",
                                             Scope(full + ".shortcut.", scope, source), source)
        hint = ("the residual's body changes the shape, so its shortcut must too: e.g. "
                "shortcut: [conv2d: {filters: <body filters>, kernel: 1, stride: <body stride>}, batchnorm]")
        context = ArgContext("residual", entry.path, entry.position, entry.value_pos)
        self.emit(full, "add", {}, [body_out, shortcut_out], context, hint)

    def branches(self, entry: Entry, name: str | None, inputs: list[str], scope: Scope) -> str:
        args = self.composite_args(entry, ("branches",))
        pos = args.value_pos["branches"]
        branches = args["branches"]
        if not isinstance(branches, list) or len(branches) < 2:
            raise SpecError(pos, f"{entry.path}.branches", "branches is a list of two or more layer lists "
                                                          "([] is the identity)")
        if len(inputs) != 1:
            raise SpecError(entry.position, f"{entry.path}.inputs", "concat takes either inputs or branches, not both")
        local, full = self.claim(entry, name, "concat", scope)
        with self.group(full, "concat"):
            outs = []
            for i, branch in enumerate(branches):
                bpath = f"{entry.path}.branches[{i}]"
                layers = as_list(branch, bpath, branches.item_pos[i], "a branch")
                with self.group(f"{full}.b{i + 1}", "branch"):
                    outs.append(self.sequence(layers, bpath, Scope(f"{full}.b{i + 1}.", scope, inputs[0]), inputs[0]))
            context = ArgContext("concat", entry.path, entry.position, entry.value_pos)
            self.emit(full, "concat", {}, outs, context)
        scope.names[local] = full
        return full

    def block_use(self, entry: Entry, name: str | None, inputs: list[str], scope: Scope) -> str:
        block = self.blocks[entry.type]
        if entry.type in self.block_stack:
            chain = " → ".join(self.block_stack + [entry.type])
            raise SpecError(entry.position, entry.path, f"block {entry.type} uses itself ({chain})")
        if len(inputs) != 1:
            raise SpecError(entry.position, f"{entry.path}.inputs", f"a block takes one input, got {len(inputs)}")
        if entry.args is None:
            if not block.params:
                raise SpecError(entry.position, entry.path, f"block {block.name} has no parameters, "
                                                             f"got {entry.shorthand!r}")
            given, positions = {next(iter(block.params)): entry.shorthand}, {}
        else:
            given, positions = dict(entry.args), entry.value_pos
        values = bind_block_args(block, given, positions, entry.path, entry.position)
        local, full = self.claim(entry, name, entry.type, scope)
        body_path = f"{entry.path} → blocks.{block.name}.layers"
        layers = substitute(block.layers, values, block.name, block.position, body_path)
        self.block_stack.append(entry.type)
        with self.group(full, entry.type):
            out = self.sequence(layers, body_path, Scope(full + ".", None, inputs[0]), inputs[0])
        self.block_stack.pop()
        scope.names[local] = out
        return out


def raw_args(entry: Entry, context: ArgContext, written: str) -> dict[str, Any]:
    """An entry's arguments as a mapping: a shorthand value goes to the type's main argument.
    `written` is how the bare form is spelt where the entry sits (`- ` or `activation: `)."""
    if entry.args is not None:
        return dict(entry.args)
    cls = LAYER_TYPES[entry.type]
    if cls.main_arg is None:
        if entry.type in ("concat", "add") and isinstance(entry.shorthand, list):
            names = ", ".join(str(v) for v in entry.shorthand)
            branches = " or `- concat: {branches: [[...], [...]]}` to run branches side by side" \
                if entry.type == "concat" else ""
            raise context.error(None, f"{entry.type} takes the layers it joins as `inputs`: write "
                                      f"`- {entry.type}: {{inputs: [{names}]}}`{branches}")
        raise context.error(None, f"{entry.type} takes no main argument, got {entry.shorthand!r}; "
                                  f"write `{written}{entry.type}`")
    context.value_pos = {cls.main_arg: entry.value_pos.get("", entry.position)}
    return {cls.main_arg: entry.shorthand}


def expand(layers: list, blocks: dict[str, BlockDef], scale: Scale | None = None) -> list[NodeSpec]:
    """All primitive nodes of a spec's `layers`, in order (channels and repeats scaled by `scale`)."""
    expander = Expander(blocks, scale or Scale())
    expander.sequence(layers, "layers", Scope("", None, INPUT), INPUT)
    return expander.nodes

