//! Spin 1.x's `fermyon:spin/inbound-http` handler: reports what it received.
//!
//!   /legacy/echo   200, a report of the method, uri, params, selected headers and body
//!   /legacy/trap   panics (the host must answer 500 and keep serving)
//!   anything else  404 with a custom header and no body

wit_bindgen::generate!({
    path: "wit",
    world: "fermyon:spin/http-trigger",
});

use exports::fermyon::spin::inbound_http::{Guest, Request, Response};

struct Legacy;

impl Guest for Legacy {
    fn handle_request(req: Request) -> Response {
        let header = |name: &str| {
            req.headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let path = header("spin-path-info");
        match path.as_str() {
            "/echo" => {
                let body = req.body.clone().unwrap_or_default();
                let report = format!(
                    "method={:?}\nuri={}\nparams={:?}\nmatched={}\nfull-url={}\nx-custom={}\nbody={}\n",
                    req.method,
                    req.uri,
                    req.params,
                    header("spin-matched-route"),
                    header("spin-full-url"),
                    header("x-custom"),
                    String::from_utf8_lossy(&body),
                );
                Response {
                    status: 200,
                    headers: Some(vec![("content-type".into(), "text/plain".into())]),
                    body: Some(report.into_bytes()),
                }
            }
            "/trap" => panic!("legacy guest asked to trap"),
            _ => Response {
                status: 404,
                headers: Some(vec![("x-legacy".into(), "yes".into())]),
                body: None,
            },
        }
    }
}

export!(Legacy);
