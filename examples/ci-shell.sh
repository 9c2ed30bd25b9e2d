#!/usr/bin/env bash
# cxe-gate as a plain shell step for any CI: run it after the release window has filled, keep the
# reports, and pass the gate's exit code on (0 pass/warn, 1 fail, 2 usage, 3 inconclusive, 4 error).
# Provider secrets come from the CI's secret store as environment variables; never echo them.
#
#   RELEASE=v2.3.1 DEPLOYED_AT=2026-11-20T09:30:00Z examples/ci-shell.sh
set -euo pipefail

config="${CXE_CONFIG:-cxe.yml}"
reports="${CXE_REPORTS:-cxe-gate-report}"
mkdir -p "$reports"

args=(evaluate -c "$config" -o "$reports/report.html" -o "$reports/report.md"
      -o "$reports/report.json" -o "$reports/junit.xml" --fail-on "${CXE_FAIL_ON:-fail}")
if [ -n "${RELEASE:-}" ]; then args+=(--release "$RELEASE"); fi
if [ -n "${DEPLOYED_AT:-}" ]; then args+=(--deployed-at "$DEPLOYED_AT"); fi

status=0
cxe-gate "${args[@]}" || status=$?
case "$status" in
  0) echo "cxe-gate: release passed (reports in $reports/)" ;;
  1) echo "cxe-gate: release FAILED its customer-experience gate (see $reports/report.html)" >&2 ;;
  3) echo "cxe-gate: not enough evidence yet (inconclusive); run again later" >&2 ;;
  *) echo "cxe-gate: could not judge the release (exit code $status)" >&2 ;;
esac
exit "$status"
