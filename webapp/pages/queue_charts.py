"""The queue page's charts (ECharts): throughput, failure rate, and wait and run time over
1 h / 24 h / 7 d, from stored rows (``models.charts``), in the browser's time zone."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from nicegui import ui

from models import charts
from models.access import Viewer
from webapp.pages import appearance, theme
from webapp.services import Services

LABELS = {"1h": "%H:%M", "24h": "%H:%M", "7d": "%a %H:%M"}


def _chart(series: list[dict[str, Any]], *, unit: str = "", stacked: bool = False) -> dict[str, Any]:
    return {
        "backgroundColor": "transparent",  # the card's, light or dark (appearance.chart)
        "tooltip": {"trigger": "axis"},
        "legend": {"data": [s["name"] for s in series], "top": 0, "right": 0},
        "grid": {"left": 48, "right": 16, "top": 32, "bottom": 28},
        "xAxis": {"type": "category", "data": [], "axisTick": {"alignWithLabel": True}},
        "yAxis": {
            "type": "value",
            "minInterval": 1 if stacked else 0,
            "axisLabel": {"formatter": f"{{value}}{unit}"},
        },
        "series": [{"data": [], "connectNulls": True, **s} for s in series],
    }


class QueueCharts:
    def __init__(self, services: Services, tz: tzinfo, *, viewer: Viewer) -> None:
        self.services = services
        self.tz = tz
        self.viewer = viewer
        self.range = "1h"

    def build(self) -> None:
        with ui.row().classes("w-full items-center gap-2"):
            ui.label("Over the last").classes("text-sm text-grey-7")
            ui.toggle(list(charts.RANGES), value=self.range, on_change=self._pick).props(
                'dense no-caps unelevated toggle-color=primary data-testid="chart-range"'
            )
        with ui.grid().classes("w-full gap-3 grid-cols-1 xl:grid-cols-3"):
            with theme.card("Throughput — tasks finished", icon="show_chart"):
                self.throughput = self._echart("throughput", [
                    {"name": "completed", "type": "bar", "stack": "done", "itemStyle": {"color": "#2f9e44"}},
                    {"name": "failed", "type": "bar", "stack": "done", "itemStyle": {"color": "#e03131"}},
                ], stacked=True)  # fmt: skip
            with theme.card("Failure rate", icon="error_outline"):
                self.failures = self._echart(
                    "failure-rate",
                    [{"name": "failed", "type": "line", "itemStyle": {"color": "#e03131"}}],
                    unit=" %",
                )
            with theme.card("Wait and run time (average)", icon="timer"):
                self.times = self._echart("times", [
                    {"name": "wait", "type": "line", "itemStyle": {"color": "#f08c00"}},
                    {"name": "run", "type": "line", "itemStyle": {"color": "#3b5bdb"}},
                ], unit=" s")  # fmt: skip

    def _echart(self, testid: str, series: list[dict[str, Any]], **kw: Any) -> ui.echart:
        return appearance.chart(_chart(series, **kw)).classes("w-full h-56").props(f'data-testid="{testid}"')

    async def _pick(self, event: Any) -> None:
        self.range = str(event.value)
        await self.refresh()

    async def refresh(self) -> None:
        async with self.services.db.session() as session:
            points = await charts.series(session, viewer=self.viewer, range_name=self.range)
        axis = [p.start.astimezone(self.tz).strftime(LABELS[self.range]) for p in points]
        columns: dict[ui.echart, list[list[Any]]] = {
            self.throughput: [[p.completed for p in points], [p.failed for p in points]],
            self.failures: [[p.failure_rate for p in points]],
            self.times: [[p.wait for p in points], [p.run for p in points]],
        }
        for chart, data in columns.items():
            chart.options["xAxis"]["data"] = axis
            for series, values in zip(chart.options["series"], data, strict=True):
                series["data"] = values
            chart.update()
