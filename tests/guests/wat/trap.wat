;; A component that *looks* like a valid wasi:http handler (it exports
;; wasi:http/incoming-handler@0.2.0 with the right signature) but whose `handle`
;; traps immediately with `unreachable`. The host must answer 500 and keep serving.
(component
  (import "wasi:http/types@0.2.0" (instance $types
    (export "incoming-request" (type (sub resource)))
    (export "response-outparam" (type (sub resource)))
  ))
  (alias export $types "incoming-request" (type $incoming-request))
  (alias export $types "response-outparam" (type $response-outparam))

  (core module $m
    (func (export "handle") (param i32 i32)
      unreachable))
  (core instance $i (instantiate $m))

  (func $handle
    (param "request" (own $incoming-request))
    (param "response-out" (own $response-outparam))
    (canon lift (core func $i "handle")))

  (instance $handler (export "handle" (func $handle)))
  (export "wasi:http/incoming-handler@0.2.0" (instance $handler))
)
