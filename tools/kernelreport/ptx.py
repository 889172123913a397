"""Reading nvcc's output: ptxas -v resources per kernel, and the PTX of each entry: its loops,
its hot loop and the instruction mix of that loop."""
import re
from dataclasses import dataclass, field

# PTX div/rem become SASS sequences of about 20 instructions; nvcc's 64-bit ones take that 32-bit
# path when both operands fit in 32 bits, as every size here does, plus a test (an estimate).
DIV_COST = {32: 20, 64: 25}

@dataclass
class Resources:
    regs: int
    static_shared: int
    spill: bool


def parse_ptxas(text, arch="sm_90"):
    """{kernel: Resources} of the entry functions ptxas compiled for arch."""
    out, name = {}, None
    for line in text.splitlines():
        m = re.search(r"Compiling entry function '([^']+)' for '([^']+)'", line)
        if m:
            name = m.group(1) if m.group(2) == arch else None
            continue
        if name is None:
            continue
        m = re.search(r"(\d+) bytes spill stores, (\d+) bytes spill loads", line)
        if m:
            out.setdefault(name, Resources(0, 0, False)).spill = int(m.group(1)) + int(m.group(2)) > 0
            continue
        m = re.search(r"Used (\d+) registers", line)
        if m:
            r = out.setdefault(name, Resources(0, 0, False))
            r.regs = int(m.group(1))
            s = re.search(r"(\d+) bytes smem", line)
            r.static_shared = int(s.group(1)) if s else 0
    return out


# ---------------------------------------------------------------------------- PTX
def parse_ptx(text):
    """{kernel: [statement]}: the instructions and labels of each .entry body, directives dropped."""
    kernels, name, body, depth = {}, None, None, 0
    for raw in text.splitlines():
        line = raw.split("//", 1)[0].strip()
        if name is None:
            m = re.match(r"(?:\.visible\s+|\.weak\s+)?\.entry\s+([A-Za-z_0-9$]+)", line)
            if m:
                name, body, depth = m.group(1), [], 0
            continue
        if not line:
            continue
        depth += line.count("{") - line.count("}")
        if line == "}" and depth == 0:
            kernels[name] = body
            name = None
            continue
        if depth >= 1 and not line.startswith(".") and line not in ("{", "}"):
            body.append(line.rstrip(";").strip())
    return kernels


LABEL = re.compile(r"^(\$?[A-Za-z_][\w$]*):$")
BRANCH = re.compile(r"^(?:@!?%\w+\s+)?bra(?:\.uni)?\s+(\$?[\w$]+)$")


def loops(body):
    """(start, end) of every loop: a label and a later branch back to it."""
    where = {}
    for i, s in enumerate(body):
        m = LABEL.match(s)
        if m:
            where[m.group(1)] = i
    found = set()
    for i, s in enumerate(body):
        m = BRANCH.match(s)
        if m and m.group(1) in where and where[m.group(1)] < i:
            found.add((where[m.group(1)], i))
    return sorted(found)


def opcode(stmt):
    s = re.sub(r"^@!?%\w+\s+", "", stmt)
    return s.split()[0] if s.split() else ""


FLOAT_TYPES = (".f32", ".f64", ".f16", ".bf16", ".f16x2", ".bf16x2")


def category(op):
    """The class of one PTX opcode: fma, fp, lds, sts, ldg, stg, atom, div, int, ctl or other."""
    base = op.split(".")[0]
    if base == "mma" or op.startswith("wmma.mma"):
        return "mma"
    if base == "wmma" or base == "ldmatrix" or base == "stmatrix":
        # fragment loads and stores: generic addresses in PTX are taken as shared (the kernels stage
        # fragments there; a global fragment load would be an ld.global's bytes, not a wavefront's)
        store = ".store" in op or base == "stmatrix"
        if ".global" in op:
            return "stg" if store else "ldg"
        return "sts" if store else "lds"
    if (base == "fma" and op.endswith(FLOAT_TYPES)) or op.startswith("fma.rn"):
        return "fma"
    if base in ("div", "rem") and not op.endswith(FLOAT_TYPES):
        return "div"
    if base == "ld" or base == "ldu":
        if ".shared" in op:
            return "lds"
        if ".global" in op or op.startswith("ldu"):
            return "ldg"
        if ".local" in op:
            return "ldl"
        return "other"
    if base == "st":
        return "sts" if ".shared" in op else "stg" if ".global" in op else "stl" if ".local" in op else "other"
    if base in ("atom", "red"):
        return "atom"
    if base in ("bra", "bar", "ret", "exit", "call", "membar", "fence", "barrier"):
        return "ctl"
    if base == "cvt":
        return "fp" if any(t in op for t in FLOAT_TYPES) else "int"
    if base in ("shfl", "vote", "activemask"):
        return "int"
    if op.endswith(FLOAT_TYPES) or base in ("ex2", "lg2", "rcp", "sqrt", "rsqrt", "sin", "cos", "tanh"):
        return "fp"
    if base in ("add", "sub", "mul", "mad", "shl", "shr", "and", "or", "xor", "not", "setp", "selp", "mov", "cvta", "min",
                "max", "neg", "abs", "popc", "clz", "brev", "bfe", "bfi", "prmt", "shf", "lop3", "mul24", "mad24", "slct",
                "set", "sad", "cnot", "isspacep"):
        return "int"
    return "other"


def wavefronts(op):
    """128-byte shared-memory wavefronts of one warp-wide access (conflict-free, as the kernels lay
    out their tiles): a 16x16 WMMA fragment is 512 bytes of 16-bit or 1,024 of 32-bit values;
    ldmatrix .x4 moves 512 bytes; a vector access 2 or 4 times a scalar one."""
    if op.startswith("wmma"):
        return 8 if (".f32" in op or ".s32" in op) else 4
    if op.startswith(("ldmatrix", "stmatrix")):
        return 4 if ".x4" in op else 2 if ".x2" in op else 1
    return 4 if ".v4" in op else 2 if ".v2" in op else 1


def div_bits(op):
    return 64 if re.search(r"\.[su]64$", op) else 32


@dataclass
class Mix:
    counts: dict = field(default_factory=dict)
    instructions: int = 0
    issue: float = 0.0           # SASS-weighted instruction slots (div/rem expanded)
    shared_wavefronts: float = 0.0

    def add(self, stmt):
        op = opcode(stmt)
        c = category(op)
        self.counts[c] = self.counts.get(c, 0) + 1
        self.instructions += 1
        self.issue += DIV_COST[div_bits(op)] if c == "div" else 1
        if c in ("lds", "sts"):
            self.shared_wavefronts += wavefronts(op)

    def n(self, c):
        return self.counts.get(c, 0)

    def merge(self, other, times):
        """Adds other's statements, each counted times times."""
        for c, k in other.counts.items():
            self.counts[c] = self.counts.get(c, 0) + times * k
        self.instructions += times * other.instructions
        self.issue += times * other.issue
        self.shared_wavefronts += times * other.shared_wavefronts


def divisions_in_loops(body):
    """How many div/rem statements lie inside a loop of the body."""
    spans = loops(body)
    return sum(1 for i, st in enumerate(body) if category(opcode(st)) == "div" and any(a <= i <= b for (a, b) in spans))


def mix_of(statements):
    m = Mix()
    for s in statements:
        if not LABEL.match(s):
            m.add(s)
    return m


def mean_of_instances(body, want, trips):
    """The mean mix of the loops that each directly enclose one loop with the counts want (the
    instantiations of one templated loop body, e.g. a scan's span loop per route, each run equally
    often), each with its nested loops weighted by trips(own mix, depth below it, whether it is a
    want loop, whether it has loops inside) executions per execution of the enclosing loop."""
    ls = loops(body)

    def inside(outer, inner):
        return outer[0] <= inner[0] and inner[1] <= outer[1] and outer != inner

    def own(loop):
        return mix_of([s for i, s in enumerate(body[loop[0]:loop[1] + 1], loop[0])
                       if not any(inside(loop, c) and c[0] <= i <= c[1] for c in ls)])

    wanted = [w for w in ls if all(own(w).n(c) == n for c, n in want.items())]
    found = []
    for w in wanted:
        around = [e for e in ls if inside(e, w)]
        if not around:
            continue
        e = max(around)   # the innermost enclosing loop starts last
        if sum(1 for v in wanted if inside(e, v)) == 1 and e not in found:
            found.append(e)
    if not found:
        raise ValueError(f"no loop encloses exactly one loop with the counts {want}")
    mean = Mix()
    for e in found:
        m = own(e)
        for c in ls:
            if inside(e, c):
                depth = sum(1 for d in ls if inside(e, d) and inside(d, c)) + 1
                m.merge(own(c), trips(own(c), depth, c in wanted, any(inside(c, d) for d in ls)))
        mean.merge(m, 1 / len(found))
    return found, mean


def hot_loop(body, path="work", want=None, nested=None):
    """The hot loop of a kernel body and its mix: every statement of its span once (nested loops
    once, every branch), so kernels with runtime branches inside the loop are overcounted.
    path "work": the loop whose own statements (nested loops excluded) hold the most FMAs, else
    the most memory instructions, else the most instructions. path "fast": of the innermost loops
    that load from global memory without a division, the one with the fewest instructions per load
    (the contiguous fast path of a kernel that also has strided ones). path "outer": the loop
    that directly encloses the "work" loop (a kernel whose per-step work is spread over a loop
    and the short loops nested in it). path "body": the whole body, each statement once (a
    kernel of one pixel or element per thread, whose only loops stage its tile). path "mean": the
    mean of the loops that each directly enclose one loop with the counts want, nested loops
    weighted by nested(own mix, depth, is a want loop, has loops inside) (mean_of_instances). The
    whole body where there is no loop. want {category: n}: only loops whose own statements have exactly those
    counts (one instantiation of a template that a kernel inlines several times). nested(mix of
    the nested loops) -> trips: the statements of the loops nested in the hot one count that many
    times (a short outer loop around a long inner one)."""
    ls = loops(body)
    if not ls or (path == "body" and nested is None):
        return None, mix_of(body)
    if path == "mean":
        found, m = mean_of_instances(body, want, nested)
        return found[0], m
    if path == "body":
        # one row or pixel per thread whose loops run a known number of times: the body once, each
        # outermost loop (its nested loops included) nested(its mix) times
        outer = [(a, b) for (a, b) in ls if not any(c <= a and b <= d and (c, d) != (a, b) for (c, d) in ls)]
        inside = {i for (a, b) in outer for i in range(a, b + 1)}
        m = mix_of([s for i, s in enumerate(body) if i not in inside])
        for (a, b) in outer:
            loop = mix_of(body[a:b + 1])
            m.merge(loop, nested(loop))
        return None, m
    if path == "outer":
        (a, b), _ = hot_loop(body)
        around = [(c, d) for (c, d) in ls if c <= a and b <= d and (c, d) != (a, b)]
        if not around:
            raise ValueError("the hot loop has no enclosing loop (path 'outer')")
        a, b = max(around)   # the innermost of the enclosing loops starts last
        return (a, b), mix_of(body[a:b + 1])
    best, best_key = None, None
    for (a, b) in ls:
        inner = [(c, d) for (c, d) in ls if a <= c and d <= b and (c, d) != (a, b)]
        if path == "fast":
            m = mix_of(body[a:b + 1])
            if inner or not m.n("ldg") or m.n("div"):
                continue
            key = (-m.issue / m.n("ldg"), m.n("ldg"), -a)
        else:
            m = mix_of([s for i, s in enumerate(body[a:b + 1], a) if not any(c <= i <= d for (c, d) in inner)])
            if want and any(m.n(c) != n for c, n in want.items()):
                continue
            key = (m.n("fma") + m.n("mma"), m.n("ldg") + m.n("lds") + m.n("stg"), m.instructions, -a)
        if best_key is None or key > best_key:
            best, best_key = (a, b), key
    if best is None:
        raise ValueError("no loop without division loads from global memory (path 'fast')" if path == "fast"
                         else f"no loop has the counts {want}")
    a, b = best
    if nested is None:
        return best, mix_of(body[a:b + 1])
    inside = {i for (c, d) in ls if a <= c and d <= b and (c, d) != (a, b) for i in range(c, d + 1)}
    inner = mix_of([s for i, s in enumerate(body) if i in inside])
    m = mix_of([s for i, s in enumerate(body[a:b + 1], a) if i not in inside])
    m.merge(inner, nested(inner))
    return best, m


