"""Goldens for index_select, gather and scatter_add (dev.lumen.ops.Indexing)."""
import torch
from golden import run_case, save, engine_golden

torch.manual_seed(0)
s = {}

# Repeated indices check that the gradients accumulate.
run_case(s, "select0", lambda x, i: torch.index_select(x, 0, i), [torch.randn(5, 4), torch.tensor([3, 0, 3, 1])])
run_case(s, "select_last", lambda x, i: torch.index_select(x, -1, i),
         [torch.randn(2, 3, 7), torch.tensor([6, 0, 2], dtype=torch.int32)])
run_case(s, "select_mid", lambda x, i: torch.index_select(x, 1, i), [torch.randn(2, 5, 3), torch.tensor([4, 4, 1, 0, 2, 2])])

run_case(s, "gather1", lambda x, i: torch.gather(x, 1, i), [torch.randn(3, 5), torch.randint(0, 5, (3, 4))])
run_case(s, "gather0", lambda x, i: torch.gather(x, 0, i), [torch.randn(4, 6, 3), torch.randint(0, 4, (5, 4, 2))])
run_case(s, "gather_last", lambda x, i: torch.gather(x, -1, i), [torch.randn(2, 3, 8), torch.randint(0, 8, (2, 3, 5))])

run_case(s, "scatter0", lambda x, i, src: torch.scatter_add(x, 0, i, src),
         [torch.randn(4, 5), torch.randint(0, 4, (6, 5)), torch.randn(6, 5)])
run_case(s, "scatter_last", lambda x, i, src: torch.scatter_add(x, -1, i, src),
         [torch.randn(2, 3, 6), torch.randint(0, 6, (2, 3, 9)), torch.randn(2, 3, 9)])
run_case(s, "scatter_small", lambda x, i, src: torch.scatter_add(x, 1, i, src),
         [torch.randn(3, 6), torch.randint(0, 6, (2, 4)), torch.randn(2, 4)])

save(engine_golden("indexing"), s, {"torch": torch.__version__})
