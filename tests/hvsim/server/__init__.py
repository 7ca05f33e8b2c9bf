"""hvsim's protocol half: a WS-Man (WinRS + PSRP) server in front of the hvsim engine.

``HvsimServer(engine=..., lab=..., hosts=[...])`` starts one HTTP and one HTTPS listener per lab
host on 127.0.0.1 (``start()``/``stop()`` or a ``with`` block). See docs/hvsim.md.
"""

from .core import DEFAULT_PASSWORD, DEFAULT_USER, HvsimServer, write_endpoint_file
from .winrs import RunnerSpec

__all__ = ["HvsimServer", "RunnerSpec", "DEFAULT_USER", "DEFAULT_PASSWORD", "write_endpoint_file"]
