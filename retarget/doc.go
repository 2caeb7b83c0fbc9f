// Package retarget changes the topology of a trained ir.Graph without
// retraining what it keeps: the transfer-learning builder (after DL4J's
// TransferLearning.GraphBuilder and FineTuneConfiguration), the featurize
// helper (after TransferLearningHelper) and YAML plans.
//
// A Builder records edits; Build applies them to a deep copy of the source
// graph in a canonical order, so the order the edits were given in does not
// matter:
//
//  1. FineTune (the last call wins for each field it sets)
//  2. RemoveOutputs, then Remove, by target name
//  3. Add and Insert, each once every vertex it reads from exists and has
//     a known shape (so an edit reading through a hole left by Remove with
//     keepConnections waits for the Add that fills it), otherwise by name
//  4. SetInputs, then SetOutputs
//  5. ReplaceNIn, ReplaceNOut and Widen, in topological order of their
//     targets in the graph steps 2-4 produced
//  6. FreezeThrough, then Unfreeze (so Unfreeze wins where both reach)
//
// Structure is settled before any size changes, so a resize follows the
// final topology: it reaches vertices that were added, inserted, rewired
// or put in a hole, and an upstream resize runs before a downstream one.
// A ReplaceNOut or ReplaceNIn that reaches a vertex made by Add or Insert
// re-initialises it with that edit's init, as if it had been added after
// the resize (identity inits, which need the old size, take fanOutInit).
// Filling a hole with a vertex of another output size re-initialises the
// hole's consumers, as Insert and SetInputs do (listed in the notes).
//
// Random initialisation draws from a generator seeded by the builder's seed
// and the vertex and parameter name, never from a shared stream, so results
// do not depend on the order of edits either.
//
// Updater state (ir.Vertex.State, e.g. Adam moments) of parameters an edit
// does not touch is kept, so a resumed fit continues where it stopped; state
// of a re-initialised or resized parameter is dropped, and all state of a
// vertex whose effective updater kind changes is dropped.
//
// Resizing (ReplaceNOut, ReplaceNIn, Widen) follows the resized feature axis
// through shape-only vertices (Dropout, Activation, pooling, Flatten,
// Reshape and Permute where the axis survives, LastTimeStep, RepeatVector),
// through normalisation (BatchNorm, LayerNorm, PReLU parameters are resized)
// and through merges: a Concat on the axis shifts the other inputs' slices,
// an element-wise Merge resizes the vertices producing its other inputs the
// same way, so the merge stays aligned. It stops at the next vertices that
// consume the axis with weights (Dense, Output, Conv, recurrent layers),
// whose input weights are resized.
//
// Insert with the identity init gives a vertex that computes the identity
// (Dense: square identity matrix, zero bias; Conv: Dirac kernel, needs an
// output of the same size; BatchNorm: gamma 1, beta 0, mean 0, var 1-eps).
// The network's outputs are unchanged only when the inserted layer's
// activation is the identity, or relu placed after a vertex whose output is
// already non-negative (a relu, relu6 or sigmoid activation); other cases are
// allowed and listed in Builder.Notes.
//
// The helper (after TransferLearningHelper): Featurize runs the frozen part
// once and writes its outputs with the labels as shards; Trainable is the
// unfrozen part as a graph of its own; FitFeaturized trains it from the
// shards and OutputFromFeaturized runs it on featurized inputs; MergeHead
// copies the result back. A featurized folder is index.json (format
// "retarget.featurized", version 1: the boundary, the arrays with their
// per-example shapes and file suffixes, the shards with their example
// counts, and the key) and, per shard, <prefix>.<suffix>.npy files of
// float32 [count, shape...]: the trainable part's inputs ("features",
// "features.1", …) and the labels ("labels", …). The key (FeaturizeKey) is
// a SHA-256 of the frozen subgraph's configs and parameter values and of
// the data's identity; Featurize with FeaturizeOptions.DataID reuses a
// folder whose index has the same key. index.json is written last.
//
// Plans (LoadPlan, Plan.Check, Plan.Run) are the YAML form of a whole run;
// the schema is on Plan and in the README.
package retarget
