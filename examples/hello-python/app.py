"""Hello world Spin HTTP component with the Python Spin SDK (spin-sdk 3.x, componentize-py 0.17.2)."""

from spin_sdk import http
from spin_sdk.http import Request, Response


class IncomingHandler(http.IncomingHandler):
    def handle_request(self, request: Request) -> Response:
        body = f"Hello from Spindle! (Python spin-sdk)\n{request.method} {request.uri}\n"
        return Response(200, {"content-type": "text/plain"}, bytes(body, "utf-8"))
