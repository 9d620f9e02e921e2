// The built-in templates. Each can be replaced by a file of the same relative path under
// `--templates DIR` (seed 002: "-v $(pwd)/my-templates:/templates").
//
// Ignition templates are Ignition (spec 3.4.0, the newest Matchbox v0.11 parses) written
// as YAML; a file's `contents.inline` becomes a data URL, as in Butane.
#include "nodeboot/plugin/cluster/generate.hpp"

namespace nodeboot::plugin::cluster {
namespace {

// Stage 1: the PXE-booted live system installs Flatcar to disk with the node's installed
// Ignition, then reboots into it.
constexpr std::string_view install_ign = R"tmpl(ignition:
  version: 3.4.0
passwd:
  users:
    - name: core
      sshAuthorizedKeys:
        - "${SSH_KEY}"
storage:
  files:
    - path: /opt/nodeboot/install
      mode: 0500
      contents:
        inline: |
          #!/bin/bash
          set -euxo pipefail
          curl --retry 10 --fail -o /tmp/installed.ign "${MATCHBOX_URL}/ignition?mac=${NODE_MAC}&os=installed"
          flatcar-install -d ${INSTALL_DISK} -C ${FLATCAR_CHANNEL} -V ${FLATCAR_VERSION} -i /tmp/installed.ign
          udevadm settle
          systemctl reboot
systemd:
  units:
    - name: nodeboot-install.service
      enabled: true
      contents: |
        [Unit]
        Description=Install Flatcar ${FLATCAR_VERSION} on ${NODE_NAME} (${NODE_ROLE})
        Requires=network-online.target
        After=network-online.target
        [Service]
        Type=oneshot
        ExecStart=/opt/nodeboot/install
        [Install]
        WantedBy=multi-user.target
)tmpl";

// Stage 2, shared by every role: hostname, SSH, the Kubernetes system extension from
// Flatcar's sysext bakery, containerd. Composed per role at compile time, so each built-in
// template is one complete document a user can copy and edit.
#define NODEBOOT_IGNITION_HEAD                                                             \
  "ignition:\n"                                                                            \
  "  version: 3.4.0\n"                                                                     \
  "passwd:\n"                                                                              \
  "  users:\n"                                                                             \
  "    - name: core\n"                                                                     \
  "      sshAuthorizedKeys:\n"                                                             \
  "        - \"${SSH_KEY}\"\n"                                                             \
  "storage:\n"                                                                             \
  "  links:\n"                                                                             \
  "    - path: /etc/extensions/kubernetes.raw\n"                                           \
  "      target: /opt/extensions/kubernetes/kubernetes-v${K8S_VERSION}-x86-64.raw\n"       \
  "      hard: false\n"                                                                    \
  "  files:\n"                                                                             \
  "    - path: /etc/hostname\n"                                                            \
  "      mode: 0644\n"                                                                     \
  "      overwrite: true\n"                                                                \
  "      contents:\n"                                                                      \
  "        inline: \"${NODE_NAME}\\n\"\n"                                                  \
  "    - path: /opt/extensions/kubernetes/kubernetes-v${K8S_VERSION}-x86-64.raw\n"         \
  "      mode: 0644\n"                                                                     \
  "      contents:\n"                                                                      \
  "        source: "                                                                       \
  "https://github.com/flatcar/sysext-bakery/releases/download/kubernetes-v${K8S_VERSION}/" \
  "kubernetes-v${K8S_VERSION}-x86-64.raw\n"                                                \
  "        verification:\n"                                                                \
  "          hash: sha256-${K8S_SYSEXT_SHA256}\n"

// The [Service] and [Install] sections of a unit that runs `command` once per boot.
#define NODEBOOT_ONESHOT_SERVICE(command) \
  "        [Service]\n"                   \
  "        Type=oneshot\n"                \
  "        RemainAfterExit=yes\n"         \
  "        ExecStart=" command            \
  "\n"                                    \
  "        [Install]\n"                   \
  "        WantedBy=multi-user.target\n"

#define NODEBOOT_IGNITION_UNITS(description, command, more_units) \
  "systemd:\n"                                                    \
  "  units:\n"                                                    \
  "    - name: containerd.service\n"                              \
  "      enabled: true\n"                                         \
  "    - name: kubeadm.service\n"                                 \
  "      enabled: true\n"                                         \
  "      contents: |\n"                                           \
  "        [Unit]\n"                                              \
  "        Description=" description                              \
  "\n"                                                            \
  "        Requires=containerd.service\n"                         \
  "        Wants=network-online.target\n"                         \
  "        After=containerd.service network-online.target\n"      \
  "        ConditionPathExists=!/etc/kubernetes/kubelet.conf\n" NODEBOOT_ONESHOT_SERVICE(command) more_units

// kube-vip holds ${CONTROL_PLANE_VIP} for the controllers: a static pod in ARP mode with
// leader election (the Lease plndr-cp-lock in kube-system), the shape `kube-vip manifest
// pod --arp --controlplane --leaderElection` prints. It sits in the manifests folder
// before kubeadm runs, so the VIP answers as soon as this node's API server does; kubeadm's
// check that the folder is empty is skipped for this one file (ignorePreflightErrors
// below). On the first controller it reads super-admin.conf: kube-vip's documented
// workaround for Kubernetes 1.29+, whose admin.conf holds no rights until kubeadm init has
// bound them; nodeboot-post-init switches it back to admin.conf after init.
#define NODEBOOT_KUBE_VIP(kubeconfig)                                               \
  "    - path: /etc/kubernetes/manifests/kube-vip.yaml\n"                           \
  "      mode: 0644\n"                                                              \
  "      contents:\n"                                                               \
  "        inline: |\n"                                                             \
  "          apiVersion: v1\n"                                                      \
  "          kind: Pod\n"                                                           \
  "          metadata:\n"                                                           \
  "            name: kube-vip\n"                                                    \
  "            namespace: kube-system\n"                                            \
  "          spec:\n"                                                               \
  "            hostNetwork: true\n"                                                 \
  "            hostAliases:\n"                                                      \
  "              - ip: 127.0.0.1\n"                                                 \
  "                hostnames: [kubernetes]\n"                                       \
  "            containers:\n"                                                       \
  "              - name: kube-vip\n"                                                \
  "                image: ${KUBE_VIP_IMAGE}\n"                                      \
  "                imagePullPolicy: IfNotPresent\n"                                 \
  "                args: [manager]\n"                                               \
  "                env:\n"                                                          \
  "                  - {name: address, value: \"${CONTROL_PLANE_VIP}\"}\n"          \
  "                  - {name: port, value: \"6443\"}\n"                             \
  "                  - {name: vip_interface, value: \"${VIP_INTERFACE}\"}\n"        \
  "                  - {name: vip_cidr, value: \"32\"}\n"                           \
  "                  - {name: vip_arp, value: \"true\"}\n"                          \
  "                  - {name: cp_enable, value: \"true\"}\n"                        \
  "                  - {name: cp_namespace, value: kube-system}\n"                  \
  "                  - {name: vip_leaderelection, value: \"true\"}\n"               \
  "                  - {name: vip_leasename, value: plndr-cp-lock}\n"               \
  "                  - {name: vip_leaseduration, value: \"5\"}\n"                   \
  "                  - {name: vip_renewdeadline, value: \"3\"}\n"                   \
  "                  - {name: vip_retryperiod, value: \"1\"}\n"                     \
  "                securityContext:\n"                                              \
  "                  capabilities:\n"                                               \
  "                    add: [NET_ADMIN, NET_RAW]\n"                                 \
  "                volumeMounts:\n"                                                 \
  "                  - {name: kubeconfig, mountPath: /etc/kubernetes/admin.conf}\n" \
  "            volumes:\n"                                                          \
  "              - name: kubeconfig\n"                                              \
  "                hostPath: {path: " kubeconfig "}\n"

// The token lives in a 0600 file, never on a command line. The cluster CA is created by
// kubeadm on the first controller, after this file is rendered, so joiners cannot pin its
// hash (caCertHashes); on a LAN you do not trust, override these templates with it.
#define NODEBOOT_JOIN_CONFIG(control_plane)                      \
  "    - path: /etc/kubeadm/join.yaml\n"                         \
  "      mode: 0600\n"                                           \
  "      contents:\n"                                            \
  "        inline: |\n"                                          \
  "          apiVersion: kubeadm.k8s.io/v1beta3\n"               \
  "          kind: JoinConfiguration\n"                          \
  "          discovery:\n"                                       \
  "            bootstrapToken:\n"                                \
  "              apiServerEndpoint: ${CONTROL_PLANE_VIP}:6443\n" \
  "              token: ${KUBEADM_TOKEN}\n"                      \
  "              unsafeSkipCAVerification: true\n"               \
  "          nodeRegistration:\n"                                \
  "            name: ${NODE_NAME}\n"                             \
  "            kubeletExtraArgs:\n"                              \
  "              node-ip: ${NODE_IP}\n" control_plane

// A script on the first controller that runs once the API server answers at the VIP
// through admin.conf (which also proves kube-vip holds the VIP).
#define NODEBOOT_SCRIPT_AFTER_API_SERVER                     \
  "          #!/bin/bash\n"                                  \
  "          set -euo pipefail\n"                            \
  "          export KUBECONFIG=/etc/kubernetes/admin.conf\n" \
  "          until kubectl get --raw=/readyz >/dev/null 2>&1; do sleep 5; done\n"

// The first controller, after kubeadm init: the pod network (the manifest Ignition fetched
// and checked against its pin, checked again here, pod_subnet written in), kube-vip back
// on admin.conf, and admin.conf sent to the bootstrap node over HTTPS with the one-time
// token. The token is in a header file (curl -H @file), never on a command line, and is
// deleted once sent. `generate` drops the CNI file and unit for `cluster.cni: none`.
#define NODEBOOT_FIRST_CONTROLLER_FILES                                                                       \
  "    - path: /opt/nodeboot/cni/manifest.yaml\n"                                                             \
  "      mode: 0644\n"                                                                                        \
  "      contents:\n"                                                                                         \
  "        source: ${CNI_URL}\n"                                                                              \
  "        verification:\n"                                                                                   \
  "          hash: sha256-${CNI_SHA256}\n"                                                                    \
  "    - path: /opt/nodeboot/cni/apply\n"                                                                     \
  "      mode: 0500\n"                                                                                        \
  "      contents:\n"                                                                                         \
  "        inline: |\n"                                                                                       \
  "          #!/bin/bash\n"                                                                                   \
  "          # ${CNI_NAME} ${CNI_VERSION}, pinned by sha256; pod_subnet ${POD_SUBNET}.\n"                     \
  "          set -euo pipefail\n"                                                                             \
  "          export KUBECONFIG=/etc/kubernetes/admin.conf\n"                                                  \
  "          cd /opt/nodeboot/cni\n"                                                                          \
  "          echo '${CNI_SHA256}  manifest.yaml' | sha256sum --check --strict\n"                              \
  "          until kubectl get --raw=/readyz >/dev/null 2>&1; do sleep 5; done\n"                             \
  "          sed -e '${CNI_POD_SUBNET_SED}' manifest.yaml > /run/nodeboot-cni.yaml\n"                         \
  "          grep -q -F '${POD_SUBNET}' /run/nodeboot-cni.yaml\n"                                             \
  "          kubectl apply --server-side --force-conflicts -f /run/nodeboot-cni.yaml\n"                       \
  "    - path: /opt/nodeboot/post-init\n"                                                                     \
  "      mode: 0500\n"                                                                                        \
  "      contents:\n"                                                                                         \
  "        inline: |\n" NODEBOOT_SCRIPT_AFTER_API_SERVER                                                      \
  "          sed -i 's#path: /etc/kubernetes/super-admin.conf#path: /etc/kubernetes/admin.conf#' "            \
  "/etc/kubernetes/manifests/kube-vip.yaml\n"                                                                 \
  "    - path: /etc/nodeboot/upload-ca.crt\n"                                                                 \
  "      mode: 0644\n"                                                                                        \
  "      contents:\n"                                                                                         \
  "        inline: \"${UPLOAD_CA}\"\n"                                                                        \
  "    - path: /etc/nodeboot/upload-auth\n"                                                                   \
  "      mode: 0600\n"                                                                                        \
  "      contents:\n"                                                                                         \
  "        inline: \"Authorization: Bearer ${UPLOAD_TOKEN}\\n\"\n"                                            \
  "    - path: /opt/nodeboot/upload-kubeconfig\n"                                                             \
  "      mode: 0500\n"                                                                                        \
  "      contents:\n"                                                                                         \
  "        inline: |\n" NODEBOOT_SCRIPT_AFTER_API_SERVER                                                      \
  "          curl --fail-with-body --silent --show-error --retry 60 --retry-delay 5 --retry-connrefused \\\n" \
  "            --max-time 30 --cacert /etc/nodeboot/upload-ca.crt -H @/etc/nodeboot/upload-auth \\\n"         \
  "            -H 'Content-Type: application/yaml' --data-binary @/etc/kubernetes/admin.conf \\\n"            \
  "            '${UPLOAD_URL}'\n"                                                                             \
  "          rm -f /etc/nodeboot/upload-auth\n"

#define NODEBOOT_AFTER_INIT_UNIT(name, description, command) \
  "    - name: " name                                        \
  "\n"                                                       \
  "      enabled: true\n"                                    \
  "      contents: |\n"                                      \
  "        [Unit]\n"                                         \
  "        Description=" description                         \
  "\n"                                                       \
  "        Requires=kubeadm.service\n"                       \
  "        After=kubeadm.service\n" NODEBOOT_ONESHOT_SERVICE(command)

constexpr std::string_view bootstrap_ign =
    NODEBOOT_IGNITION_HEAD NODEBOOT_KUBE_VIP("/etc/kubernetes/super-admin.conf") NODEBOOT_FIRST_CONTROLLER_FILES
    "    - path: /etc/kubeadm/init.yaml\n"
    "      mode: 0600\n"
    "      contents:\n"
    "        inline: |\n"
    "          apiVersion: kubeadm.k8s.io/v1beta3\n"
    "          kind: InitConfiguration\n"
    "          certificateKey: ${CERTIFICATE_KEY}\n"
    "          bootstrapTokens:\n"
    "            - token: ${KUBEADM_TOKEN}\n"
    "              ttl: 24h0m0s\n"
    "          localAPIEndpoint:\n"
    "            advertiseAddress: ${NODE_IP}\n"
    "          nodeRegistration:\n"
    "            name: ${NODE_NAME}\n"
    "            kubeletExtraArgs:\n"
    "              node-ip: ${NODE_IP}\n"
    "            ignorePreflightErrors: [DirAvailable--etc-kubernetes-manifests]\n"
    "          ---\n"
    "          apiVersion: kubeadm.k8s.io/v1beta3\n"
    "          kind: ClusterConfiguration\n"
    "          clusterName: ${CLUSTER_NAME}\n"
    "          kubernetesVersion: v${K8S_VERSION}\n"
    "          controlPlaneEndpoint: ${CONTROL_PLANE_VIP}:6443\n"
    "          apiServer:\n"
    "            certSANs: [\"${CONTROL_PLANE_VIP}\", \"${NODE_IP}\"]\n"
    "          networking:\n"
    "            podSubnet: ${POD_SUBNET}\n"
    "            serviceSubnet: ${SERVICE_SUBNET}\n" NODEBOOT_IGNITION_UNITS(
        "kubeadm init: first control-plane node of ${CLUSTER_NAME}",
        "/usr/bin/kubeadm init --config /etc/kubeadm/init.yaml --upload-certs",
        NODEBOOT_AFTER_INIT_UNIT("nodeboot-post-init.service", "kube-vip on admin.conf after kubeadm init",
                                 "/opt/nodeboot/post-init")
            NODEBOOT_AFTER_INIT_UNIT("nodeboot-cni.service", "Apply the pinned ${CNI_NAME} pod network",
                                     "/opt/nodeboot/cni/apply")
                NODEBOOT_AFTER_INIT_UNIT("nodeboot-kubeconfig-upload.service",
                                         "Send admin.conf to the bootstrap node (one-time token)",
                                         "/opt/nodeboot/upload-kubeconfig"));

constexpr std::string_view controller_ign =
    NODEBOOT_IGNITION_HEAD NODEBOOT_KUBE_VIP("/etc/kubernetes/admin.conf") NODEBOOT_JOIN_CONFIG(
        "          controlPlane:\n"
        "            certificateKey: ${CERTIFICATE_KEY}\n"
        "            localAPIEndpoint:\n"
        "              advertiseAddress: ${NODE_IP}\n")
        NODEBOOT_IGNITION_UNITS("kubeadm join: control-plane node of ${CLUSTER_NAME}",
                                "/usr/bin/kubeadm join --config /etc/kubeadm/join.yaml", "");

constexpr std::string_view worker_ign = NODEBOOT_IGNITION_HEAD NODEBOOT_JOIN_CONFIG("") NODEBOOT_IGNITION_UNITS(
    "kubeadm join: worker node of ${CLUSTER_NAME}", "/usr/bin/kubeadm join --config /etc/kubeadm/join.yaml", "");

#undef NODEBOOT_IGNITION_HEAD
#undef NODEBOOT_IGNITION_UNITS
#undef NODEBOOT_JOIN_CONFIG
#undef NODEBOOT_KUBE_VIP
#undef NODEBOOT_FIRST_CONTROLLER_FILES
#undef NODEBOOT_AFTER_INIT_UNIT
#undef NODEBOOT_SCRIPT_AFTER_API_SERVER

// Matchbox profile for stage 1. ${uuid} and ${mac:hexhyp} are iPXE's, left for iPXE.
// The generator sets id and ignition_id itself so groups always find their profile.
constexpr std::string_view install_profile = R"tmpl({
  "id": "install-${NODE_NAME}",
  "name": "Install Flatcar ${FLATCAR_VERSION} on ${NODE_NAME}",
  "boot": {
    "kernel": "http://${FLATCAR_CHANNEL}.release.flatcar-linux.net/amd64-usr/${FLATCAR_VERSION}/flatcar_production_pxe.vmlinuz",
    "initrd": ["http://${FLATCAR_CHANNEL}.release.flatcar-linux.net/amd64-usr/${FLATCAR_VERSION}/flatcar_production_pxe_image.cpio.gz"],
    "args": [
      "initrd=flatcar_production_pxe_image.cpio.gz",
      "flatcar.config.url=${MATCHBOX_URL}/ignition?uuid=${uuid}&mac=${mac:hexhyp}",
      "flatcar.first_boot=yes",
      "console=tty0",
      "console=ttyS0"
    ]
  },
  "ignition_id": "install-${NODE_NAME}.ign"
}
)tmpl";

// Stage 2 profiles serve only Ignition (the node boots from disk).
#define NODEBOOT_INSTALLED_PROFILE(role)      \
  "{\n"                                       \
  "  \"id\": \"${NODE_NAME}\",\n"             \
  "  \"name\": \"${NODE_NAME}: " role         \
  " of ${CLUSTER_NAME}\",\n"                  \
  "  \"ignition_id\": \"${NODE_NAME}.ign\"\n" \
  "}\n"
constexpr std::string_view bootstrap_profile = NODEBOOT_INSTALLED_PROFILE("first controller (kubeadm init)");
constexpr std::string_view controller_profile = NODEBOOT_INSTALLED_PROFILE("controller");
constexpr std::string_view worker_profile = NODEBOOT_INSTALLED_PROFILE("worker");
#undef NODEBOOT_INSTALLED_PROFILE

constexpr std::string_view install_group = R"tmpl({
  "id": "install-${NODE_NAME}",
  "name": "${NODE_NAME} (${NODE_ROLE}): PXE install",
  "profile": "install-${NODE_NAME}",
  "selector": {"mac": "${NODE_MAC}"},
  "metadata": {"node_name": "${NODE_NAME}", "node_ip": "${NODE_IP}", "node_role": "${NODE_ROLE}"}
}
)tmpl";

constexpr std::string_view node_group = R"tmpl({
  "id": "${NODE_NAME}",
  "name": "${NODE_NAME} (${NODE_ROLE}): installed",
  "profile": "${NODE_NAME}",
  "selector": {"mac": "${NODE_MAC}", "os": "installed"},
  "metadata": {"node_name": "${NODE_NAME}", "node_ip": "${NODE_IP}", "node_role": "${NODE_ROLE}"}
}
)tmpl";

// Proxy-DHCP: the LAN's own DHCP server keeps handing out addresses; dnsmasq only adds
// the PXE boot answer. Firmware PXE (BIOS or UEFI) chainloads iPXE over TFTP; iPXE
// (user class "iPXE") is sent to Matchbox's boot script over HTTP.
constexpr std::string_view dnsmasq_conf =
    R"tmpl(# dnsmasq for ${CLUSTER_NAME}: proxy-DHCP + TFTP + iPXE chainloading to Matchbox.
# DNS is off: this dnsmasq answers PXE clients only.
port=0
dhcp-range=${NODE_NETWORK_ADDRESS},proxy,${NODE_NETMASK}
enable-tftp
tftp-root=${TFTP_ROOT}

# Tag requests by firmware: client-arch 0 = BIOS, 7 and 9 = x86-64 UEFI.
dhcp-match=set:bios,option:client-arch,0
dhcp-match=set:efi64,option:client-arch,7
dhcp-match=set:efi64,option:client-arch,9
dhcp-userclass=set:ipxe,iPXE

# Firmware PXE: chainload iPXE over TFTP.
pxe-prompt="nodeboot: booting iPXE",1
pxe-service=tag:!ipxe,x86PC,"Chainload iPXE (BIOS)",undionly.kpxe
pxe-service=tag:!ipxe,X86-64_EFI,"Chainload iPXE (UEFI)",ipxe.efi

# iPXE: fetch Matchbox's boot script, which chains to /ipxe?mac=...
pxe-service=tag:ipxe,x86PC,"Matchbox (BIOS)",${MATCHBOX_URL}/boot.ipxe
pxe-service=tag:ipxe,X86-64_EFI,"Matchbox (UEFI)",${MATCHBOX_URL}/boot.ipxe

log-dhcp
)tmpl";

}  // namespace

const std::map<std::string, std::string_view>& builtin_templates() {
  static const std::map<std::string, std::string_view> table{
      {"ignition/install.yaml.tmpl", install_ign},
      {"ignition/bootstrap.yaml.tmpl", bootstrap_ign},
      {"ignition/controller.yaml.tmpl", controller_ign},
      {"ignition/worker.yaml.tmpl", worker_ign},
      {"profiles/install.json.tmpl", install_profile},
      {"profiles/bootstrap.json.tmpl", bootstrap_profile},
      {"profiles/controller.json.tmpl", controller_profile},
      {"profiles/worker.json.tmpl", worker_profile},
      {"groups/install.json.tmpl", install_group},
      {"groups/node.json.tmpl", node_group},
      {"dnsmasq.conf.tmpl", dnsmasq_conf},
  };
  return table;
}

}  // namespace nodeboot::plugin::cluster
