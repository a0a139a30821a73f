// Spin key-value and variables from JavaScript, built with the Spin JS toolchain (`j2w`).
//
// There is no Spin JS SDK package on the npm registry this repo builds from, so the app imports
// Spin's host interfaces directly: wit/world.wit imports fermyon:spin/key-value@2.0.0 and
// fermyon:spin/variables@2.0.0, `j2w` merges that world into the component's target world
// (package.json `config.witDependencies`), and ComponentizeJS exposes each imported interface as
// an ES module of the same name. WIT resources become classes (`store` -> `Store`, with the
// static `open`), and a WIT `result` error is thrown as an Error whose `payload` is the variant
// value (`{ tag: "access-denied" }`, `{ tag: "undefined", val: "..." }`).
import { Store } from "fermyon:spin/key-value@2.0.0";
import { get as getVariable } from "fermyon:spin/variables@2.0.0";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function text(status, body) {
  return new Response(body, { status, headers: { "content-type": "text/plain" } });
}

// `tag` or `tag: val` for a WIT variant error; the message for anything else.
function describe(err) {
  const p = err && err.payload;
  if (p && typeof p === "object" && "tag" in p) {
    return p.val === undefined ? p.tag : `${p.tag}: ${p.val}`;
  }
  return String(err && err.message ? err.message : err);
}

async function handle(request) {
  const method = request.method;
  // Spin passes the path below the route in `spin-path-info`; fall back to the URL.
  const path = request.headers.get("spin-path-info") || new URL(request.url).pathname;

  if (path.startsWith("/kv/")) {
    const key = decodeURIComponent(path.slice("/kv/".length));
    const store = Store.open("default");
    switch (method) {
      case "GET": {
        const value = store.get(key);
        return value === undefined ? text(404, `no value for ${key}`) : text(200, decoder.decode(value));
      }
      case "PUT":
        store.set(key, encoder.encode(await request.text()));
        return text(200, "stored");
      case "DELETE":
        store.delete(key);
        return text(200, "deleted");
      default:
        return text(405, "method not allowed");
    }
  }
  if (path === "/kv-keys" && method === "GET") {
    return text(200, Store.open("default").getKeys().sort().join("\n"));
  }
  if (path === "/kv-other" && method === "GET") {
    // `other` is not in the component's key_value_stores: Spin answers access-denied.
    try {
      Store.open("other");
      return text(200, "opened other");
    } catch (e) {
      return text(403, describe(e));
    }
  }
  if (path.startsWith("/var/") && method === "GET") {
    const name = decodeURIComponent(path.slice("/var/".length));
    try {
      return text(200, getVariable(name));
    } catch (e) {
      return text(404, describe(e));
    }
  }
  return text(404, "not found");
}

addEventListener("fetch", (event) =>
  event.respondWith(
    handle(event.request).catch((e) => text(500, `error: ${describe(e)}`)),
  ),
);
