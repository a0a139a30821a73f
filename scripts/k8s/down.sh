#!/usr/bin/env bash
# Stops what up.sh started, by the PIDs it recorded (never by process name), and removes the
# node's leftovers: pods' containers and shims, mounts under $K8S_STATE, the CNI bridge and its
# IP allocations, and the KUBE-* iptables chains the kubelet adds.
st=${K8S_STATE:-/tmp/spindle-k8s}
bin=${K8S_DIR:-/opt/spindle-ci/k8s}/bin
ctrd=${SPINDLE_CONTAINERD_ROOT:-/opt/spindle-ci/containerd}/usr/bin
[ -d "$st" ] || exit 0
stop() {
    local f=$st/$1.pid p
    [ -f "$f" ] || return 0
    p=$(cat "$f")
    if kill -0 "$p" 2>/dev/null; then
        kill "$p"
        for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$p" 2>/dev/null && kill -9 "$p"
    fi
    rm -f "$f"
}
if [ -f "$st/kubelet.pid" ] && kill -0 "$(cat "$st/kubelet.pid")" 2>/dev/null; then
    KUBECONFIG=$st/kubeconfig timeout 60 "$bin/kubectl" delete pods --all -A --grace-period=0 --force >/dev/null 2>&1
fi
stop kubelet
if [ -S "$st/node/containerd.sock" ]; then
    ctr=("$ctrd/ctr" --address "$st/node/containerd.sock" -n k8s.io)
    for t in $("${ctr[@]}" tasks ls -q 2>/dev/null); do "${ctr[@]}" tasks kill -s 9 "$t" >/dev/null 2>&1; done
    sleep 1
    for t in $("${ctr[@]}" tasks ls -q 2>/dev/null); do "${ctr[@]}" tasks rm -f "$t" >/dev/null 2>&1; done
    for c in $("${ctr[@]}" containers ls -q 2>/dev/null); do "${ctr[@]}" containers rm "$c" >/dev/null 2>&1; done
fi
stop containerd
# Shims still serving our containerd socket (matched by that path, killed by PID): SIGTERM,
# then SIGKILL for those still there after 5 s (a shim whose containerd is gone can ignore it).
# (cmdline's arguments are NUL-separated: read as "ARG0 ARG1 ..." before matching.)
shims() {
    local c
    for c in /proc/[0-9]*/cmdline; do
        case "$( { tr '\0' ' ' < "$c"; } 2>/dev/null)" in
            *"-address $st/node/containerd.sock"*) c=${c#/proc/}; echo "${c%/cmdline}" ;;
        esac
    done
}
for p in $(shims); do kill "$p" 2>/dev/null; done
for _ in $(seq 1 50); do [ -z "$(shims)" ] && break; sleep 0.1; done
for p in $(shims); do kill -9 "$p" 2>/dev/null; done
for d in scheduler controller-manager apiserver etcd; do stop "$d"; done
findmnt -rn -o TARGET | grep "^$st/" | sort -r | while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done
ip link show spindlecni0 >/dev/null 2>&1 && ip link del spindlecni0
rm -rf /var/lib/cni/networks/spindle-pods /var/lib/cni/results/spindle-pods-* /var/lib/cni/results/cni-loopback-*-lo 2>/dev/null
if command -v iptables >/dev/null; then
    for t in nat filter mangle; do
        iptables -t "$t" -S 2>/dev/null | grep -E '^-A [^ ]+ .*-j KUBE-' | grep -v '^-A KUBE-' | sed 's/^-A /-D /' \
            | while read -r r; do eval "iptables -t $t $r"; done
        for c in $(iptables -t "$t" -S 2>/dev/null | awk '$1=="-N" && $2 ~ /^KUBE-/ {print $2}'); do iptables -t "$t" -F "$c"; done
        for c in $(iptables -t "$t" -S 2>/dev/null | awk '$1=="-N" && $2 ~ /^KUBE-/ {print $2}'); do iptables -t "$t" -X "$c"; done
    done
fi
true
