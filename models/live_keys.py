"""Where a task's live view and hand-off meet in Redis: one small set of keys per task.

The web process and the worker share nothing else for it (no pub/sub): viewers keep a presence
key alive; the worker relays screencast frames through a capped stream and counts them; a person's
control lease and their input events are a key and a stream of their own. Keys start with the
queue's name (``TASKDECK_QUEUE_NAME``), so each deployment (and each test) has its own.

    <queue>:live:<task>:viewers   presence; set by open task pages every PRESENCE_REFRESH s, TTL PRESENCE_TTL
    <queue>:live:<task>:frames    stream: {kind: frame, jpeg} or {kind: pause|resume}, MAXLEN ~ FRAMES_KEPT,
                                  kept FRAMES_TTL after the last write, so the last frame outlives the task
    <queue>:live:<task>:state     hash: casting 0/1, secret 0/1 (typing a card or password: no frames),
                                  produced (frames relayed so far, the worker's counter)
    <queue>:live:<task>:control   the user id holding the control lease, TTL CONTROL_TTL (renewed by the page)
    <queue>:live:<task>:input     stream of a controller's input; each entry deleted once applied
"""

from __future__ import annotations

from dataclasses import dataclass

PRESENCE_TTL = 5  # seconds a viewer counts as present without a refresh
PRESENCE_REFRESH = 1.5  # how often an open task page refreshes its presence
POLL_INTERVAL = 1.0  # how often a worker looks for viewers of a running task (one EXISTS)
FRAMES_KEPT = 8
FRAMES_TTL = 24 * 3600  # the last frame stays this long after the last write
FRAME_INTERVAL = 0.25  # at most ~4 frames a second: a frame is acknowledged this long after it came
CONTROL_TTL = 15  # seconds a control lease lasts without renewal
INPUT_TTL = 120  # an input stream nobody reads disappears after this


@dataclass(frozen=True)
class LiveKeys:
    viewers: str
    frames: str
    state: str
    control: str
    input: str

    @classmethod
    def of(cls, prefix: str, task_id: object) -> LiveKeys:
        base = f"{prefix}:live:{task_id}"
        return cls(
            viewers=f"{base}:viewers",
            frames=f"{base}:frames",
            state=f"{base}:state",
            control=f"{base}:control",
            input=f"{base}:input",
        )
