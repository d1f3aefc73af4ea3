#!/usr/bin/env bash
# Downloads a dataset nnzoo can read, for machines with internet access.
#
#   datasets/fetch.sh fashion-mnist|mnist|cifar10|cifar100 [DEST]
#
# DEST defaults to datasets/downloads/<folder>/ (git-ignored), where
# <folder> is the folder nnzoo looks for under NNZOO_DATA: fashion-mnist,
# mnist, cifar-10-batches-bin, cifar-100-binary. Each file is checked
# against a published checksum before it is kept; a file already in DEST
# with the right checksum is not downloaded again. Afterwards point nnzoo at
# the data with NNZOO_DATA=<parent of DEST> or data.root=<DEST>.
#
# Where the checksums come from (see datasets/README.md):
#   fashion-mnist  md5 from the zalandoresearch/fashion-mnist README, the same
#                  in torchvision's FashionMNIST.
#   mnist          sha256; three of the four equal the sums of copies verified
#                  against the official md5s; train-images is the value
#                  published identically by many independent loaders.
#   cifar10,       md5 printed on the Toronto CIFAR page for the binary
#   cifar100       versions (the archives unpack into DEST).
set -euo pipefail

usage() {
    echo "usage: datasets/fetch.sh fashion-mnist|mnist|cifar10|cifar100 [DEST]" >&2
    exit 2
}

die() {
    echo "fetch.sh: $*" >&2
    exit 1
}

if [ $# -lt 1 ] || [ $# -gt 2 ]; then usage; fi
name=$1
case $name in
fashion-mnist | mnist) folder=$name ;;
cifar10) folder=cifar-10-batches-bin ;;
cifar100) folder=cifar-100-binary ;;
*) usage ;;
esac
script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dest=${2:-$script_dir/downloads/$folder}

command -v curl >/dev/null 2>&1 || die "curl is not installed (apt install curl)"

# has_sum ALGO SUM FILE: true when FILE exists and its ALGO (md5|sha256) is SUM.
has_sum() {
    [ -f "$3" ] && [ "$("${1}sum" "$3" | cut -d' ' -f1)" = "$2" ]
}

# fetch FILE ALGO SUM URL...: downloads FILE into $dest from the first URL
# that serves it with the right checksum.
fetch() {
    local file=$1 algo=$2 sum=$3
    shift 3
    local out=$dest/$file
    if has_sum "$algo" "$sum" "$out"; then
        echo "$file: already present, $algo ok"
        return 0
    fi
    local url
    for url in "$@"; do
        echo "$file: downloading $url"
        # .part so that an interrupted download never looks like a good file.
        if ! curl -fL --retry 2 --connect-timeout 20 -o "$out.part" "$url"; then
            echo "$file: download from $url failed" >&2
            continue
        fi
        if has_sum "$algo" "$sum" "$out.part"; then
            mv "$out.part" "$out"
            echo "$file: $algo ok"
            return 0
        fi
        echo "$file: $algo mismatch for $url: expected $sum, got" \
            "$("${algo}sum" "$out.part" | cut -d' ' -f1)" >&2
    done
    rm -f "$out.part"
    die "could not download $file with the expected $algo from any source; check the" \
        "connection or download it by hand into $dest (see datasets/README.md)"
}

mkdir -p "$dest" || die "cannot create $dest"

case $name in
fashion-mnist)
    # GitHub first (HTTPS); the S3 website endpoint serves plain HTTP only.
    gh=https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion
    s3=http://fashion-mnist.s3-website.eu-central-1.amazonaws.com
    while read -r file sum; do
        fetch "$file" md5 "$sum" "$gh/$file" "$s3/$file"
    done <<'EOF'
train-images-idx3-ubyte.gz 8d4fb7e6c68d591d4c3dfef9ec88bf0d
train-labels-idx1-ubyte.gz 25c81989df183df01b3e8a0aad5dffbe
t10k-images-idx3-ubyte.gz bef4ecab320f06d8554ea6380940ec79
t10k-labels-idx1-ubyte.gz bb300cfdad3c16e7a12a480ee83cd310
EOF
    ;;
mnist)
    # yann.lecun.com is the original but often refuses downloads; the PyTorch
    # and Google mirrors serve the same bytes.
    while read -r file sum; do
        fetch "$file" sha256 "$sum" \
            "https://ossci-datasets.s3.amazonaws.com/mnist/$file" \
            "https://storage.googleapis.com/cvdf-datasets/mnist/$file" \
            "http://yann.lecun.com/exdb/mnist/$file"
    done <<'EOF'
train-images-idx3-ubyte.gz 440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609
train-labels-idx1-ubyte.gz 3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c
t10k-images-idx3-ubyte.gz 8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6
t10k-labels-idx1-ubyte.gz f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6
EOF
    ;;
cifar10)
    fetch cifar-10-binary.tar.gz md5 c32a1d4ab5d03f1284b67883e8d87530 \
        https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz
    # The archive holds cifar-10-batches-bin/{data_batch_1..5,test_batch}.bin
    # and batches.meta.txt; they go directly into $dest, as for MNIST.
    tar -xzf "$dest/cifar-10-binary.tar.gz" -C "$dest" --strip-components=1 \
        || die "cannot unpack $dest/cifar-10-binary.tar.gz"
    ;;
cifar100)
    fetch cifar-100-binary.tar.gz md5 03b5dce01913d631647c71ecec9e9cb8 \
        https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz
    # cifar-100-binary/{train,test}.bin and the label name lists.
    tar -xzf "$dest/cifar-100-binary.tar.gz" -C "$dest" --strip-components=1 \
        || die "cannot unpack $dest/cifar-100-binary.tar.gz"
    ;;
esac

echo "done: $dest"
echo "use it with NNZOO_DATA=$(dirname "$dest") (if the folder is named $folder)" \
    "or data.root=$dest"
