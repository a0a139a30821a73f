# A wasi:http/incoming-handler@0.2.0-rc-2023-11-10 guest, built with componentize-py 0.7.1 (the
# last release on that WASI snapshot) against the snapshot's own WIT in wit/.
#   /rc/...     200, "hello from rc-2023-11-10 <path and query> <x-custom header>"
#   /rc/trap    raises (the host must answer 500 and keep serving)
from proxy import exports
from proxy.types import Ok
from proxy.imports.types import (
    IncomingRequest, ResponseOutparam, OutgoingResponse, Fields, OutgoingBody,
)


class IncomingHandler(exports.IncomingHandler):
    def handle(self, request: IncomingRequest, response_out: ResponseOutparam) -> None:
        path = request.path_with_query() or "/"
        if path.startswith("/rc/trap"):
            raise RuntimeError("asked to trap")
        custom = b",".join(request.headers().get("x-custom")).decode()
        resp = OutgoingResponse(Fields.from_list([("content-type", b"text/plain")]))
        resp.set_status_code(200)
        body = resp.body()
        ResponseOutparam.set(response_out, Ok(resp))
        stream = body.write()
        stream.blocking_write_and_flush(
            ("hello from rc-2023-11-10 " + path + " " + custom + "\n").encode()
        )
        stream.drop()
        OutgoingBody.finish(body, None)
