package retarget

import (
	"fmt"
	"sort"
	"strings"

	"github.com/retarget-dev/retarget/ir"
)

// updaterAliases maps DL4J updater names (org.nd4j.linalg.learning.config)
// to ir's; ir's own names are accepted as they are.
var updaterAliases = map[string]ir.Updater{
	"nesterovs": ir.UpdNesterov, // DL4J Nesterovs
	"nesterov":  ir.UpdNesterov,
	"sgd":       ir.UpdSGD,
	"momentum":  ir.UpdMomentum,
	"adam":      ir.UpdAdam,
	"adamw":     ir.UpdAdamW,
	"rmsprop":   ir.UpdRMSProp,
	"adagrad":   ir.UpdAdaGrad,
	"adadelta":  ir.UpdAdaDelta,
}

// ParseUpdater reads an updater name, ir's or DL4J's (case-insensitive):
// nesterovs (= nesterov), sgd, momentum, adam, adamw, rmsprop, adagrad,
// adadelta.
func ParseUpdater(s string) (ir.Updater, error) {
	if u, ok := updaterAliases[strings.ToLower(s)]; ok {
		return u, nil
	}
	return "", fmt.Errorf("unknown updater %q (known: %s)", s, strings.Join(sortedKeys(updaterAliases), ", "))
}

// initAliases maps DL4J WeightInit names to ir's. DL4J's XAVIER is a normal
// distribution with variance 2/(fanIn+fanOut), so it maps to xavier_normal
// (which, as Keras's glorot_normal, truncates at two standard deviations);
// RELU is He's normal (variance 2/fanIn), RELU_UNIFORM He's uniform;
// LECUN_NORMAL/LECUN_UNIFORM and ZERO/ONES/IDENTITY keep their meaning.
// DL4J's UNIFORM and NORMAL (scaled by 1/sqrt(fanIn)) have no alias: ir's
// uniform and normal use a fixed scale.
var initAliases = map[string]ir.WeightInit{
	"xavier":           ir.InitXavierNormal,
	"xavier_normal":    ir.InitXavierNormal,
	"xavier_uniform":   ir.InitXavierUniform,
	"glorot_normal":    ir.InitXavierNormal,
	"glorot_uniform":   ir.InitXavierUniform,
	"relu":             ir.InitHeNormal,
	"relu_uniform":     ir.InitHeUniform,
	"he_normal":        ir.InitHeNormal,
	"he_uniform":       ir.InitHeUniform,
	"lecun_normal":     ir.InitLeCunNormal,
	"lecun_uniform":    ir.InitLeCunUniform,
	"zero":             ir.InitZeros,
	"zeros":            ir.InitZeros,
	"ones":             ir.InitOnes,
	"identity":         ir.InitIdentity,
	"normal":           ir.InitNormal,
	"uniform":          ir.InitUniform,
	"truncated_normal": ir.InitTruncatedNormal,
}

// ParseInit reads a weight-init name, ir's or DL4J's (case-insensitive;
// see initAliases): xavier = xavier_normal, relu = he_normal, ….
func ParseInit(s string) (ir.WeightInit, error) {
	if w, ok := initAliases[strings.ToLower(s)]; ok {
		return w, nil
	}
	return "", fmt.Errorf("unknown weight init %q (known: %s)", s, strings.Join(sortedKeys(initAliases), ", "))
}

// layerTypes maps a plan's lower-case layer type to an ir kind: every ir
// kind lower-cased is accepted, with underscores ignored (simple_rnn,
// rnn_output, batch_norm, max_pool2d, global_avg_pool2d, …), plus these
// aliases.
var layerTypeAliases = map[string]string{
	"conv":         "Conv2D",
	"batchnorm":    "BatchNorm",
	"lstm":         "LSTM",
	"gru":          "GRU",
	"rnn":          "SimpleRNN",
	"embedding":    "Embedding",
	"maxpool":      "MaxPool2D",
	"avgpool":      "AvgPool2D",
	"subsampling":  "MaxPool2D", // DL4J SubsamplingLayer (max by default)
	"lasttimestep": "LastTimeStep",
}

func layerKind(t string) (string, error) {
	key := strings.ToLower(strings.ReplaceAll(t, "_", ""))
	if k, ok := layerTypeAliases[key]; ok {
		return k, nil
	}
	for _, k := range ir.Kinds() {
		if strings.ToLower(k) == key {
			return k, nil
		}
	}
	var names []string
	for _, k := range ir.Kinds() {
		names = append(names, strings.ToLower(k))
	}
	sort.Strings(names)
	return "", fmt.Errorf("unknown layer type %q (known: %s)", t, strings.Join(names, ", "))
}

func sortedKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// apiToPlanKey renames the Builder methods that messages suggest to the
// plan keys doing the same, for problems reported against a plan.
var apiToPlanKey = strings.NewReplacer(
	"SetOutputs", "set_outputs",
	"SetInputs", "set_inputs",
	"FreezeThrough", "freeze_through",
	"ReplaceNOut", "replace_nout",
	"ReplaceNIn", "replace_nin",
	"RemoveOutputs", "remove_outputs",
	"AddWith", "add",
	"DefaultInit", "fine_tune.init",
	"FineTune", "fine_tune",
)

// planTerms rewrites a Builder message in plan terms.
func planTerms(msg string) string { return apiToPlanKey.Replace(msg) }
