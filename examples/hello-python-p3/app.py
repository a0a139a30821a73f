"""A Spin HTTP component with the current Python Spin SDK (spin-sdk 5.x, componentize-py 0.25.1).

It exports WASIp3 `wasi:http/handler@0.3.0` and uses the async Spin 3.x interfaces:

  GET  /...             hello
  GET  /kv/<key>        value from the default key-value store (404 when unset)
  PUT  /kv/<key>        store the request body
  GET  /var/<name>      a component variable
"""

from spin_sdk import http, key_value, variables
from spin_sdk.http import Request, Response
from componentize_py_types import Err


def text(status: int, body: str) -> Response:
    return Response(status, {"content-type": "text/plain"}, bytes(body, "utf-8"))


class HttpHandler(http.Handler):
    async def handle_request(self, request: Request) -> Response:
        path = request.headers.get("spin-path-info", "/")
        parts = path.strip("/").split("/")
        try:
            if parts[0] == "kv" and len(parts) == 2:
                with await key_value.open_default() as store:
                    if request.method == "PUT":
                        await store.set(parts[1], request.body or b"")
                        return text(200, "stored")
                    value = await store.get(parts[1])
                    return text(404, "not found") if value is None else text(200, value.decode())
            if parts[0] == "var" and len(parts) == 2:
                return text(200, await variables.get(parts[1]))
        except Err as e:
            return text(500, f"{type(e.value).__name__}: {e.value}")
        return text(200, f"Hello from Spindle! (Python spin-sdk 5, WASIp3)\n{request.method} {request.uri}\n")
