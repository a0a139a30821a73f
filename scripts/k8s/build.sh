#!/usr/bin/env bash
# Builds a real Kubernetes v1.20.2 (kube-apiserver, kube-controller-manager, kube-scheduler, kubelet,
# kubectl) offline from Debian bookworm's `kubernetes` source package, which ships the whole upstream
# tree with vendor/, using Debian's Go 1.19. About 6 minutes cold on 2 cores (-p 1, nice 19); a warm
# Go cache rebuilds in well under a minute. Output: $K8S_DIR/bin (default /opt/spindle-ci/k8s/bin).
# Nothing outside $K8S_DIR is written except Debian packages (golang-go, gcc) and /etc/apt is not
# touched (a private apt configuration fetches the source).
#
# Three things the tarball needs (found when this recipe was made, see the project notes):
#  * k8s 1.20 builds in GOPATH mode (GO111MODULE=off), like its own hack/lib/init.sh;
#  * the vendored modern-go/reflect2 1.0.1 crashes under Go >= 1.18 (SIGSEGV in mapiternext on the
#    first custom resource): Debian's 1.0.2 source replaces it;
#  * pkg/generated/openapi/zz_generated.openapi.go is not in the tarball: generated with the
#    vendored openapi-gen over the packages marked `+k8s:openapi-gen=`.
set -euo pipefail
dir=${K8S_DIR:-/opt/spindle-ci/k8s}
out=$dir/bin
cmds=${K8S_CMDS:-"kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl"}
jobs=${GO_P:-1}
mkdir -p "$dir"/apt/{lists/partial,cache/archives/partial} "$dir/src" "$out"

need=()
command -v go >/dev/null || need+=(golang-go)
command -v gcc >/dev/null && [ -f /usr/lib/x86_64-linux-gnu/libc.a ] || need+=(gcc libc6-dev)
if [ "${#need[@]}" -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

all_built=1
for c in $cmds; do [ -x "$out/$c" ] || all_built=0; done
if [ "$all_built" = 1 ]; then echo "k8s/build: $cmds already in $out"; exit 0; fi

echo 'deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main' \
    > "$dir/apt/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$dir/apt/sources.list" -o "Dir::Etc::SourceParts=/nonexistent"
          -o "Dir::State::Lists=$dir/apt/lists" -o "Dir::Cache=$dir/apt/cache")
cd "$dir/src"
if [ ! -d kubernetes-1.20.2 ]; then
    apt-get "${apt_opts[@]}" update -qq
    apt-get "${apt_opts[@]}" source --download-only kubernetes=1.20.5+really1.20.2-1.1+deb12u1
    tar xzf kubernetes_1.20.5+really1.20.2.orig.tar.gz
fi
gopath=$dir/gopath
mkdir -p "$gopath/src/k8s.io"
ln -sfn "$dir/src/kubernetes-1.20.2" "$gopath/src/k8s.io/kubernetes"
cd "$gopath/src/k8s.io/kubernetes"
export GO111MODULE=off GOPATH=$gopath GOPROXY=off GOCACHE=${GOCACHE:-$dir/gocache} CGO_ENABLED=0

r=vendor/github.com/modern-go/reflect2
if ! [ -f $r/go_above_118.go ]; then
    (mkdir -p "$dir/src/debs" && cd "$dir/src/debs" && apt-get download golang-github-modern-go-reflect2-dev \
        && dpkg -x golang-github-modern-go-reflect2-dev_*.deb x)
    rm -f $r/*.go $r/*.s
    cp "$dir"/src/debs/x/usr/share/gocode/src/github.com/modern-go/reflect2/*.{go,s} $r/
fi
if [ ! -f pkg/generated/openapi/zz_generated.openapi.go ]; then
    nice -n 19 go build -p "$jobs" -o "$dir/src/openapi-gen" ./vendor/k8s.io/kube-openapi/cmd/openapi-gen
    dirs=$(grep -Rl --include='*.go' -E '^// *\+k8s:openapi-gen=' pkg cmd plugin vendor/k8s.io 2>/dev/null \
        | grep -v -E '^vendor/k8s.io/(code-generator|sample-apiserver)/' | xargs -n1 dirname | LC_ALL=C sort -u \
        | sed 's#^#k8s.io/kubernetes/#' | paste -sd, -)
    nice -n 19 "$dir/src/openapi-gen" -i "$dirs" -p k8s.io/kubernetes/pkg/generated/openapi \
        -O zz_generated.openapi -h vendor/k8s.io/code-generator/hack/boilerplate.go.txt \
        -r "$dir/src/violations.report" --logtostderr
fi
v=k8s.io/kubernetes/vendor/k8s.io/component-base/version
cv=k8s.io/kubernetes/vendor/k8s.io/client-go/pkg/version
ld="-s -w"
for pkg in $v $cv; do
    ld="$ld -X $pkg.gitVersion=v1.20.2 -X $pkg.gitMajor=1 -X $pkg.gitMinor=20 -X $pkg.gitTreeState=clean"
    ld="$ld -X $pkg.gitCommit=debian-1.20.2 -X $pkg.buildDate=2021-01-13T00:00:00Z"
done
for c in $cmds; do
    [ -x "$out/$c" ] && continue
    echo "k8s/build: building $c"
    nice -n 19 go build -p "$jobs" -ldflags "$ld" -o "$out/$c" "./cmd/$c"
done
ls -la "$out"
