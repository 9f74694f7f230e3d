#!/usr/bin/env bash
# Seeds for fs/'s fuzz targets that .ci/fuzz.sh runs: today the LUKS reader's (SEEDS/luks),
# cryptsetup luksFormat headers on small files (no mapping needed), with few PBKDF2 iterations so
# that they unlock with fuzz_luks's passphrase "fuzz". fs/fuzz/run.sh makes the E01, filesystem
# and container seeds.  usage: seeds.sh SEEDS
set -uo pipefail
seeds=$1
mkdir -p "$seeds/luks"
luks() {
  truncate -s 1200k "$seeds/luks/$1"
  printf fuzz | cryptsetup luksFormat --batch-mode --pbkdf-force-iterations 1000 -d - \
    "${@:2}" "$seeds/luks/$1" >/dev/null 2>&1 || true
}
luks luks1-essiv --type luks1 -c aes-cbc-essiv:sha256 -s 128 --align-payload 2048
luks luks2 --type luks2 --pbkdf pbkdf2 --luks2-metadata-size 16k --luks2-keyslots-size 256k -s 256
