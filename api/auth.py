"""Who may call: a bearer token of this server's, checked in constant time; wrong ones cost time.

Every endpoint but the health check needs `Authorization: Bearer <token>`. A client that sends
wrong tokens is slowed by the shared throttle (spooler.throttle): the first few failures are
free, then each locks the client out for twice as long as the one before, and while it is
locked out its requests are answered 429 without their token being looked at. Clients are told
apart by their address (behind a reverse proxy, the X-Forwarded-For address uvicorn trusts).
"""
from __future__ import annotations

import logging
import math

from spooler.names import printable
from spooler.throttle import Throttle

from .errors import InvalidToken, TooManyAttempts, Unauthorized
from .tokens import TokenRecord, TokenStore

log = logging.getLogger(__name__)

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="lipspool"'}


def api_throttle() -> Throttle:
    """The API's throttle: three free failures, then 2 s, 4 s, ... up to 5 minutes."""
    return Throttle(free=3, first_wait_s=2.0, max_wait_s=300.0)


class Authenticator:
    """Checks the Authorization header of a request from `client`."""

    def __init__(self, store: TokenStore, throttle: Throttle | None = None) -> None:
        self.store = store
        self.throttle = throttle or api_throttle()

    def check(self, authorization: str | None, client: str) -> TokenRecord:
        """The token's record; Unauthorized, InvalidToken or TooManyAttempts otherwise."""
        if not authorization:
            raise Unauthorized("this endpoint needs a token: send 'Authorization: Bearer <token>' (an operator "
                               "makes one with: python -m api token create --name NAME)", headers=CHALLENGE)
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("use 'Authorization: Bearer <token>'", headers=CHALLENGE)
        wait = self.throttle.wait_left(client)
        if wait > 0:
            raise TooManyAttempts(f"too many wrong tokens from this client; try again in {math.ceil(wait)} s",
                                  headers={"Retry-After": str(math.ceil(wait))})
        record = self.store.verify(token.strip())
        if record is None:
            self.throttle.attempt(client)  # counted; the next failures wait longer and longer
            log.warning("wrong token from %s", printable(client))
            raise InvalidToken("the token is not valid (wrong, or revoked)", headers=CHALLENGE)
        return record
