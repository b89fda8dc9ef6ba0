#!/usr/bin/env python3
"""Consistency checks for the scenario fixtures (run from anywhere):

    python3 tests/scenarios/tools/validate.py

Checks every <ID>/cluster.yaml and <ID>/expected.yaml:
  * all YAML parses; Include paths resolve; exactly one Clock per cluster;
  * every ownerReference resolves (uid + kind + name + namespace) - except on objects
    that already have a deletionTimestamp and finalizers (GC-in-progress states);
  * no object has a deletionTimestamp without finalizers (the fake server would drop it),
    except Namespaces and Pods bound to a Node that does not exist;
  * everything inside a Terminating namespace carries finalizers;
  * uids are unique; objects in namespaces without a Namespace object are listed;
  * AutoscalingListener names match the arc-domain §1.4 hash for their version;
  * expected.yaml follows the schema, exitCode matches the severities, referenced
    objects exist (or are the dangling/missing object of their finding);
  * every catalog code in REQUIRED is expected by at least one scenario.
"""
import base64, gzip, json, os, sys
import yaml

sys.dont_write_bytecode = True

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from listener_name import listener_name  # noqa: E402

REQUIRED = """ARC-NO-CONTROLLER ARC-CONTROLLER-UNHEALTHY ARC-MULTIPLE-CONTROLLERS ARC-OUT-OF-SCOPE ARC-VERSION-SKEW
ARC-CRD-SKEW ARC-STALE-CLUSTER-RBAC ARC-MANAGER-BINDING-MISMATCH ARC-MANAGER-RBAC-MISSING ARC-LISTENER-NS-FOREIGN
ARC-SECRET-DANGLING ARC-SECRET-TERMINATING ARC-AUX-REF-DANGLING ARC-CREDENTIAL-COPY-ORPHAN ARC-STUCK-ARS
ARC-STUCK-LISTENER ARC-STUCK-ERS ARC-STUCK-ER ARC-STUCK-PROTECTED ARC-NS-TERMINATING ARC-NS-MISSING
ARC-ORPHAN-LISTENER ARC-LISTENER-DUPLICATE ARC-LISTENER-DRIFT ARC-LISTENER-RBAC-ORPHAN ARC-LISTENER-RBAC-COLLISION
ARC-ORPHAN-LISTENER-CHILD ARC-ORPHAN-RUNNER-OBJECTS ARC-ORPHAN-CHART-RBAC ARC-HELM-RELEASE-ORPHAN ARC-ARS-OUTDATED
ARC-SCALESET-ID-SHARED ARC-SCALESET-LEAK-SUSPECTED ARC-SESSION-CONFLICT ARC-SCALESET-ID-DEAD LEG-NO-CONTROLLER
LEG-WEBHOOK-DANGLING LEG-STUCK-RUNNER LEG-STUCK-POD LEG-SECRET-DANGLING LEG-MULTI-CONTROLLER MIXED-MODE
ARC-NOT-CHECKED""".split()
KNOWN = set(REQUIRED) | {"ARC-DELETION-PROGRESSING", "ARC-SECRET-INVALID"}
SEVERITIES = ["info", "low", "medium", "high", "critical"]
CLUSTER_SCOPED = {"Namespace", "Node", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
                  "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"}
FAKE = "fake.kubectl-arc.dev/v1"
# codes whose FIRST object is, by definition, something that does not exist
MISSING_PRIMARY = {"ARC-NS-MISSING", "ARC-SECRET-DANGLING", "ARC-AUX-REF-DANGLING", "LEG-SECRET-DANGLING"}

errors, notes = [], []


def err(sid, msg):
    errors.append(f"{sid}: {msg}")


def load_docs(path, seen=None):
    seen = seen or set()
    path = os.path.normpath(path)
    if path in seen:
        raise ValueError(f"include cycle at {path}")
    seen.add(path)
    out = []
    with open(path) as f:
        for d in yaml.safe_load_all(f):
            if d is None:
                continue
            if d.get("apiVersion") == FAKE and d.get("kind") == "Include":
                p = os.path.join(os.path.dirname(path), d["spec"]["path"])
                if not os.path.exists(p):
                    raise ValueError(f"Include path does not exist: {d['spec']['path']}")
                out += load_docs(p, seen)
            else:
                out.append(d)
    return out


def key(o):
    m = o["metadata"]
    return (o["kind"], m.get("namespace") or "", m["name"])


def ver_tuple(v):
    try:
        return tuple(int(x) for x in v.split("."))
    except Exception:
        return None


def check_cluster(sid):
    path = os.path.join(ROOT, sid, "cluster.yaml")
    docs = load_docs(path)
    fake = [d for d in docs if d.get("apiVersion") == FAKE]
    objs = [d for d in docs if d.get("apiVersion") != FAKE]
    clocks = [d for d in fake if d["kind"] == "Clock"]
    if len(clocks) != 1:
        err(sid, f"expected exactly one Clock, found {len(clocks)}")
    for d in fake:
        if d["kind"] not in ("Clock", "PodLog", "User"):
            err(sid, f"unknown fake kind {d['kind']}")
    by_key, by_uid = {}, {}
    for o in objs:
        k = key(o)
        if k in by_key:
            err(sid, f"duplicate object {k}")
        by_key[k] = o
        ns = o["metadata"].get("namespace")
        if o["kind"] in CLUSTER_SCOPED and ns:
            err(sid, f"cluster-scoped {k} has a namespace")
        if o["kind"] not in CLUSTER_SCOPED and not ns:
            err(sid, f"namespaced {k} has no namespace")
        u = o["metadata"].get("uid")
        if u:
            if u in by_uid:
                err(sid, f"duplicate uid {u}: {k} and {key(by_uid[u])}")
            by_uid[u] = o
    namespaces = {o["metadata"]["name"]: o for o in objs if o["kind"] == "Namespace"}
    nodes = {o["metadata"]["name"] for o in objs if o["kind"] == "Node"}
    for o in objs:
        m = o["metadata"]
        k = key(o)
        dt, fins = m.get("deletionTimestamp"), m.get("finalizers") or []
        if dt and not fins and o["kind"] != "Namespace":
            if not (o["kind"] == "Pod" and o.get("spec", {}).get("nodeName") not in nodes):
                err(sid, f"{k} has deletionTimestamp but no finalizers (would be removed at load)")
        for ref in m.get("ownerReferences") or []:
            owner = by_uid.get(ref["uid"])
            if owner is None:
                if dt and fins:
                    notes.append(f"{sid}: {k} keeps a dangling ownerReference to {ref['kind']}/{ref['name']} (deleting; GC state)")
                else:
                    err(sid, f"{k} ownerReference {ref['kind']}/{ref['name']} uid {ref['uid']} does not resolve")
                continue
            if (owner["kind"], owner["metadata"]["name"], owner["metadata"].get("namespace") or "") != \
                    (ref["kind"], ref["name"], m.get("namespace") or ""):
                err(sid, f"{k} ownerReference {ref} does not match owner {key(owner)}")
            if owner.get("apiVersion") != ref.get("apiVersion"):
                err(sid, f"{k} ownerReference apiVersion {ref.get('apiVersion')} != {owner.get('apiVersion')}")
        ns = m.get("namespace")
        if ns:
            nso = namespaces.get(ns)
            if nso is None:
                notes.append(f"{sid}: {k} is stranded in non-existent namespace {ns}")
            elif nso["metadata"].get("deletionTimestamp") and not fins:
                err(sid, f"{k} lives in Terminating namespace {ns} without finalizers (namespace controller would delete it)")
    for n, nso in namespaces.items():
        if nso["metadata"].get("deletionTimestamp"):
            if nso.get("status", {}).get("phase") != "Terminating":
                err(sid, f"namespace {n} has deletionTimestamp but phase != Terminating")
    # pods must be on node-1 (when bound)
    for o in objs:
        if o["kind"] == "Pod" and o["spec"].get("nodeName") and o["spec"]["nodeName"] not in nodes:
            notes.append(f"{sid}: Pod {key(o)} is bound to missing node {o['spec']['nodeName']}")
    # listener names
    arss = {(o["metadata"]["namespace"], o["metadata"]["name"]): o for o in objs if o["kind"] == "AutoscalingRunnerSet"}
    for o in objs:
        if o["kind"] != "AutoscalingListener":
            continue
        s = o["spec"]
        ars = arss.get((s["autoscalingRunnerSetNamespace"], s["autoscalingRunnerSetName"]))
        group = (ars or {}).get("spec", {}).get("runnerGroup", "")
        v = ver_tuple(o["metadata"].get("labels", {}).get("app.kubernetes.io/version", ""))
        if v is None:
            err(sid, f"AL {key(o)} has no parseable version label")
            continue
        if v >= (0, 13, 1):
            want = listener_name(s["autoscalingRunnerSetName"], s["autoscalingRunnerSetNamespace"], group, s["githubConfigUrl"])
        else:
            want = listener_name(s["autoscalingRunnerSetName"], s["autoscalingRunnerSetNamespace"])
        if o["metadata"]["name"] != want:
            err(sid, f"AL {key(o)} name != computed {want}")
    # helm release payloads decode
    for o in objs:
        if o["kind"] == "Secret" and o.get("type") == "helm.sh/release.v1":
            try:
                rel = json.loads(gzip.decompress(base64.b64decode(base64.b64decode(o["data"]["release"]))))
                assert rel["name"] == o["metadata"]["labels"]["name"]
            except Exception as e:  # noqa: BLE001
                err(sid, f"helm release {key(o)} does not decode: {e}")
    # PodLogs name existing pods
    for d in fake:
        if d["kind"] == "PodLog":
            s = d["spec"]
            p = by_key.get(("Pod", s["namespace"], s["pod"]))
            if p is None:
                err(sid, f"PodLog for missing pod {s['namespace']}/{s['pod']}")
            elif s["container"] not in [c["name"] for c in p["spec"]["containers"]]:
                err(sid, f"PodLog container {s['container']} not in pod {s['pod']}")
    users = {d["metadata"]["name"] for d in fake if d["kind"] == "User"} | {"admin"}
    return by_key, users


def check_expected(sid, by_key, users):
    path = os.path.join(ROOT, sid, "expected.yaml")
    with open(path) as f:
        e = yaml.safe_load(f)
    allowed = {"scenario", "title", "context", "args", "exitCode", "findings", "absent", "notes", "orphans"}
    if set(e) - allowed:
        err(sid, f"unknown expected keys {set(e) - allowed}")
    if e.get("scenario") != sid:
        err(sid, "scenario id mismatch")
    if e.get("context", "admin") not in users:
        err(sid, f"context {e.get('context')} is not a fixture user")
    codes = set()
    worst = -1
    for f in e.get("findings") or []:
        c, s = f.get("code"), f.get("severity")
        if c not in KNOWN:
            err(sid, f"unknown code {c}")
        if s not in SEVERITIES:
            err(sid, f"bad severity {s}")
        worst = max(worst, SEVERITIES.index(s))
        codes.add(c)
        for i, ob in enumerate(f.get("objects") or []):
            k = (ob["kind"], ob.get("namespace") or "", ob["name"])
            if k in by_key:
                continue
            if i == 0 and c in MISSING_PRIMARY:
                continue
            err(sid, f"{c}: object {k} not in cluster")
        if c in MISSING_PRIMARY and f.get("objects"):
            ob = f["objects"][0]
            if (ob["kind"], ob.get("namespace") or "", ob["name"]) in by_key:
                err(sid, f"{c}: primary {ob} exists but should be missing")
    want_exit = 1 if worst >= SEVERITIES.index("high") else 0
    if e.get("exitCode") != want_exit:
        err(sid, f"exitCode {e.get('exitCode')} but severities imply {want_exit}")
    for a in e.get("absent") or []:
        if a not in KNOWN:
            err(sid, f"unknown absent code {a}")
        if a in codes:
            err(sid, f"code {a} both expected and absent")
    return codes


def main():
    sids = sorted(d for d in os.listdir(ROOT) if os.path.isfile(os.path.join(ROOT, d, "cluster.yaml")))
    covered = {}
    crd_dir = os.path.join(ROOT, "crds")
    for fn in sorted(os.listdir(crd_dir)):
        try:
            for d in load_docs(os.path.join(crd_dir, fn)):
                if d.get("kind") != "CustomResourceDefinition" or d["apiVersion"] != "apiextensions.k8s.io/v1":
                    errors.append(f"crds/{fn}: unexpected document {d.get('kind')}")
                v = d["spec"]["versions"]
                if [x["name"] for x in v] != ["v1alpha1"] or not v[0]["served"] or not v[0]["storage"]:
                    errors.append(f"crds/{fn}: {d['metadata']['name']} must serve+store exactly v1alpha1")
        except Exception as ex:  # noqa: BLE001
            errors.append(f"crds/{fn}: {ex!r}")
    for sid in sids:
        try:
            by_key, users = check_cluster(sid)
            for c in check_expected(sid, by_key, users):
                covered.setdefault(c, []).append(sid)
        except Exception as ex:  # noqa: BLE001
            err(sid, f"exception: {ex!r}")
    for c in REQUIRED:
        if c not in covered:
            errors.append(f"coverage: no scenario expects {c}")
    for n in notes:
        print("note:", n)
    print(f"{len(sids)} scenarios checked; {len([c for c in REQUIRED if c in covered])}/{len(REQUIRED)} required codes covered")
    if errors:
        print("\n".join("ERROR " + x for x in errors))
        sys.exit(1)
    print("OK")


if __name__ == "__main__":
    main()
