// Command validate decodes KubeRay manifests strictly into KubeRay's own Go API types
// (ray.io/v1 RayCluster and RayService) and the core/v1 ConfigMap and Service beside
// them, the way the API server would read them but stricter: a field the types do not
// have, a value of the wrong type or a duplicated key is an error, not silently dropped.
// No Kubernetes is needed: it reads files and prints one line per document.
//
// Usage: validate FILE... (exit status 1 when any document is refused)
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// A line of three dashes alone separates the documents of one YAML stream.
var documentSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: validate FILE...")
		os.Exit(2)
	}
	failed := false
	for _, path := range os.Args[1:] {
		data, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
			failed = true
			continue
		}
		for index, document := range splitDocuments(data) {
			summary, err := validateDocument(document)
			if err != nil {
				fmt.Fprintf(os.Stderr, "%s: document %d: %v\n", path, index+1, err)
				failed = true
				continue
			}
			fmt.Printf("%s: document %d: %s\n", path, index+1, summary)
		}
	}
	if failed {
		os.Exit(1)
	}
}

// splitDocuments returns the non-empty documents of a YAML stream.
func splitDocuments(data []byte) [][]byte {
	var documents [][]byte
	for _, part := range documentSeparator.Split(string(data), -1) {
		if len(bytes.TrimSpace(stripComments([]byte(part)))) > 0 {
			documents = append(documents, []byte(part))
		}
	}
	return documents
}

// stripComments drops whole-line comments, so a document of comments only counts as empty.
func stripComments(data []byte) []byte {
	var kept [][]byte
	for _, line := range bytes.Split(data, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			kept = append(kept, line)
		}
	}
	return bytes.Join(kept, []byte("\n"))
}

// validateDocument decodes one document into the type its apiVersion and kind name.
func validateDocument(document []byte) (string, error) {
	// Strict: a key given twice in one mapping is an error (the lenient decoder keeps the last).
	body, err := yaml.YAMLToJSONStrict(document)
	if err != nil {
		return "", fmt.Errorf("not valid YAML: %w", err)
	}
	var meta metav1.TypeMeta
	if err := json.Unmarshal(body, &meta); err != nil {
		return "", fmt.Errorf("no apiVersion/kind: %w", err)
	}
	var target interface{ GetName() string }
	switch meta.GroupVersionKind().String() {
	case rayv1.GroupVersion.WithKind("RayCluster").String():
		target = &rayv1.RayCluster{}
	case rayv1.GroupVersion.WithKind("RayService").String():
		target = &rayv1.RayService{}
	case corev1.SchemeGroupVersion.WithKind("ConfigMap").String():
		target = &corev1.ConfigMap{}
	case corev1.SchemeGroupVersion.WithKind("Service").String():
		target = &corev1.Service{}
	default:
		return "", fmt.Errorf("apiVersion %q kind %q: not a kind this validator knows", meta.APIVersion, meta.Kind)
	}
	decoder := json.NewDecoder(bytes.NewReader(body))
	decoder.DisallowUnknownFields()
	if err := decoder.Decode(target); err != nil {
		return "", fmt.Errorf("%s: %w", meta.Kind, err)
	}
	if decoder.More() {
		return "", errors.New("trailing data after the document")
	}
	if target.GetName() == "" {
		return "", fmt.Errorf("%s: metadata.name is empty", meta.Kind)
	}
	return fmt.Sprintf("%s %s ok", meta.Kind, target.GetName()), nil
}
