#!/usr/bin/env python3
"""check_layers.py - the plugin's layers, checked from its #include lines.

The build already refuses an upward include (each layer is a library that sees only its own headers
and those below it). This adds what include directories cannot see: a cycle between two modules of the
same layer, and a header included from a folder the file's layer does not depend on; and that clients/
(the C client library and mqchat-cli) includes no header of the plugin at all. Exit status 1, with
each finding on a line, if there is any.
"""
import os
import re
import sys

# Lowest first; a layer may include its own headers and those of the layers before it.
LAYERS = ["wire", "core", "store", "io", "commit", "services", "adapters", "plugin"]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([A-Za-z0-9_]+)\.h"', re.M)


# Folders outside the layers that speak only the wire protocol (docs/client-library.md): they may
# include none of the plugin's headers, whatever the layer.
OUTSIDE = ["clients"]


def check_outside(root, where):
    problems = []
    for top in OUTSIDE:
        for folder, _, names in sorted(os.walk(os.path.join(root, top))):
            for name in sorted(names):
                if not name.endswith((".c", ".h")):
                    continue
                path = os.path.join(folder, name)
                with open(path) as f:
                    for inc in INCLUDE.findall(f.read()):
                        if inc in where:
                            rel = os.path.relpath(path, root)
                            problems.append(f"{rel} includes {where[inc]}/{inc}.h: {top}/ speaks only the wire protocol")
    return problems


def main(root):
    where = {}  # module name -> layer
    deps = {}   # module name -> modules it includes
    for layer in LAYERS:
        folder = os.path.join(root, layer)
        for name in sorted(os.listdir(folder)):
            if name.endswith((".c", ".h")):
                where[name[:-2]] = layer
    for module, layer in where.items():
        deps[module] = set()
        for ext in (".c", ".h"):
            path = os.path.join(root, layer, module + ext)
            if os.path.exists(path):
                with open(path) as f:
                    for inc in INCLUDE.findall(f.read()):
                        if inc != module and inc in where:
                            deps[module].add(inc)
    problems = []
    for module, included in sorted(deps.items()):
        for inc in sorted(included):
            if LAYERS.index(where[inc]) > LAYERS.index(where[module]):
                problems.append(f"{where[module]}/{module} includes {where[inc]}/{inc}.h, a higher layer")
    # Tarjan's strongly connected components: any component of two or more modules is a cycle.
    index, low, stack, on_stack, counter = {}, {}, [], set(), [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(deps[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                problems.append("include cycle: " + " -> ".join(sorted(component)))

    sys.setrecursionlimit(10000)
    for v in sorted(deps):
        if v not in index:
            visit(v)
    problems += check_outside(root, where)
    for p in problems:
        print("check_layers: " + p)
    print(f"check_layers: {len(where)} modules in {len(LAYERS)} layers, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")))
