// The benchmark peer: the same marooned-pod mutation as nodeboot-webhook's /mutate/pods,
// written the way a controller-runtime user would (decode the Pod, change it, let
// PatchResponseFromRaw diff it into a JSON patch), served by controller-runtime's webhook
// server over TLS.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/google/uuid"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

type mutator struct {
	decoder  admission.Decoder
	taintKey string
}

func (m *mutator) Handle(_ context.Context, req admission.Request) admission.Response {
	pod := &corev1.Pod{}
	if err := m.decoder.Decode(req, pod); err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	if pod.Labels["maroonedpods.io/maroon"] != "true" {
		return admission.Allowed("")
	}
	id := pod.Annotations["maroonedpods.io/pod-uid"]
	if id == "" {
		id = uuid.NewString()
	}
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations["maroonedpods.io/pod-uid"] = id
	if pod.Spec.NodeSelector == nil {
		pod.Spec.NodeSelector = map[string]string{}
	}
	pod.Spec.NodeSelector["maroonedpods.io/pod-uid"] = id
	tol := corev1.Toleration{Key: m.taintKey + "/dedicated", Operator: corev1.TolerationOpEqual, Value: id, Effect: corev1.TaintEffectNoSchedule}
	found := false
	for _, t := range pod.Spec.Tolerations {
		if t == tol {
			found = true
		}
	}
	if !found {
		pod.Spec.Tolerations = append(pod.Spec.Tolerations, tol)
	}
	gated := false
	for _, g := range pod.Spec.SchedulingGates {
		if g.Name == "maroonedpods.io/gate" {
			gated = true
		}
	}
	if !gated {
		pod.Spec.SchedulingGates = append(pod.Spec.SchedulingGates, corev1.PodSchedulingGate{Name: "maroonedpods.io/gate"})
	}
	raw, err := json.Marshal(pod)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	return admission.PatchResponseFromRaw(req.Object.Raw, raw)
}

func main() {
	certDir := flag.String("cert-dir", "", "directory with tls.crt and tls.key")
	port := flag.Int("port", 9443, "port")
	flag.Parse()
	scheme := runtime.NewScheme()
	_ = corev1.AddToScheme(scheme)
	server := webhook.NewServer(webhook.Options{Host: "127.0.0.1", Port: *port, CertDir: *certDir})
	server.Register("/mutate/pods", &webhook.Admission{Handler: &mutator{decoder: admission.NewDecoder(scheme), taintKey: "maroonedpods.io"}})
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if err := server.Start(ctx); err != nil {
		panic(err)
	}
}
