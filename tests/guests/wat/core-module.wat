;; A plain core WebAssembly module (not a component). Spin HTTP components must be
;; components, so the host must reject this with a clear error.
(module
  (memory (export "memory") 1)
  (func (export "_start")))
