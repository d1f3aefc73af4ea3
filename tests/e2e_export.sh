#!/usr/bin/env bash
# End-to-end tests of nnzoo export, forward and summary: what they write, that
# weight-only files load wherever checkpoints do, and a clear error (exit 2,
# one line naming the file and key) for each kind of bad input. Uses LeNet-5
# (no dataset needed, except for the eval check) and, once the zoo has it,
# ResNet-18 at 224 for the multiply-add count.
set -u
NNZOO=${NNZOO:-./nnzoo}
FMNIST=/usr/share/datasets/fashion-mnist
CFG=configs/lenet5_fashion_mnist.json
# $T, ok, bad, expect_error
. "$(dirname "${BASH_SOURCE[0]}")/lib_e2e.sh"

# header FILE: the JSON header of a safetensors file.
header() { perl -e 'open F, "<", $ARGV[0] or die; read F, $n, 8; read F, $h, unpack("Q<", $n); print $h' "$1"; }

# input FILE N C H W: a safetensors file with tensor "input" (N, C, H, W) of sin(i).
make_input() {
    perl -e 'my ($n, $c, $h, $w) = @ARGV[1..4]; my $k = $n * $c * $h * $w;
             my $j = sprintf(q({"input":{"dtype":"F32","shape":[%d,%d,%d,%d],"data_offsets":[0,%d]}}), $n, $c, $h, $w, 4 * $k);
             $j .= " " x ((8 - length($j) % 8) % 8);
             open F, ">", $ARGV[0] or die; binmode F;
             print F pack("Q<", length $j), $j, pack("f<*", map { sin($_) } 1 .. $k)' "$@"
}

# add_tensor IN OUT NAME: IN with one more F32 tensor NAME of shape (1).
add_tensor() {
    perl -e 'open F, "<", $ARGV[0] or die; binmode F; local $/; my $b = <F>; my $n = unpack("Q<", $b);
             my $h = substr($b, 8, $n); my $data = substr($b, 8 + $n); $h =~ s/\s+$//; $h =~ s/\}$//;
             $h .= sprintf(q(,"%s":{"dtype":"F32","shape":[1],"data_offsets":[%d,%d]}}), $ARGV[2], length $data, 4 + length $data);
             $h .= " " x ((8 - length($h) % 8) % 8);
             open G, ">", $ARGV[1] or die; binmode G; print G pack("Q<", length $h), $h, $data, pack("f<", 1)' "$@"
}

# edit FILE PERL-SUBSTITUTIONS: rewrites the file's bytes (same lengths, so offsets hold).
edit() { perl -0777 -pi -e "$2" "$1"; }

for c in export forward summary; do
    "$NNZOO" $c --help | grep -q "usage: nnzoo $c" && ok "$c --help" || bad "$c --help"
done
"$NNZOO" --help | grep -q "export CONFIG" && ok "nnzoo --help lists export" || bad "nnzoo --help lists export"

# --- export
"$NNZOO" train $CFG -o "$T/run" --init-only >/dev/null
ck="$T/run/init.safetensors"
"$NNZOO" export $CFG --checkpoint "$ck" -o "$T/sd.safetensors" >"$T/out" && grep -q "wrote $T/sd.safetensors (lenet5: 10 tensors, 61706 parameters" "$T/out" \
    && ok "export writes the state_dict" || bad "export writes the state_dict" "$(cat "$T/out")"
h=$(header "$T/sd.safetensors")
keys=$(echo "$h" | grep -oE '"[a-z0-9_.]+":\{"dtype"' | sed 's/":{"dtype"//; s/"//' | tr '\n' ' ')
[ "$keys" = "conv1.weight conv1.bias conv2.weight conv2.bias fc1.weight fc1.bias fc2.weight fc2.bias fc3.weight fc3.bias " ] \
    && ok "export: every key, in declaration order" || bad "export: keys" "$keys"
echo "$h" | grep -q '"__metadata__":{"format":"pt","nnzoo_model":"lenet5","nnzoo_config":"{' \
    && ok "export: metadata format pt, model and config" || bad "export: metadata" "$(echo "$h" | head -c 200)"
! echo "$h" | grep -q '"optimizer\.' && ok "export: no optimizer state" || bad "export: no optimizer state"
"$NNZOO" export $CFG --init -o "$T/init.safetensors" >/dev/null
cmp -s "$T/sd.safetensors" "$T/init.safetensors" && ok "export --init == export of train --init-only" || bad "export --init == export of train --init-only"
"$NNZOO" export $CFG --checkpoint "$T/sd.safetensors" -o "$T/again.safetensors" >/dev/null
cmp -s "$T/sd.safetensors" "$T/again.safetensors" && ok "an exported file exports to the same bytes" || bad "re-export"

# BatchNorm: num_batches_tracked as torch keeps it, a 0-d I64.
if "$NNZOO" list | grep -q '^  mobilenet_v2 '; then
    "$NNZOO" export $CFG --set model.name=mobilenet_v2 --init -o "$T/mb.safetensors" >/dev/null
    header "$T/mb.safetensors" | grep -q '"features.0.1.num_batches_tracked":{"dtype":"I64","shape":\[\],' \
        && ok "export: num_batches_tracked is 0-d I64" || bad "export: num_batches_tracked is 0-d I64" "$(header "$T/mb.safetensors" | head -c 600)"
    "$NNZOO" export $CFG --set model.name=mobilenet_v2 --checkpoint "$T/mb.safetensors" -o "$T/mb2.safetensors" >/dev/null
    cmp -s "$T/mb.safetensors" "$T/mb2.safetensors" && ok "I64 counters load back (re-export is identical)" || bad "I64 counters load back"
    cp "$T/mb.safetensors" "$T/mbneg.safetensors"
    # num_batches_tracked = -1: eight 0xff bytes at its offsets.
    perl -e 'open F, "+<", $ARGV[0] or die; read F, $n, 8; $n = unpack("Q<", $n); read F, $h, $n;
             $h =~ /"features.0.1.num_batches_tracked":\{[^}]*"data_offsets":\[(\d+),/ or die;
             seek F, 8 + $n + $1, 0; print F "\xff" x 8' "$T/mbneg.safetensors"
    expect_error "negative num_batches_tracked" 2 'mbneg.safetensors: `features.0.1.num_batches_tracked` is -1, expected a count' -- \
        "$NNZOO" export $CFG --set model.name=mobilenet_v2 --checkpoint "$T/mbneg.safetensors" -o "$T/x.safetensors"
    expect_error "wrong model's checkpoint" 2 "sd.safetensors: missing key \`features.0.0.weight\` \(.* of the model's .* keys are not in the file\): is it a checkpoint of another model\?" -- \
        "$NNZOO" forward $CFG --set model.name=mobilenet_v2 --checkpoint "$T/sd.safetensors" --input "$T/x.safetensors" -o "$T/y.safetensors"
else
    echo "skip BatchNorm export checks: no mobilenet_v2 in this build"
fi

# --- export: bad input, and OUT untouched on error
cp "$T/sd.safetensors" "$T/keep.safetensors"
expect_error "export: missing checkpoint" 2 'absent.safetensors: cannot open' -- "$NNZOO" export $CFG --checkpoint "$T/absent.safetensors" -o "$T/keep.safetensors"
cmp -s "$T/sd.safetensors" "$T/keep.safetensors" && [ ! -e "$T/keep.safetensors.tmp" ] \
    && ok "a failed export leaves OUT as it was" || bad "a failed export leaves OUT as it was"
expect_error "export --format onnx" 2 'format onnx: not yet supported' -- "$NNZOO" export $CFG --init --format onnx -o "$T/m.onnx"
expect_error "export --format other" 2 'expected safetensors, found "pickle"' -- "$NNZOO" export $CFG --init --format pickle -o "$T/m.pt"
expect_error "export without -o" 2 'missing -o OUT.safetensors' -- "$NNZOO" export $CFG --init
expect_error "export without weights" 2 'missing --checkpoint FILE \(or --init\)' -- "$NNZOO" export $CFG -o "$T/m.safetensors"
expect_error "export with both" 2 'give --checkpoint FILE or --init, not both' -- "$NNZOO" export $CFG --init --checkpoint "$ck" -o "$T/m.safetensors"
expect_error "export into a missing folder" 1 'nowhere/m.safetensors: cannot create' -- "$NNZOO" export $CFG --init -o "$T/nowhere/m.safetensors"

# --- strict loading: each mismatch names the file and the key
cp "$T/sd.safetensors" "$T/renamed.safetensors"
edit "$T/renamed.safetensors" 's/"fc3\.bias"/"fc9.bias"/'
expect_error "missing key" 2 "renamed.safetensors: missing key \`fc3.bias\` \(1 of the model's 10 keys are not in the file\)" -- \
    "$NNZOO" export $CFG --checkpoint "$T/renamed.safetensors" -o "$T/x.safetensors"
cp "$T/sd.safetensors" "$T/swapped.safetensors"
edit "$T/swapped.safetensors" 's/"fc2\.bias"/"fcX.bias"/; s/"fc3\.bias"/"fc2.bias"/; s/"fcX\.bias"/"fc3.bias"/'
expect_error "shape mismatch" 2 'swapped.safetensors: tensor `fc2.bias`: shape \(10\), expected \(84\)' -- \
    "$NNZOO" export $CFG --checkpoint "$T/swapped.safetensors" -o "$T/x.safetensors"
add_tensor "$T/sd.safetensors" "$T/extra.safetensors" "fc4.weight"
expect_error "unexpected key" 2 "extra.safetensors: unexpected key \`fc4.weight\` \(1 keys in the file are not the model's\)" -- \
    "$NNZOO" export $CFG --checkpoint "$T/extra.safetensors" -o "$T/x.safetensors"

# --- forward
make_input "$T/in.safetensors" 3 1 28 28
"$NNZOO" forward $CFG --checkpoint "$T/sd.safetensors" --input "$T/in.safetensors" -o "$T/y1.safetensors" >"$T/out" \
    && grep -q "logits 3 x 10" "$T/out" && header "$T/y1.safetensors" | grep -q '"logits":{"dtype":"F32","shape":\[3,10\],"data_offsets":\[0,120\]}' \
    && ok "forward writes logits (3, 10)" || bad "forward writes logits (3, 10)" "$(cat "$T/out") $(header "$T/y1.safetensors")"
"$NNZOO" forward $CFG --checkpoint "$ck" --input "$T/in.safetensors" -o "$T/y2.safetensors" >/dev/null
cmp -s "$T/y1.safetensors" "$T/y2.safetensors" && ok "forward: exported and training checkpoints give the same logits" || bad "forward: exported == training checkpoint"
"$NNZOO" forward $CFG --checkpoint "$ck" --input "$T/in.safetensors" -o "$T/y3.safetensors" --set train.eval_batch_size=2 --threads 1 >/dev/null
cmp -s "$T/y1.safetensors" "$T/y3.safetensors" && ok "forward: same logits in chunks of 2 on 1 thread" || bad "forward: chunks of 2"
make_input "$T/rgb.safetensors" 2 3 28 28
cp "$T/y1.safetensors" "$T/ykeep.safetensors"
expect_error "forward: wrong channels" 2 'rgb.safetensors: tensor `input`: shape \(2, 3, 28, 28\), expected \(N, 1, H, W\)' -- \
    "$NNZOO" forward $CFG --checkpoint "$ck" --input "$T/rgb.safetensors" -o "$T/y1.safetensors"
cmp -s "$T/y1.safetensors" "$T/ykeep.safetensors" && ok "a failed forward leaves OUT as it was" || bad "a failed forward leaves OUT as it was"
make_input "$T/small.safetensors" 1 1 20 20
expect_error "forward: a size the model cannot take" 2 'linear' -- \
    "$NNZOO" forward $CFG --checkpoint "$ck" --input "$T/small.safetensors" -o "$T/y.safetensors"
expect_error "forward: no input tensor" 2 'sd.safetensors: no tensor `input`' -- \
    "$NNZOO" forward $CFG --checkpoint "$ck" --input "$T/sd.safetensors" -o "$T/y.safetensors"
expect_error "forward: missing checkpoint" 2 'absent.safetensors: cannot open' -- \
    "$NNZOO" forward $CFG --checkpoint "$T/absent.safetensors" --input "$T/in.safetensors" -o "$T/y.safetensors"
expect_error "forward: logits as weights" 2 "y1.safetensors: missing key \`conv1.weight\` \(10 of the model's 10 keys" -- \
    "$NNZOO" forward $CFG --checkpoint "$T/y1.safetensors" --input "$T/in.safetensors" -o "$T/y.safetensors"
expect_error "forward without --input" 2 'missing --input X.safetensors' -- "$NNZOO" forward $CFG --checkpoint "$ck" -o "$T/y.safetensors"

# --- eval takes weight-only files; forward takes training checkpoints
if [ -e "$FMNIST/train-images-idx3-ubyte.gz" ]; then
    "$NNZOO" train $CFG -o "$T/tr" --set data.train_limit=600 --set data.val_size=100 --set train.max_steps=2 --set train.epochs=1 2>/dev/null
    "$NNZOO" forward $CFG --checkpoint "$T/tr/last.safetensors" --input "$T/in.safetensors" -o "$T/y4.safetensors" >/dev/null \
        && ok "forward: a training checkpoint (optimizer state skipped)" || bad "forward: a training checkpoint"
    cp "$T/tr/last.safetensors" "$T/noformat.safetensors"
    edit "$T/noformat.safetensors" 's/"nnzoo-checkpoint-1"/"nnzoo-checkpoint-X"/'
    expect_error "optimizer state is unexpected outside an nnzoo checkpoint" 2 "noformat.safetensors: unexpected key \`optimizer\.momentum_buffer\.conv1\.weight\` \(10 keys" -- \
        "$NNZOO" forward $CFG --checkpoint "$T/noformat.safetensors" --input "$T/in.safetensors" -o "$T/y.safetensors"
    a=$("$NNZOO" eval $CFG --checkpoint "$ck" --json | sed -n 's/.*"accuracy": \([0-9.]*\).*/\1/p')
    b=$("$NNZOO" eval $CFG --checkpoint "$T/sd.safetensors" --json | sed -n 's/.*"accuracy": \([0-9.]*\).*/\1/p')
    [ -n "$a" ] && [ "$a" = "$b" ] && ok "eval: exported weights score as the checkpoint ($a)" || bad "eval of exported weights" "$a vs $b"
else
    echo "skip eval of exported weights: no $FMNIST"
fi

# --- summary
"$NNZOO" summary $CFG >"$T/sum.txt"
grep -qE '^conv1 +conv2d +\(1, 6, 28, 28\) +156 +117,600$' "$T/sum.txt" && grep -qE '^fc3 +linear +\(1, 10\) +850 +840$' "$T/sum.txt" \
    && ok "summary: layer rows" || bad "summary: layer rows" "$(head -6 "$T/sum.txt")"
grep -q '^parameters      61,706 (trainable 61,706)$' "$T/sum.txt" && grep -q '^MACs            416,520 (0.42 M) per image$' "$T/sum.txt" \
    && ok "summary: LeNet-5 totals (61,706 parameters, 416,520 MACs)" || bad "summary: totals" "$(tail -8 "$T/sum.txt")"
"$NNZOO" summary $CFG --json | grep -q '"params": 61706, "trainable_params": 61706, "buffers": 0, "macs": 416520, "model_mb": 0.2468' \
    && ok "summary --json" || bad "summary --json" "$("$NNZOO" summary $CFG --json | tail -c 200)"
expect_error "summary without CONFIG" 2 'missing CONFIG' -- "$NNZOO" summary
if [ -e configs/resnet18_imagenet.json ] && "$NNZOO" list | grep -q '^  resnet18 '; then
    j=$("$NNZOO" summary configs/resnet18_imagenet.json --json)
    macs=$(echo "$j" | sed -n 's/.*"macs": \([0-9]*\), "model_mb".*/\1/p')
    params=$(echo "$j" | sed -n 's/.*"params": \([0-9]*\), "trainable_params".*/\1/p')
    echo "     resnet18 at 224: $params parameters, $macs MACs (torchvision/fvcore: 1.82 G, torchinfo 1.81 G)"
    # conv 1,813,561,344 + fc 512,000 + batchnorm 2,483,712 (one per element)
    [ "$params" = 11689512 ] && [ "$macs" = 1816557056 ] && ok "summary: resnet18 at 224 is 1.82 GMACs, 11,689,512 parameters" \
        || bad "summary: resnet18 at 224" "params $params, MACs $macs"
else
    echo "skip summary of resnet18: not in the zoo yet"
fi

echo "e2e export: $pass passed, $fail failed"
[ $fail -eq 0 ]
