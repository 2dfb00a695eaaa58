"""The diagram as text for other tools: Graphviz DOT and Mermaid (which GitHub renders)."""
from __future__ import annotations

import json

from cnncli.diagram.model import Diagram
from cnncli.diagram.style import BOX_STYLE, SHORTCUT_COLOR


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(diagram: Diagram, direction: str) -> str:
    """A Graphviz digraph: node ids are the box ids (quoted), labels the box text."""
    out = [f"digraph {_dot_quote(diagram.title)} {{", f"  rankdir={direction};",
           '  node [shape=box, style="rounded,filled", fontname="DejaVu Sans", fontsize=10];',
           f"  label={_dot_quote(diagram.title)}; labelloc=t;"]
    for box in diagram.boxes:
        label = "\\n".join(_dot_quote(line)[1:-1] for line in [box.name, *box.lines, *box.error_lines])
        extra = ', color="#c62828", fontcolor="#b71c1c"' if box.kind == "error" else ""
        out.append(f'  {_dot_quote(box.id)} [label="{label}", fillcolor="{BOX_STYLE[box.kind][0]}"{extra}];')
    for edge in diagram.edges:
        style = f' [color="{SHORTCUT_COLOR}", penwidth=1.6]' if edge.shortcut else ""
        out.append(f"  {_dot_quote(edge.source)} -> {_dot_quote(edge.target)}{style};")
    out.append("}")
    return "\n".join(out) + "\n"


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def to_mermaid(diagram: Diagram, direction: str) -> str:
    """A Mermaid flowchart: node ids n0, n1 ... in box order, labels the box text, `%%` comments name them."""
    ids = {box.id: f"n{i}" for i, box in enumerate(diagram.boxes)}
    out = [f"---\ntitle: {json.dumps(_mermaid_text(diagram.title))}\n---", f"flowchart {direction}"]
    for box in diagram.boxes:
        label = "<br/>".join(_mermaid_text(line) for line in [box.name, *box.lines, *box.error_lines])
        shape = ('(["', '"])') if box.kind == "terminal" else ('["', '"]')
        out += [f"  %% {box.id}", f"  {ids[box.id]}{shape[0]}{label}{shape[1]}:::k_{box.kind}"]
    shortcuts = []
    for k, edge in enumerate(diagram.edges):
        out.append(f"  {ids[edge.source]} --> {ids[edge.target]}")
        if edge.shortcut:
            shortcuts.append(str(k))
    for kind, (fill, stroke) in BOX_STYLE.items():
        out.append(f"  classDef k_{kind} fill:{fill},stroke:{stroke}")
    if shortcuts:
        out.append(f"  linkStyle {','.join(shortcuts)} stroke:{SHORTCUT_COLOR},stroke-width:2px")
    return "\n".join(out) + "\n"
