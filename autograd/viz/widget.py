"""``BackwardStepper.show()``: the notebook widget that follows backward.

Prev/Next buttons and a slider move the stepper; below them a line says what the
step did and the picture shows the graph with the current op marked. The picture
is an inline SVG whose size is fixed when the widget is made, so it never jumps
between steps: it is at most as wide as the cell (scaled down to fit) and, for a
graph larger than that, it shows a window of the graph centred on the current op
(on the output before the first step), so the current op is always in view.
"""

from __future__ import annotations

import html
import re
from typing import Any

from .labels import summarize

#: the picture's largest size in Graphviz points (1 pt = 4/3 px): 960 x 600 px
MAX_WIDTH_PT = 720.0
MAX_HEIGHT_PT = 450.0

_VIEWBOX = re.compile(r'viewBox="([-\d.]+) ([-\d.]+) ([-\d.]+) ([-\d.]+)"')
_TRANSFORM = re.compile(r'class="graph" transform="scale\(([-\d.]+) ([-\d.]+)\) '
                        r'rotate\(0\) translate\(([-\d.]+) ([-\d.]+)\)"')
_SVG_TAG = re.compile(r"<svg\b[^>]*>")
_SIZE_ATTRS = re.compile(r'\s(width|height|viewBox)="[^"]*"')
_PAIR = re.compile(r"(-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?)")
_ELLIPSE = re.compile(r'cx="([-\d.]+)" cy="([-\d.]+)" rx="([-\d.]+)" ry="([-\d.]+)"')


def svg_size(svg: str) -> tuple[float, float]:
    """Width and height of a Graphviz SVG, in points."""
    found = _VIEWBOX.search(svg)
    if found is None:
        raise ValueError("viz: not a Graphviz SVG (no viewBox)")
    return float(found.group(3)), float(found.group(4))


def node_box(svg: str, css_class: str) -> tuple[float, float, float, float] | None:
    """``(left, top, right, bottom)`` of the node drawn with ``css_class`` (a DOT
    ``class`` attribute), in the SVG's viewBox coordinates; None if there is none."""
    block = re.search(rf'<g id="[^"]*" class="node {css_class}">(.*?)</g>', svg, re.S)
    transform = _TRANSFORM.search(svg)
    if block is None or transform is None:
        return None
    sx, sy, tx, ty = (float(v) for v in transform.groups())
    xs, ys = [], []
    for cx, cy, rx, ry in _ELLIPSE.findall(block.group(1)):
        xs += [float(cx) - float(rx), float(cx) + float(rx)]
        ys += [float(cy) - float(ry), float(cy) + float(ry)]
    for attr in re.findall(r'(?:points|d)="([^"]*)"', block.group(1)):
        for x, y in _PAIR.findall(attr):
            xs.append(float(x))
            ys.append(float(y))
    if not xs:
        return None
    return (sx * (min(xs) + tx), sy * (min(ys) + ty), sx * (max(xs) + tx), sy * (max(ys) + ty))


def window_size(svg: str) -> tuple[float, float]:
    """The size of the picture's window for a graph drawn like ``svg``."""
    width, height = svg_size(svg)
    return min(width, MAX_WIDTH_PT), min(height, MAX_HEIGHT_PT)


def frame(svg: str, window: tuple[float, float], focus: str) -> str:
    """``svg`` as inline HTML showing a ``window``-sized part of it centred on the
    node of class ``focus`` (as near as the picture's edges allow), scaled to the
    width of the cell when that is narrower."""
    width, height = svg_size(svg)
    ww, wh = window
    box = node_box(svg, focus)
    cx, cy = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2) if box else (width / 2, 0.0)

    def start(centre: float, size: float, room: float) -> float:
        if size <= room:
            return (size - room) / 2  # smaller than the window: centred in it
        return min(max(centre - room / 2, 0.0), size - room)

    x, y = start(cx, width, ww), start(cy, height, wh)
    tag = _SVG_TAG.search(svg)
    if tag is None:
        raise ValueError("viz: not a Graphviz SVG (no <svg> tag)")
    opening = _SIZE_ATTRS.sub("", tag.group(0))[:-1] + (
        f' viewBox="{x:.2f} {y:.2f} {ww:.2f} {wh:.2f}" width="100%"'
        f' preserveAspectRatio="xMidYMid meet"'
        f' style="display:block; height:auto; aspect-ratio:{ww:.2f} / {wh:.2f}">')
    body = svg[tag.end():]
    return (f'<div class="chaingrad-window" style="max-width:{ww * 4 / 3:.0f}px; '
            f'background:white; border:1px solid #ccc; overflow:hidden">'
            f"{opening}{body}</div>")


def status_html(stepper: Any) -> str:
    """What the current step did, in words (HTML); at the end, the leaves' final
    gradients."""
    n = len(stepper)
    record = stepper.current
    if n == 0:
        return ("<b>Nothing to step through:</b> the output is a leaf, made by no op, so "
                "backward only gives it its own gradient.")
    if record is None:
        seed = summarize(stepper._seeds()[0])
        return (f"<b>Before step 1 of {n}.</b> Backward starts at the output "
                f"(data {html.escape(summarize(stepper.loss.data))}) with the gradient "
                f"{html.escape(seed)}: the derivative of the output with respect to itself. "
                "<b>Next</b> runs the rule of the op that made it.")
    handed = ", ".join(html.escape(h) for h in stepper.handed(record))
    text = (f"<b>Step {record.step} of {n}: {html.escape(record.op)}.</b> It received "
            f"grad_output {html.escape(summarize(record.grad_output))} for its output, "
            f"applied its rule <code>{html.escape(record.rule)}</code> and handed back "
            f"{handed}.")
    if stepper.done:
        leaves = [f"{html.escape(name)} = {html.escape(summarize(grad))}"
                  for name, grad in stepper.leaves()]
        shown = ", ".join(leaves[:8]) + (", ..." if len(leaves) > 8 else "")
        text += ("<br><b>✓ Done:</b> backward is complete. The leaves hold their final "
                 f"gradients, the same that backward() leaves: {shown or 'none'}.")
    return text


def stepper_widget(stepper: Any, options: dict) -> Any:
    """The widget of :meth:`BackwardStepper.show`, moved to before the first step."""
    try:
        import ipywidgets as widgets
    except ImportError as err:
        raise ImportError(
            "BackwardStepper.show() needs ipywidgets in a Jupyter notebook "
            "(pip install ipywidgets); in a terminal use print(stepper)"
        ) from err
    options = dict(options)

    def render() -> str:
        return stepper.draw(**options).pipe(format="svg").decode()

    # The end state has the most text: it sizes the window and picks the layout.
    stepper.run()
    if "rankdir" not in options:
        options["rankdir"] = "LR"
        final = render()
        width, height = svg_size(final)
        if width > height:
            options["rankdir"] = "TB"
            final = render()
    else:
        final = render()
    window = window_size(final)
    stepper.goto(0)

    n = len(stepper)
    prev = widgets.Button(description="◀ Prev", tooltip="one step back")
    next_ = widgets.Button(description="Next ▶", tooltip="run the next op's rule")
    slider = widgets.IntSlider(value=0, min=0, max=n, description="step",
                               continuous_update=False)
    status = widgets.HTML()
    picture = widgets.HTML(layout=widgets.Layout(width="100%"))
    status.add_class("chaingrad-stepper-status")
    picture.add_class("chaingrad-stepper-picture")

    def update(change: Any = None) -> None:
        k = slider.value
        try:
            stepper.goto(k)
            picture.value = frame(render(), window, "current" if k else "root")
            status.value = status_html(stepper)
        except Exception as err:  # a callback's error would go to a hidden log
            status.value = f"<pre>{html.escape(f'{type(err).__name__}: {err}')}</pre>"
        prev.disabled = k == 0
        next_.disabled = k == n

    def move(by: int) -> None:
        slider.value = min(max(slider.value + by, 0), n)

    slider.observe(update, names="value")
    prev.on_click(lambda _: move(-1))
    next_.on_click(lambda _: move(1))
    update()
    box = widgets.VBox([widgets.HBox([prev, slider, next_]), status, picture])
    box.add_class("chaingrad-stepper")
    return box
