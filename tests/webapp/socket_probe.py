"""Init scripts (``page.add_init_script``) that watch a NiceGUI page's socket from its first message.

NiceGUI sets ``window.socket`` before it connects, so a setter on ``window`` sees the socket
before any message goes either way.
"""

from __future__ import annotations


def on_socket(body: str) -> str:
    """An init script running ``body`` (JavaScript, with the socket as ``s``) once NiceGUI sets it."""
    return (
        "(() => {\n  let socket;\n  Object.defineProperty(window, 'socket', {\n    configurable: true,\n"
        "    get: () => socket,\n    set: (s) => {\n      socket = s;\n" + body + "\n    },\n  });\n})()"
    )
