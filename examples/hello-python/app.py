"""A Spin HTTP component with the Python Spin SDK (spin-sdk 3.x, componentize-py 0.17.2).

  GET  /...             hello
  GET  /kv/<key>        value from the default key-value store (404 when unset)
  PUT  /kv/<key>        store the request body
  GET  /var/<name>      a component variable
"""

from spin_sdk import http, key_value, variables
from spin_sdk.http import Request, Response
from spin_sdk.wit.types import Err


def text(status: int, body: str) -> Response:
    return Response(status, {"content-type": "text/plain"}, bytes(body, "utf-8"))


class IncomingHandler(http.IncomingHandler):
    def handle_request(self, request: Request) -> Response:
        path = request.headers.get("spin-path-info", "/")
        parts = path.strip("/").split("/")
        try:
            if parts[0] == "kv" and len(parts) == 2:
                with key_value.open_default() as store:
                    if request.method == "PUT":
                        store.set(parts[1], request.body or b"")
                        return text(200, "stored")
                    value = store.get(parts[1])
                    return text(404, "not found") if value is None else text(200, value.decode())
            if parts[0] == "var" and len(parts) == 2:
                return text(200, variables.get(parts[1]))
        except Err as e:
            return text(500, f"{type(e.value).__name__}: {e.value}")
        body = f"Hello from Spindle! (Python spin-sdk)\n{request.method} {request.uri}\n"
        return text(200, body)
