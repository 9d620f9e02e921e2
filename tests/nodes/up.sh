#!/usr/bin/env bash
# Boots N worker VMs (QEMU, TCG: a real Debian kernel, systemd, containerd, the kubelet) and
# joins them to a control plane started by tests/cluster/up.sh, the way kubeadm joins a
# node: a bootstrap token Secret in kube-system, kubeadm's RBAC for its group (create CSRs;
# node client CSRs auto-approved by kube-controller-manager's csrapproving controller and
# signed with the cluster CA), kubelet TLS bootstrap. Waits until every Node is Ready.
#
#   tests/nodes/up.sh --vm-nodes N --state-dir DIR --cluster-state DIR [--watch-pid PID]
#                     [--images DIR] [--join-info FILE]
#
# NODEBOOT_NODE_IMAGE=DIR: boot this disk (build-image.sh's output) instead of asking
# build-image.sh for one.
#
# --images DIR: a release's images (scripts/release.sh's dist/: *.oci.tar and images.txt);
# those a node runs (nodeboot-agent) imported into each VM's containerd as
# REGISTRY/NAME:VERSION (by digest too).
#
# --join-info FILE (with --vm-nodes 1 and --images): instead, one marooned pod's dedicated
# node (seed 004): FILE (`kubectl nodeboot marooned join-info`'s output) and the release's
# host agent (nodeboot-agent's image, /usr/lib/nodeboot/host/nodeboot-agent) go where
# cloud-init and the marooned node image would put them, and the shipped
# marooned-node-boot.service runs `nodeboot-agent join`, which joins through k3s-agent
# (image/k3s: a stand-in running the kubelet) with the token in FILE. No token or image is
# added here; the node is named after its loopback address, as its host name.
#
# Addresses: every VM is 10.0.2.15 behind QEMU's user-mode network and reaches the host's
# loopback (the API server) as 10.0.2.2. The API server reaches a kubelet through its
# node's Hostname address (its default preference), so each node is named after a
# loopback address of its own, 127.66.X.Y, on which QEMU forwards the kubelet's port:
# all traffic stays on loopback, with no host network changes.
#
# Writes DIR/env (NODEBOOT_VM_NODES: node names; NODEBOOT_VM_CONSOLES; per VM
# DIR/vm-I/{console.log,disk.qcow2,control.ext4}). A reaper stops every VM when --watch-pid
# (default: the caller) exits; tests/nodes/down.sh does it explicitly.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../cluster/procs.sh
source "$here/../cluster/procs.sh"
count="" state="" cluster_state="" watch_pid=$PPID images="" join_info=""
usage="--vm-nodes N --state-dir DIR --cluster-state DIR [--watch-pid PID] [--images DIR] [--join-info FILE]"
while [[ $# -gt 0 ]]; do
  case $1 in
    --vm-nodes) count=$2; shift 2 ;;
    --state-dir) state=$2; shift 2 ;;
    --cluster-state) cluster_state=$2; shift 2 ;;
    --watch-pid) watch_pid=$2; shift 2 ;;
    --images) images=$(realpath "$2"); shift 2 ;;
    --join-info) join_info=$(realpath "$2"); shift 2 ;;
    *) echo "nodes/up.sh: unknown flag $1 (expected $usage)" >&2; exit 2 ;;
  esac
done
log() { echo "nodes/up.sh: $*" >&2; }
[[ -n $state && -n $cluster_state ]] || { log "--state-dir and --cluster-state are required ($usage)"; exit 2; }
[[ $count =~ ^[1-9][0-9]*$ ]] || { log "--vm-nodes must be a positive number, got '$count'"; exit 2; }
[[ -f $cluster_state/env ]] || { log "no cluster at $cluster_state (run tests/cluster/up.sh first)"; exit 1; }
[[ -z $images || -f $images/images.txt ]] || { log "--images $images: no images.txt (expected scripts/release.sh's output)"; exit 1; }
if [[ -n $join_info ]]; then
  [[ -f $join_info ]] || { log "--join-info $join_info: no such file"; exit 2; }
  [[ $count == 1 && -n $images ]] || { log "--join-info boots one VM (--vm-nodes 1) with the agent from --images"; exit 2; }
fi
for tool in qemu-system-x86_64 qemu-img mkfs.ext4; do
  command -v "$tool" >/dev/null || { log "$tool is missing: run scripts/deps.sh"; exit 1; }
done
# shellcheck disable=SC1091
source "$cluster_state/env"
kubectl=(kubectl --kubeconfig "$NODEBOOT_E2E_KUBECONFIG")
api_port=${NODEBOOT_E2E_SERVER##*:}

"$here/down.sh" --state-dir "$state" --quiet || true
mkdir -p "$state"
state=$(cd "$state" && pwd)
t0=$SECONDS
# NODEBOOT_NODE_IMAGE: a disk build-image.sh made earlier in the same run (scripts/test.sh
# builds it during the C++ build). Asking build-image.sh again could start over: its key
# includes the archive's InRelease files, which change whenever the mirror publishes or
# re-signs (seen in one run: a second cold root, 4 minutes, 33 minutes after the first).
if [[ -n ${NODEBOOT_NODE_IMAGE:-} && -f $NODEBOOT_NODE_IMAGE/.complete ]]; then
  image=$NODEBOOT_NODE_IMAGE
else
  image=$("$here/build-image.sh")
fi
t_image=$((SECONDS - t0))
log "image ready in ${t_image}s: $image"

# A marooned node's agent: the release's host binary (glibc only), out of its image's layer.
host_agent() {  # OCI archive, destination
  python3 - "$1" "$2" <<'PY'
import io, json, sys, tarfile
def read(archive, path):  # a member by its path, written with or without "./"
    for m in archive.getmembers():
        if m.name.removeprefix("./") == path and m.isfile():
            return archive.extractfile(m).read()
    return None
with tarfile.open(sys.argv[1]) as layout:
    blob = lambda d: read(layout, "blobs/sha256/" + d.split(":", 1)[1])
    manifest = json.loads(blob(json.loads(read(layout, "index.json"))["manifests"][0]["digest"]))
    for layer in reversed(manifest["layers"]):
        with tarfile.open(fileobj=io.BytesIO(blob(layer["digest"]))) as files:
            agent = read(files, "usr/lib/nodeboot/host/nodeboot-agent")
        if agent is not None:
            open(sys.argv[2], "wb").write(agent)
            sys.exit(0)
sys.exit("no usr/lib/nodeboot/host/nodeboot-agent in " + sys.argv[1])
PY
  chmod 0755 "$2"
}

# --- The join credential: a bootstrap token (never on a command line, never printed) in
# kube-system and the worker VMs' bootstrap kubeconfig. A marooned node brings its own in
# its join-info, for the same group.
group=system:bootstrappers:nodeboot:worker-vm
token_part() { python3 -c 'import secrets, string, sys; a = string.ascii_lowercase + string.digits
print("".join(secrets.choice(a) for _ in range(int(sys.argv[1]))))' "$1"; }
bootstrap_token() {
  local token_id token_secret
  token_id=$(token_part 6)
  token_secret=$(token_part 16)
  umask 077
  cat >"$state/bootstrap-token.yaml" <<YAML
apiVersion: v1
kind: Secret
metadata: {name: bootstrap-token-$token_id, namespace: kube-system}
type: bootstrap.kubernetes.io/token
stringData:
  token-id: "$token_id"
  token-secret: "$token_secret"
  description: nodeboot worker VMs (tests/nodes/up.sh)
  expiration: "$(date -u -d '+1 day' +%Y-%m-%dT%H:%M:%SZ)"
  usage-bootstrap-authentication: "true"
  usage-bootstrap-signing: "true"
  auth-extra-groups: "$group"
YAML
  cat >"$state/bootstrap-kubelet.conf" <<KCFG
apiVersion: v1
kind: Config
clusters:
- name: nodeboot-e2e
  cluster: {server: "https://10.0.2.2:$api_port", certificate-authority-data: $(base64 -w0 <"$(dirname "$NODEBOOT_E2E_KUBECONFIG")/pki/ca.crt")}
users:
- name: kubelet-bootstrap
  user: {token: "$token_id.$token_secret"}
contexts:
- name: bootstrap
  context: {cluster: nodeboot-e2e, user: kubelet-bootstrap}
current-context: bootstrap
KCFG
  umask 022
  unset token_secret
  "${kubectl[@]}" apply -f "$state/bootstrap-token.yaml" >/dev/null
  rm -f "$state/bootstrap-token.yaml"
}
[[ -n $join_info ]] || bootstrap_token
# kubeadm's bindings for its token group (kubeadm:kubelet-bootstrap,
# kubeadm:node-autoapprove-bootstrap) and for the nodes' own renewals
# (kubeadm:node-autoapprove-certificate-rotation).
"${kubectl[@]}" apply -f - >/dev/null <<YAML
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: nodeboot:kubelet-bootstrap}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: system:node-bootstrapper}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: Group, name: "$group"}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: nodeboot:node-autoapprove-bootstrap}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: system:certificates.k8s.io:certificatesigningrequests:nodeclient}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: Group, name: "$group"}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: nodeboot:node-autoapprove-certificate-rotation}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: system:certificates.k8s.io:certificatesigningrequests:selfnodeclient}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: Group, name: system:nodes}]
YAML

# --- The VMs: the reaper first, so that none outlives the caller even if this script fails.
start_reaper "$watch_pid" "$state" "$here/down.sh"
trap 'rc=$?; if ((rc)); then "$here/down.sh" --state-dir "$state" --quiet; fi' EXIT
names=() consoles=()
for i in $(seq 1 "$count"); do
  vm="$state/vm-$i"
  mkdir -p "$vm/control/images"
  read -r addr port < <(free_loopback_address)
  node=$addr
  vm_name=nodeboot-vm-$i
  [[ -n $join_info ]] && vm_name=$node  # nodeboot-agent join names the node after the host
  cat >"$vm/control/node.env" <<ENV
VM_NAME=$vm_name
NODE_NAME=$node
KUBELET_PORT=$port
POD_SUBNET=10.244.$i.0/24
API_SERVER=10.0.2.2:$api_port
ENV
  cp "$(dirname "$NODEBOOT_E2E_KUBECONFIG")/pki/ca.crt" "$vm/control/ca.crt"
  if [[ -n $join_info ]]; then
    install -m 0600 "$join_info" "$vm/control/join-info.yaml"
    host_agent "$images/nodeboot-agent.oci.tar" "$vm/control/nodeboot-agent"
  else
    install -m 0600 "$state/bootstrap-kubelet.conf" "$vm/control/bootstrap-kubelet.conf"
  fi
  if [[ -n $images && -z $join_info ]]; then
    registry=$(awk '$1=="registry"{print $2}' "$images/images.txt")
    # The images a node runs: the agent's (the DaemonSets, test pods). nodeboot-webhook's
    # runs on the host in these tests; importing it cost each VM 45 s of emulated CPU.
    node_images=(nodeboot-agent)
    for name in "${node_images[@]}"; do
      archive="$images/$name.oci.tar"
      ln "$archive" "$vm/control/images/" 2>/dev/null || cp "$archive" "$vm/control/images/"
      echo "$registry/$name" >"$vm/control/images/$name.name"
    done
  fi
  size=$(( $(du -sm "$vm/control" | cut -f1) + 32 ))
  (umask 077 && mkfs.ext4 -q -L nodeboot-ctl -d "$vm/control" "$vm/control.ext4" "${size}M" >/dev/null)
  rm -rf "$vm/control/images" "$vm/control/bootstrap-kubelet.conf" "$vm/control/join-info.yaml"
  qemu-img create -q -f qcow2 -F raw -b "$image/disk.ext4" "$vm/disk.qcow2"
  # A console left by an earlier run (down.sh keeps them) would show its milestones before
  # QEMU truncates the file.
  rm -f "$vm/console.log"
  # 1 vCPU, 2 GiB, TCG: /dev/kvm here is a software nested-virt module under which Debian's
  # kernel hangs. -kernel/-initrd: the root's own kernel; a guest reboot reloads them.
  start_recorded "$state" "vm-$i" "$vm/qemu.log" qemu-system-x86_64 -name "nodeboot-vm-$i" \
    -accel tcg,thread=multi -cpu max -smp 1 -m 2048 -nodefaults -no-user-config -display none \
    -uuid "$(cat /proc/sys/kernel/random/uuid)" \
    -kernel "$image/vmlinuz" -initrd "$image/initrd.img" \
    -append "root=/dev/vda rw console=ttyS0 net.ifnames=0 panic=10 systemd.show_status=0" \
    -drive "file=$vm/disk.qcow2,if=virtio,format=qcow2" \
    -drive "file=$vm/control.ext4,if=virtio,format=raw,readonly=on" \
    -netdev "user,id=net0,hostfwd=tcp:$addr:$port-:$port" -device virtio-net-pci,netdev=net0 \
    -serial "file:$vm/console.log"
  echo "$node" >"$vm/node-name"
  names+=("$node") consoles+=("$vm/console.log")
  log "vm-$i: node $node, kubelet on $addr:$port, console $vm/console.log"
done
rm -f "$state/bootstrap-kubelet.conf"
cat >"$state/env" <<ENV
NODEBOOT_VM_NODES="${names[*]}"
NODEBOOT_VM_CONSOLES="${consoles[*]}"
NODEBOOT_VM_IMAGE=$image
NODEBOOT_VM_KUBECONFIG=$NODEBOOT_E2E_KUBECONFIG
ENV

# --- Wait: console milestones, then the Node Ready, each VM timed from its start.
timeout=${NODEBOOT_VM_TIMEOUT:-900}
t_vms=$SECONDS
declare -A seen=()
while :; do
  pending=0
  for i in $(seq 1 "$count"); do
    node=${names[$((i - 1))]} console=${consoles[$((i - 1))]}
    # nodeboot-control's, then (a marooned node) nodeboot-agent join's, through journald.
    for milestone in "nodeboot-vm: boot" "nodeboot-vm: configured" "nodeboot-vm: kubelet started" \
      "nodeboot-vm: marooned node" "registered; join proof presented" "registered and vouched"; do
      if [[ -z ${seen[$i/$milestone]:-} ]] && grep -aq "$milestone" "$console" 2>/dev/null; then
        seen[$i/$milestone]=1
        log "vm-$i: $milestone after $((SECONDS - t_vms))s"
      fi
    done
    if [[ -z ${seen[$i/ready]:-} ]]; then
      ready=$("${kubectl[@]}" get node "$node" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null || true)
      if [[ $ready == True ]]; then
        seen[$i/ready]=1
        log "vm-$i: node $node Ready after $((SECONDS - t_vms))s"
      else
        pending=1
      fi
    fi
    if ! process_alive "$state" "vm-$i"; then
      log "vm-$i: QEMU exited; its log and the console's last lines:"
      tail -5 "$state/vm-$i/qemu.log" >&2; tail -30 "$console" >&2; exit 1
    fi
  done
  ((pending)) || break
  if ((SECONDS - t_vms > timeout)); then
    log "not every node Ready after ${timeout}s; consoles' last lines:"
    for c in "${consoles[@]}"; do echo "== $c" >&2; grep -a 'nodeboot-vm\|kubelet\|Failed' "$c" | tail -20 >&2; done
    "${kubectl[@]}" get nodes -o wide >&2 || true
    exit 1
  fi
  sleep 2
done
log "$count VM nodes Ready in $((SECONDS - t0))s (image ${t_image}s, token and RBAC $((t_vms - t0 - t_image))s, VMs started to Ready $((SECONDS - t_vms))s)"
"${kubectl[@]}" get nodes -o wide >&2
