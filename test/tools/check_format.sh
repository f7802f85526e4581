#!/usr/bin/env bash
# Fails if any C++ source differs from what clang-format (.clang-format) makes of it.
set -euo pipefail
cd "$1"
mapfile -t files < <(find base vmm vmx svm npt toolstack test bench \
    \( -name '*.cpp' -o -name '*.h' \) -not -path '*/guests/*' | sort)
clang-format --dry-run --Werror "${files[@]}"
echo "clang-format: ${#files[@]} files clean"
