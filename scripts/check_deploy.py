#!/usr/bin/env python3
"""Checks the rendered Kubernetes overlays (deploy/kubernetes/overlays/*).

Core objects are validated by kubernetes-validate against the Kubernetes
OpenAPI schemas (strict: unknown fields are errors). The custom resources
have no schema there, so they are checked against the fields their
projects document as required:
  - KEDA ScaledObject (keda.sh/v1alpha1): spec.scaleTargetRef.name naming a
    Deployment in the same render; spec.triggers, each with type and
    metadata; for a kafka trigger bootstrapServers, consumerGroup (= the
    group in warden.toml), topic (= the calls topic) and a numeric
    lagThreshold; maxReplicaCount equal to the partitions the overlay
    declares for the calls topic; authenticationRef naming a
    TriggerAuthentication in the render.
  - KEDA TriggerAuthentication: spec.secretTargetRef items with parameter,
    name and key, parameters the Kafka scaler knows.
  - Prometheus Operator ServiceMonitor (monitoring.coreos.com/v1):
    spec.selector matching a Service in the render, spec.endpoints each
    naming a port that Service has.
Plus the links between objects: the Deployment's probes and the Service
target a container port that exists; the warden.toml in the ConfigMap
parses and serves metrics on that port; every policy and identities file
warden.toml names is a key of a ConfigMap in the render, mounted as a
directory (a subPath mount never sees an edited ConfigMap, so a policy
change would not reach the running pods).

  scripts/check_deploy.py KUBERNETES_VERSION
"""
import glob
import os
import subprocess
import sys
import tempfile
import tomllib

import yaml

K8S = sys.argv[1] if len(sys.argv) > 1 else "1.30.0"
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
CRD_KINDS = {"ScaledObject", "TriggerAuthentication", "ServiceMonitor"}
KAFKA_AUTH_PARAMS = {"sasl", "username", "password", "tls", "ca", "cert", "key",
                     "keyPassword", "oauthTokenEndpointUri", "scopes"}
errors = []


def fail(overlay, msg):
    errors.append(f"{overlay}: {msg}")


def get(obj, *path):
    for p in path:
        if not isinstance(obj, dict) or p not in obj:
            return None
        obj = obj[p]
    return obj


def check_policy_files(name, toml, dep, configmaps):
    decisions = toml.get("decisions", {})
    files = list(decisions.get("policy_files", []))
    if decisions.get("identities_file"):
        files.append(decisions["identities_file"])
    pod = dep["spec"]["template"]["spec"]
    container = pod["containers"][0]
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    by_name = {c["metadata"]["name"]: c for c in configmaps}
    for path in files:
        mount = max((m for m in container.get("volumeMounts", [])
                     if path == m["mountPath"]
                     or path.startswith(m["mountPath"].rstrip("/") + "/")),
                    key=lambda m: len(m["mountPath"]), default=None)
        if mount is None:
            fail(name, f"{path} ([decisions]) is under no volume mount")
            continue
        if mount.get("subPath"):
            fail(name, f"{path} is mounted with subPath: edits would never reach the pod")
            continue
        cm_name = get(volumes.get(mount["name"], {}), "configMap", "name")
        cm = by_name.get(cm_name)
        if cm is None:
            fail(name, f"{path}: volume {mount['name']!r} is no ConfigMap in the render")
            continue
        key = path[len(mount["mountPath"].rstrip("/")) + 1:]
        if key not in (cm.get("data") or {}):
            fail(name, f"{path}: ConfigMap {cm_name} has no key {key!r}")


def check_overlay(overlay):
    name = os.path.basename(overlay)
    rendered = subprocess.run(["kubectl", "kustomize", overlay], check=True,
                              capture_output=True, text=True).stdout
    docs = [d for d in yaml.safe_load_all(rendered) if d]
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    core = [d for d in docs if d["kind"] not in CRD_KINDS]
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        yaml.safe_dump_all(core, f)
        path = f.name
    r = subprocess.run(["kubernetes-validate", "--strict", "--quiet", "-k", K8S, path],
                       capture_output=True, text=True)
    os.unlink(path)
    if r.returncode != 0:
        fail(name, "kubernetes-validate:\n" + r.stdout + r.stderr)

    for kind in ["Deployment", "Service", "ConfigMap", "ServiceMonitor", "ScaledObject",
                 "TriggerAuthentication", "PodDisruptionBudget", "NetworkPolicy"]:
        if kind not in by_kind:
            fail(name, f"no {kind} rendered")
    if errors:
        return
    dep = by_kind["Deployment"][0]
    svc = by_kind["Service"][0]
    cms = [c for c in by_kind["ConfigMap"] if "warden.toml" in (c.get("data") or {})]
    if len(cms) != 1:
        fail(name, f"{len(cms)} ConfigMaps carry warden.toml, not one")
        return
    toml = tomllib.loads(cms[0]["data"]["warden.toml"])
    stream = toml.get("stream", {})
    container = dep["spec"]["template"]["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
    listen_port = int(stream.get("metrics_listen", "").rsplit(":", 1)[-1])
    if ports.get("metrics") != listen_port:
        fail(name, f"container port 'metrics' {ports.get('metrics')} is not "
                   f"[stream] metrics_listen's {listen_port}")
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"]:
        port = get(container, probe, "httpGet", "port")
        if port not in ports:
            fail(name, f"{probe} targets port {port!r}, not a container port")
    if get(container, "readinessProbe", "httpGet", "path") != "/readyz":
        fail(name, "readiness is not /readyz")
    if get(container, "livenessProbe", "httpGet", "path") != "/healthz":
        fail(name, "liveness is not /healthz")
    for p in svc["spec"]["ports"]:
        if p["targetPort"] not in ports:
            fail(name, f"Service targets port {p['targetPort']!r}, not a container port")
    check_policy_files(name, toml, dep, by_kind["ConfigMap"])
    pod_labels = dep["spec"]["template"]["metadata"]["labels"]
    if any(pod_labels.get(k) != v for k, v in svc["spec"]["selector"].items()):
        fail(name, "the Service's selector does not match the pods")

    # ServiceMonitor.
    for sm in by_kind["ServiceMonitor"]:
        sel = get(sm, "spec", "selector", "matchLabels")
        if not sel:
            fail(name, "ServiceMonitor: spec.selector.matchLabels is required")
            continue
        if any(svc["metadata"].get("labels", {}).get(k) != v for k, v in sel.items()):
            fail(name, "ServiceMonitor: selector matches no Service")
        eps = get(sm, "spec", "endpoints") or []
        if not eps:
            fail(name, "ServiceMonitor: spec.endpoints is empty")
        svc_ports = {p["name"] for p in svc["spec"]["ports"]}
        for ep in eps:
            if ep.get("port") not in svc_ports:
                fail(name, f"ServiceMonitor: endpoint port {ep.get('port')!r} is not a Service port")

    # KEDA.
    auths = {a["metadata"]["name"]: a for a in by_kind["TriggerAuthentication"]}
    for a in auths.values():
        refs = get(a, "spec", "secretTargetRef") or []
        if not refs:
            fail(name, "TriggerAuthentication: spec.secretTargetRef is empty")
        for r in refs:
            if not all(r.get(k) for k in ("parameter", "name", "key")):
                fail(name, f"TriggerAuthentication: {r} needs parameter, name and key")
            if r.get("parameter") not in KAFKA_AUTH_PARAMS:
                fail(name, f"TriggerAuthentication: {r.get('parameter')!r} is no Kafka scaler parameter")
    deployments = {d["metadata"]["name"] for d in by_kind["Deployment"]}
    for so in by_kind["ScaledObject"]:
        target = get(so, "spec", "scaleTargetRef", "name")
        if target not in deployments:
            fail(name, f"ScaledObject: scaleTargetRef.name {target!r} is no Deployment")
        triggers = get(so, "spec", "triggers") or []
        if not triggers:
            fail(name, "ScaledObject: spec.triggers is required")
        partitions = get(so, "metadata", "annotations", "warden.io/calls-topic-partitions")
        if partitions is None:
            fail(name, "ScaledObject: annotation warden.io/calls-topic-partitions missing")
        elif get(so, "spec", "maxReplicaCount") != int(partitions):
            fail(name, f"ScaledObject: maxReplicaCount {get(so, 'spec', 'maxReplicaCount')} "
                       f"is not the calls topic's {partitions} partitions")
        for t in triggers:
            if not t.get("type") or not isinstance(t.get("metadata"), dict):
                fail(name, "ScaledObject: each trigger needs type and metadata")
                continue
            if t["type"] != "kafka":
                continue
            md = t["metadata"]
            for k in ("bootstrapServers", "consumerGroup", "topic", "lagThreshold"):
                if not md.get(k):
                    fail(name, f"kafka trigger: {k} is required")
            if not str(md.get("lagThreshold", "")).isdigit():
                fail(name, "kafka trigger: lagThreshold must be a whole number")
            if md.get("consumerGroup") != stream.get("group_id"):
                fail(name, "kafka trigger: consumerGroup is not [stream] group_id")
            if md.get("topic") != stream.get("calls_topic"):
                fail(name, "kafka trigger: topic is not [stream] calls_topic")
            if md.get("bootstrapServers") != toml.get("kafka", {}).get("bootstrap.servers"):
                fail(name, "kafka trigger: bootstrapServers is not [kafka] bootstrap.servers")
            ref = get(t, "authenticationRef", "name")
            if ref is not None and ref not in auths:
                fail(name, f"kafka trigger: authenticationRef {ref!r} is no TriggerAuthentication")
    print(f"{name}: {len(docs)} objects, {len(core)} validated against Kubernetes {K8S}")


overlays = sorted(glob.glob(os.path.join(ROOT, "deploy/kubernetes/overlays/*")))
if not overlays:
    sys.exit("no overlays under deploy/kubernetes/overlays")
for o in overlays:
    check_overlay(o)
if errors:
    print("\n".join(errors), file=sys.stderr)
    sys.exit(1)
