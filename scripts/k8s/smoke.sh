#!/usr/bin/env bash
# Checks the cluster from up.sh runs a Spin app through Spindle's shim: pushes the hello example
# to $REGISTRY, applies a RuntimeClass (handler `spindle`) and a Pod with `command: ["/"]` (as
# spin-operator makes them), waits until it is Ready and asks the pod IP for /hello.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
st=${K8S_STATE:-/tmp/spindle-k8s}
export KUBECONFIG=$st/kubeconfig PATH=${K8S_DIR:-/opt/spindle-ci/k8s}/bin:$PATH
reg=${REGISTRY:-127.0.0.1:5000}
image=$reg/smoke/hello:v1
"$root/target/release/spindle" registry push -f "$root/examples/hello-rust/spin.toml" "$image"
kubectl apply -f - <<EOY
apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata:
  name: wasmtime-spindle-v2
handler: spindle
---
apiVersion: v1
kind: Pod
metadata:
  name: smoke-hello
spec:
  runtimeClassName: wasmtime-spindle-v2
  containers:
  - name: hello
    image: $image
    command: ["/"]
    ports:
    - {name: http-app, containerPort: 80}
    readinessProbe:
      httpGet: {path: /hello, port: 80}
      periodSeconds: 1
EOY
s=$(date +%s%N)
kubectl wait --for=condition=Ready pod/smoke-hello --timeout=120s
ip=$(kubectl get pod smoke-hello -o jsonpath='{.status.podIP}')
echo "smoke: pod Ready in $(( ($(date +%s%N) - s) / 1000000 )) ms at $ip"
curl -sf "http://$ip/hello"
kubectl logs smoke-hello
kubectl delete pod smoke-hello --wait=true
