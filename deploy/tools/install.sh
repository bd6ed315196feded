#!/usr/bin/env bash
# Installs the tools that check deploy/ offline, for tests/deploy:
#   - promtool (Debian package `prometheus`; its daemon is kept stopped),
#   - kubeconform and the Compose Specification's reference loader (Go modules),
#   - JSON schemas: Kubernetes (from the kubernetes-validate wheel on PyPI), the
#     Strimzi KafkaTopic CRD (io.strimzi:api tests jar on Maven Central), the
#     KEDA ScaledObject CRD (the github.com/kedacore/keda/v2 Go module) and the
#     Prometheus Operator ServiceMonitor CRD (its Go module).
# Everything but the Debian package lands in ~/.cache/ordercast/deploy-tools/
# (ORDERCAST_CACHE_DIR overrides ~/.cache/ordercast); tools.env there tells the
# tests where.  Idempotent: a step whose pinned version is already in place is
# skipped, so a second run needs no network.  Needs root (or sudo) for apt-get,
# plus go, mvn and python3 on PATH.
set -euo pipefail

KUBECONFORM_VERSION=v0.8.0
COMPOSE_GO_VERSION=v2.16.2
KUBERNETES_VALIDATE_VERSION=1.37.0
KUBERNETES_VERSIONS="1.30.0 1.35.0"   # oldest and newest cluster versions checked
STRIMZI_VERSION=0.51.0                 # last line that still serves kafka.strimzi.io/v1beta2
KEDA_VERSION=v2.21.0
PROMETHEUS_OPERATOR_VERSION=v0.85.0
PYYAML_VERSION=6.0.3

CACHE="${ORDERCAST_CACHE_DIR:-$HOME/.cache/ordercast}"
TOOLS="$CACHE/deploy-tools"
BIN="$TOOLS/bin"
STAMPS="$TOOLS/stamps"
DOWNLOADS="$TOOLS/downloads"
SCHEMAS="$TOOLS/schemas"
VENV="$TOOLS/venv"
mkdir -p "$BIN" "$STAMPS" "$DOWNLOADS" "$SCHEMAS"

log() { printf '[deploy-tools] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "$1 is not on PATH ($2)"; }
# done_already NAME VALUE: true when step NAME last completed with VALUE.
done_already() { [[ -f "$STAMPS/$1" && "$(cat "$STAMPS/$1")" == "$2" ]]; }
mark_done() { printf '%s' "$2" >"$STAMPS/$1"; }

as_root() {
    if [[ $EUID -eq 0 ]]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else die "installing Debian packages needs root or sudo"
    fi
}

install_promtool() {
    if command -v promtool >/dev/null 2>&1; then
        log "promtool: $(promtool --version 2>&1 | head -n1)"
    else
        need apt-get "Debian's package manager"
        log "installing the Debian prometheus package (for promtool)"
        # Keep the package's daemon from starting during the install.
        local policy=/usr/sbin/policy-rc.d made_policy=0
        if [[ ! -e $policy ]]; then
            as_root sh -c "printf '#!/bin/sh\nexit 101\n' >$policy && chmod 755 $policy"
            made_policy=1
        fi
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
        local rc=0
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
            --no-install-recommends prometheus || rc=$?
        if [[ $made_policy -eq 1 ]]; then as_root rm -f "$policy"; fi
        [[ $rc -eq 0 ]] || die "apt-get install prometheus failed ($rc)"
    fi
    # Only promtool is wanted: make sure the packaged server is not left running.
    if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
        as_root systemctl disable --now prometheus.service >/dev/null 2>&1 || true
    elif [[ -x /etc/init.d/prometheus ]]; then
        as_root /etc/init.d/prometheus stop >/dev/null 2>&1 || true
    fi
}

install_chromium() {
    # Headless Chromium for the template-preview browser test; a CJK font so
    # zh-CN previews render as text, not boxes.
    if command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi "wqy"; then
        log "chromium: $(chromium --version 2>/dev/null | head -n1)"
        return
    fi
    need apt-get "Debian's package manager"
    log "installing Debian chromium and a CJK font"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends chromium fonts-wqy-microhei || die "apt-get install chromium failed"
}

install_go_tools() {
    need go "the Go toolchain builds kubeconform and the compose loader"
    export GOTOOLCHAIN=local
    if ! done_already kubeconform "$KUBECONFORM_VERSION" || [[ ! -x $BIN/kubeconform ]]; then
        log "building kubeconform $KUBECONFORM_VERSION"
        GOBIN="$BIN" go install "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION"
        mark_done kubeconform "$KUBECONFORM_VERSION"
    fi
    if ! done_already compose-spec "$COMPOSE_GO_VERSION" || [[ ! -x $BIN/compose-spec ]]; then
        log "building the compose-spec loader (compose-go $COMPOSE_GO_VERSION)"
        local tmp
        tmp="$(mktemp -d)"
        GOBIN="$tmp" go install "github.com/compose-spec/compose-go/v2/cmd@$COMPOSE_GO_VERSION"
        mv -f "$tmp/cmd" "$BIN/compose-spec"
        rmdir "$tmp"
        mark_done compose-spec "$COMPOSE_GO_VERSION"
    fi
}

install_venv() {
    if ! done_already venv "$PYYAML_VERSION" || [[ ! -x $VENV/bin/python ]]; then
        need python3 "needed to convert the schemas"
        log "creating $VENV (PyYAML $PYYAML_VERSION)"
        python3 -m venv --clear "$VENV"
        "$VENV/bin/pip" install -q --disable-pip-version-check "PyYAML==$PYYAML_VERSION"
        mark_done venv "$PYYAML_VERSION"
    fi
}

install_k8s_schemas() {
    local key="$KUBERNETES_VALIDATE_VERSION $KUBERNETES_VERSIONS"
    done_already k8s-schemas "$key" && return
    local wheel="$DOWNLOADS/kubernetes_validate-$KUBERNETES_VALIDATE_VERSION-py3-none-any.whl"
    if [[ ! -f $wheel ]]; then
        log "downloading kubernetes-validate $KUBERNETES_VALIDATE_VERSION (Kubernetes JSON schemas)"
        "$VENV/bin/pip" download -q --disable-pip-version-check --no-deps --only-binary=:all: \
            -d "$DOWNLOADS" "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
    fi
    local version
    for version in $KUBERNETES_VERSIONS; do
        log "bundling Kubernetes $version schemas"
        convert k8s "$wheel" "$version" "$SCHEMAS/k8s/v$version-standalone-strict"
    done
    mark_done k8s-schemas "$key"
}

install_crd_schemas() {
    local key="strimzi $STRIMZI_VERSION keda $KEDA_VERSION operator $PROMETHEUS_OPERATOR_VERSION"
    done_already crd-schemas "$key" && return
    need mvn "Maven fetches the Strimzi CRDs from Maven Central"
    local jar="$DOWNLOADS/api-$STRIMZI_VERSION-tests.jar"
    if [[ ! -f $jar ]]; then
        log "downloading io.strimzi:api:$STRIMZI_VERSION:jar:tests (Strimzi CRDs)"
        mvn -q -B dependency:copy "-Dartifact=io.strimzi:api:$STRIMZI_VERSION:jar:tests" \
            "-DoutputDirectory=$DOWNLOADS" >"$DOWNLOADS/mvn.log" 2>&1 \
            || { cat "$DOWNLOADS/mvn.log" >&2; die "mvn could not fetch the Strimzi CRDs"; }
    fi
    log "downloading github.com/kedacore/keda/v2@$KEDA_VERSION (KEDA CRDs)"
    local keda_dir operator_dir
    keda_dir="$(module_dir "github.com/kedacore/keda/v2@$KEDA_VERSION")"
    log "downloading github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION"
    operator_dir="$(module_dir \
        "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION")"
    rm -rf "$SCHEMAS/crd"
    # This CRD serves v1beta2 and v1 (and the older versions), each converted.
    convert crd-jar "$jar" crds/v1beta2/043-Crd-kafkatopic.yaml "$SCHEMAS/crd"
    convert crd-file "$keda_dir/config/crd/bases/keda.sh_scaledobjects.yaml" "$SCHEMAS/crd"
    convert crd-file "$keda_dir/config/crd/bases/keda.sh_triggerauthentications.yaml" "$SCHEMAS/crd"
    convert crd-file \
        "$operator_dir/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml" \
        "$SCHEMAS/crd"
    mark_done crd-schemas "$key"
}

# module_dir MODULE@VERSION: download a Go module, print where its files are.
module_dir() {
    GOTOOLCHAIN=local GOFLAGS=-mod=mod go mod download -json "$1" \
        | "$VENV/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["Dir"])'
}

# convert MODE ARGS...: schema conversions, in Python for YAML and JSON handling.
convert() {
    "$VENV/bin/python" - "$@" <<'PY'
"""Turn upstream schemas into kubeconform's standalone, strict JSON schemas."""
import json, re, sys, zipfile
from pathlib import Path

import yaml

REF = re.compile(r'"\$ref": "(?:/api/_definitions\.json)?#/\$defs/([^"]+)"')


def k8s(wheel, version, out):
    # kubernetes-validate's schemas point into a shared _definitions.json; kubeconform
    # wants each kind self-contained, so copy in the definitions each kind reaches.
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    prefix = f"kubernetes_validate/kubernetes-json-schema/v{version}-local-strict/"
    with zipfile.ZipFile(wheel) as whl:
        names = [n for n in whl.namelist() if n.startswith(prefix) and n.endswith(".json")]
        if not names:
            sys.exit(f"{wheel} has no schemas for Kubernetes {version}")
        defs = json.loads(whl.read(prefix + "_definitions.json"))["$defs"]
        for name in names:
            schema = json.loads(whl.read(name))
            if "x-kubernetes-group-version-kind" not in schema:
                continue  # a sub-object, never a document's top level
            text = json.dumps(schema)
            todo, seen = set(REF.findall(text)), set()
            while todo - seen:
                ref = (todo - seen).pop()
                seen.add(ref)
                todo |= set(REF.findall(json.dumps(defs[ref])))
            bundled = json.loads(text.replace('"/api/_definitions.json#', '"#'))
            bundled.pop("$id", None)
            bundled["$defs"] = {ref: defs[ref] for ref in sorted(seen)}
            (out / Path(name).name).write_text(json.dumps(bundled))


def strict(node):
    # As kubectl validates: unknown fields are errors unless the CRD keeps them.
    if isinstance(node, dict):
        if ("properties" in node and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")):
            node["additionalProperties"] = False
        if node.get("nullable") and isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]
        for key, value in node.items():
            if key == "properties":
                for prop in value.values():
                    strict(prop)
            else:
                strict(value)
    elif isinstance(node, list):
        for item in node:
            strict(item)


def crd(text, out):
    doc = yaml.safe_load(text)
    group, kind = doc["spec"]["group"], doc["spec"]["names"]["kind"].lower()
    for version in doc["spec"]["versions"]:
        if not version.get("served", True):
            continue
        schema = version["schema"]["openAPIV3Schema"]
        strict(schema)
        target = Path(out) / group / f"{kind}_{version['name']}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(schema, indent=1))


def main(mode, *args):
    if mode == "k8s":
        k8s(*args)
    elif mode == "crd-jar":
        jar, member, out = args
        with zipfile.ZipFile(jar) as zf:
            crd(zf.read(member), out)
    elif mode == "crd-file":
        path, out = args
        crd(Path(path).read_text(), out)
    else:
        sys.exit(f"unknown mode {mode}")


main(*sys.argv[1:])
PY
}

write_env() {
    # KEY=value lines, read by tests/deploy (not meant to be sourced by a shell).
    local versions
    versions="$(echo "$KUBERNETES_VERSIONS" | tr ' ' ',')"
    cat >"$TOOLS/tools.env" <<EOF
PROMTOOL=$(command -v promtool)
PROMETHEUS=$(command -v prometheus)
KUBECONFORM=$BIN/kubeconform
COMPOSE_SPEC=$BIN/compose-spec
KUBERNETES_VERSIONS=$versions
K8S_SCHEMA_LOCATION=$SCHEMAS/k8s/{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json
CRD_SCHEMA_LOCATION=$SCHEMAS/crd/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json
EOF
    log "ready: $TOOLS/tools.env"
}

install_promtool
install_chromium
install_go_tools
install_venv
install_k8s_schemas
install_crd_schemas
write_env
