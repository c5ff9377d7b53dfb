#!/usr/bin/env bash
# The guides, walked as written (docs/quick-start.md is walked by quick_start.sh): every docs/*.md
# page and README.md, its blocks in page order, against one fresh `fairway apiserver --dev` with the scheduler
# (leader election on) and the kubectl under test on PATH as `kubectl`, in a checkout whose
# build/fairway is $1.
#   - ```yaml documents (blocks split on ---) that are whole objects (apiVersion and kind) are
#     applied with `kubectl apply -f`. It fails on an error, on any warning from the server, and
#     on a field of the page that the stored object lacks: kube-apiserver reports an unknown field
#     (an error with kubectl 1.25+, a warning before), the embedded server prunes it silently.
#   - `metadata:`/`spec:` snippets are completed into the object they belong to (a PodGroup where
#     the spec has gang fields, else a Pod) and created the same way; other fragments (a
#     Prometheus scrape config) are counted.
#   - ```sh blocks run in a shell of their own (errexit, pipefail), naming the command that fails.
#     Skipped, saying why: a block with a command other than kubectl, fairway and the shell's
#     export/sleep/until (helm, curl to a port-forward, a benchmark binary), with `kubectl
#     port-forward`, or under a heading "On a cluster": they need a real cluster or a build.
#   - inline `kubectl get|describe ...` spans of the prose, and `kubectl apply -f` of a path of
#     the repository, are run too; other spans are mentions (`kubectl describe`, `kubectl run`)
#     or change what --dev made (`kubectl create namespace fairway-system`).
#   - a block of `kubectl get` output (starting NAME) after the prose's `kubectl get` command must
#     have the columns kubectl prints.
# What the pages take to exist, the test creates first:
#   - node gpu-017 (docs/topology.md labels it), with 8 GPUs;
#   - Topology `default` of examples/queues/topology.yaml (docs/user-guide.md's PodGroup names it);
#   - placeholder NAME (docs/user-guide.md, "Why is my pod pending?") is default/walk, a pod of
#     PodGroup walk (minMember 1) that asks for more GPUs than any node has, so the commands have
#     a FailedScheduling event, a PodScheduled message and gang conditions to show.
# Paths under /tmp/ in commands become files of this test; a server a block starts gets a free
# port (--port 0 for 6443), a scheduler it starts no metrics port. After the walk every Queue the pages
# define must be Valid (a parent no page defines shows here), and every Topology a snippet names
# (when it names none: the one its page defines) must exist with the levels it asks for. Then a
# summary per page: applied, created from snippets, skipped, run. $1: the fairway binary.
set -euo pipefail

FAIRWAY="$(realpath "${1:?usage: guides_walk.sh FAIRWAY_BINARY}")"
source "$(dirname "$0")/lib/common.sh"
[[ -x $KUBECTL ]] || { echo "kubectl not found at $KUBECTL (run 'make tools' or set KUBECTL)" >&2; exit 1; }
GUIDES=(user-guide admin-guide gangs topology gpu-sharing preemption sre-guide operations)

on_fail() {
  k get queues 2>/dev/null || true
  k get pods -A -o wide 2>/dev/null || true
}

# The blocks of every page but the quick start, as a script of walk_* calls in page order.
pages=()
for page in "$REPO"/docs/*.md; do [[ $page == */quick-start.md ]] || pages+=("docs/${page##*/}"); done
pages+=(README.md)
for guide in "${GUIDES[@]}"; do
  [[ -f $REPO/docs/$guide.md ]] || fail "docs/$guide.md is gone: update this test"
done
mkdir -p "$WORK/blocks" "$WORK/tmp"
(cd "$REPO" && python3 - "$WORK/blocks" "${pages[@]}") >"$WORK/walk.sh" <<'PY'
import copy, os, re, shlex, sys, yaml
out, pages = sys.argv[1], sys.argv[2:]
RUNNABLE = {"kubectl", "fairway", "build/fairway"}
SHELL = {"export", "sleep", "done"}  # the reader's shell around them (KUBECONFIG, a wait loop)
KEYWORDS = {"until", "while", "do", "if", "then", "else", "!"}
GANG_FIELDS = {"minMember", "topologyConstraint", "subGroups"}

def commands(text):
    """The commands of a sh block: continuation lines joined, comments and blank lines left out."""
    joined = re.sub(r"\\\n", " ", text)
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            yield line

def why_skipped(text, heading):
    if "on a cluster" in heading.lower():
        return f'under the heading "{heading}"'
    for line in commands(text):
        line = re.sub(r"\d*>&\d+|\d*>>?\s*\S+", "", line)  # redirections
        for command in re.split(r"[;&|]+", line):
            words = command.split()
            while words and words[0] in KEYWORDS:
                words = words[1:]
            if words and words[0] not in RUNNABLE | SHELL:
                return f"{words[0]} needs more than the embedded API server"
            if "port-forward" in words:
                return "kubectl port-forward needs a real deployment"
    return None

def completed(fragment, name):
    """A metadata/spec fragment made an object: a PodGroup where the spec has gang fields, else
    a Pod; the fragment's fields over the least the kind needs (minMember 1, one container)."""
    spec, meta = fragment.get("spec") or {}, fragment.get("metadata") or {}
    if GANG_FIELDS & set(spec):
        obj = {"apiVersion": "scheduling.fairway.dev/v1alpha1", "kind": "PodGroup",
               "spec": {"minMember": 1, **spec}}
    else:
        obj = {"apiVersion": "v1", "kind": "Pod",
               "spec": {"containers": [{"name": "main", "image": "busybox"}], **spec}}
    obj["metadata"] = {**copy.deepcopy(meta), "name": name, "namespace": "default"}
    return obj

def emit(call, *args):
    print(" ".join([call, *map(shlex.quote, map(str, args))]))

def yaml_block(where, base, body):
    for n, doc in enumerate(re.split(r"(?m)^---[ \t]*$", body)):
        try:
            obj = yaml.safe_load(doc)
        except yaml.YAMLError as e:
            emit("walk_broken", where, e)
            continue
        path = f"{out}/{base}-{n}.yaml"
        if isinstance(obj, dict) and "apiVersion" in obj and "kind" in obj:
            open(path, "w").write(doc)
            emit("walk_apply", where, path)
        elif isinstance(obj, dict) and set(obj) <= {"metadata", "spec"}:
            yaml.safe_dump(completed(obj, f"fragment-{base}-{n}"), open(path, "w"))
            emit("walk_fragment", where, path)
        elif obj is not None:
            emit("walk_fragment", where, "")

def inline_commands(page, text):
    """`kubectl ...` spans of the prose that read (get, describe) or apply a file of the repo."""
    # The blocks blanked out, keeping the lines where they are.
    prose = re.sub(r"(?ms)^```.*?^```[^\n]*$", lambda b: "\n" * b.group(0).count("\n"), text)
    for span in re.finditer(r"`(kubectl\s[^`]*)`", prose):
        command = " ".join(span.group(1).split())
        words = [w for w in re.sub(r"-n \S+ ", "", command).split()]
        runs = (len(words) > 2 and words[1] in ("get", "describe")) or (
            len(words) == 4 and words[1:3] == ["apply", "-f"] and os.path.exists(words[3]))
        line = prose[:span.start()].count("\n") + 1
        emit("walk_inline" if runs else "walk_mention", f"{page}:{line}", command)

for page in pages:
    emit("walk_page", page)
    text = open(page).read()
    lines = text.split("\n")
    heading, last_get, i = "", None, 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        if not line.startswith("```"):
            for span in re.finditer(r"`(kubectl get [^`]*)`", line):
                last_get = span.group(1)
            i += 1
            continue
        start, lang = i + 1, line[3:].strip()
        end = next(j for j in range(start, len(lines)) if lines[j].startswith("```"))
        body = "\n".join(lines[start:end]) + "\n"
        where, base = f"{page}:{start}", f"{os.path.basename(page)[:-3]}-{start}"
        if lang in ("yaml", "yml"):
            yaml_block(where, base, body)
        elif lang == "" and body.startswith("NAME ") and last_get:
            emit("walk_columns", where, last_get, body.split("\n")[0])
        elif lang == "sh":
            reason = why_skipped(body, heading)
            if reason:
                emit("walk_sh_skipped", where, reason)
            else:
                open(f"{out}/{base}.sh", "w").write(body)
                emit("walk_sh", where, f"{out}/{base}.sh")
        i = end + 1
    inline_commands(page, text)
PY

# Placeholders of the pages and the test's own paths.
# A server a page starts takes a free port, a scheduler it starts no metrics port (tests run at
# once must not share 6443 and 8080).
placeholders() {
  sed -e 's/\bNAME\b/walk/g' -e "s|/tmp/|$WORK/tmp/|g" -e 's/--port 6443/--port 0/' \
    -e '/fairway scheduler/{/metrics-bind-address/!s/fairway scheduler/& --metrics-bind-address=0/}'
}
for file in "$WORK"/blocks/*.sh; do placeholders <"$file" >"$file.new" && mv "$file.new" "$file"; done

# The reader's shell: kubectl (the one under test) and fairway on PATH, the --dev kubeconfig, in a
# checkout of the repository whose build/fairway is the binary under test.
mkdir -p "$WORK/bin" "$WORK/checkout/build"
for entry in "$REPO"/*; do [[ $entry == "$REPO/build" ]] || ln -s "$entry" "$WORK/checkout/"; done
ln -s "$FAIRWAY" "$WORK/checkout/build/fairway"
ln -s "$(realpath "$KUBECTL")" "$WORK/bin/kubectl"
ln -s "$FAIRWAY" "$WORK/bin/fairway"
start_apiserver --dev
export PATH="$WORK/bin:$PATH" KUBECONFIG="$WORK/kc"
# With leader election as the chart runs it: docs/sre-guide.md reads the Lease.
"$FAIRWAY" scheduler --kubeconfig "$WORK/kc" --schedule-period=20ms --metrics-bind-address=0 \
  >"$WORK/sched.log" 2>&1 &
SCHED_PID=$!
for _ in $(seq 100); do
  [[ -n $(k -n fairway-system get lease fairway-scheduler -o jsonpath='{.spec.holderIdentity}' 2>/dev/null) ]] && break
  sleep 0.1
done

echo "--- what the pages take to exist"
k create -f - >/dev/null <<'JSON'
{"apiVersion":"v1","kind":"Node","metadata":{"name":"gpu-017","labels":{"kubernetes.io/hostname":"gpu-017"}},
 "status":{"allocatable":{"cpu":"128","memory":"1Ti","nvidia.com/gpu":"8","pods":"110"},
           "capacity":{"cpu":"128","memory":"1Ti","nvidia.com/gpu":"8","pods":"110"},
           "conditions":[{"type":"Ready","status":"True"}]}}
JSON
k apply -f "$REPO/examples/queues/topology.yaml" >/dev/null
k apply -f - >/dev/null <<'YAML'
apiVersion: scheduling.fairway.dev/v1alpha1
kind: PodGroup
metadata: {name: walk, namespace: default}
spec: {minMember: 1, queue: default}
---
apiVersion: v1
kind: Pod
metadata:
  name: walk
  namespace: default
  annotations: {fairway.dev/pod-group: walk}
  labels: {fairway.dev/queue: default}
spec:
  schedulerName: fairway
  containers:
    - name: main
      image: busybox
      resources: {limits: {nvidia.com/gpu: "16"}}
YAML
for _ in $(seq 100); do
  [[ -n $(k get pod walk -o jsonpath='{.status.conditions[?(@.type=="PodScheduled")].message}') ]] && break
  sleep 0.1
done

# Per page: objects applied, fragments created and skipped, sh blocks run and skipped,
# inline commands run, samples of `kubectl get` output compared.
declare -A applied checked fragments ran skipped inline columns
page=""
walk_page() {
  page=$1
  applied[$page]=0 checked[$page]=0 fragments[$page]=0 ran[$page]=0 skipped[$page]=0 inline[$page]=0 columns[$page]=0
}
# kubectl "$@" on a manifest of the page: it must succeed without a warning from the server.
kubectl_on_manifest() {
  local where=$1 file=$2
  shift 2
  kubectl "$@" -f "$file" >"$WORK/out" 2>"$WORK/err" ||
    { cat "$WORK/out" "$WORK/err" "$file" >&2; fail "$where: kubectl $* of the page's manifest failed"; }
  if grep -qi 'warning' "$WORK/err"; then
    cat "$WORK/err" "$file" >&2
    fail "$where: the server warns about the page's manifest"
  fi
  # Every field the page writes is kept. kube-apiserver reports a field its schema does not know
  # (kubectl 1.25+: an error, fieldValidation=Strict; older clients: a warning); the embedded
  # server prunes such a field of a custom resource without a word, so the test reads the object
  # back and names what is gone. status is left out: a write to the object drops it.
  kubectl get -f "$file" -o json >"$WORK/stored.json" || fail "$where: kubectl get -f of the page's manifest"
  python3 - "$file" "$WORK/stored.json" <<'PY' || { cat "$file" >&2; fail "$where: the server dropped fields of the page's manifest: an unknown field (a typo, or a field of another kind or version)"; }
import json, sys, yaml
written, stored = yaml.safe_load(open(sys.argv[1])), json.load(open(sys.argv[2]))
gone = []
def walk(w, s, path):
    if isinstance(w, dict):
        for key, value in w.items():
            if not isinstance(s, dict) or key not in s:
                if value is not None:
                    gone.append(f"{path}.{key}".lstrip("."))
            else:
                walk(value, s[key], f"{path}.{key}")
    elif isinstance(w, list) and isinstance(s, list):
        for i, (wi, si) in enumerate(zip(w, s)):
            walk(wi, si, f"{path}[{i}]")
walk({k: v for k, v in written.items() if k != "status"}, stored, "")
for field in gone:
    print(f'unknown field "{field}": not in the object the server stored', file=sys.stderr)
sys.exit(1 if gone else 0)
PY
}
walk_apply() {
  kubectl_on_manifest "$1" "$2" apply
  echo "applied $1: $(cat "$WORK/out")"
  applied[$page]=$((applied[$page] + 1))
}
# A metadata/spec fragment completed as a Pod or PodGroup (see completed() above), created under
# a name of its own. Not a dry run: kubectl 1.20 refuses --dry-run=server where /openapi/v2 does
# not list the dryRun parameter.
walk_fragment() {
  if [[ -z $2 ]]; then
    echo "skipped fragment $1: not a Kubernetes object"
    fragments[$page]=$((fragments[$page] + 1))
    return
  fi
  kubectl_on_manifest "$1" "$2" create
  echo "fragment $1 as $(cat "$WORK/out")"
  checked[$page]=$((checked[$page] + 1))
}
walk_broken() { fail "$1: a yaml block that is not YAML: $2"; }
# Runs a file of commands in a shell of its own in the reader's checkout, naming the one that
# fails; what it started in the background (a page's own server and scheduler) stops with it.
run_commands() {
  (cd "$WORK/checkout" && bash -e -o pipefail \
    -c 'trap '\''echo "FAIL: status $?: $BASH_COMMAND" >&2'\'' ERR
        trap '\''kill $(jobs -p) 2>/dev/null || true; wait || true'\'' EXIT; source "$1"' _ "$1") \
    >"$WORK/out" 2>&1
}
walk_sh() {
  echo "--- $1"
  cat "$2"
  run_commands "$2" || { cat "$WORK/out" >&2; fail "$1: a command of the page's sh block failed"; }
  sed -n '1,20s/^/  | /p' "$WORK/out"
  ran[$page]=$((ran[$page] + 1))
}
walk_sh_skipped() {
  echo "skipped sh block $1: $2"
  skipped[$page]=$((skipped[$page] + 1))
}
walk_inline() {
  echo "--- $1: $2"
  placeholders <<<"$2" >"$WORK/inline.sh"
  run_commands "$WORK/inline.sh" || { cat "$WORK/out" >&2; fail "$1: the page's command \`$2\` failed"; }
  sed -n '1,5s/^/  | /p' "$WORK/out"
  inline[$page]=$((inline[$page] + 1))
}
# A sample of `kubectl get` output (a block of its own after the prose's command): the columns
# are the ones kubectl prints.
walk_columns() {
  local where=$1 command=$2 sample=$3 header
  header=$(cd "$WORK/checkout" && eval "$command") || fail "$where: $command"
  header=${header%%$'\n'*}
  [[ $(tr -s ' ' <<<"$header") == "$(tr -s ' ' <<<"$sample")" ]] ||
    fail "$where: the page shows \`$command\` with columns '$sample', kubectl prints '$header'"
  echo "columns of \`$command\` as $where shows them"
  columns[$page]=$((columns[$page] + 1))
}
walk_mention() { echo "not run $1: \`$2\` (inline, only get, describe and apply -f of the repository run)"; }

echo "--- the pages' blocks"
# shellcheck disable=SC1091 # generated above
source "$WORK/walk.sh"

echo "--- every Queue the pages define is Valid"
for file in "$WORK"/blocks/*.yaml; do
  for queue in $(kubectl get -f "$file" -o name | sed -n 's|^queue\.scheduling\.fairway\.dev/||p'); do
    valid=""
    for _ in $(seq 100); do
      valid=$(kubectl get queue "$queue" -o jsonpath='{.status.conditions[?(@.type=="Valid")].status}')
      [[ $valid == True ]] && break
      sleep 0.1
    done
    [[ $valid == True ]] ||
      fail "queue $queue ($(basename "$file")) is Valid='$valid': $(kubectl get queue "$queue" -o jsonpath='{.status.conditions}')"
  done
done

echo "--- every Topology the pages' gangs and pods name exists and has their levels"
kubectl get topologies -o json >"$WORK/topologies.json"
python3 - "$WORK/topologies.json" "$WORK"/blocks/*.yaml <<'PY' || fail "a page's gang or pod asks for a Topology or level that does not exist"
import json, sys, yaml
# Topology name -> its levels (node-label keys); a level may be named by its last path segment.
topologies = {t["metadata"]["name"]: [l["nodeLabel"] for l in t["spec"]["levels"]]
              for t in json.load(open(sys.argv[1]))["items"]}
objects = {path: yaml.safe_load(open(path)) for path in sys.argv[2:]}
defined = [(o["metadata"]["name"], path.rsplit("/", 1)[-1].rsplit("-", 2)[0])
           for path, o in objects.items() if o.get("kind") == "Topology"]
bad = 0
for path, obj in objects.items():
    notes = (obj.get("metadata") or {}).get("annotations") or {}
    spec = obj.get("spec") or {}
    constraints = [spec.get("topologyConstraint") or {}]
    constraints += [g.get("topologyConstraint") or {} for g in spec.get("subGroups") or []]
    name = constraints[0].get("topology") or notes.get("fairway.dev/topology")
    levels = [c[k] for c in constraints for k in ("requiredLevel", "preferredLevel") if c.get(k)]
    levels += [v for k, v in notes.items()
               if k.startswith("fairway.dev/") and k.endswith("-level")]
    if not levels and not name:
        continue
    if name is None:  # the page's own Topology: the only one on a cluster of that page
        page = path.rsplit("/", 1)[-1].rsplit("-", 2)[0]
        own = [t for t, p in defined if p == page]
        name = own[0] if len(own) == 1 else None
    if name not in topologies:
        print(f"{path}: names Topology {name!r}; there are {sorted(topologies)}", file=sys.stderr)
        bad += 1
        continue
    for level in levels:
        if not any(l == level or l.rsplit("/", 1)[-1] == level for l in topologies[name]):
            print(f"{path}: level {level!r} is not one of Topology {name}'s {topologies[name]}",
                  file=sys.stderr)
            bad += 1
sys.exit(1 if bad else 0)
PY

echo "--- summary"
total_applied=0 total_checked=0 total_run=0 total_inline=0
printf '%-27s %8s %9s %9s %7s %11s %7s %8s\n' page applied fragments skipped sh-run sh-skipped inline columns
printf '%-27s %8s %9s %9s\n' "" "" created fragments
for p in "${pages[@]}"; do
  printf '%-27s %8d %9d %9d %7d %11d %7d %8d\n' "$p" "${applied[$p]}" "${checked[$p]}" "${fragments[$p]}" \
    "${ran[$p]}" "${skipped[$p]}" "${inline[$p]}" "${columns[$p]}"
  total_applied=$((total_applied + applied[$p])) total_checked=$((total_checked + checked[$p]))
  total_run=$((total_run + ran[$p])) total_inline=$((total_inline + inline[$p]))
done
# The pages have these many at least; fewer means the extraction broke.
[[ $total_applied -ge 4 ]] || fail "only $total_applied manifests applied"
[[ $total_checked -ge 5 ]] || fail "only $total_checked fragments created"
[[ $total_run -ge 2 ]] || fail "only $total_run sh blocks run"
[[ $total_inline -ge 8 ]] || fail "only $total_inline inline commands run"
echo "guides_walk: PASS"
