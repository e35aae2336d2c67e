// helmrender renders a Helm 3 chart the way `helm template` does, for the
// tests of deploy/helm when Helm itself is not installed (Debian has no
// helm package). It uses the same engine Helm uses: Go text/template with
// the sprig function library (golang-github-masterminds-sprig-dev) and
// YAML from gopkg.in/yaml.v3 (golang-gopkg-yaml.v3-dev), plus Helm's own
// functions: include, tpl, required, toYaml, fromYaml, toJson, lookup
// (always empty, as in `helm template`). Values: the chart's values.yaml,
// then each -f file merged over it (maps merged key by key, as Helm does).
// Built objects: .Values, .Release, .Chart, .Capabilities, .Template.
//
// Usage: helmrender [-f values.yaml]... [-name RELEASE] [-namespace NS] CHART
// Prints every rendered template as "---\n# Source: ...\n" documents in
// file-name order, skipping templates that render to whitespace, and
// exits 1 with Helm's message on a template error (e.g. `required`).
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	"gopkg.in/yaml.v3"
)

type fileList []string

func (f *fileList) String() string     { return strings.Join(*f, ",") }
func (f *fileList) Set(v string) error { *f = append(*f, v); return nil }

func readYAML(path string) (map[string]interface{}, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]interface{}{}
	if err := yaml.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return out, nil
}

// merge returns dst with src's keys laid over it, maps merged recursively.
func merge(dst, src map[string]interface{}) map[string]interface{} {
	for k, v := range src {
		if sm, ok := v.(map[string]interface{}); ok {
			if dm, ok := dst[k].(map[string]interface{}); ok {
				dst[k] = merge(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
	return dst
}

func toYAML(v interface{}) string {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return ""
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func fromYAML(s string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

type capabilities struct {
	KubeVersion map[string]string
	APIVersions apiVersions
}

type apiVersions []string

// Has reports whether an API group/version (or group/version/kind) is known.
func (a apiVersions) Has(v string) bool {
	for _, x := range a {
		if x == v {
			return true
		}
	}
	return false
}

func main() {
	var files fileList
	flag.Var(&files, "f", "values file merged over the chart's values.yaml")
	name := flag.String("name", "hakgal", "release name")
	ns := flag.String("namespace", "default", "release namespace")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: helmrender [-f values.yaml]... CHART")
		os.Exit(2)
	}
	if err := render(flag.Arg(0), files, *name, *ns); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}

func render(chart string, files []string, name, ns string) error {
	meta, err := readYAML(filepath.Join(chart, "Chart.yaml"))
	if err != nil {
		return err
	}
	values, err := readYAML(filepath.Join(chart, "values.yaml"))
	if err != nil {
		return err
	}
	for _, f := range files {
		over, err := readYAML(f)
		if err != nil {
			return err
		}
		values = merge(values, over)
	}
	chartObj := map[string]interface{}{}
	for k, v := range meta { // Helm exposes Chart.yaml keys capitalised
		chartObj[strings.ToUpper(k[:1])+k[1:]] = v
	}
	top := map[string]interface{}{
		"Values": values,
		"Chart":  chartObj,
		"Release": map[string]interface{}{
			"Name": name, "Namespace": ns, "Service": "Helm",
			"IsInstall": true, "IsUpgrade": false, "Revision": 1,
		},
		"Capabilities": capabilities{
			KubeVersion: map[string]string{"Version": "v1.29.0",
				"Major": "1", "Minor": "29", "GitVersion": "v1.29.0"},
			APIVersions: apiVersions{"v1", "apps/v1", "policy/v1",
				"networking.k8s.io/v1", "monitoring.coreos.com/v1",
				"networking.istio.io/v1beta1"},
		},
	}

	var paths []string
	dir := filepath.Join(chart, "templates")
	err = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() &&
			(strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".tpl")) {
			paths = append(paths, p)
		}
		return err
	})
	if err != nil {
		return err
	}
	sort.Strings(paths)
	chartName, _ := meta["name"].(string)

	root := template.New("chart")
	funcs := sprig.TxtFuncMap()
	delete(funcs, "env") // Helm removes these two
	delete(funcs, "expandenv")
	funcs["toYaml"] = toYAML
	funcs["fromYaml"] = fromYAML
	funcs["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil || v == "" {
			return nil, errors.New(msg)
		}
		return v, nil
	}
	funcs["lookup"] = func(...interface{}) map[string]interface{} {
		return map[string]interface{}{}
	}
	funcs["include"] = func(n string, data interface{}) (string, error) {
		var b bytes.Buffer
		err := root.ExecuteTemplate(&b, n, data)
		return b.String(), err
	}
	funcs["tpl"] = func(text string, data interface{}) (string, error) {
		t, err := root.Clone()
		if err == nil {
			t, err = t.New("tpl").Parse(text)
		}
		var b bytes.Buffer
		if err == nil {
			err = t.Execute(&b, data)
		}
		return b.String(), err
	}
	root.Funcs(funcs).Option("missingkey=zero")
	for _, p := range paths {
		text, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(chart, p)
		n := filepath.Join(chartName, rel)
		if _, err := root.New(n).Parse(string(text)); err != nil {
			return err
		}
	}
	var out bytes.Buffer
	for _, p := range paths {
		rel, _ := filepath.Rel(chart, p)
		if strings.HasPrefix(filepath.Base(p), "_") {
			continue
		}
		n := filepath.Join(chartName, rel)
		top["Template"] = map[string]interface{}{"Name": n,
			"BasePath": filepath.Join(chartName, "templates")}
		var b bytes.Buffer
		if err := root.ExecuteTemplate(&b, n, top); err != nil {
			return err
		}
		s := strings.ReplaceAll(b.String(), "<no value>", "")
		if strings.TrimSpace(s) == "" {
			continue
		}
		fmt.Fprintf(&out, "---\n# Source: %s\n%s\n", n,
			strings.TrimSpace(s))
	}
	_, err = os.Stdout.Write(out.Bytes())
	return err
}
