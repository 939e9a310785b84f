"""Wrong passwords cost time: the dashboard's login throttle (spooler.throttle.Throttle).

The first two failures cost nothing; each one after that locks the client out for twice as
long as the one before (10 s, 20 s, 40 s, ... up to 10 minutes), and while it is locked out its
attempts are refused without being compared (see spooler.throttle). One `Throttle` (LOGIN)
serves the whole process, so a new browser session does not reset it.
Clients are told apart by the address Streamlit reports for the connection (`client_key`);
behind a reverse proxy on this host that is the address the proxy forwards (uvicorn trusts
X-Forwarded-For from 127.0.0.1 and ::1 only, or from FORWARDED_ALLOW_IPS). Clients with no
address (loopback connections) share one count.
"""
from __future__ import annotations

from spooler.throttle import Throttle

LOCAL = "local"  # every client Streamlit gives no address (loopback connections) shares this key


def client_key(address: object) -> str:
    """The throttle's key for a client: its address, or one shared key when Streamlit gives none."""
    return f"ip:{address}" if isinstance(address, str) and address else LOCAL


LOGIN = Throttle()  # the password gate's, shared by every session of this process
