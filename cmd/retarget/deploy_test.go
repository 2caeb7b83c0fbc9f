package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The Kubernetes manifest in deploy/: an Indexed Job whose completions
// match the JOB_COMPLETIONS its pods read, running an image the Dockerfile
// builds with a featurize command this CLI accepts.
func TestDeployKubernetesJob(t *testing.T) {
	b, err := os.ReadFile("../../deploy/featurize-job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var job struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Spec       struct {
			CompletionMode string `yaml:"completionMode"`
			Completions    int    `yaml:"completions"`
			Template       struct {
				Spec struct {
					RestartPolicy string `yaml:"restartPolicy"`
					Containers    []struct {
						Image   string   `yaml:"image"`
						Command []string `yaml:"command"`
						Env     []struct {
							Name, Value string
						} `yaml:"env"`
						VolumeMounts []struct {
							MountPath string `yaml:"mountPath"`
						} `yaml:"volumeMounts"`
					} `yaml:"containers"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&job); err != nil {
		t.Fatal(err)
	}
	if job.APIVersion != "batch/v1" || job.Kind != "Job" || job.Spec.CompletionMode != "Indexed" || job.Spec.Completions < 2 ||
		job.Spec.Template.Spec.RestartPolicy != "Never" || len(job.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("not an Indexed Job: %+v", job)
	}
	c := job.Spec.Template.Spec.Containers[0]
	docker, err := os.ReadFile("../../deploy/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(docker), "-t "+c.Image+" ") || !strings.Contains(string(docker), "ENTRYPOINT [\"/retarget\"]") {
		t.Fatalf("the Dockerfile does not build image %q with /retarget", c.Image)
	}
	completions := ""
	for _, e := range c.Env {
		if e.Name == "JOB_COMPLETIONS" {
			completions = e.Value
		}
	}
	if completions != fmt.Sprint(job.Spec.Completions) {
		t.Fatalf("JOB_COMPLETIONS %q, completions %d", completions, job.Spec.Completions)
	}
	if len(c.Command) < 3 || c.Command[0] != "/retarget" || c.Command[1] != "featurize" {
		t.Fatalf("command %v", c.Command)
	}
	root := newRootCmd(&bytes.Buffer{}, &bytes.Buffer{})
	fc, rest, err := root.Find(c.Command[1:])
	if err != nil || fc.Name() != "featurize" {
		t.Fatalf("%v %v", fc, err)
	}
	if err := fc.ParseFlags(rest); err != nil {
		t.Fatalf("the manifest's flags: %v", err)
	}
	for flag, want := range map[string]string{"shard": "auto"} {
		if got := fc.Flag(flag).Value.String(); got != want {
			t.Errorf("--%s %q, want %q", flag, got, want)
		}
	}
	mount := c.VolumeMounts[0].MountPath
	for _, f := range []string{"out", "data"} {
		if v := fc.Flag(f).Value.String(); !strings.Contains(v, mount) {
			t.Errorf("--%s %q is not on the shared volume %s", f, v, mount)
		}
	}
	if !strings.HasPrefix(fc.Flags().Args()[0], mount) {
		t.Errorf("the model %q is not on the shared volume", fc.Flags().Args()[0])
	}
}

// The Slurm script in deploy/, run here as the tasks of an array would run
// it (SLURM_ARRAY_TASK_ID set by a loop, numbered from 1), writes a
// complete featurized folder equal to one process's.
func TestDeploySlurmScript(t *testing.T) {
	bin := builtBinary(t)
	model, data := frozenMLP(t, 301, 16, 32)
	out := filepath.Join(t.TempDir(), "features")
	const n = 3
	for i := 1; i <= n; i++ {
		cmd := exec.Command("bash", "../../deploy/slurm-featurize.sh")
		cmd.Env = append(os.Environ(), "RETARGET="+bin, "MODEL="+model, "DATA="+data, "OUT="+out, "BATCH=16",
			fmt.Sprintf("SLURM_ARRAY_TASK_ID=%d", i), "SLURM_ARRAY_TASK_MIN=1", fmt.Sprintf("SLURM_ARRAY_TASK_COUNT=%d", n))
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("task %d: %v\n%s", i, err, b)
		}
	}
	st, _, err := run("featurize", "--status", out)
	if err != nil || !strings.Contains(st, "3 of 3 parts, 301 examples") {
		t.Fatalf("%v\n%s", err, st)
	}
	whole := filepath.Join(t.TempDir(), "whole")
	if _, stderr, err := run("featurize", model, "--data", data, "--out", whole, "--batch-size", "16"); err != nil {
		t.Fatalf("%v %s", err, stderr)
	}
	sameFeatures(t, out, whole)
}
