#!/usr/bin/env sh
# rustc wrapper for the fuzz build (scripts/fuzz.sh): Cargo runs it, as
# RUSTC_WORKSPACE_WRAPPER, for the warden crate only, so libFuzzer sees
# coverage of Warden's own code while every dependency is the ordinary
# release build already in the target directory. These are stable rustc
# options: SanitizerCoverage with inline 8-bit counters, the PC table and
# comparison tracing, which is what libFuzzer needs for guidance.
exec "$@" \
  -Cpasses=sancov-module \
  -Cllvm-args=-sanitizer-coverage-level=4 \
  -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
  -Cllvm-args=-sanitizer-coverage-pc-table \
  -Cllvm-args=-sanitizer-coverage-trace-compares
