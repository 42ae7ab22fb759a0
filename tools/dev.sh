#!/usr/bin/env bash
# Set-up, build and the two jobs of the README's Quick start.
#   tools/dev.sh demo   install what is missing, build, run the bundled ResNet
#   tools/dev.sh test   install what is missing, build, run the whole suite
#                       (Release, then again under AddressSanitizer + UBSan)
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(cmake g++ make libdnnl-dev ocl-icd-opencl-dev libxsimd-dev xtl-dev libonnx-dev libprotobuf-dev protobuf-compiler
          libgtest-dev libbenchmark-dev python3-onnx python3-numpy python3-torch python3-torchvision)

install_deps() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

build() {  # build DIR [cmake args...]
  local dir=$1; shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
  cmake --build "$dir" -j"$(nproc)"
}

case "${1:-}" in
  demo)
    install_deps
    build build -DNORMRT_FULL_MODELS=ON
    m=tests/fixtures/models/resnet_basic
    ./build/normrt run $m.onnx -i $m.input.npy
    ;;
  test)
    install_deps
    build build -DNORMRT_FULL_MODELS=ON
    (cd build && ctest --output-on-failure -j"$(nproc)")
    build build-asan -DNORMRT_SANITIZE=ON -DNORMRT_BENCH=OFF -DNORMRT_FULL_MODELS=OFF
    (cd build-asan && ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1 \
       ctest --output-on-failure -j"$(nproc)")
    ;;
  *)
    echo "usage: tools/dev.sh demo|test" >&2
    exit 2
    ;;
esac
