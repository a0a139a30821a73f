#!/usr/bin/env bash
# Starts a real single-node Kubernetes 1.20 on this machine, everything on 127.0.0.1 (pods on the
# node's own bridge, 10.252.0.0/24), state under $K8S_STATE (default /tmp/spindle-k8s), each
# daemon's PID in $K8S_STATE/<name>.pid (down.sh stops them by PID):
#   etcd (Debian etcd-server) -> kube-apiserver (127.0.0.1:6443, token "admintoken") ->
#   kube-controller-manager + kube-scheduler -> containerd 1.7 with the CRI plugin and Spindle's
#   shim (installed with `spindle node install`, RuntimeClass handler `spindle`) -> kubelet.
# Needs: scripts/k8s/build.sh, .ci/install-containerd.sh, target/release/spindle. Run as root.
# Images: the CRI pulls over plain HTTP from $REGISTRY (default 127.0.0.1:5000) when one runs there.
# Gotchas of these machines, configured around here:
#  * root lacks CAP_SYS_RESOURCE: the CRI must not set a negative oom_score_adj
#    (restrict_oom_score_adj = true), or runc fails "can't get final child's PID from pipe";
#  * a loopback node IP is refused by the kubelet: --hostname-override=localhost and the
#    apiserver's --kubelet-preferred-address-types=Hostname make `kubectl logs` work;
#  * cgroup v1 with a hybrid cgroup2 mount: cgroupfs driver, cgroupsPerQOS false.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
st=${K8S_STATE:-/tmp/spindle-k8s}
bin=${K8S_DIR:-/opt/spindle-ci/k8s}/bin
ctrd=${SPINDLE_CONTAINERD_ROOT:-/opt/spindle-ci/containerd}/usr/bin
reg=${REGISTRY:-127.0.0.1:5000}
spindle=${SPINDLE_BIN:-$root/target/release/spindle}
export PATH=$bin:$PATH

need=()
command -v etcd >/dev/null || need+=(etcd-server)
[ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
command -v openssl >/dev/null || need+=(openssl)
command -v iptables >/dev/null || need+=(iptables)
command -v runc >/dev/null || need+=(runc)
if [ "${#need[@]}" -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
for f in "$bin/kube-apiserver" "$bin/kubelet" "$bin/kubectl" "$ctrd/containerd" "$spindle"; do
    [ -x "$f" ] || { echo "k8s/up: $f is missing (scripts/k8s/build.sh, .ci/install-containerd.sh, cargo build)" >&2; exit 1; }
done
curl -s -o /dev/null --max-time 2 http://127.0.0.1:2379/health && { echo "k8s/up: 127.0.0.1:2379 is in use" >&2; exit 1; }
curl -sk -o /dev/null --max-time 2 https://127.0.0.1:6443/ && { echo "k8s/up: 127.0.0.1:6443 is in use" >&2; exit 1; }

rm -rf "$st"
mkdir -p "$st"/{etcd,kube/certs,node/containerd/root,node/containerd/state,node/cni/net.d,node/kubelet,node/manifests,node/shims}
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
wait_for() { # wait_for SECONDS PIDFILE CMD...: until CMD succeeds, failing early if the daemon died
    local limit=$1 pidfile=$2; shift 2
    for _ in $(seq 1 $((limit * 10))); do
        "$@" >/dev/null 2>&1 && return 0
        kill -0 "$(cat "$pidfile")" 2>/dev/null || { echo "k8s/up: $(basename "$pidfile" .pid) died" >&2; return 1; }
        sleep 0.1
    done
    echo "k8s/up: timed out waiting for $*" >&2; return 1
}

# etcd
s=$(date +%s%N)
nohup etcd --name node --data-dir "$st/etcd/data" \
    --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster node=http://127.0.0.1:2380 --listen-metrics-urls http://127.0.0.1:2381 \
    --unsafe-no-fsync > "$st/etcd.log" 2>&1 &
echo $! > "$st/etcd.pid"
wait_for 30 "$st/etcd.pid" curl -sf http://127.0.0.1:2379/health
echo "k8s/up: etcd ready in $(ms "$s") ms"

# kube-apiserver
openssl genrsa -out "$st/kube/sa.key" 2048 2>/dev/null
echo 'admintoken,admin,admin-uid,system:masters' > "$st/kube/tokens.csv"
s=$(date +%s%N)
nohup "$bin/kube-apiserver" --etcd-servers=http://127.0.0.1:2379 \
    --bind-address=127.0.0.1 --secure-port=6443 --cert-dir="$st/kube/certs" --advertise-address=127.0.0.1 \
    --token-auth-file="$st/kube/tokens.csv" --authorization-mode=RBAC \
    --service-account-issuer=https://kubernetes.default.svc --service-account-key-file="$st/kube/sa.key" \
    --service-account-signing-key-file="$st/kube/sa.key" --service-cluster-ip-range=10.96.0.0/16 \
    --kubelet-preferred-address-types=Hostname,InternalIP --allow-privileged=true \
    --logtostderr=true --v=1 > "$st/apiserver.log" 2>&1 &
echo $! > "$st/apiserver.pid"
cat > "$st/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster: {server: "https://127.0.0.1:6443", insecure-skip-tls-verify: true}
users:
- name: admin
  user: {token: admintoken}
contexts:
- name: local
  context: {cluster: local, user: admin, namespace: default}
current-context: local
KC
export KUBECONFIG=$st/kubeconfig
ready() { [ "$(curl -sk -H 'Authorization: Bearer admintoken' https://127.0.0.1:6443/readyz)" = ok ]; }
wait_for 90 "$st/apiserver.pid" ready
echo "k8s/up: kube-apiserver ready in $(ms "$s") ms"

# controller-manager + scheduler
s=$(date +%s%N)
nohup "$bin/kube-controller-manager" --kubeconfig="$KUBECONFIG" --authentication-kubeconfig="$KUBECONFIG" \
    --authorization-kubeconfig="$KUBECONFIG" --bind-address=127.0.0.1 --secure-port=10257 --port=0 \
    --leader-elect=false --service-account-private-key-file="$st/kube/sa.key" \
    --root-ca-file="$st/kube/certs/apiserver.crt" --use-service-account-credentials=false \
    --controllers='*,-nodeipam' --logtostderr=true --v=1 > "$st/controller-manager.log" 2>&1 &
echo $! > "$st/controller-manager.pid"
nohup "$bin/kube-scheduler" --kubeconfig="$KUBECONFIG" --authentication-kubeconfig="$KUBECONFIG" \
    --authorization-kubeconfig="$KUBECONFIG" --bind-address=127.0.0.1 --secure-port=10259 --port=0 \
    --leader-elect=false --logtostderr=true --v=1 > "$st/scheduler.log" 2>&1 &
echo $! > "$st/scheduler.pid"
healthy() { curl -sk "https://127.0.0.1:$1/healthz" | grep -q ok; }
wait_for 30 "$st/controller-manager.pid" healthy 10257
wait_for 30 "$st/scheduler.pid" healthy 10259
echo "k8s/up: controller-manager and scheduler healthy in $(ms "$s") ms"

# The node: containerd with the CRI plugin, Spindle's shim, the pause image, kubelet.
n=$st/node
cat > "$n/containerd.toml" <<EOC
# containerd 1.7 with the CRI plugin: the node runtime of kubelet 1.20
version = 2
root = "$n/containerd/root"
state = "$n/containerd/state"
[grpc]
  address = "$n/containerd.sock"
[ttrpc]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "k8s.gcr.io/pause:3.2"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  # root lacks CAP_SYS_RESOURCE here: no negative oom_score_adj
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$n/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."$reg"]
    endpoint = ["http://$reg"]
EOC
"$spindle" node install --containerd-config "$n/containerd.toml" --bin-dir "$n/shims"
cat > "$n/cni/net.d/10-spindle.conflist" <<'EOC'
{"cniVersion":"0.4.0","name":"spindle-pods","plugins":[
 {"type":"bridge","bridge":"spindlecni0","isGateway":true,"ipMasq":false,"hairpinMode":true,
  "ipam":{"type":"host-local","ranges":[[{"subnet":"10.252.0.0/24"}]],"routes":[{"dst":"0.0.0.0/0"}]}},
 {"type":"loopback"}]}
EOC
s=$(date +%s%N)
PATH=$n/shims:$ctrd:$PATH nohup "$ctrd/containerd" --config "$n/containerd.toml" > "$st/containerd.log" 2>&1 &
echo $! > "$st/containerd.pid"
ctr=("$ctrd/ctr" --address "$n/containerd.sock" -n k8s.io)
wait_for 30 "$st/containerd.pid" "${ctr[@]}" version
bash "$root/scripts/k8s/pause-image.sh" "$st/pause.tar"
"${ctr[@]}" image import "$st/pause.tar" >/dev/null
echo "k8s/up: node containerd ready in $(ms "$s") ms"
cat > "$n/kubelet.yaml" <<EOC
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
cgroupDriver: cgroupfs
failSwapOn: false
authentication: {anonymous: {enabled: true}, webhook: {enabled: false}}
authorization: {mode: AlwaysAllow}
staticPodPath: $n/manifests
cgroupsPerQOS: false
enforceNodeAllocatable: []
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
# The kubelet counts a disk as used when it is not available to it (reserved blocks too): a big
# disk 70 % full read as 88 % here, and image GC (default 85 %) deleted imported images.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
resolvConf: /etc/resolv.conf
EOC
s=$(date +%s%N)
nohup "$bin/kubelet" --kubeconfig="$KUBECONFIG" --config="$n/kubelet.yaml" \
    --container-runtime=remote --container-runtime-endpoint="unix://$n/containerd.sock" \
    --root-dir="$n/kubelet" --cert-dir="$n/kubelet/pki" --hostname-override=localhost \
    --logtostderr=true --v=1 > "$st/kubelet.log" 2>&1 &
echo $! > "$st/kubelet.pid"
node_ready() { [ "$(kubectl get node localhost -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]; }
wait_for 120 "$st/kubelet.pid" node_ready
echo "k8s/up: node localhost Ready in $(ms "$s") ms"
echo "export KUBECONFIG=$KUBECONFIG PATH=$bin:\$PATH"
