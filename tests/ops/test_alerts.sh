#!/usr/bin/env bash
# test_alerts.sh: the alert rules pass promtool's check and unit tests, and
# every metric they name (and the Grafana dashboard's) is one that a live
# `vsr serve` exposes on /metrics, with the label values they match.
. "$(dirname "$0")/lib.sh"
need promtool
rules="$repo/deploy/prometheus"
promtool check rules "$rules/vsr-rules.yml"
promtool check config "$rules/prometheus.yml"
(cd "$rules" && promtool test rules vsr-rules.test.yml)

start_serve "$work/serve.log" --data-dir "$work/data" --workers 1
curl -fsS "$SERVE_URL/health/healthz" >/dev/null
curl -fsS -o "$work/metrics.txt" "$SERVE_URL/metrics"
python3 - "$work/metrics.txt" "$rules/vsr-rules.yml" "$repo/deploy/grafana/vsr.json" <<'PY'
import json, re, sys, yaml
scrape = open(sys.argv[1]).read()
samples = []  # (name, {label: value})
for line in scrape.splitlines():
    if not line or line.startswith("#"):
        continue
    m = re.match(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? ', line)
    samples.append((m.group(1), dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))))
names = {n for n, _ in samples}
exprs = [r["expr"] for g in yaml.safe_load(open(sys.argv[2]))["groups"] for r in g["rules"]]
exprs += [t["expr"] for p in json.load(open(sys.argv[3]))["panels"] for t in p.get("targets", [])]
bad = []
for expr in exprs:
    for name, matchers in re.findall(r'\b(vsr_\w+)(?:\{([^}]*)\})?', expr):
        if name not in names:
            bad.append(f"{name} is not in /metrics")
            continue
        for label, op, value in re.findall(r'(\w+)\s*(=~|!=|=)\s*"([^"]*)"', matchers):
            have = [l for n, l in samples if n == name and label in l]
            if not have:
                bad.append(f"{name} has no label {label}")
            elif op == "=" and not any(l[label] == value for l in have):
                bad.append(f'{name}{{{label}="{value}"}} is not in /metrics')
    others = set(re.findall(r'\b([a-z_]+)\{', expr)) - {n for n in re.findall(r'\bvsr_\w+', expr)}
    if others - {"up"}:  # up is Prometheus's own, per scrape target
        bad.append(f"unknown metrics {sorted(others - {'up'})} in {expr!r}")
checked = sorted({n for e in exprs for n in re.findall(r'\bvsr_\w+', e)})
print("metrics checked against the scrape:", " ".join(checked))
if bad:
    print("\n".join(bad)); sys.exit(1)
PY
