#!/bin/bash
# Library folders of an unpacked MindSpore Lite package, for LD_LIBRARY_PATH (sourced by run_infer_cpp.sh).
# A package (mindspore-lite-<version>-linux-<arch>/) holds runtime/lib (libmindspore-lite.so), third-party
# libraries under runtime/third_party/<name>/ or <name>/lib (glog, dnnl, libjpeg-turbo, ... depending on the
# version and target) and, for models that are converted when they are loaded (a MINDIR written by ms.export),
# the converter plugins in tools/converter/lib; the model zoo's run_infer_cpp.sh puts the same folders on the path.

# lite_library_dirs LITE_HOME: print the folders, one a line; return 1 with a message on stderr when the package
# has no runtime/lib.
lite_library_dirs() {
  local home=$1 dir
  if [ ! -d "$home/runtime/lib" ]; then
    echo "LITE_HOME=$home is not an unpacked MindSpore Lite package: no runtime/lib there" \
         "(expected mindspore-lite-<version>-linux-<arch>/ with runtime/ and tools/)" >&2
    return 1
  fi
  echo "$home/runtime/lib"
  for dir in "$home"/runtime/third_party/*/; do  # a glob, so paths with spaces stay whole
    dir=${dir%/}
    if [ -d "$dir/lib" ]; then
      echo "$dir/lib"
    elif compgen -G "$dir/*.so*" >/dev/null; then
      echo "$dir"
    fi
  done
  [ -d "$home/tools/converter/lib" ] && echo "$home/tools/converter/lib"
  return 0
}

# prepend_library_path DIR...: DIRs first on LD_LIBRARY_PATH (exported), in the order given.
prepend_library_path() {
  local joined dir
  for dir in "$@"; do
    case "$dir" in *:*) echo "cannot put $dir on LD_LIBRARY_PATH: it contains ':'" >&2; return 1;; esac
  done
  joined=$(IFS=:; echo "$*")
  export LD_LIBRARY_PATH=$joined${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
}
