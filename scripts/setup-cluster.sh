#!/usr/bin/env bash
# A real single-node Kubernetes on this machine, built from upstream source.
#
#   bash scripts/setup-cluster.sh           build once (cached), start, print KUBECONFIG=<path>
#   bash scripts/setup-cluster.sh --stop    stop everything it started; nothing keeps running
#   bash scripts/setup-cluster.sh --build   only build the binaries (CI caches them)
#   bash scripts/setup-cluster.sh --bin     print the folder of the built binaries (kubectl…)
#
# What runs (all on loopback or on addresses of this machine only):
#   etcd (Debian's etcd-server), kube-apiserver, kube-controller-manager, kube-scheduler and a
#   kubelet built from k8s.io/kubernetes (version pinned in scripts/cluster/kube/go.mod, every
#   module verified by go.sum and the Go checksum database); containerd (Debian's, CRI plugin)
#   as the node's container runtime, in its own instance next to Docker's; CNI bridge
#   networking (Debian's containernetworking-plugins); a pause image built here from
#   scripts/cluster/pause; certificates generated here; RBAC as the API server bootstraps it.
# The node pulls from the loopback registry (127.0.0.1:5000) over plain HTTP, and draftd can
# load images built on this machine straight into the node's containerd (no registry needed).
#
# Env: DRAFT_CLUSTER_DIR (state: certs, etcd, kubelet, logs; default /var/lib/draft-cluster),
#      XDG_CACHE_HOME (binaries are cached under $XDG_CACHE_HOME/draft/kubernetes/<version>),
#      DRAFT_REGISTRY (default 127.0.0.1:5000).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
module=$here/cluster/kube
state=${DRAFT_CLUSTER_DIR:-/var/lib/draft-cluster}
run_dir=/run/draft-cluster
registry=${DRAFT_REGISTRY:-127.0.0.1:5000}
kube_version=$(awk '$1 == "require" && $2 == "k8s.io/kubernetes" {print $3}' "$module/go.mod")
minor=$(echo "$kube_version" | cut -d. -f2)
sum=$(cat "$module/go.mod" "$module/go.sum" "$here/cluster/pause/main.go" | sha256sum | cut -c1-12)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/draft/kubernetes/$kube_version-$sum
bin=$cache/bin
node_name=draft-node
node_ip=10.251.0.1   # an address of this machine's own (added to lo): the node's InternalIP
pod_cidr=10.244.0.0/24
service_cidr=10.96.0.0/16
apiserver=https://127.0.0.1:6443
pause_image=draft.local/pause:3.10
containerd_sock=$run_dir/containerd/containerd.sock
kubeconfig=$state/admin.kubeconfig
components=(kubelet kube-scheduler kube-controller-manager kube-apiserver etcd containerd)

log() { echo "cluster: $*"; }
die() { echo "cluster: $*" >&2; exit 1; }

pid_alive() { [[ -f $state/pids/$1 ]] && kill -0 "$(cat "$state/pids/$1")" 2>/dev/null; }

# -- stop -----------------------------------------------------------------------------------

stop_cluster() {
    for name in "${components[@]}"; do
        if [[ $name == containerd && -S $containerd_sock ]]; then
            # The pods' containers outlive the kubelet: kill and remove them before containerd.
            local ctr=(ctr --address "$containerd_sock" -n k8s.io)
            for task in $("${ctr[@]}" tasks ls -q 2>/dev/null); do
                "${ctr[@]}" tasks kill -s SIGKILL "$task" >/dev/null 2>&1 || true
            done
            for _ in $(seq 1 20); do
                [[ -z $("${ctr[@]}" tasks ls -q 2>/dev/null | head -1) ]] && break
                for task in $("${ctr[@]}" tasks ls -q 2>/dev/null); do
                    "${ctr[@]}" tasks delete -f "$task" >/dev/null 2>&1 || true
                done
                sleep 0.25
            done
            for container in $("${ctr[@]}" containers ls -q 2>/dev/null); do
                "${ctr[@]}" containers delete "$container" >/dev/null 2>&1 || true
            done
        fi
        if pid_alive "$name"; then
            local pid
            pid=$(cat "$state/pids/$name")
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
            kill -9 "$pid" 2>/dev/null || true
            log "stopped $name"
        fi
        rm -f "$state/pids/$name"
    done
    # Shims of our containerd (never Docker's), mounts and network namespaces the pods left.
    pkill -9 -f "containerd-shim.*-address $containerd_sock" 2>/dev/null || true
    if [[ -d $state/kubelet ]]; then
        grep " $state/kubelet/" /proc/mounts | awk '{print $2}' | sort -r | while read -r m; do
            umount -l "$m" 2>/dev/null || true
        done
    fi
    grep " $run_dir/" /proc/mounts | awk '{print $2}' | sort -r | while read -r m; do
        umount -l "$m" 2>/dev/null || true
    done
    for ns in /run/netns/cni-*; do
        [[ -e $ns ]] || continue
        umount "$ns" 2>/dev/null || true
        rm -f "$ns"
    done
    ip link del draft-cni0 2>/dev/null || true
    rm -rf "$state/cni-ipam"
    ip addr del "$node_ip/32" dev lo 2>/dev/null || true
}

# -- build ----------------------------------------------------------------------------------

build_binaries() {
    local want=(kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl pause)
    local missing=0
    for b in "${want[@]}"; do [[ -x $bin/$b ]] || missing=1; done
    if [[ $missing == 0 ]]; then
        log "Kubernetes $kube_version binaries cached in $bin"
        return
    fi
    command -v go >/dev/null || die "Go is needed to build Kubernetes from source (go is not on PATH)."
    log "building Kubernetes $kube_version from source into $bin (once; about 15-25 min on 2 cores)"
    mkdir -p "$bin.partial"
    local pkg=k8s.io/component-base/version
    local ldflags="-s -w -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X k8s.io/client-go/pkg/version.gitVersion=$kube_version"
    (
        cd "$module"
        GOFLAGS="-mod=readonly -buildvcs=false" go build -trimpath -ldflags "$ldflags" -o "$bin.partial/" \
            k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
            k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubelet \
            k8s.io/kubernetes/cmd/kubectl
    )
    (cd "$here/cluster/pause" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$bin.partial/pause" main.go)
    rm -rf "$bin"
    mv "$bin.partial" "$bin"
    log "built: $(ls "$bin" | tr '\n' ' ')"
}

# -- machine prerequisites ----------------------------------------------------------------------

install_packages() {
    local need=()
    command -v containerd >/dev/null || need+=(containerd)
    command -v etcd >/dev/null || need+=(etcd-server)
    [[ -x /usr/lib/cni/bridge ]] || need+=(containernetworking-plugins)
    command -v iptables >/dev/null || need+=(iptables)
    command -v conntrack >/dev/null || need+=(conntrack)
    command -v socat >/dev/null || need+=(socat)
    command -v openssl >/dev/null || need+=(openssl)
    if (( ${#need[@]} )); then
        log "installing Debian's ${need[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
        # The etcd-server package may start a system etcd on :2379; ours is the one below.
        systemctl stop etcd 2>/dev/null || pkill -f '^/usr/bin/etcd$' 2>/dev/null || true
    fi
    modprobe br_netfilter 2>/dev/null || true
    modprobe overlay 2>/dev/null || true
    [[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]] ||
        die "the kernel has no bridge netfilter (/proc/sys/net/bridge); pods cannot be networked."
    sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1
    ip addr show dev lo | grep -q " $node_ip/" || ip addr add "$node_ip/32" dev lo
}

# -- certificates and kubeconfigs -------------------------------------------------------------------

issue_cert() {  # issue_cert NAME SUBJECT [SANS]: a client or serving cert signed by the cluster CA
    local name=$1 subject=$2 sans=${3:-}
    local pki=$state/pki
    [[ -f $pki/$name.crt ]] && return
    openssl genrsa -out "$pki/$name.key" 2048 2>/dev/null
    openssl req -new -key "$pki/$name.key" -subj "$subject" -out "$pki/$name.csr" 2>/dev/null
    local ext=$pki/$name.ext
    {
        echo "basicConstraints=CA:FALSE"
        echo "keyUsage=critical,digitalSignature,keyEncipherment"
        echo "extendedKeyUsage=serverAuth,clientAuth"
        [[ -n $sans ]] && echo "subjectAltName=$sans"
    } >"$ext"
    openssl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" \
        -CAcreateserial -days 3650 -extfile "$ext" -out "$pki/$name.crt" 2>/dev/null
    rm -f "$pki/$name.csr" "$ext"
}

write_kubeconfig() {  # write_kubeconfig FILE CERT_NAME
    local file=$1 cert=$2 pki=$state/pki
    cat >"$file" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: draft-local
  cluster:
    server: $apiserver
    certificate-authority-data: $(base64 -w0 "$pki/ca.crt")
users:
- name: $cert
  user:
    client-certificate-data: $(base64 -w0 "$pki/$cert.crt")
    client-key-data: $(base64 -w0 "$pki/$cert.key")
contexts:
- name: draft-local
  context:
    cluster: draft-local
    user: $cert
current-context: draft-local
KUBECONFIG
    chmod 600 "$file"
}

make_pki() {
    local pki=$state/pki
    mkdir -p "$pki"
    chmod 700 "$pki"
    if [[ ! -f $pki/ca.crt ]]; then
        log "generating certificates in $pki"
        openssl genrsa -out "$pki/ca.key" 2048 2>/dev/null
        openssl req -x509 -new -key "$pki/ca.key" -subj "/CN=draft-cluster-ca" -days 3650 \
            -out "$pki/ca.crt" 2>/dev/null
        openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
        openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
    fi
    local service_ip=10.96.0.1
    issue_cert apiserver "/CN=kube-apiserver" \
        "DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:$node_ip,IP:$service_ip"
    issue_cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
    issue_cert admin "/O=system:masters/CN=draft-admin"
    issue_cert controller-manager "/CN=system:kube-controller-manager"
    issue_cert scheduler "/CN=system:kube-scheduler"
    issue_cert kubelet "/O=system:nodes/CN=system:node:$node_name"
    issue_cert kubelet-serving "/CN=$node_name" "DNS:$node_name,DNS:localhost,IP:127.0.0.1,IP:$node_ip"
    write_kubeconfig "$state/admin.kubeconfig" admin
    write_kubeconfig "$state/controller-manager.kubeconfig" controller-manager
    write_kubeconfig "$state/scheduler.kubeconfig" scheduler
    write_kubeconfig "$state/kubelet.kubeconfig" kubelet
}

# -- configuration files ---------------------------------------------------------------------

write_configs() {
    mkdir -p "$state/cni" "$state/certs.d/$registry" "$state/kubelet" "$state/logs" "$state/pids"
    cat >"$state/containerd.toml" <<TOML
version = 2
root = "$state/containerd"
state = "$run_dir/containerd"
[grpc]
  address = "$containerd_sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$pause_image"
  # These VMs withhold CAP_SYS_RESOURCE: no process may lower its OOM score (the kubelet asks
  # -998 for pause containers), so scores are clamped at containerd's own instead of failing.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$state/cni"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$state/certs.d"
TOML
    cat >"$state/certs.d/$registry/hosts.toml" <<TOML
server = "http://$registry"
[host."http://$registry"]
  capabilities = ["pull", "resolve"]
  skip_verify = true
TOML
    cat >"$state/cni/10-draft.conflist" <<JSON
{
  "cniVersion": "0.4.0",
  "name": "draft",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "draft-cni0",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$state/cni-ipam",
        "ranges": [[{"subnet": "$pod_cidr"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
JSON
    cat >"$state/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $node_ip
port: 10250
readOnlyPort: 0
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $state/pki/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $state/pki/kubelet-serving.crt
tlsPrivateKeyFile: $state/pki/kubelet-serving.key
cgroupDriver: cgroupfs
# v1.34 still runs on cgroup v1 (these machines' kernel) by default; say so explicitly.
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://$containerd_sock
imageServiceEndpoint: unix://$containerd_sock
podCIDR: $pod_cidr
resolvConf: /etc/resolv.conf
clusterDomain: cluster.local
maxPods: 60
serializeImagePulls: false
imageGCHighThresholdPercent: 95
imageGCLowThresholdPercent: 90
evictionHard:
  memory.available: "200Mi"
  nodefs.available: "2%"
  imagefs.available: "2%"
# Faster reaction for an inner loop: status and pod lifecycle events are picked up quickly.
nodeStatusUpdateFrequency: 4s
syncFrequency: 10s
fileCheckFrequency: 20s
YAML
}

# -- start ----------------------------------------------------------------------------------

start() {  # start NAME COMMAND...: detached, logged, its PID remembered
    local name=$1
    shift
    if pid_alive "$name"; then
        return
    fi
    setsid "$@" >"$state/logs/$name.log" 2>&1 </dev/null &
    echo $! >"$state/pids/$name"
}

wait_for() {  # wait_for WHAT SECONDS COMMAND...
    local what=$1 seconds=$2
    shift 2
    local deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        if (( SECONDS > deadline )); then
            echo "cluster: $what did not come up within ${seconds} s" >&2
            for f in "$state"/logs/*.log; do
                echo "--- $(basename "$f"): last lines" >&2
                tail -n 8 "$f" >&2
            done
            exit 1
        fi
        sleep 0.25
    done
}

kubectl_() { "$bin/kubectl" --kubeconfig "$kubeconfig" "$@"; }

node_ready() {
    [[ $(kubectl_ get node "$node_name" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}') == True ]]
}

start_cluster() {
    local pki=$state/pki
    start containerd containerd --config "$state/containerd.toml"
    wait_for containerd 20 ctr --address "$containerd_sock" version
    if ! ctr --address "$containerd_sock" -n k8s.io images ls -q | grep -qx "$pause_image"; then
        python3 "$here/cluster/oci-image.py" "$bin/pause" "$pause_image" "$state/pause.tar"
        ctr --address "$containerd_sock" -n k8s.io images import "$state/pause.tar" >/dev/null
        log "pause image $pause_image imported into the node's containerd"
    fi

    start etcd etcd --name draft --data-dir "$state/etcd" \
        --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
        --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
        --initial-cluster draft=http://127.0.0.1:2380 --listen-metrics-urls "" \
        --quota-backend-bytes 2147483648 --snapshot-count 10000
    wait_for etcd 30 curl -fsS http://127.0.0.1:2379/health

    start kube-apiserver "$bin/kube-apiserver" \
        --bind-address=127.0.0.1 --advertise-address="$node_ip" --secure-port=6443 \
        --etcd-servers=http://127.0.0.1:2379 \
        --service-cluster-ip-range="$service_cidr" \
        --client-ca-file="$pki/ca.crt" \
        --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
        --kubelet-client-certificate="$pki/apiserver-kubelet-client.crt" \
        --kubelet-client-key="$pki/apiserver-kubelet-client.key" \
        --kubelet-preferred-address-types=InternalIP \
        --service-account-key-file="$pki/sa.pub" \
        --service-account-signing-key-file="$pki/sa.key" \
        --service-account-issuer=https://kubernetes.default.svc.cluster.local \
        --authorization-mode=Node,RBAC \
        --enable-admission-plugins=NodeRestriction \
        --allow-privileged=true \
        --profiling=false
    wait_for kube-apiserver 60 kubectl_ get --raw /readyz

    start kube-controller-manager "$bin/kube-controller-manager" \
        --kubeconfig="$state/controller-manager.kubeconfig" \
        --authentication-kubeconfig="$state/controller-manager.kubeconfig" \
        --authorization-kubeconfig="$state/controller-manager.kubeconfig" \
        --bind-address=127.0.0.1 --leader-elect=false \
        --service-account-private-key-file="$pki/sa.key" --root-ca-file="$pki/ca.crt" \
        --cluster-signing-cert-file="$pki/ca.crt" --cluster-signing-key-file="$pki/ca.key" \
        --use-service-account-credentials=true \
        --service-cluster-ip-range="$service_cidr" \
        --controllers='*,-cloud-node-lifecycle' \
        --profiling=false
    start kube-scheduler "$bin/kube-scheduler" \
        --kubeconfig="$state/scheduler.kubeconfig" \
        --authentication-kubeconfig="$state/scheduler.kubeconfig" \
        --authorization-kubeconfig="$state/scheduler.kubeconfig" \
        --bind-address=127.0.0.1 --leader-elect=false --profiling=false
    start kubelet "$bin/kubelet" \
        --config="$state/kubelet.yaml" --kubeconfig="$state/kubelet.kubeconfig" \
        --root-dir="$state/kubelet" --hostname-override="$node_name" --node-ip="$node_ip"

    wait_for "the node $node_name" 90 node_ready
    # Pods in `default` need its service account, which the controller manager creates.
    wait_for "the default service account" 60 kubectl_ get serviceaccount default -n default
}

main() {
    [[ $(id -u) == 0 ]] || die "run as root: the node needs network namespaces, mounts and cgroups."
    case ${1:-} in
        --stop)
            stop_cluster
            log "stopped"
            return
            ;;
        --build)
            build_binaries
            return
            ;;
        --bin)  # where the built binaries (kubectl…) are, for benchmarks and people
            echo "$bin"
            return
            ;;
        "") ;;
        *) die "unknown argument $1 (use --stop, --build or --bin)" ;;
    esac
    install_packages
    build_binaries
    mkdir -p "$state/pids" "$state/logs"
    chmod 700 "$state"
    if pid_alive kubelet && pid_alive kube-apiserver && node_ready 2>/dev/null; then
        log "already running ($node_name Ready)"
    else
        make_pki
        write_configs
        start_cluster
        log "Kubernetes $kube_version: node $node_name Ready (logs: $state/logs)"
    fi
    echo "KUBECONFIG=$kubeconfig"
}

main "$@"
