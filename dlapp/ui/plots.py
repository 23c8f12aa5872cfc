"""The app's charts as Plotly figures (shown through gr.Plot): training curves, the confusion matrix,
a review's reading trajectory, the reliability diagram; and the progress bar (HTML).

Plotly because it draws in the browser: charts follow the page's width (a phone gets readable
numbers, not a shrunken picture), show values on hover, and redraw under gr.Timer updates (Gradio's
front end calls Plotly.react with each new figure; tests/test_browser_polish.py counts the points
drawn while a run trains). The helpers at the top are general, for the charts that come next.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import plotly.graph_objects as go

ORANGE, BLUE, GREEN, RED, GREY = "#f97316", "#2563eb", "#16a34a", "#dc2626", "#9ca3af"
SERIES_COLOURS = {"train": ORANGE, "validation": BLUE}
FONT = 13  # px: the size every chart's text keeps, on a phone as on a desktop

# Clicks on a chart's cells reach Python through a hidden textbox and button (gr.Plot has only a
# `change` event): a plot with elem_classes CELLS_CLASS and elem_id X sends "row,col" of a clicked
# heat-map cell to the textbox `X-cell` and presses the button `X-open` (see cell_picker()).
CELLS_CLASS = "dlapp-cells"
CLICK_JS = """
() => {
  const wire = () => {
    for (const block of document.querySelectorAll('.dlapp-cells')) {
      const gd = block.querySelector('.js-plotly-plot');
      if (!gd || !gd.on || gd.dataset.dlappCells === block.id) continue;
      gd.dataset.dlappCells = block.id;
      gd.on('plotly_click', (ev) => {
        const p = ev.points && ev.points[0];
        if (!p || !Array.isArray(p.pointIndex)) return;
        window.dlappCell = Object.assign(window.dlappCell || {}, {[block.id]: p.pointIndex.join(',')});
        document.querySelector('#' + block.id + '-open').click();
      });
    }
  };
  setInterval(wire, 400);  // plots appear (and are re-created) as tabs and results open
}
"""  # .dlapp-cells is CELLS_CLASS


def cell_js(plot_id: str) -> str:
    """The `js` of the hidden button's click: the clicked cell as its first input, the rest unchanged."""
    return f"(cell, ...rest) => [(window.dlappCell || {{}})['{plot_id}'] || '', ...rest]"


def parse_cell(value: str | None, n: int) -> tuple[int, int] | None:
    """(true, predicted) from the "row,col" the page sent, or None when it is not a cell of an n×n matrix."""
    try:
        row, col = (int(v) for v in (value or "").split(","))
    except ValueError:
        return None
    return (row, col) if 0 <= row < n and 0 <= col < n else None


# ---------------------------------------------------------------- general helpers

def figure(title: str, *, x_title: str = "", y_title: str = "", height: int = 300,
           y_range: Sequence[float] | None = None, y_format: str | None = None) -> go.Figure:
    """An empty chart in the app's style: white, a title, small margins, a legend above the plot."""
    fig = go.Figure()
    fig.update_layout(template="plotly_white", height=height, font={"size": FONT},
                      title={"text": title, "x": 0, "xanchor": "left", "font": {"size": FONT + 2}},
                      margin={"l": 56, "r": 16, "t": 56, "b": 48}, hovermode="x unified",
                      legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1})
    fig.update_xaxes(title_text=x_title, zeroline=False)
    fig.update_yaxes(title_text=y_title, range=list(y_range) if y_range else None, tickformat=y_format,
                     zeroline=False)
    return fig


def add_line(fig: go.Figure, xs: Sequence[float], ys: Sequence[float], name: str, colour: str, *,
             markers: bool = True, dash: str | None = None, hover: str = "%{y:.3f}") -> go.Figure:
    fig.add_trace(go.Scatter(x=list(xs), y=list(ys), name=name, mode="lines+markers" if markers else "lines",
                             line={"color": colour, "width": 2, "dash": dash}, marker={"size": 7},
                             hovertemplate=f"{name}: {hover}<extra></extra>"))
    return fig


def note(fig: go.Figure, text: str) -> go.Figure:
    """A grey line of text in the middle of an empty chart."""
    fig.add_annotation(text=text, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
                       font={"color": "#6b7280"})
    fig.update_xaxes(showticklabels=False, showgrid=False)
    fig.update_yaxes(showticklabels=False, showgrid=False)
    return fig


# ---------------------------------------------------------------- the app's charts

def curve_figure(points: list[dict], metric: str) -> go.Figure:
    """`metric` ("loss" or "accuracy") per epoch: train and validation, and the epoch in progress.

    Keras reports the train metrics as running means that restart each epoch, so joining them
    saw-tooths; the train line joins the complete epochs' values only, and the running value of
    the epoch in progress is one hollow marker, so it never drags the line back.
    """
    accuracy = metric == "accuracy"
    fig = figure(metric.capitalize(), x_title="epoch", y_range=(0, 1) if accuracy else None,
                 y_format=".0%" if accuracy else None)
    hover = "%{y:.1%}" if accuracy else "%{y:.3f}"
    values = [p for p in points if p.get(metric) is not None]
    if not values:
        return note(fig, "curves appear here while a training runs")
    train = [p for p in values if p["series"] == "train"]
    done = [(p["epoch"], p[metric]) for p in train if float(p["epoch"]).is_integer()]  # each epoch's last value
    if done:
        add_line(fig, *zip(*done, strict=True), "train", ORANGE, hover=hover)
    if train and not float(train[-1]["epoch"]).is_integer():
        last = train[-1]
        fig.add_trace(go.Scatter(x=[last["epoch"]], y=[last[metric]], name="train (this epoch so far)",
                                 mode="markers", marker={"color": ORANGE, "size": 9, "symbol": "circle-open"},
                                 hovertemplate=f"this epoch so far: {hover}<extra></extra>"))
    val = [(p["epoch"], p[metric]) for p in values if p["series"] == "validation"]
    if val:
        add_line(fig, *zip(*val, strict=True), "validation", BLUE, hover=hover)
    fig.update_xaxes(rangemode="tozero", dtick=None if max(p["epoch"] for p in values) > 8 else 1)
    if not accuracy:
        fig.update_yaxes(rangemode="tozero")
    return fig


def confusion_figure(matrix: list[list[int]], class_names: list[str]) -> go.Figure:
    """A heat map: rows are true classes, columns predictions, coloured by the share of each true
    class, with the count in every cell (clickable where cell_picker() wires it)."""
    n = len(class_names)
    shares = []
    for row in matrix:
        total = sum(row) or 1
        shares.append([v / total for v in row])
    names = [str(c) for c in class_names]
    fig = figure("", x_title="predicted class", y_title="true class", height=140 + 34 * n)
    fig.add_trace(go.Heatmap(z=shares, x=names, y=names, text=matrix, texttemplate="%{text}",
                             textfont={"size": FONT}, colorscale="Blues", zmin=0, zmax=1, showscale=False,
                             xgap=1, ygap=1,
                             hovertemplate="true %{y} → predicted %{x}: %{text} test examples "
                                           "(%{z:.0%} of the class)<extra></extra>"))
    fig.update_layout(hovermode="closest", margin={"l": 8, "r": 8, "t": 8, "b": 8})
    fig.update_xaxes(type="category", side="top", tickangle=-45, automargin=True, showgrid=False)
    fig.update_yaxes(type="category", autorange="reversed", automargin=True, showgrid=False)
    return fig


def trajectory_figure(values: list[float], positive: str) -> go.Figure:
    """P(positive) after each sentence of a review, with the 50% line the verdict flips at."""
    fig = figure(f"P({positive}) after each sentence", x_title="sentence", y_range=(0, 1), y_format=".0%",
                 height=280)
    xs = list(range(1, len(values) + 1))
    fig.add_hline(y=0.5, line={"color": GREY, "dash": "dot"})
    fig.add_trace(go.Scatter(x=xs, y=values, mode="lines+markers", name=f"P({positive})",
                             line={"color": BLUE, "width": 2},
                             marker={"size": 9, "color": [GREEN if p >= 0.5 else RED for p in values]},
                             hovertemplate="after sentence %{x}: %{y:.0%}<extra></extra>", showlegend=False))
    fig.update_xaxes(dtick=1 if len(values) <= 12 else None, range=[0.5, max(1, len(values)) + 0.5])
    return fig


def reliability_figure(bins: list[list[float]], ece: float | None) -> go.Figure:
    """Reliability diagram: per confidence bin, how often the model was right (bars) against how sure
    it was (the diagonal); a calibrated model's bars reach the diagonal."""
    title = "Reliability (test split)" + (f": calibration error {ece:.1%}" if ece is not None else "")
    fig = figure(title, x_title="confidence", y_title="accuracy", y_range=(0, 1), y_format=".0%", height=320)
    if bins:
        conf, acc, count = zip(*bins, strict=True)
        fig.add_trace(go.Bar(x=list(conf), y=list(acc), customdata=list(count), width=1 / 16, name="accuracy",
                             marker={"color": BLUE, "opacity": 0.75},
                             hovertemplate="confidence %{x:.0%}: right %{y:.0%} of %{customdata:,} examples"
                                           "<extra></extra>"))
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="calibrated", line={"color": RED, "width": 2},
                             hoverinfo="skip"))
    fig.update_layout(hovermode="closest")
    fig.update_xaxes(range=[0, 1], tickformat=".0%")
    return fig


def progress_html(fraction: float, text: str, state: str, points: int = 0) -> str:
    colour = {"running": "#f97316", "done": "#16a34a", "failed": "#dc2626", "queued": "#3b82f6",
              "cancelled": "#6b7280"}.get(state, "#9ca3af")
    pct = max(0.0, min(1.0, fraction)) * 100
    return (f'<div class="dlapp-progress" data-state="{html.escape(state)}" data-progress="{pct:.1f}" '
            f'data-points="{points}">'
            f'<div style="background:#e5e7eb;border-radius:6px;height:14px;overflow:hidden">'
            f'<div style="width:{pct:.1f}%;background:{colour};height:100%;transition:width .4s"></div></div>'
            f'<div style="font-size:0.9em;margin-top:4px">{html.escape(text)}</div></div>')


# ---------------------------------------------------------------- a GAN's training (the generate task)

GAN_LOSSES = (("d_loss", "discriminator", GREEN), ("g_loss", "generator", "#7c3aed"))  # the 2-D game's colours


def gan_loss_figure(points: list[dict]) -> go.Figure:
    """The discriminator's and the generator's losses (hinge): each a running mean over the epoch so far, as
    Keras logs it, so each epoch starts afresh."""
    fig = figure("Losses", x_title="epoch")
    train = [p for p in points if p["series"] == "train" and "d_loss" in p.get("metrics", {})]
    if not train:
        return note(fig, "the two losses appear here while a GAN trains")
    for key, name, colour in GAN_LOSSES:
        add_line(fig, [p["epoch"] for p in train], [p["metrics"][key] for p in train], name, colour,
                 markers=len(train) <= 20)
    fig.update_xaxes(rangemode="tozero", dtick=None if train[-1]["epoch"] > 8 else 1)
    return fig


def gan_quality_figure(points: list[dict], judge: str = "cifar10-best", chance: float | None = None) -> go.Figure:
    """Per epoch: the share of generated pictures the judge files under the requested class (left axis), and the
    Fréchet distance on the judge's features (right axis; lower is better), both on 1,000 pictures."""
    fig = figure(f"Judged by {judge}", x_title="epoch", y_range=(0, 1), y_format=".0%")
    epochs = [p for p in points if p["series"] == "validation" and "class_accuracy" in p.get("metrics", {})]
    if not epochs:
        return note(fig, "judged after each epoch")
    xs = [p["epoch"] for p in epochs]
    add_line(fig, xs, [p["metrics"]["class_accuracy"] for p in epochs], "requested class recognised", BLUE,
             hover="%{y:.1%}")
    fig.add_trace(go.Scatter(x=xs, y=[p["metrics"]["frechet"] for p in epochs], name="Fréchet distance (right)",
                             mode="lines+markers", yaxis="y2", line={"color": ORANGE, "width": 2, "dash": "dot"},
                             marker={"size": 7}, hovertemplate="Fréchet distance: %{y:.1f}<extra></extra>"))
    fig.update_layout(yaxis2={"overlaying": "y", "side": "right", "rangemode": "tozero", "showgrid": False,
                              "zeroline": False})
    if chance:  # what a generator that ignores the class would score
        fig.add_hline(y=chance, line={"color": GREY, "dash": "dot", "width": 1}, annotation_text="chance",
                      annotation_position="bottom right")
    fig.update_xaxes(rangemode="tozero", dtick=None if xs[-1] > 8 else 1)
    # Two entries and a title: the legend goes under the chart, where a phone has room for it.
    fig.update_layout(margin={"l": 56, "r": 48, "t": 40, "b": 88},
                      legend={"orientation": "h", "yanchor": "top", "y": -0.28, "xanchor": "left", "x": 0})
    return fig
