# retarget: build, test and fixture targets. `make test` is what CI runs.
GO ?= go
FUZZTIME ?= 20s

.PHONY: build test test-big vet interop fuzz-short fixtures clean bench

build:
	$(GO) build -o bin/retarget ./cmd/retarget

test:
	$(GO) test ./...

vet:
	$(GO) vet ./...

# The checks on big real models, exported with torch at test time
# (torchvision's vit_b_16, 346 MB; also part of `make test` when torch is
# installed), verbose, with their measurements.
test-big:
	$(GO) test -count=1 -run 'TestViTB16' -v ./integration

# Only the checks against other tools: onnx.checker, ONNX Runtime (node +
# testdata/gen/node_modules), PyTorch fixtures made at test time, real Keras
# files converted to ONNX. Each skips when its tool is missing; .ci/run
# installs them. -count=1: the test cache does not see those tools.
interop:
	$(GO) test -count=1 -run 'Interop|Python' ./...

# A short run of every fuzz target (one target per `go test -fuzz` call).
fuzz-short:
	@set -e; for t in exporters/native:FuzzRead exporters/native:FuzzSafetensors npy:FuzzRead \
		internal/hdf5:FuzzOpen importers/keras:FuzzImportConfig importers/onnx:FuzzImport \
		importers/onnx:FuzzDecodeOwned; do \
		pkg=$${t%%:*}; fn=$${t##*:}; echo "fuzz $$fn ./$$pkg"; \
		$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 3s ./$$pkg; \
	done

# Regenerates the test fixtures with the reference implementations. The
# scripts need Debian's python3-numpy, python3-h5py, python3-torch and
# python3-onnx (and node with onnxruntime-node from testdata/gen/package.json
# for one ONNX fixture). The fixtures are committed: `make test` needs none
# of this.
fixtures:
	@set -e; for f in testdata/gen/*_fixture.py testdata/gen/*_fixtures.py; do \
		echo "python3 $$f"; python3 "$$f"; \
	done
	python3 testdata/gen/onnx_conformance_torch.py # testdata/onnx/conformance
	python3 testdata/gen/hdf5_dump_keras_real.py   # h5py's view of ../shared/fixtures/keras-real
	$(GO) run ./demo/pretrain                      # the demo's pretrained digits 0-4 model

clean:
	rm -rf bin

# Speed against ONNX Runtime and PyTorch on this machine (bench/README.md);
# BENCH_QUICK=1 for a short check. Writes bench/RESULTS.md.
bench:
	/usr/bin/python3 bench/bench.py
