#!/usr/bin/python3
"""The distribution of a suite run (bench/suite.sh): mean, 10th percentile
and worst psnr_text of vsr and of Telea, how many fixtures fall below their
Telea, psnr_outside against the input's encode, mask recall, by timing kind.

    suite_summary.py SCORES.jsonl CASES.json"""
import json
import sys


def pct(values, p):
    v = sorted(values)
    if not v:
        return float('nan')
    k = (len(v) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def mean(values):
    return sum(values) / len(values) if values else float('nan')


def outside_gap(r):
    """vsr's psnr_outside against the input's plain re-encode (x264, the same
    settings): the damage vsr does outside the text."""
    ref = r.get('encode', r['telea'])
    return r['vsr']['psnr_outside'] - ref['psnr_outside']


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    cases = {c['name']: c for c in json.load(open(sys.argv[2]))}
    print('| fixture | kind | size | camera | style | vsr | Telea | gain | outside - re-encode '
          '| recall | area | temporal share | s |')
    print('|---|---|---|---|---|---|---|---|---|---|---|---|---|')
    for r in rows:
        c = cases.get(r['name'], {})
        st = c.get('style', {})
        style = 'box' if st.get('BorderStyle') == 3 else f"outline {st.get('Outline')}"
        v, t = r['vsr']['psnr_text'], r['telea']['psnr_text']
        rep = r.get('report', {})
        print(f"| {r['name']} | {c.get('lang')} | {c.get('size', ['?'])[0]}x{c.get('size', ['', '?'])[1]} "
              f"| {'+'.join(c.get('camera', []))} | {style} | {v:.2f} | {t:.2f} | {v - t:+.2f} "
              f"| {outside_gap(r):+.2f} | {r['mask']['recall']} "
              f"| {r['mask']['area_ratio']} | {rep.get('share_temporal', float('nan')):.2f} "
              f"| {r['seconds']:.1f} |")
    v = [r['vsr']['psnr_text'] for r in rows]
    t = [r['telea']['psnr_text'] for r in rows]
    below = [r['name'] for r in rows if r['vsr']['psnr_text'] < r['telea']['psnr_text']]
    outside = [outside_gap(r) for r in rows]
    recall = [r['mask']['recall'] or 0 for r in rows]
    print()
    print(f"fixtures {len(rows)}: psnr_text mean {mean(v):.2f} (Telea {mean(t):.2f}, "
          f"gain {mean(v) - mean(t):+.2f}), p10 {pct(v, 10):.2f} (Telea {pct(t, 10):.2f}), "
          f"worst {min(v):.2f}")
    print(f"below Telea: {len(below)} {' '.join(below)}")
    print(f"psnr_outside - re-encode: mean {mean(outside):+.2f}, worst {min(outside):+.2f}; "
          f"recall mean {mean(recall):.3f}, min {min(recall):.3f}, "
          f"below 0.95: {sum(1 for x in recall if x < 0.95)}")
    kinds = {}
    for r in rows:
        kinds.setdefault(cases.get(r['name'], {}).get('timing', '?'), []).append(r)
    print()
    print('| timing | n | vsr mean | Telea mean | below Telea | recall min |')
    print('|---|---|---|---|---|---|')
    for k, rs in sorted(kinds.items()):
        print(f"| {k} | {len(rs)} | {mean([r['vsr']['psnr_text'] for r in rs]):.2f} "
              f"| {mean([r['telea']['psnr_text'] for r in rs]):.2f} "
              f"| {sum(1 for r in rs if r['vsr']['psnr_text'] < r['telea']['psnr_text'])} "
              f"| {min(r['mask']['recall'] or 0 for r in rs):.3f} |")


main()
