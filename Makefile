# Foley — `make demo` and `make test` set up everything they need on a fresh machine.
PYTHON ?= python3
VENV := .venv
BPY_VENV := .venv-blender
PY := $(VENV)/bin/python
SHARED_CLIP := ../shared/media/piano-furelise/video.mp4
# a drummer: the strike source's path (pixels around the hands, Pose without Hands), benched beside the keys'
DRUM_CLIP := $(wildcard ../shared/media/snare-solo/video.mp4)
CLIP ?= $(if $(wildcard $(SHARED_CLIP)),$(SHARED_CLIP),)
INSTRUMENT ?= piano
OUT ?= out/demo

.PHONY: demo test lint bench screenshots system-deps venv clean blender-venv blender-extension blender-screenshots

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Foley needs Python 3.11 (mediapipe 0.10.21 and torch 2.13.0 wheels); set PYTHON=python3.11")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,train,eval,formats,cluster,ui]'
	# basic-pitch's wheel ships its ONNX model; --no-deps keeps TensorFlow out (onnxruntime runs it)
	$(PY) -m pip install --quiet --no-deps basic-pitch==0.4.0
	# generation's token step is compiled code (foley_engine/model/kernels.py): compiled once here, not at the first clip
	$(PY) -c 'from foley_engine.model import warm_up; warm_up()'
	touch $@

venv: $(VENV)/.installed

# Blender as a Python module (bpy, ~1 GB) in its own venv: the add-on's tests prove it runs without the engine's packages.
$(BPY_VENV)/.installed: scripts/blender-venv.sh
	BPY_PYTHON=$(PYTHON) bash scripts/blender-venv.sh $(BPY_VENV)

blender-venv: $(BPY_VENV)/.installed

blender-extension:
	$(PYTHON) scripts/blender-extension.py --out dist

blender-screenshots: venv blender-venv
	$(PY) scripts/blender-screenshots.py

system-deps:
	@bash scripts/system-deps.sh

demo: system-deps venv
	@test -n "$(CLIP)" || { echo "make demo: no clip given and ../shared is not here; run: make demo CLIP=path/to/video.mp4"; exit 2; }
	$(VENV)/bin/foley generate "$(CLIP)" --instrument $(INSTRUMENT) -o $(OUT) --force --preview
	@echo "Listen to $(OUT)/$$(basename "$(CLIP)" | sed 's/\.[^.]*$$//').foley.wav (MIDI and keypoints beside it)"

# ruff over the whole tree (resolve_script/ with its own ruff.toml, for Resolve's Python 3.8), then mypy as
# pyproject.toml's [tool.mypy] sets it: strict on foley_engine/, lighter on the adapters
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

# lint first: a type or lint error fails in seconds, before the tests' minutes
test: system-deps venv blender-venv lint
	$(PY) -m pytest -q -ra

bench: system-deps venv
	$(PY) bench/pipeline_bench.py $(if $(CLIP),--clip "$(CLIP)",)
	$(if $(DRUM_CLIP),$(PY) bench/pipeline_bench.py --clip "$(DRUM_CLIP)" --instrument drums,)
	$(PY) bench/timeline_bench.py $(if $(CLIP),--clip "$(CLIP)",)
	$(PY) bench/model_bench.py
	$(PY) bench/memory_bench.py $(if $(CLIP),--clip "$(CLIP)",)

screenshots: system-deps venv
	QT_QPA_PLATFORM=offscreen $(PY) -m ui.screenshots $(if $(CLIP),--video "$(CLIP)",)

clean:
	rm -rf $(VENV) $(BPY_VENV) out build dist *.egg-info
