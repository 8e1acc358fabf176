#!/usr/bin/env python3
"""The include-direction check (docs/design.md, "Architecture").

Every source file belongs to a layer: host/<folder>/ to <folder>,
kernels/cpu/ and kernels/cuda/ to kernels_cpu and kernels_cuda, and the
public headers of include/dynfill/ to the layer that implements them
(OWNERS below). A file may include headers of its own layer, of the layers
its layer links to (directly or through them; ${build}/layers.txt, written
by cmake/layers.cmake from the same declarations that link the libraries),
and of the base (kernels/shared/ and the plain-type public headers). A
header named *_internal.h(/.cuh) is private to its folder.

usage: include_direction.py SOURCE_DIR LAYERS_TXT [--self-test]
Prints every violation as FILE:LINE: message and exits 1 when there is one.
--self-test also checks that a forbidden include is caught.
"""
import os
import re
import sys

# Public headers and the layer that implements them; "base" = plain types
# every layer may use; "kernels" = the backend and communicator interfaces,
# for the backends and the layers that link one.
OWNERS = {
    "status.h": "core", "config.h": "core",
    "tensor.h": "base", "mask_rule.h": "base", "method_ops.h": "base",
    "backend.h": "kernels", "cuda_graph.h": "kernels", "comm.h": "kernels",
    "model.h": "model", "checkpoint.h": "model", "optim.h": "model",
    "method.h": "method", "data.h": "data", "climatology.h": "data",
    "train.h": "train", "infer.h": "infer", "baseline.h": "infer",
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def read_layers(path):
    deps = {}
    with open(path) as f:
        for line in f:
            if ":" in line:
                name, rest = line.split(":", 1)
                deps[name.strip()] = rest.replace(";", " ").split()
    closure = {}

    def reach(name, seen):
        for d in deps.get(name, []):
            if d not in seen:
                seen.add(d)
                reach(d, seen)
        return seen

    for name in deps:
        closure[name] = reach(name, set())
    return closure


def layer_of(rel):
    parts = rel.split("/")
    if parts[0] == "host" and len(parts) > 2:
        return parts[1]
    if parts[0] == "kernels" and parts[1] in ("cpu", "cuda"):
        return "kernels_" + parts[1]
    if parts[0] == "kernels" and len(parts) == 2:
        return "kernels_cpu"  # kernels/cuda_absent.c: built into the CPU backend's library without CUDA
    if parts[0] == "kernels":
        return "base"
    if parts[0] == "include":
        return OWNERS.get(parts[-1], "?")
    return None


def allowed(own, target, closure):
    if target in ("base", own):
        return True
    reach = closure.get("kernels_cpu" if own == "kernels" else own, set())
    if target == "kernels":  # the backend interface: the backends and whoever links one
        return own.startswith("kernels_") or any(l.startswith("kernels_") for l in reach)
    return target in reach


def target_of(inc, rel, host_layers):
    first = inc.split("/")[0]
    if first == "dynfill":
        return OWNERS.get(inc.split("/")[-1], "?")
    if first == "shared":
        return "base"
    if first in ("cpu", "cuda"):
        return "kernels_" + first
    if first in host_layers and "/" in inc:
        return first
    return layer_of(rel)  # same folder


def check_file(rel, lines, closure, host_layers):
    own = layer_of(rel)
    out = []
    if own is None:
        return out
    for n, line in enumerate(lines, 1):
        m = INCLUDE.match(line)
        if not m:
            continue
        inc = m.group(1)
        name = inc.split("/")[-1]
        if re.search(r"_internal\.(h|cuh)$", name) and "/" in inc:
            folder = os.path.dirname(rel).split("/")[-1]
            if inc.split("/")[-2] != folder:
                out.append(f"{rel}:{n}: includes {inc}, private to another folder")
                continue
        target = target_of(inc, rel, host_layers)
        if target == "?":
            out.append(f"{rel}:{n}: includes {inc}, a public header with no owner in OWNERS")
        elif not allowed(own, target, closure):
            out.append(f"{rel}:{n}: layer {own} includes {inc} of layer {target}, which it does not link to")
    return out


def main():
    src, layers_txt = sys.argv[1], sys.argv[2]
    closure = read_layers(layers_txt)
    host_layers = {d for d in os.listdir(os.path.join(src, "host")) if os.path.isdir(os.path.join(src, "host", d))}
    missing = sorted(host_layers - set(closure))
    problems = [f"host/{d}/: a folder that is not a layer in {layers_txt}" for d in missing]
    files = 0
    for top in ("host", "kernels", "include"):
        for root, _, names in os.walk(os.path.join(src, top)):
            for name in sorted(names):
                if not name.endswith((".c", ".h", ".cu", ".cuh")):
                    continue
                path = os.path.join(root, name)
                rel = os.path.relpath(path, src)
                with open(path, encoding="utf-8") as f:
                    problems += check_file(rel, f.read().splitlines(), closure, host_layers)
                files += 1
    if "--self-test" in sys.argv:
        bad = check_file("host/core/x.c", ['#include "train/train_run.h"'], closure, host_layers)
        bad += check_file("host/model/x.c", ['#include "dynfill/train.h"'], closure, host_layers)
        bad += check_file("host/cli/x.c", ['#include "data/data_internal.h"'], closure, host_layers)
        if len(bad) != 3:
            problems.append(f"self-test: 3 forbidden includes, {len(bad)} caught: {bad}")
        good = check_file("host/train/x.c", ['#include "model/x.h"', '#include "dynfill/status.h"'], closure,
                          host_layers)
        if good:
            problems.append(f"self-test: allowed includes reported: {good}")
    for p in problems:
        print(p)
    print(f"include direction: {files} files, {len(closure)} layers, {len(problems)} violations")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
