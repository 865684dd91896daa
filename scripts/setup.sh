#!/usr/bin/env bash
# Installs what henn needs on Debian 12 (only the missing packages), configures and builds.
#   bash scripts/setup.sh            install + build (Release) into build/
#   bash scripts/setup.sh --demo     ... then run `henn demo`
#   bash scripts/setup.sh --test     ... then run the whole test suite with CTest
#   bash scripts/setup.sh --sanitize ... build into build-asan/ with ASan+UBSan (combine with --test)
#   bash scripts/setup.sh --debug    ... Debug build into build-debug/
#   bash scripts/setup.sh --no-install  skip apt (packages already present)
set -euo pipefail
cd "$(dirname "$0")/.."

build_type=Release
build_dir=build
run_demo=0
run_tests=0
install=1
extra_cmake=()
for arg in "$@"; do
  case "$arg" in
    --demo) run_demo=1 ;;
    --test) run_tests=1 ;;
    --debug) build_type=Debug; build_dir=build-debug ;;
    --sanitize) build_type=RelWithDebInfo; build_dir=build-asan; extra_cmake+=(-DHENN_SANITIZE=ON) ;;
    --no-install) install=0 ;;
    *) echo "setup.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

# Debian packages the build, tests and demos need. Keep this list the single source of truth.
packages=(
  build-essential cmake pkg-config git ccache clang-format
  libgmp-dev libssl-dev libzstd-dev zlib1g-dev openssl
  libcli11-dev nlohmann-json3-dev libspdlog-dev libeigen3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  libtorch-dev libonnx-dev
  python3-dev pybind11-dev python3-numpy python3-pytest python3-torch python3-onnx
  dataset-fashion-mnist gnuplot-nox
  nginx-light
)

if [ "$install" = 1 ]; then
  missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
fi

jobs=$(nproc)
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE="$build_type" "${extra_cmake[@]}"
cmake --build "$build_dir" -j "$jobs"

if [ "$run_demo" = 1 ]; then
  "./$build_dir/henn" demo
fi
if [ "$run_tests" = 1 ]; then
  # ctest runs tests side by side, each with its own OpenMP threads: idle threads sleep instead
  # of spinning, so one test's wait does not steal the other's core.
  OMP_WAIT_POLICY=passive ctest --test-dir "$build_dir" --output-on-failure -j "$jobs" --timeout 900
fi
