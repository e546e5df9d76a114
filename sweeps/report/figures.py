"""The report's figures (plotly): each a function of the numbers a section computed."""
from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from sweeps.selection import ROLE_TITLES, ROLES
from sweeps.trial_table import shares_text


def role_bars(model: str, rows):
    fig = go.Figure()
    for role in ROLES:
        picked = [(t, e) for t, r, e in rows if r == role]
        if picked:
            fig.add_bar(name=ROLE_TITLES[role], x=[t for t, _ in picked], y=[e.mean for _, e in picked],
                        error_y={"type": "data", "symmetric": False, "array": [e.hi - e.mean for _, e in picked],
                                 "arrayminus": [e.mean - e.lo for _, e in picked]})
    fig.update_layout(title=f"{model}: test score by selected configuration (95% CI)", barmode="group",
                      yaxis_title="headline metric", height=420)
    return fig


def heatmap(title: str, z, text, rows, cols):
    finite = [abs(v) for row in z for v in row if v is not None]
    bound = max(finite) if finite else 1.0
    fig = go.Figure(go.Heatmap(z=z, x=cols, y=rows, text=text, texttemplate="%{text}", colorscale="RdBu",
                               zmid=0, zmin=-bound, zmax=bound, hoverongaps=False,
                               colorbar={"title": "difference"}))
    fig.update_layout(title=title, xaxis_title="source j", yaxis_title="target i", height=160 + 60 * len(rows),
                      yaxis={"autorange": "reversed"})
    return fig


def validation_scatter(points):
    """Validation against test per selected configuration, one colour per task (compare within a colour)."""
    fig = go.Figure()
    for task in sorted({t for t, *_ in points}):
        mine = [pt for pt in points if pt[0] == task]
        fig.add_scatter(x=[v for *_, v, _ in mine], y=[t for *_, t in mine], mode="markers", name=task,
                        text=[ROLE_TITLES[r] for _, r, *_ in mine])
    lo = min(min(v, t) for *_, v, t in points)
    hi = max(max(v, t) for *_, v, t in points)
    fig.add_scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="y = x", line={"dash": "dot", "color": "gray"})
    fig.update_layout(title="validation vs test, selected configurations (compare within a task)",
                      xaxis_title="validation",
                      yaxis_title="test", height=420)
    return fig


def predicted_vs_actual(record: dict[str, Any]):
    actual = [p["actual"] for p in record["cv"]]
    predicted = [p["predicted"] for p in record["cv"]]
    lo, hi = min(actual + predicted), max(actual + predicted)
    fig = go.Figure([go.Scatter(x=actual, y=predicted, mode="markers", name="configurations",
                                text=[shares_text(p["mixture"]) for p in record["cv"]]),
                     go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="predicted = actual",
                                line={"dash": "dot", "color": "#888"})])
    fig.update_layout(title=f"{record['fits'][0]['name']}: cross-validated prediction against actual "
                            f"{record['target']}", xaxis_title=f"actual {record['target']}",
                      yaxis_title="predicted (fold without it)", height=420)
    return fig
