"""The Python hello for benchmarks: the same CPython (componentize-py 0.17.2, as the spin-sdk
3.4.1 example) exporting plain `wasi:http/incoming-handler@0.2.0`, so that one and the same
component runs on both `spindle up` and `wasmtime serve -S cli` (the spin-sdk build of
examples/hello-python imports fermyon:spin/* interfaces that `wasmtime serve` does not provide).
"""

from wit_world import exports
from wit_world.imports.types import (
    Fields,
    IncomingRequest,
    OutgoingBody,
    OutgoingResponse,
    ResponseOutparam,
)
from wit_world.types import Ok


class IncomingHandler(exports.IncomingHandler):
    def handle(self, request: IncomingRequest, response_out: ResponseOutparam) -> None:
        body = b"Hello from Spindle! (Python)\n"
        headers = Fields.from_list(
            [
                ("content-type", b"text/plain"),
                ("content-length", str(len(body)).encode()),
            ]
        )
        response = OutgoingResponse(headers)
        response.set_status_code(200)
        out_body = response.body()
        ResponseOutparam.set(response_out, Ok(response))
        stream = out_body.write()
        stream.blocking_write_and_flush(body)
        stream.__exit__(None, None, None)  # drop the stream before finishing the body
        OutgoingBody.finish(out_body, None)
