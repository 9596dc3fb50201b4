#!/usr/bin/env bash
# Fetches a model into this directory with curl: models/download.sh NAME
# With no NAME, lists the names. Files already present are kept. Never run by CI or the tests.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tinyllamas=https://huggingface.co/karpathy/tinyllamas/resolve/main
llama2c=https://github.com/karpathy/llama2.c/raw/master
bartowski=https://huggingface.co/bartowski

# name | file | url | extra name fetched too | description
models=(
  "stories15M|stories15M.bin|$tinyllamas/stories15M.bin|tokenizer|llama2.c story model, 15M params, fp32 (58 MiB) + tokenizer.bin"
  "stories42M|stories42M.bin|$tinyllamas/stories42M.bin|tokenizer|llama2.c story model, 42M params, fp32 (160 MiB) + tokenizer.bin"
  "stories110M|stories110M.bin|$tinyllamas/stories110M.bin|tokenizer|llama2.c story model, 110M params, fp32 (418 MiB) + tokenizer.bin"
  "stories260K|stories260K.bin|$tinyllamas/stories260K/stories260K.bin|tok512|llama2.c story model, 260K params, GQA (1 MiB) + tok512.bin"
  "tokenizer|tokenizer.bin|$llama2c/tokenizer.bin||the 32000-token Llama-2 vocab for stories15M/42M/110M (424 KiB)"
  "tok512|tok512.bin|$tinyllamas/stories260K/tok512.bin||the 512-token vocab for stories260K (6 KiB)"
  "tinyllama-q8_0|tinyllama-1.1b-chat-v1.0.Q8_0.gguf|https://huggingface.co/TheBloke/TinyLlama-1.1B-Chat-v1.0-GGUF/resolve/main/tinyllama-1.1b-chat-v1.0.Q8_0.gguf||TinyLlama 1.1B Chat v1.0, GGUF Q8_0 (1.1 GiB)"
  "tinyllama-q4_k_m|tinyllama-1.1b-chat-v1.0.Q4_K_M.gguf|https://huggingface.co/TheBloke/TinyLlama-1.1B-Chat-v1.0-GGUF/resolve/main/tinyllama-1.1b-chat-v1.0.Q4_K_M.gguf||TinyLlama 1.1B Chat v1.0, GGUF Q4_K_M (638 MiB)"
  "llama2-7b-q4_0|llama-2-7b.Q4_0.gguf|https://huggingface.co/TheBloke/Llama-2-7B-GGUF/resolve/main/llama-2-7b.Q4_0.gguf||Llama 2 7B, GGUF Q4_0 (3.6 GiB)"
  "llama2-7b-q8_0|llama-2-7b.Q8_0.gguf|https://huggingface.co/TheBloke/Llama-2-7B-GGUF/resolve/main/llama-2-7b.Q8_0.gguf||Llama 2 7B, GGUF Q8_0 (6.7 GiB)"
  "llama3.2-1b-q4_k_m|Llama-3.2-1B-Instruct-Q4_K_M.gguf|$bartowski/Llama-3.2-1B-Instruct-GGUF/resolve/main/Llama-3.2-1B-Instruct-Q4_K_M.gguf||Llama 3.2 1B Instruct, GGUF Q4_K_M (0.8 GB)"
  "llama3.2-1b-q8_0|Llama-3.2-1B-Instruct-Q8_0.gguf|$bartowski/Llama-3.2-1B-Instruct-GGUF/resolve/main/Llama-3.2-1B-Instruct-Q8_0.gguf||Llama 3.2 1B Instruct, GGUF Q8_0 (1.3 GB)"
  "llama3.2-3b-q4_k_m|Llama-3.2-3B-Instruct-Q4_K_M.gguf|$bartowski/Llama-3.2-3B-Instruct-GGUF/resolve/main/Llama-3.2-3B-Instruct-Q4_K_M.gguf||Llama 3.2 3B Instruct, GGUF Q4_K_M (2.0 GB)"
  "llama3.2-3b-q8_0|Llama-3.2-3B-Instruct-Q8_0.gguf|$bartowski/Llama-3.2-3B-Instruct-GGUF/resolve/main/Llama-3.2-3B-Instruct-Q8_0.gguf||Llama 3.2 3B Instruct, GGUF Q8_0 (3.4 GB)"
  "smollm2-1.7b-q4_k_m|SmolLM2-1.7B-Instruct-Q4_K_M.gguf|$bartowski/SmolLM2-1.7B-Instruct-GGUF/resolve/main/SmolLM2-1.7B-Instruct-Q4_K_M.gguf||SmolLM2 1.7B Instruct, GGUF Q4_K_M (1.1 GB)"
  "smollm2-360m-q8_0|SmolLM2-360M-Instruct-Q8_0.gguf|$bartowski/SmolLM2-360M-Instruct-GGUF/resolve/main/SmolLM2-360M-Instruct-Q8_0.gguf||SmolLM2 360M Instruct, GGUF Q8_0 (0.4 GB)"
)

list() {
  echo "usage: models/download.sh NAME"
  echo
  echo "names:"
  for entry in "${models[@]}"; do
    IFS='|' read -r name _ _ _ about <<<"$entry"
    printf '  %-20s %s\n' "$name" "$about"
  done
}

fetch() {
  local want=$1 entry name file url extra about
  for entry in "${models[@]}"; do
    IFS='|' read -r name file url extra about <<<"$entry"
    [ "$name" = "$want" ] || continue
    if [ -s "$here/$file" ]; then
      echo "models/$file is already here"
    else
      command -v curl >/dev/null || { echo "download.sh: curl is needed" >&2; exit 1; }
      echo "fetching models/$file from $url"
      # Into a temporary name first, so an interrupted download never looks like a model.
      curl -fL --retry 3 --progress-bar -o "$here/$file.part" "$url"
      mv "$here/$file.part" "$here/$file"
    fi
    if [ -n "$extra" ]; then fetch "$extra"; fi
    return 0
  done
  echo "download.sh: unknown model '$want'" >&2
  list >&2
  exit 2
}

if [ $# -eq 0 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
  list
  exit 0
fi
if [ $# -ne 1 ]; then
  list >&2
  exit 2
fi
fetch "$1"
