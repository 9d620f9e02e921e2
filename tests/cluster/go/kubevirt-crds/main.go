// Prints the CustomResourceDefinitions KubeVirt's operator installs, as YAML documents,
// from KubeVirt's own generator (virt-operator's components package: the CRDs with the
// OpenAPI validations generated from kubevirt.io/api), without the empty status and
// creationTimestamp the Go types always carry. The e2e control plane installs them, so the
// API server validates every VirtualMachineInstance nodeboot writes. Plain sigs.k8s.io/yaml:
// KubeVirt's manifest marshaller (tools/util.MarshallObject) rewrites quotes in the text it
// produces, which turns one of these CRDs into invalid YAML (v1.8.4).
package main

import (
	"bufio"
	"fmt"
	"os"

	extv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"kubevirt.io/kubevirt/pkg/virt-operator/resource/generate/components"
)

func fail(what string, err error) {
	fmt.Fprintln(os.Stderr, "kubevirt-crds:", what+":", err)
	os.Exit(1)
}

func main() {
	// virt-operator's install strategy (install.GenerateCurrentInstallStrategy) in its
	// order, then the KubeVirt CR's own CRD, which the operator's manifest carries.
	generators := []func() (*extv1.CustomResourceDefinition, error){
		components.NewVirtualMachineInstanceCrd, components.NewPresetCrd, components.NewReplicaSetCrd,
		components.NewVirtualMachineCrd, components.NewVirtualMachineInstanceMigrationCrd,
		components.NewVirtualMachineSnapshotCrd, components.NewVirtualMachineSnapshotContentCrd,
		components.NewVirtualMachineRestoreCrd, components.NewVirtualMachineInstancetypeCrd,
		components.NewVirtualMachineClusterInstancetypeCrd, components.NewVirtualMachinePoolCrd,
		components.NewMigrationPolicyCrd, components.NewVirtualMachinePreferenceCrd,
		components.NewVirtualMachineClusterPreferenceCrd, components.NewVirtualMachineExportCrd,
		components.NewVirtualMachineCloneCrd, components.NewVirtualMachineBackupCrd,
		components.NewVirtualMachineBackupTrackerCrd,
		components.NewKubeVirtCrd,
	}
	out := bufio.NewWriter(os.Stdout)
	for _, generate := range generators {
		crd, err := generate()
		if err != nil {
			fail("generating a CRD", err)
		}
		object, err := runtime.DefaultUnstructuredConverter.ToUnstructured(crd)
		if err != nil {
			fail(crd.Name, err)
		}
		delete(object, "status")
		delete(object["metadata"].(map[string]interface{}), "creationTimestamp")
		text, err := yaml.Marshal(object)
		if err != nil {
			fail(crd.Name, err)
		}
		fmt.Fprintf(out, "---\n%s", text)
	}
	if err := out.Flush(); err != nil {
		fail("writing", err)
	}
}
