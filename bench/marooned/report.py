"""What the marooned benches' reports share (run.sh, vms.sh): percentiles and the API
server's request counts between two /metrics dumps (setup.sh's metrics())."""
import re


def pct(xs, q):
    """The q-quantile of xs (nearest rank, no interpolation)."""
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def request_counts(path):
    """apiserver_request_total in a dump, summed by (verb, resource, subresource)."""
    out = {}
    for line in open(path):
        m = re.match(r"apiserver_request_total\{(.*)\} (\S+)", line)
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
        key = (labels.get("verb", ""), labels.get("resource", ""), labels.get("subresource", ""))
        out[key] = out.get(key, 0) + float(m.group(2))
    return out


def request_delta(before_path, after_path):
    """The requests made between two dumps, by (verb, resource, subresource): those that grew."""
    before, after = request_counts(before_path), request_counts(after_path)
    return {k: after[k] - before.get(k, 0) for k in after if after[k] - before.get(k, 0) > 0}


def print_requests(title, delta, pods, rows, width):
    """The total, per pod, and the `rows` busiest (verb, resource) of a delta."""
    total = sum(delta.values())
    print(f"API requests, {title}: {total:.0f} total, {total / pods:.1f} per pod (all clients)")
    for (verb, res, sub), v in sorted(delta.items(), key=lambda kv: -kv[1])[:rows]:
        print(f"  {verb:7} {res + ('/' + sub if sub else ''):{width}} {v:7.0f}  {v / pods:5.2f}/pod")
