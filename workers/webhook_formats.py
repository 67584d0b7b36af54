"""What a webhook delivery's body looks like, per hook format: Taskdeck's own JSON, Discord's
``{"content", "embeds"}`` and Slack's ``{"text", "blocks"}`` (incoming-webhook shapes). Every
format carries the same facts, built from the delivery's payload (which holds no secrets)."""

from __future__ import annotations

from typing import Any

from models.webhooks import Due

COLORS = {
    "task.completed": 0x2E7D32,
    "purchase.created": 0x2E7D32,
    "monitor.in_stock": 0x1565C0,
    "watch.bought": 0x2E7D32,
}
FAILURE_COLOR = 0xC62828


def summary(event: str, payload: dict[str, Any]) -> str:
    """One line a person reads in a chat channel."""
    task = payload.get("task") or {}
    name = task.get("name") or task.get("id") or "a task"
    if event == "task.completed":
        return f"Task “{name}” completed"
    if event == "task.failed":
        return f"Task “{name}” failed: {task.get('error') or 'no reason given'}"
    if event == "purchase.created":
        bought = payload.get("purchase") or {}
        return (
            f"Bought {bought.get('quantity', '?')} × {bought.get('productName') or bought.get('product')} "
            f"for {bought.get('total')} {bought.get('currency', '')} (order {bought.get('orderNumber')})"
        ).strip()
    if event == "monitor.in_stock":
        return f"In stock: {task.get('product') or name}"
    if event == "watch.bought":
        watch, bought = payload.get("watch") or {}, payload.get("purchase") or {}
        return (
            f"Watch “{watch.get('name')}” bought at {task.get('store')}: "
            f"{bought.get('productName') or task.get('product')}"
            f" for {bought.get('total')} {bought.get('currency', '')} (order {bought.get('orderNumber')})"
        ).strip()
    if event == "worker.lost":
        worker = payload.get("worker") or {}
        return f"Worker {worker.get('id')} on {worker.get('host')} stopped answering"
    return str(payload.get("message") or event)


def render(due: Due) -> dict[str, Any]:
    text = summary(due.event, due.payload)
    created = due.created_at.isoformat() if hasattr(due.created_at, "isoformat") else str(due.created_at)
    if due.format == "discord":
        color = (
            FAILURE_COLOR if due.event in ("task.failed", "worker.lost") else COLORS.get(due.event, 0x546E7A)
        )
        return {
            "content": text,
            "embeds": [
                {
                    "title": due.event,
                    "description": text,
                    "color": color,
                    "timestamp": created,
                    "footer": {"text": f"Taskdeck delivery {due.id}"},
                }
            ],
            "allowed_mentions": {"parse": []},
        }
    if due.format == "slack":
        return {
            "text": text,
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": f"*{due.event}*\n{text}"}},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": f"Taskdeck delivery {due.id}"}]},
            ],
        }
    return {"id": due.id, "event": due.event, "createdAt": created, "data": due.payload}
