#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Helper of bench/scale.sh: the seeded plan (graph, groups, streams), the
sampling of every node's state (Babel routes over gemd's control socket,
SEKs from the data-plane maps through gemctl), memory from /proc, control
counters, and the tables.

  scale.py plan N SEED M S K OUT.json
  scale.py wait T PLAN WHAT TIMEOUT OUT.json   WHAT: cold | whole VICTIM
  scale.py rx-snap T PLAN OUT.json             every node's rx (src grp) -> key ids
  scale.py mem T PLAN OUT.json                 RSS per node (gemd + descendants)
  scale.py cstats T PLAN OUT.json              control-stats counters per node
  scale.py report RESULTS_DIR [DOC]            tables (and docs/PERFORMANCE.md)
"""
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

GEMCTL = os.environ.get("GEMCTL", "build/gemctl")
MAX_STREAMS_PER_NODE = 64	# gemd/config.h GEMD_MAX_STREAMS
MAX_GROUPS_PER_NODE = 64	# GEMD_MAX_GROUPS


def plan(n, seed, m, s, k, out):
    rnd = random.Random(seed)
    names = ["n%d" % i for i in range(1, n + 1)]
    links = set()
    for i in range(n):		# ring
        a, b = sorted((i, (i + 1) % n))
        if a != b:
            links.add((a, b))
    # chords: a seeded random matching of the nodes, skipping ring
    # neighbours and existing links (degree ~3)
    order = list(range(n))
    rnd.shuffle(order)
    for i in range(0, n - 1, 2):
        a, b = sorted((order[i], order[i + 1]))
        if (a, b) in links or n < 5:
            continue
        links.add((a, b))
    groups = ["239.1.%d.%d" % (g // 250, g % 250 + 1) for g in range(m)]
    members = {}
    node_groups = {x: [] for x in range(n)}
    for g in groups:
        cand = [x for x in range(n) if len(node_groups[x]) < MAX_GROUPS_PER_NODE]
        mem = sorted(rnd.sample(cand, min(k, len(cand))))
        members[g] = mem
        for x in mem:
            node_groups[x].append(g)
    streams = []
    per_node = {x: 0 for x in range(n)}
    for i in range(s):
        g = groups[i % m]
        cand = [x for x in members[g] if per_node[x] < MAX_STREAMS_PER_NODE]
        if not cand:
            sys.exit("plan: no member of %s can source another stream" % g)
        src = rnd.choice(cand)
        per_node[src] += 1
        # the stream's source address: a host behind node src
        streams.append({"source": "10.100.%d.%d" % (src + 1, per_node[src]), "group": g,
                        "node": names[src]})
    nodes = []
    for x in range(n):
        gs = node_groups[x]
        exp = sorted("%s %s" % (st["source"], st["group"]) for st in streams
                     if st["group"] in gs and st["node"] != names[x])
        nodes.append({"name": names[x], "index": x + 1, "groups": gs,
                      "streams": [[st["source"], st["group"]] for st in streams
                                  if st["node"] == names[x]],
                      "expect_rx": exp})
    deg = [0] * n
    for a, b in links:
        deg[a] += 1
        deg[b] += 1
    p = {"n": n, "seed": seed, "m": m, "s": s, "k": k,
         "links": [[names[a], names[b]] for a, b in sorted(links)],
         "degree_mean": sum(deg) / n, "degree_max": max(deg), "nodes": nodes,
         "sek_slots": sum(len(x["expect_rx"]) for x in nodes)}
    json.dump(p, open(out, "w"), indent=1)


def ctl(t, node, req, timeout=2.0):
    """One request on node's gemd control socket (what gemctl -j does)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(os.path.join(t, node, "run", "gemd.sock"))
        s.sendall(req.encode() + b"\n")
        buf = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            buf += d
        return json.loads(buf)
    except (OSError, ValueError):
        return None
    finally:
        s.close()


BABEL_MAX_ROUTES = int(os.environ.get("SCALE_ROUTES_CAP", "512"))  # gemd/babel.h
TRUNCATED = set()


def kernel_babel_prefixes(t, node):
    nsp = open(os.path.join(t, "nsp")).read().strip()
    pfx = set()
    for fam in ("-6", "-4"):
        out = subprocess.run(["ip", "-n", "%s-%s" % (nsp, node), fam, "-j", "route", "show",
                              "proto", "babel"], capture_output=True).stdout
        for x in json.loads(out or b"[]"):
            d = x.get("dst", "")
            pfx.add(d if "/" in d else d + ("/128" if ":" in d else "/32"))
    return pfx


def routes_ok(t, node, n):
    """Installed Babel routes to every other node's /128 and /32 (gemd's
    view through its control socket, as gemctl -j routes; when that view is
    full, BABEL_MAX_ROUTES, the kernel's table, where babeld installs them)."""
    r = ctl(t, node, "routes json")
    if not r:
        return 0
    rl = r.get("routes", [])
    pfx = {x["prefix"] for x in rl if x.get("installed")}
    if len(rl) >= BABEL_MAX_ROUTES:
        TRUNCATED.add(node)
        pfx = kernel_babel_prefixes(t, node)
    return sum(1 for i in range(1, n + 1)
               if "fd00:0:0:ff::%d/128" % i in pfx and "10.255.0.%d/32" % i in pfx)


def streams(t, node):
    """Data-plane streams of node: {"rx": {sg: (cur, prev)}, "tx": {sg: cur}}."""
    try:
        out = subprocess.run([GEMCTL, "--pin-dir", os.path.join(t, "bpf", node), "-j",
                              "stream", "list"], capture_output=True, timeout=10).stdout
        lst = json.loads(out)
    except (subprocess.TimeoutExpired, ValueError):
        return None
    res = {"rx": {}, "tx": {}}
    for e in lst:
        sg = "%s %s" % (e["source"], e["group"])
        if e["dir"] == "rx":
            res["rx"][sg] = (e["key_id"], e.get("prev_key_id", "-"))
        else:
            res["tx"][sg] = e["key_id"]
    return res


def held(rx, sg, kid=None):
    v = rx.get(sg)
    if not v or v[0] in ("-", ""):
        return False
    return kid is None or kid in v


def ping(t, nsp, a, b, fam):
    if fam == 6:
        src, dst = "fd00:0:0:ff::%d" % a, "fd00:0:0:ff::%d" % b
    else:
        src, dst = "10.255.0.%d" % a, "10.255.0.%d" % b
    return subprocess.run(["ip", "netns", "exec", "%s-n%d" % (nsp, a), "ping", "-n", "-q",
                           "-c", "1", "-W", "1", "-I", src, dst],
                          capture_output=True).returncode == 0


def ping_sample(t, p, rnd, count=20):
    nsp = open(os.path.join(t, "nsp")).read().strip()
    n = p["n"]
    pairs = []
    while len(pairs) < min(count, n * (n - 1)):
        a, b = rnd.randint(1, n), rnd.randint(1, n)
        if a != b:
            pairs.append((a, b))
    procs = []
    for a, b in pairs:
        for fam in (6, 4):
            procs.append(((a, b, fam), subprocess.Popen(
                ["ip", "netns", "exec", "%s-n%d" % (nsp, a), "ping", "-n", "-q", "-c", "1",
                 "-W", "1", "-I", ("fd00:0:0:ff::%d" if fam == 6 else "10.255.0.%d") % a,
                 ("fd00:0:0:ff::%d" if fam == 6 else "10.255.0.%d") % b],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)))
    bad = [k for k, pr in procs if pr.wait() != 0]
    return len(procs), bad


def wait(t, pfile, what, timeout, out, victim=None):
    """Sample until the domain is whole; progress lines on stderr."""
    p = json.load(open(pfile))
    n = p["n"]
    t0 = float(open(os.path.join(t, "t0")).read())
    rnd = random.Random(p["seed"] + 7)
    nodes = p["nodes"]
    res = {"what": what, "t_routes": None, "t_reach": None, "t_sek": None, "ping": None,
           "lost": [], "samples": 0}
    route_done, sek_done = set(), set()
    before = None
    if what == "whole":
        before = json.load(open(os.path.join(t, "rx-before.json")))
    last = 0
    while True:
        now = time.time() - t0
        res["samples"] += 1
        if what == "whole":
            route_done = set()	# a route can go while the victim restarts
        for nd in nodes:
            if nd["name"] not in route_done and routes_ok(t, nd["name"], n) == n - 1:
                route_done.add(nd["name"])
        if len(route_done) == n and res["t_routes"] is None:
            res["t_routes"] = round(time.time() - t0, 1)
        if res["t_routes"] is not None and res["t_reach"] is None:
            tot, bad = ping_sample(t, p, rnd)
            res["ping"] = {"probes": tot, "failed": len(bad)}
            if not bad:
                res["t_reach"] = round(time.time() - t0, 1)
        # SEKs: every member holds the source's current key id of every stream
        # of its groups (cold start: any key; whole: the key the source seals with)
        need_all = what == "whole"
        todo = [nd["name"] for nd in nodes if need_all or nd["name"] not in sek_done]
        with ThreadPoolExecutor(4) as ex:
            state = dict(zip(todo, ex.map(lambda x: streams(t, x), todo)))
        tx = {}
        if need_all:
            for nd in nodes:
                st = state.get(nd["name"])
                if st:
                    tx.update(st["tx"])
        for nd in nodes:
            st = state.get(nd["name"])
            if st is None:
                if not need_all:
                    continue
                ok = False
            else:
                ok = all(held(st["rx"], sg, tx.get(sg) if need_all else None)
                         for sg in nd["expect_rx"])
            if need_all and st is not None and nd["name"] != victim and before:
                for sg in before.get(nd["name"], {}):
                    if not held(st["rx"], sg) and [nd["name"], sg] not in res["lost"]:
                        res["lost"].append([nd["name"], sg])
            if ok and need_all and nd["name"] == victim:
                # the victim seals every own stream with a new key id again
                old = before.get("_tx_" + victim, {})
                ok = all(sg in st["tx"] and st["tx"][sg] not in ("-", old.get(sg))
                         for sg in ("%s %s" % (a, b) for a, b in nd["streams"]))
            if ok:
                sek_done.add(nd["name"])
            elif need_all:
                sek_done.discard(nd["name"])
        if len(sek_done) == n and res["t_sek"] is None:
            res["t_sek"] = round(time.time() - t0, 1)
        if time.time() - last >= 5 or (res["t_reach"] is not None and res["t_sek"] is not None):
            last = time.time()
            print("    %5.1f s: routes complete on %d/%d nodes, SEKs complete on %d/%d%s"
                  % (now, len(route_done), n, len(sek_done), n,
                     ", ping sample %d/%d" % (res["ping"]["probes"] - res["ping"]["failed"],
                                              res["ping"]["probes"]) if res["ping"] else ""),
                  file=sys.stderr, flush=True)
        if res["t_reach"] is not None and res["t_sek"] is not None:
            break
        if now > timeout:
            res["timeout"] = True
            res["routes_missing"] = sorted(set(x["name"] for x in nodes) - route_done)[:10]
            res["sek_missing"] = sorted(set(x["name"] for x in nodes) - sek_done)[:10]
            break
        time.sleep(0.5)
    res["route_done"] = len(route_done)
    res["gemd_routes_view_full"] = len(TRUNCATED)
    res["sek_done"] = len(sek_done)
    json.dump(res, open(out, "w"))


def rx_snap(t, pfile, out):
    p = json.load(open(pfile))
    snap = {}
    for nd in p["nodes"]:
        st = streams(t, nd["name"])
        snap[nd["name"]] = {sg: v for sg, v in (st["rx"] if st else {}).items()}
        snap["_tx_" + nd["name"]] = st["tx"] if st else {}
    json.dump(snap, open(out, "w"))


def proc_tree():
    kids, comm, rss, cpu = {}, {}, {}, {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            st = open("/proc/%s/stat" % d).read()
            name = st[st.index("(") + 1:st.rindex(")")]
            f = st[st.rindex(")") + 2:].split()
            ppid = int(f[1])
            cpu[int(d)] = (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
            r = 0
            for line in open("/proc/%s/status" % d):
                if line.startswith("VmRSS:"):
                    r = int(line.split()[1])
        except (OSError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(d))
        comm[int(d)] = name
        rss[int(d)] = r
    return kids, comm, rss, cpu


def mem(t, pfile, out):
    p = json.load(open(pfile))
    kids, comm, rss, cpu = proc_tree()
    per = []
    for nd in p["nodes"]:
        try:
            pid = int(open(os.path.join(t, nd["name"], "run", "gemd.pid")).read())
        except (OSError, ValueError):
            continue
        todo, seen = [pid], []
        while todo:
            x = todo.pop()
            seen.append(x)
            todo += kids.get(x, [])
        kb = {"gemd": 0, "charon": 0, "babeld": 0, "other": 0}
        cs = {"gemd": 0, "charon": 0, "babeld": 0, "other": 0}
        cnt = {"charon": 0}
        for x in seen:
            c = comm.get(x, "")
            key = "gemd" if x == pid else c if c in ("charon", "babeld") else "other"
            kb[key] += rss.get(x, 0)
            cs[key] += cpu.get(x, 0)
            if c == "charon":
                cnt["charon"] += 1
        per.append({"node": nd["name"], "kb": kb, "cpu_s": cs, "total_kb": sum(kb.values()),
                    "charons": cnt["charon"], "procs": len(seen)})
    json.dump(per, open(out, "w"))


def cstats(t, pfile, out):
    p = json.load(open(pfile))
    res = {}
    for nd in p["nodes"]:
        r = ctl(t, nd["name"], "control-stats json")
        if r:
            c = r.get("counters", {})
            res[nd["name"]] = {k: c.get(k, 0) for k in
                               ("tx_packets", "tx_bytes", "tx_records", "tx_acks",
                                "tx_retransmits", "rx_packets", "rx_records", "rx_new")}
            res[nd["name"]]["records"] = r.get("records", 0)
    json.dump(res, open(out, "w"))


def csum(a, b=None, k="tx_packets"):
    """Sum of counter k over nodes: b - a (a node missing in a counts from 0)."""
    tot = 0
    for n, v in b.items() if b is not None else a.items():
        tot += v.get(k, 0) - ((a.get(n, {}).get(k, 0)) if b is not None else 0)
    return tot


def med(xs):
    return statistics.median(xs) if xs else 0


NOTES = """How to read it: times are seconds from the first gemd start (cold start) or
from the SIGKILL / the stop (events), sampled in rounds (each round reads every
node's routes through its control socket and every unfinished node's data-plane
maps with gemctl; a round takes up to a few seconds at N = 100 under load, so
times are late by up to one round). "Routes complete": every node has installed
Babel routes to every other node's /128 and /32; "ping sample": 20 random pairs,
IPv6 and IPv4, all answered. "SEKs complete": every member holds a key for every
stream of its groups in its rx map. "Whole again": routes complete everywhere and
every member holds, as current or previous key, the key id each source's tx map
seals with, and the restarted node seals all its streams with a new key id.
"SEKs lost": a (source, group) held by another node before the event and found
without a key in any round. Control packets and bytes are gemd's
(control-stats tx counters summed over nodes; acks included; ESP, UDP and IPv6
headers not); "all link" traffic at rest is every veth's tx counters (beacons,
Babel, IKE, ESP). Victim: the node sourcing the most streams. Memory: VmRSS of
gemd and its descendants (charons, babeld) at the end of the cold start; CPU:
their utime + stime until then."""


def report(rdir, doc=None):
    rows = []
    for f in sorted(os.listdir(rdir)):
        if f.startswith("result-") and f.endswith(".json"):
            rows.append(json.load(open(os.path.join(rdir, f))))
    rows.sort(key=lambda r: r["n"])
    tabs = []
    h = ("| N | links | degree mean/max | groups | streams | members/group | SEK slots | "
         "setup s | routes complete s | ping sample | SEKs complete s | records/node | "
         "nodes with gemd's route view full (512) |")
    tabs.append(h)
    tabs.append("|" + "---:|" * 13)
    for r in rows:
        c = r.get("cold", {})
        tabs.append("| %d | %d | %.2f / %d | %d | %d | %d | %d | %s | %s | %s | %s | %s | %s |" % (
            r["n"], r["links"], r["degree_mean"], r["degree_max"], r["m"], r["s"], r["k"],
            r["sek_slots"], r.get("setup_s", "-"), c.get("t_routes", "-"),
            "%d/%d" % (c["ping"]["probes"] - c["ping"]["failed"], c["ping"]["probes"])
            if c.get("ping") else "-", c.get("t_sek", "-"), r.get("records_node", "-"),
            c.get("gemd_routes_view_full", "-")))
    tabs.append("")
    tabs.append("| N | RSS per node median MB | max MB | gemd median MB | charon median MB "
                "(each) | charons/node max | babeld median MB | total MB | CPU s to converge per node: "
                "gemd / charons / babeld (median) | CPU s all nodes |")
    tabs.append("|" + "---:|" * 10)
    for r in rows:
        m = r.get("mem")
        if not m:
            continue
        tabs.append("| %d | %.1f | %.1f | %.1f | %.1f | %d | %.1f | %.0f | %s | %s |" % (
            r["n"], m["node_med_kb"] / 1024, m["node_max_kb"] / 1024, m["gemd_med_kb"] / 1024,
            m["charon_each_med_kb"] / 1024, m["charons_max"], m["babeld_med_kb"] / 1024,
            m["total_kb"] / 1024,
            "%.2f / %.2f / %.2f" % (m["cpu_gemd_med"], m["cpu_charon_med"], m["cpu_babeld_med"])
            if "cpu_total" in m else "-", "%.0f" % m["cpu_total"] if "cpu_total" in m else "-"))
    tabs.append("")
    tabs.append("| N | cold start: control packets | bytes | record transmissions | "
                "per record: packets | bytes | transmissions | at rest: control packets/link/s "
                "| control bytes/link/s | all link packets/link/s | all link bytes/link/s |")
    tabs.append("|" + "---:|" * 11)
    for r in rows:
        c = r.get("msgs")
        if not c:
            continue
        tabs.append("| %d | %d | %d | %d | %.1f | %.0f | %.1f | %.2f | %.1f | %.1f | %.0f |" % (
            r["n"], c["cold_pkts"], c["cold_bytes"], c["cold_recs"], c["pkts_per_rec"],
            c["bytes_per_rec"], c["tx_per_rec"], c["rest_pkts_link_s"],
            c["rest_bytes_link_s"], c["rest_wire_pkts_link_s"], c["rest_wire_bytes_link_s"]))
    tabs.append("")
    tabs.append("| N | event | whole again s | routes s | SEKs s | control packets caused | "
                "bytes | record transmissions | SEKs lost on other nodes | rx SEK replaced "
                "/ refused as older (members' logs) |")
    tabs.append("|" + "---:|" + "---|" + "---:|" * 8)
    for r in rows:
        for ev in ("kill", "restart"):
            e = r.get(ev)
            if not e:
                continue
            tabs.append("| %d | %s | %s | %s | %s | %d | %d | %d | %d | %s |" % (
                r["n"], "gemd SIGKILL (supervisor restarts it)" if ev == "kill"
                else "whole node (gemd stopped, data plane unloaded, both back)",
                e.get("t_whole", "-"), e.get("t_routes", "-"), e.get("t_sek", "-"),
                e["pkts"], e["bytes"], e["recs"], e["lost"],
                "%s / %s" % (r.get("restart_replaced", "-"), r.get("restart_stale", "-"))
                if ev == "restart" else "-"))
    tabs.append("")
    tabs.append("| N | teardown: namespaces left | processes left | mounts left |")
    tabs.append("|---:|---:|---:|---:|")
    for r in rows:
        td = r.get("teardown", {})
        tabs.append("| %d | %s | %s | %s |" % (r["n"], td.get("ns", "-"), td.get("procs", "-"),
                                              td.get("mounts", "-")))
    text = "\n".join(tabs)
    print(text)
    if doc:
        import re
        s = open(doc).read()
        cmd = os.environ.get("SCALE_CMD", "make bench-scale")
        block = ("<!-- scale:begin -->\nMeasured by `%s` (bench/scale.sh) on %s: 2 vCPU "
                 "(Intel Xeon), 24 GB, Debian 12, kernel 6.18, shared with other jobs; seed %s.\n\n"
                 "%s\n\n%s\n<!-- scale:end -->" % (cmd, time.strftime("%Y-%m-%d", time.gmtime()),
                                             rows[0]["seed"] if rows else "-", text, NOTES))
        if "<!-- scale:begin -->" in s:
            s = re.sub(r"<!-- scale:begin -->.*?<!-- scale:end -->", lambda m: block, s,
                       flags=re.S)
        else:
            s = s.rstrip("\n") + ("\n\n## Control-plane scale (bench/scale.sh)\n\n"
                                  "Model and discussion: docs/SCALE.md.\n\n" + block + "\n")
        open(doc, "w").write(s)


def summarize(rdir, t, pfile, out):
    """Fold the per-phase files of one N into result-N.json."""
    p = json.load(open(pfile))
    ld = lambda f: json.load(open(os.path.join(t, f))) if os.path.exists(os.path.join(t, f)) else None
    r = {"n": p["n"], "seed": p["seed"], "m": p["m"], "s": p["s"], "k": p["k"],
         "links": len(p["links"]), "degree_mean": p["degree_mean"],
         "degree_max": p["degree_max"], "sek_slots": p["sek_slots"]}
    meta = ld("meta.json") or {}
    r.update(meta)
    r["cold"] = ld("cold.json") or {}
    m = ld("mem.json")
    if m:
        tot = [x["total_kb"] for x in m]
        ch = [x["kb"]["charon"] / x["charons"] for x in m if x["charons"]]
        r["mem"] = {"node_med_kb": med(tot), "node_max_kb": max(tot),
                    "gemd_med_kb": med([x["kb"]["gemd"] for x in m]),
                    "charon_each_med_kb": med(ch),
                    "charons_max": max(x["charons"] for x in m),
                    "babeld_med_kb": med([x["kb"]["babeld"] for x in m]),
                    "total_kb": sum(tot),
                    "cpu_gemd_med": med([x["cpu_s"]["gemd"] for x in m]),
                    "cpu_charon_med": med([x["cpu_s"]["charon"] for x in m]),
                    "cpu_babeld_med": med([x["cpu_s"]["babeld"] for x in m]),
                    "cpu_total": sum(sum(x["cpu_s"].values()) for x in m)}
    c0, c1, c2 = ld("cs-cold.json"), ld("cs-rest0.json"), ld("cs-rest1.json")
    if c0 and c1 and c2:
        nrec = p["s"] + p["n"]
        rest_s = meta.get("rest_s", 1)
        L = len(p["links"])
        w0, w1 = ld("wire-rest0.json") or {}, ld("wire-rest1.json") or {}
        r["records_node"] = med([v["records"] for v in c0.values()])
        r["msgs"] = {"cold_pkts": csum(c0), "cold_bytes": csum(c0, k="tx_bytes"),
                     "cold_recs": csum(c0, k="tx_records"),
                     "pkts_per_rec": csum(c0) / nrec,
                     "bytes_per_rec": csum(c0, k="tx_bytes") / nrec,
                     "tx_per_rec": csum(c0, k="tx_records") / nrec,
                     "rest_pkts_link_s": csum(c1, c2) / L / rest_s,
                     "rest_bytes_link_s": csum(c1, c2, "tx_bytes") / L / rest_s,
                     "rest_wire_pkts_link_s": (w1.get("pkts", 0) - w0.get("pkts", 0)) / L / rest_s,
                     "rest_wire_bytes_link_s": (w1.get("bytes", 0) - w0.get("bytes", 0)) / L / rest_s}
    for ev in ("kill", "restart"):
        a, b, w = ld("cs-%s0.json" % ev), ld("cs-%s1.json" % ev), ld("%s.json" % ev)
        if a and b and w:
            v = meta.get("victim")
            # the victim's gemd starts its counters from 0
            a2 = {k: x for k, x in a.items() if k != v}
            r[ev] = {"t_whole": max(x for x in (w["t_routes"], w["t_sek"], w["t_reach"])
                                    if x is not None) if None not in (w["t_routes"], w["t_sek"]) else None,
                     "t_routes": w["t_routes"], "t_sek": w["t_sek"],
                     "pkts": csum(a2, b), "bytes": csum(a2, b, "tx_bytes"),
                     "recs": csum(a2, b, "tx_records"), "lost": len(w["lost"]),
                     "lost_list": w["lost"][:10], "timeout": w.get("timeout", False)}
    td = ld("teardown.json")
    if td:
        r["teardown"] = td
    json.dump(r, open(out, "w"), indent=1)


if __name__ == "__main__":
    a = sys.argv[1:]
    if a[0] == "plan":
        plan(int(a[1]), int(a[2]), int(a[3]), int(a[4]), int(a[5]), a[6])
    elif a[0] == "wait":
        wait(a[1], a[2], a[3], float(a[4]), a[5], a[6] if len(a) > 6 else None)
    elif a[0] == "rx-snap":
        rx_snap(a[1], a[2], a[3])
    elif a[0] == "mem":
        mem(a[1], a[2], a[3])
    elif a[0] == "cstats":
        cstats(a[1], a[2], a[3])
    elif a[0] == "summarize":
        summarize(a[1], a[2], a[3], a[4])
    elif a[0] == "report":
        report(a[1], a[2] if len(a) > 2 else None)
    else:
        sys.exit(__doc__)
