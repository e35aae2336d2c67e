package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// chart writes a small chart with the given templates and values.
func chart(t *testing.T, values string, tpls map[string]string) string {
	dir := t.TempDir()
	must := func(p, s string) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	must(filepath.Join(dir, "Chart.yaml"),
		"apiVersion: v2\nname: demo\nversion: 1.2.3\nappVersion: \"9\"\n")
	must(filepath.Join(dir, "values.yaml"), values)
	for n, s := range tpls {
		must(filepath.Join(dir, "templates", n), s)
	}
	return dir
}

// run renders through the real command line (go run would recompile).
func run(t *testing.T, args ...string) (string, string, int) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), "HELMRENDER_MAIN=1")
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	return out.String(), errb.String(), code
}

func TestMain(m *testing.M) {
	if os.Getenv("HELMRENDER_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestHelpersValuesAndYaml(t *testing.T) {
	dir := chart(t, "a:\n  b: 1\n  c: [x, y]\nname: base\n", map[string]string{
		"_h.tpl": `{{- define "demo.n" -}}{{ .Chart.Name }}-{{ .Release.Name }}{{- end -}}`,
		"cm.yaml": "kind: ConfigMap\nname: {{ include \"demo.n\" . }}\n" +
			"v: {{ .Chart.AppVersion | quote }}\nmissing: {{ .Values.nope }}\n" +
			"a:\n  {{- toYaml .Values.a | nindent 2 }}\nn: {{ .Values.name | upper }}\n",
		"empty.yaml": "{{- if .Values.off }}\nkind: X\n{{- end }}\n",
	})
	over := filepath.Join(t.TempDir(), "over.yaml")
	os.WriteFile(over, []byte("a:\n  d: true\nname: over\n"), 0o644)
	out, errs, code := run(t, "-f", over, "-name", "rel", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	want := "---\n# Source: demo/templates/cm.yaml\nkind: ConfigMap\n" +
		"name: demo-rel\nv: \"9\"\nmissing: \na:\n  b: 1\n  c:\n    - x\n" +
		"    - \"y\"\n  d: true\nn: OVER\n"
	if out != want {
		t.Fatalf("got:\n%s\nwant:\n%s", out, want)
	}
}

func TestRequiredAndFail(t *testing.T) {
	dir := chart(t, "x: \"\"\n", map[string]string{
		"a.yaml": "v: {{ required \"x is required\" .Values.x }}\n",
	})
	_, errs, code := run(t, dir)
	if code != 1 || !strings.Contains(errs, "x is required") {
		t.Fatalf("exit %d: %s", code, errs)
	}
	dir = chart(t, "{}\n", map[string]string{
		"a.yaml": "{{ fail \"no way\" }}\n",
	})
	_, errs, code = run(t, dir)
	if code != 1 || !strings.Contains(errs, "no way") {
		t.Fatalf("exit %d: %s", code, errs)
	}
}

func TestParseErrorNamesTheFile(t *testing.T) {
	dir := chart(t, "{}\n", map[string]string{"bad.yaml": "{{ if }}\n"})
	_, errs, code := run(t, dir)
	if code != 1 || !strings.Contains(errs, "bad.yaml") {
		t.Fatalf("exit %d: %s", code, errs)
	}
}
