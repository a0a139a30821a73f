// A fetch-event style HTTP handler, built with the Spin JS toolchain (`j2w`, which wraps
// ComponentizeJS / StarlingMonkey). The component exports wasi:http/incoming-handler.
addEventListener("fetch", (event) =>
  event.respondWith(
    new Response("Hello from Spindle! (JavaScript)\n", {
      status: 200,
      headers: { "content-type": "text/plain" },
    }),
  ),
);
