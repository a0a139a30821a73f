;; A valid component that exports no wasi:http handler, only an unrelated function.
;; The host must reject it with a clear error instead of crashing.
(component
  (core module $m
    (func (export "answer") (result i32)
      i32.const 42))
  (core instance $i (instantiate $m))
  (func $answer (result u32) (canon lift (core func $i "answer")))
  (export "answer" (func $answer))
)
