import torch
from hypothesis import given
from hypothesis import strategies as st

from simlab.core.gather import take_cells, take_rows


@given(rows=st.integers(1, 30), width=st.sampled_from([0, 1, 2, 5]), picks=st.integers(0, 50), seed=st.integers(0, 99))
def test_take_rows_is_index_select(rows, width, picks, seed):
    g = torch.Generator().manual_seed(seed)
    table = torch.randn(rows, width, generator=g) if width else torch.randn(rows, generator=g)
    index = torch.randint(0, rows, (picks,), generator=g)
    got = take_rows(table, index)
    assert got.shape == table.index_select(0, index).shape
    assert torch.equal(got, table.index_select(0, index))


@given(rows=st.integers(1, 30), width=st.integers(1, 6), picks=st.integers(0, 50), seed=st.integers(0, 99))
def test_take_cells_is_advanced_indexing(rows, width, picks, seed):
    g = torch.Generator().manual_seed(seed)
    table = torch.randn(rows, width, generator=g)
    row, column = torch.randint(0, rows, (picks,), generator=g), torch.randint(0, width, (picks,), generator=g)
    assert torch.equal(take_cells(table, row, column), table[row, column])


def test_take_rows_reads_a_non_contiguous_column():
    # a (M, 1) column sliced out of a wider table is not contiguous: the vector gather must still
    # read the right elements
    table = torch.arange(12.0).reshape(6, 2)[:, 1:]
    index = torch.tensor([5, 0, 3])
    assert torch.equal(take_rows(table, index), table.index_select(0, index))
