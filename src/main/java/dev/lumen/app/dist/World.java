package dev.lumen.app.dist;

import java.util.List;

/**
 * The layout of a data-parallel job, as the rendezvous agreed on it: the nodes in node-rank
 * order with their host and GPU count. A rank's global number is its node's offset (the GPUs of
 * the nodes before it) plus its index among its node's GPUs.
 */
public record World(List<Node> nodes, int nodeRank) {
    public record Node(String host, int devices) {}

    public World {
        nodes = List.copyOf(nodes);
        if (nodeRank < 0 || nodeRank >= nodes.size()) throw new IllegalArgumentException("node rank " + nodeRank + " outside " + nodes.size() + " nodes");
    }

    public int worldSize() { return offset(nodes.size()); }

    /** The global rank of node's first GPU. */
    public int offset(int node) {
        int o = 0;
        for (int i = 0; i < node; i++) o += nodes.get(i).devices();
        return o;
    }

    /** The global rank of this node's local-th GPU. */
    public int globalRank(int local) {
        if (local < 0 || local >= nodes.get(nodeRank).devices()) throw new IllegalArgumentException("local index " + local + " outside this node's GPUs");
        return offset(nodeRank) + local;
    }

    public String host() { return nodes.get(nodeRank).host(); }

    /** "ranks 2-3 on node-b (node 1)": who a node is, for failure messages. */
    public String describeNode(int node) {
        int first = offset(node), n = nodes.get(node).devices();
        String ranks = n == 1 ? "rank " + first : "ranks " + first + "-" + (first + n - 1);
        return ranks + " on " + nodes.get(node).host() + " (node " + node + ")";
    }
}
