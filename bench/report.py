#!/usr/bin/env python3
"""Turns the runs of bench/run into the results: medians, ratios, a Markdown table, a JSON
file and a PNG plot of the ratios.

    report.py RUNS.jsonl ENV.json [--out DIR --date YYYY-MM-DD]

Every ratio is the median over rounds of berth's result divided by the anchor's result of the
same round (the runs of one round are adjacent in time), so slow drifts of the machine cancel.
"""

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

TARGETS = ["berth", "distribution", "nginx", "berth-tls"]
# Scenarios measured in bytes (CPU per GiB); the others in requests (CPU per request).
BULK = {"upload-mono", "upload-chunked", "upload-tls", "upload-many", "blob-get", "pull"}


def size_text(value):
    """'256M' -> '256 MiB', 4096 -> '4 KiB'."""
    text = str(value)
    units = {"k": "KiB", "m": "MiB", "g": "GiB"}
    if text[-1:].lower() in units:
        return f"{text[:-1]} {units[text[-1].lower()]}"
    n = int(text)
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    return f"{n} B"


def rows_for(env):
    s = env["sizes"]
    up, chunk, big = size_text(s["upload"]), size_text(s["chunk"]), size_text(s["big_blob"])
    small, conns = size_text(s["small_blob"]), s["rps_conns"]
    layers, layer, par = s["pull_layers"], size_text(s["pull_layer_size"]), s["pull_parallel"]
    tags, repos, page = f"{s['tags']:,}", f"{s['repositories']:,}", f"{s['page']:,}"
    many = f"{s.get('many_uploads', 16)} concurrent uploads of {size_text(s.get('many_size', '1G'))}"
    # (scenario, metric, field, label, unit, higher is better, plotted[, target shown as berth])
    return [
        ("upload-mono", "upload", "mbps", f"blob upload {up}, monolithic (POST + PUT ?digest=)",
         "MB/s", True, True),
        ("upload-chunked", "upload", "mbps", f"blob upload {up}, chunked ({chunk} PATCHes + PUT)",
         "MB/s", True, True),
        ("upload-tls", "upload", "mbps", f"blob upload {up} by libcurl, plain HTTP", "MB/s", True,
         False),
        ("upload-tls", "upload", "mbps", f"blob upload {up} by libcurl, HTTPS", "MB/s", True,
         False, "berth-tls"),
        ("upload-many", "upload", "mbps", f"{many}, monolithic, all at once", "MB/s", True,
         True),
        ("blob-get", "get-1", "mbps", f"blob GET {big}, 1 client", "MB/s", True, True),
        ("blob-get", "get-8", "mbps", f"blob GET {big}, 8 clients", "MB/s", True, True),
        ("get-redirect", "get-1", "mbps", f"blob GET {big}, 1 client, redirected to the store",
         "MB/s", True, False),
        ("get-redirect", "get-8", "mbps", f"blob GET {big}, 8 clients, redirected to the store",
         "MB/s", True, False),
        ("get-redirect", "small", "rps", f"small blob GET ({small}), {conns} conns, redirected",
         "req/s", True, False),
        ("small-get", "get", "rps", f"small blob GET ({small}), {conns} conns", "req/s", True, True),
        ("small-get", "get", "p50_ms", "  small blob GET p50", "ms", False, False),
        ("small-get", "get", "p99_ms", "  small blob GET p99", "ms", False, False),
        ("manifest", "get-tag", "rps", f"manifest GET by tag, {conns} conns", "req/s", True, True),
        ("manifest", "get-tag", "p50_ms", "  manifest GET p50", "ms", False, False),
        ("manifest", "get-tag", "p99_ms", "  manifest GET p99", "ms", False, False),
        ("manifest", "head-digest", "rps", f"manifest HEAD by digest, {conns} conns", "req/s",
         True, True),
        ("manifest", "head-digest", "p50_ms", "  manifest HEAD p50", "ms", False, False),
        ("manifest", "head-digest", "p99_ms", "  manifest HEAD p99", "ms", False, False),
        ("push", "push", "images_per_s", f"{s['pushers']} concurrent pushers of small images",
         "images/s", True, True),
        ("pull", "pull", "seconds", f"full image pull ({layers} x {layer}), {par} in parallel",
         "s", False, True),
        ("list", "tags-paged", "seconds", f"tag list of {tags} tags, paged by {page}", "s", False,
         True),
        ("list", "tags-unpaged", "seconds", f"tag list of {tags} tags, one unpaged request", "s",
         False, True),
        ("list", "catalog-paged", "seconds", f"catalog of {repos} repositories, paged by {page}",
         "s", False, True),
        ("list", "seed-tags", "tags_per_s", f"seeding: {tags} tags by manifest PUT (1 run)",
         "tags/s", True, False),
        ("list", "seed-repos", "repos_per_s",
         f"seeding: {repos} repositories by mount + PUT (1 run)", "repos/s", True, False),
    ]


SHORT = {
    ("upload-mono", "upload"): "upload, monolithic",
    ("upload-chunked", "upload"): "upload, chunked",
    ("blob-get", "get-1"): "big blob GET, 1 client",
    ("blob-get", "get-8"): "big blob GET, 8 clients",
    ("small-get", "get"): "small blob GET req/s",
    ("manifest", "get-tag"): "manifest GET by tag req/s",
    ("manifest", "head-digest"): "manifest HEAD by digest req/s",
    ("push", "push"): "concurrent pushes, images/s",
    ("pull", "pull"): "parallel full pulls",
    ("list", "tags-paged"): "tag list, paged",
    ("list", "tags-unpaged"): "tag list, unpaged",
    ("list", "catalog-paged"): "catalog, paged",
}


def fmt(v, unit=""):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    a = abs(v)
    if a >= 1000:
        text = f"{v:,.0f}"
    elif a >= 100:
        text = f"{v:.0f}"
    elif a >= 10:
        text = f"{v:.1f}"
    elif a >= 1:
        text = f"{v:.2f}"
    else:
        text = f"{v:.3g}"
    return f"{text} {unit}".strip()


def fmt_ratio(v):
    return "–" if v is None else f"{v:.2f}"


def load(path):
    runs = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                runs.append(json.loads(line))
    return runs


def values(runs, scenario, metric, target, field):
    out = {}
    for r in runs:
        if (r["scenario"], r["metric"], r["target"]) != (scenario, metric, target):
            continue
        res = r["result"]
        if res.get("ok") and isinstance(res.get(field), (int, float)):
            out[r["round"]] = float(res[field])
    return out


def paired_ratio(num, den):
    ratios = [num[k] / den[k] for k in num if k in den and den[k] > 0]
    return statistics.median(ratios) if ratios else None


def analyse(runs, env):
    rows = []
    for scenario, metric, field, label, unit, higher, plotted, *shown in rows_for(env):
        per = {t: values(runs, scenario, metric, t, field) for t in TARGETS}
        if shown:
            # A row of another berth (over HTTPS): its figures stand in berth's column.
            per = {"berth": per[shown[0]]}
        per = {t: per.get(t, {}) for t in TARGETS}
        if not any(per.values()):
            continue
        row = {
            "scenario": scenario, "metric": metric, "field": field, "label": label, "unit": unit,
            "higher_is_better": higher, "plotted": plotted,
            "median": {t: statistics.median(v.values()) for t, v in per.items() if v},
            "rounds": {t: [v[k] for k in sorted(v)] for t, v in per.items() if v},
            "ratio": {},
        }
        for anchor in ("distribution", "nginx"):
            if per["berth"] and per[anchor]:
                row["ratio"][anchor] = paired_ratio(per["berth"], per[anchor])
        rows.append(row)

    targets = []
    # The target of the tag listing: berth's paged listing no slower than distribution's unpaged.
    paged = values(runs, "list", "tags-paged", "berth", "seconds")
    unpaged = values(runs, "list", "tags-unpaged", "distribution", "seconds")
    if paged and unpaged:
        r = paired_ratio(paged, unpaged)
        targets.append({
            "name": "berth paged tag list / distribution unpaged tag list (seconds)",
            "value": r, "goal": "<= 1", "met": r is not None and r <= 1,
        })
    for scenario, metric, goal in (("upload-mono", "upload", 5), ("upload-chunked", "upload", 5),
                                   ("push", "push", 6), ("upload-many", "upload", None)):
        field = "images_per_s" if scenario == "push" else "mbps"
        mine = values(runs, scenario, metric, "berth", field)
        theirs = values(runs, scenario, metric, "distribution", field)
        r = paired_ratio(mine, theirs) if mine and theirs else None
        if r is not None and goal is not None:
            targets.append({"name": f"berth {scenario} / distribution ({field})", "value": r,
                            "goal": f">= {goal}", "met": r >= goal})
    https = values(runs, "upload-tls", "upload", "berth-tls", "mbps")
    plain = values(runs, "upload-tls", "upload", "berth", "mbps")
    if https and plain:
        r = paired_ratio(https, plain)
        targets.append({"name": "berth upload over HTTPS / over plain HTTP (MB/s, libcurl)",
                        "value": r, "goal": ">= 0.70", "met": r is not None and r >= 0.7})
    many_rss = [r["result"]["vmhwm_kib"] / 1024 for r in runs
                if r["scenario"] == "upload-many" and r["target"] == "berth"
                and r["metric"] == "_rss"]
    if many_rss:
        targets.append({"name": "berth peak RSS during the concurrent uploads (MiB)",
                        "value": many_rss[0], "goal": "< 100", "met": many_rss[0] < 100})
    sha = env.get("openssl_sha256_16k_bytes_per_s") or 0
    for scenario in ("upload-mono", "upload-chunked"):
        up = values(runs, scenario, "upload", "berth", "mbps")
        if up and sha > 0:
            share = statistics.median(up.values()) * 1e6 / sha
            targets.append({
                "name": f"berth {scenario} MB/s / openssl sha256 single-core ({sha / 1e6:.0f} MB/s)",
                "value": share, "goal": ">= 0.60", "met": share >= 0.6,
            })

    resources = []
    cores = env.get("cores") or 1
    scen_order = []
    for r in runs:
        if r["scenario"] not in scen_order:
            scen_order.append(r["scenario"])
    for scenario in scen_order:
        for t in TARGETS:
            measured = [r["result"] for r in runs
                        if r["scenario"] == scenario and r["target"] == t
                        and not r["metric"].startswith(("_", "seed"))
                        and r["result"].get("ok")]
            rss = [r["result"]["vmhwm_kib"] for r in runs
                   if r["scenario"] == scenario and r["target"] == t and r["metric"] == "_rss"]
            if not measured and not rss:
                continue
            cpu = sum(m.get("server_cpu_s", 0) for m in measured)
            lg_cpu = sum(m.get("loadgen_cpu_s", 0) for m in measured)
            wall = sum(m.get("wall_s", 0) for m in measured)
            other = sum(m.get("other_cpu_s", 0) for m in measured)
            nbytes = sum(m.get("bytes", 0) for m in measured)
            reqs = sum(m.get("requests", 0) for m in measured)
            bulk = scenario in BULK
            resources.append({
                "scenario": scenario, "target": t,
                "server_cpu_s": cpu,
                "server_cpu_s_per_gib": cpu / (nbytes / (1 << 30)) if bulk and nbytes else None,
                "server_cpu_us_per_request": cpu / reqs * 1e6 if not bulk and reqs else None,
                "peak_rss_mib": rss[0] / 1024 if rss else None,
                "loadgen_cpu_s": lg_cpu,
                "loadgen_core_share": lg_cpu / wall if wall else None,
                "loadgen_share_of_cpu": lg_cpu / (lg_cpu + cpu) if lg_cpu + cpu > 0 else None,
                "other_cpu_share": other / (wall * cores) if wall and any(
                    "other_cpu_s" in m for m in measured) else None,
            })
    return rows, targets, resources


_RUNS = []


def runs_measured(env):
    return [r for r in _RUNS
            if not r["metric"].startswith(("_", "seed")) and r["result"].get("ok")]


def markdown(rows, targets, resources, env):
    out = []
    kind = "smoke run (sizes are tiny: not a measurement)" if env.get("smoke") else "benchmark"
    out.append(f"# berth {kind}: {env['date'][:10]}\n")
    sha = env.get("openssl_sha256_16k_bytes_per_s") or 0
    out.append(
        f"berth `{env['berth_commit']}` ({env['berth_version']}) vs {env['distribution']} and "
        f"{env['nginx']}; {env['cores']} cores ({env['host_cpu']}), Linux {env['kernel']}, "
        f"storage **{env['storage']}**, {env['rounds']} interleaved round(s), median shown."
        + (f" berth configured with `{json.dumps(env['berth_config'])}`."
           if env.get("berth_config") else "")
        + (f" openssl sha256 (16 KiB blocks, one core): {sha / 1e6:.0f} MB/s." if sha else "")
        + (" The machine hands freed memory back to its host (free page reporting): a write to"
           " such memory costs more, for every server, and upload rounds vary with it (ADR 7)."
           if env.get("free_page_reporting") else "")
        + "\n")
    walls = [m["result"].get("wall_s", 0) for m in runs_measured(env)]
    others = [m["result"].get("other_cpu_s", 0) for m in runs_measured(env)]
    if sum(walls) > 0:
        noise = sum(others) / (sum(walls) * (env.get("cores") or 1))
        env["other_cpu_share"] = noise
        if noise > 0.10:
            out.append(f"**Noisy machine**: {noise * 100:.0f}% of all CPU time during the "
                       "measured runs went to other processes or interrupt work (column "
                       "\"other\" below); the ratios hold better than the absolute numbers.\n")
    out.append("Ratios are berth / anchor, the median of per-round ratios. For MB/s, req/s and "
               "images/s above 1 means berth is faster; for seconds and milliseconds below 1 "
               "means berth is faster.\n")
    out.append("| scenario | unit | berth | distribution | nginx | berth/distribution | "
               "berth/nginx |")
    out.append("|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        m = r["median"]
        better = "higher" if r["higher_is_better"] else "lower"
        out.append(
            f"| {r['label']} | {r['unit']} ({better} is better) | {fmt(m.get('berth'))} | "
            f"{fmt(m.get('distribution'))} | {fmt(m.get('nginx'))} | "
            f"{fmt_ratio(r['ratio'].get('distribution'))} | {fmt_ratio(r['ratio'].get('nginx'))} |")
    if targets:
        out.append("\n| target | value | goal | met |")
        out.append("|---|---:|---|---|")
        for t in targets:
            out.append(f"| {t['name']} | {fmt_ratio(t['value'])} | {t['goal']} | "
                       f"{'yes' if t['met'] else '**no**'} |")
    out.append("\nResources over the measured rounds (seeding excluded). Server CPU from "
               "/proc/<pid>/stat (10 ms ticks); peak RSS is VmHWM after a reset at the start of "
               "the rounds (nginx: master + workers); load generator CPU from getrusage; "
               "\"other\" is the machine's busy CPU (/proc/stat) used by neither, as a share "
               "of all cores: other processes and interrupt work, i.e. noise.\n")
    out.append("| scenario | server | server CPU s/GiB | server CPU µs/request | peak RSS MiB | "
               "loadgen CPU (% of a core) | loadgen share of all CPU used | other |")
    out.append("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in resources:
        pct = lambda v: "–" if v is None else f"{v * 100:.0f}%"
        out.append(
            f"| {r['scenario']} | {r['target']} | {fmt(r['server_cpu_s_per_gib'])} | "
            f"{fmt(r['server_cpu_us_per_request'])} | {fmt(r['peak_rss_mib'])} | "
            f"{pct(r['loadgen_core_share'])} | {pct(r['loadgen_share_of_cpu'])} | "
            f"{pct(r.get('other_cpu_share'))} |")
    return "\n".join(out) + "\n"


def plot(rows, png, title):
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        print("report: gnuplot not found, no plot", file=sys.stderr)
        return False
    data = []
    top, bottom = 1.0, 1.0
    for r in rows:
        if not r["plotted"]:
            continue
        adv = []
        for anchor in ("distribution", "nginx"):
            v = r["ratio"].get(anchor)
            if v is None or v <= 0:
                adv.append("NaN")
            else:
                adv.append(f"{(v if r['higher_is_better'] else 1 / v):.4f}")
        if all(a == "NaN" for a in adv):
            continue  # a run of berth alone (object stores): no anchor to compare with
        label = SHORT.get((r["scenario"], r["metric"]), r["label"]).replace('"', "'")
        data.append(f'"{label}"\t{adv[0]}\t{adv[1]}')
        for a in adv:
            if a != "NaN":
                top = max(top, float(a))
                bottom = min(bottom, float(a))
    if not data:
        return False
    # Powers of two around the data, at least 1/4 .. 4.
    hi = 2 ** max(2, math.ceil(math.log2(top * 1.6)))
    lo = 2 ** min(-2, math.floor(math.log2(bottom / 1.3)))
    tics = []
    e = int(math.log2(lo))
    while 2 ** e <= hi:
        v = 2.0 ** e
        tics.append(f'"{("1/" + str(int(1 / v))) if v < 1 else str(int(v))}" {v}')
        e += 1
    ytics = ", ".join(tics)
    with tempfile.TemporaryDirectory() as tmp:
        dat = os.path.join(tmp, "ratios.dat")
        with open(dat, "w") as f:
            f.write("\n".join(data) + "\n")
        script = f"""
set terminal pngcairo size 1400,800 font ",10"
set output "{png}"
set title "{title}"
set datafile separator "\\t"
set datafile missing "NaN"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y 2
set yrange [{lo}:{hi}]
set ytics ({ytics})
set grid ytics
set ylabel "berth relative to the anchor (time ratios inverted: >1 = berth better)"
set xtics rotate by -30 left nomirror font ",10"
set bmargin 9
set rmargin 14
set key top right
set arrow from graph 0, first 1 to graph 1, first 1 nohead lw 2 lc rgb "black"
label(v) = v >= 10 ? sprintf("%.0f", v) : sprintf("%.2g", v)
plot "{dat}" using 2:xtic(1) title "berth vs distribution" lc rgb "#2a6fbb", \\
     "" using 3 title "berth vs nginx (static ceiling)" lc rgb "#e08a1e", \\
     "" using ($0 - 0.17):2:(label($2)) with labels offset 0,0.7 font ",9" notitle, \\
     "" using ($0 + 0.17):3:(label($3)) with labels offset 0,0.7 font ",9" notitle
"""
        res = subprocess.run([gnuplot], input=script, text=True, capture_output=True)
        if res.returncode != 0:
            print("report: gnuplot failed: " + res.stderr, file=sys.stderr)
            if os.path.exists(png):
                os.remove(png)  # gnuplot opens its output before it fails
            return False
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("runs")
    ap.add_argument("env")
    ap.add_argument("--out")
    ap.add_argument("--date")
    args = ap.parse_args()
    runs = load(args.runs)
    _RUNS.extend(runs)
    with open(args.env) as f:
        env = json.load(f)
    rows, targets, resources = analyse(runs, env)
    md = markdown(rows, targets, resources, env)
    if args.out:
        stem = os.path.join(args.out, args.date)
        with open(stem + ".json", "w") as f:
            json.dump({"env": env, "results": rows, "targets": targets,
                       "resources": resources, "runs": runs}, f, indent=1)
            f.write("\n")
        png = stem + ".png"
        title = (f"berth vs distribution and nginx, {env['date'][:10]}, storage {env['storage']}, "
                 f"median of {env['rounds']} interleaved rounds")
        if plot(rows, png, title):
            md += f"\n![ratios]({os.path.basename(png)})\n"
        with open(stem + ".md", "w") as f:
            f.write(md)
        print(f"report: wrote {stem}.json, {stem}.md" +
              (f", {png}" if os.path.exists(png) else ""), file=sys.stderr)
    print(md)


if __name__ == "__main__":
    main()
