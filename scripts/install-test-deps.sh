#!/usr/bin/env bash
# Installs the Debian packages the tests use as real peers and sample data, when they are missing:
# dcmtk (dcmdump, dcmodify, dcmconv, dcmcjpeg), dicom3tools (dciodvfy), libgdcm-tools (gdcmanon),
# python3-pydicom (real DICOM test files), tesseract-ocr (independent OCR check), imagemagick and
# fonts-dejavu-core (text burned into test images), orthanc + orthanc-dicomweb (a real PACS as
# recipient), postgresql (server backend), swift-* + memcached (a real S3-compatible object store),
# iproute2 (loopback in private network namespaces), strace (the embedded database's fsyncs),
# rsyslog + rsyslog-gnutls (a real audit repository receiving syslog over TLS), chromium (the web console and
# portal tested in a real browser through playwright-core). Runs as `pretest`, so `npm test` works on a fresh machine.
set -euo pipefail
need=()
command -v dcmdump >/dev/null 2>&1 || need+=(dcmtk)
command -v dciodvfy >/dev/null 2>&1 || need+=(dicom3tools)
command -v gdcmanon >/dev/null 2>&1 || need+=(libgdcm-tools)
[ -d /usr/lib/python3/dist-packages/pydicom/data/test_files ] || need+=(python3-pydicom)
command -v tesseract >/dev/null 2>&1 || need+=(tesseract-ocr tesseract-ocr-eng)
dpkg -s imagemagick >/dev/null 2>&1 || need+=(imagemagick)
fc-list 2>/dev/null | grep -i dejavu >/dev/null || need+=(fonts-dejavu-core fontconfig) # not grep -q: SIGPIPE under pipefail
command -v Orthanc >/dev/null 2>&1 || need+=(orthanc)
[ -e /usr/share/orthanc/plugins/libOrthancDicomWeb.so ] || need+=(orthanc-dicomweb)
[ -x /usr/lib/postgresql/15/bin/initdb ] || need+=(postgresql)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v strace >/dev/null 2>&1 || need+=(strace)
command -v swift-proxy-server >/dev/null 2>&1 || need+=(swift-proxy swift-object swift-container swift-account)
command -v memcached >/dev/null 2>&1 || need+=(memcached)
command -v rsyslogd >/dev/null 2>&1 || need+=(rsyslog)
dpkg -s rsyslog-gnutls >/dev/null 2>&1 || need+=(rsyslog-gnutls)
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "installing test peers: ${need[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
# Swift reads its hash prefix from /etc/swift/swift.conf only: give the test store one (test/swift.ts).
if [ ! -f /etc/swift/swift.conf ] && command -v swift-proxy-server >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo mkdir -p /etc/swift
  printf '[swift-hash]\nswift_hash_path_suffix = custos-test\nswift_hash_path_prefix = custos-test\n\n[storage-policy:0]\nname = Policy-0\ndefault = yes\n' | $sudo tee /etc/swift/swift.conf >/dev/null
fi
