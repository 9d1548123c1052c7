"""A process and all its descendants, read from /proc (Linux): the memory of a server is its tree's."""
import os


def process_tree(pid):
    """`pid` first, then every descendant (children before their own children's siblings' order)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass  # exited meanwhile
    tree, frontier = [pid], [pid]
    while frontier:
        p = frontier.pop()
        for child, parent in parents.items():
            if parent == p and child not in tree:
                tree.append(child)
                frontier.append(child)
    return tree
