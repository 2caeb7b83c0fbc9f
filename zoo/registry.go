package zoo

import (
	"fmt"
	"sort"
	"strings"

	"github.com/retarget-dev/retarget/ir"
)

// Model is a zoo entry: a builder, its defaults and its published weights.
type Model struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// Input is the default input (H, W, C for images; T, F for text).
	Input []int `json:"input"`
	// Classes is the default class count with the top on.
	Classes int `json:"classes"`
	// Preprocess names the input preprocessing the pretrained weights
	// expect ("caffe": BGR mean subtraction, "tf": scale to [-1, 1]), or "".
	Preprocess string `json:"preprocess,omitempty"`
	// Weights lists the published pretrained files.
	Weights []Weights                        `json:"weights,omitempty"`
	Build   func(Options) (*ir.Graph, error) `json:"-"`
}

// WeightsNamed returns the model's weights of a name ("imagenet",
// "imagenet-notop").
func (m *Model) WeightsNamed(name string) (Weights, error) {
	var names []string
	for _, w := range m.Weights {
		if w.Name == name {
			return w, nil
		}
		names = append(names, w.Name)
	}
	if len(names) == 0 {
		return Weights{}, fmt.Errorf("zoo model %s has no published pretrained weights: build it and train it, or load a file you have", m.Name)
	}
	return Weights{}, fmt.Errorf("zoo model %s has no weights %q (it has: %s)", m.Name, name, strings.Join(names, ", "))
}

var models = map[string]*Model{}

func register(m *Model) { models[m.Name] = m }

// Lookup finds a model by name (case-insensitive, "-" and "_" ignored, so
// "ResNet50", "resnet-50" and "mobilenet_v2" work).
func Lookup(name string) (*Model, error) {
	key := normalise(name)
	for _, m := range models {
		if normalise(m.Name) == key {
			return m, nil
		}
	}
	return nil, fmt.Errorf("no zoo model %q (known: %s)", name, strings.Join(Names(), ", "))
}

// Names lists the model names, sorted.
func Names() []string {
	var out []string
	for n := range models {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Models lists the models, sorted by name.
func Models() []*Model {
	var out []*Model
	for _, n := range Names() {
		out = append(out, models[n])
	}
	return out
}

func normalise(s string) string {
	return strings.NewReplacer("-", "", "_", "", " ", "").Replace(strings.ToLower(s))
}

func init() {
	register(&Model{Name: "vgg16", Description: "VGG16 (Keras Applications names)", Input: []int{224, 224, 3}, Classes: 1000,
		Preprocess: "caffe", Weights: vgg16Weights, Build: VGG16})
	register(&Model{Name: "vgg19", Description: "VGG19 (Keras Applications names)", Input: []int{224, 224, 3}, Classes: 1000,
		Preprocess: "caffe", Weights: vgg19Weights, Build: VGG19})
	register(&Model{Name: "resnet50", Description: "ResNet50 v1 (Keras Applications names)", Input: []int{224, 224, 3}, Classes: 1000,
		Preprocess: "caffe", Weights: resnet50Weights, Build: ResNet50})
	register(&Model{Name: "mobilenetv2", Description: "MobileNetV2, alpha 1.0 (Keras Applications names)", Input: []int{224, 224, 3}, Classes: 1000,
		Preprocess: "tf", Weights: []Weights{MobileNetV2Weights(1.0, 224, true), MobileNetV2Weights(1.0, 224, false)}, Build: MobileNetV2})
	register(&Model{Name: "alexnet", Description: "AlexNet, single tower (no published Keras weights)", Input: []int{224, 224, 3}, Classes: 1000, Build: AlexNet})
	register(&Model{Name: "lenet", Description: "LeNet-5 (DL4J zoo layout)", Input: []int{28, 28, 1}, Classes: 10, Build: LeNet})
	register(&Model{Name: "simplecnn", Description: "small conv/BN classifier", Input: []int{48, 48, 3}, Classes: 10, Build: SimpleCNN})
	register(&Model{Name: "textgenlstm", Description: "character LSTM text generator (DL4J TextGenerationLSTM)", Input: []int{-1, 77}, Classes: 77, Build: TextGenLSTM})
}
