#!/usr/bin/env bash
# nnzoo's CNNs against torchvision: identical logits from the same weights,
# exported from nnzoo into torchvision and from torchvision into nnzoo (see
# tests/torchvision_equal.py). Needs Debian's python3-torch and
# python3-torchvision; says SKIPPED without them.
set -u
NNZOO=${NNZOO:-./nnzoo}
PY=/usr/bin/python3
if [ ! -x "$PY" ]; then
    echo "SKIPPED: python3-torch/python3-torchvision not installed (no $PY)"
    exit 0
fi
models=("$@")
# Under AddressSanitizer (make asan) every nnzoo loop runs a few times slower:
# the equality is about numbers, which the plain build checks for every model,
# so there two small ones suffice to run the same paths.
if [ ${#models[@]} -eq 0 ] && ldd "$NNZOO" 2>/dev/null | grep -q libasan; then
    models=(resnet18 mobilenet_v3_small)
    echo "AddressSanitizer build: only ${models[*]}"
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
start=$(date +%s)
"$PY" tests/torchvision_equal.py "$NNZOO" "$T" "${models[@]}"
code=$?
echo "torchvision equality: $(($(date +%s) - start)) s"
exit $code
