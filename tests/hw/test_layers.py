"""Layer shapes: output sizes, GEMM forms, compulsory elements, bad shapes."""

import pytest

from ristretto_sim.hw.layers import ConvShape, ConvTransposeShape, GemmShape


def test_conv_output_sizes_and_gemm():
    c = ConvShape("c", 227, 227, 3, 96, kernel=11, stride=4)
    assert (c.out_h, c.out_w) == (55, 55)
    p = c.problem()
    assert (p.m, p.n, p.k) == (3025, 96, 363)
    d = ConvShape("d", 32, 32, 8, 8, kernel=3, padding=2, dilation=2, batch=4)
    assert d.out_h == 32 and d.problem().m == 4 * 32 * 32
    assert d.problem().input_elements == 4 * 32 * 32 * 8


def test_strided_1x1_touches_a_quarter_of_the_input():
    p = ConvShape("s", 16, 16, 4, 4, kernel=1, stride=2).problem()
    assert p.input_elements == 8 * 8 * 4


def test_filter_larger_than_input():
    with pytest.raises(
        ValueError, match=r"kernel=\(7, 7\).*larger than the padded input height 5 in layer 'x'"
    ):
        ConvShape("x", 5, 5, 1, 1, kernel=7)
    ConvShape("x", 5, 5, 1, 1, kernel=7, padding=1)


def test_bad_fields():
    with pytest.raises(ValueError, match="groups=3 must divide"):
        ConvShape("g", 8, 8, 4, 4, groups=3)
    with pytest.raises(ValueError, match="h=0"):
        ConvShape("g", 0, 8, 4, 4)
    with pytest.raises(ValueError, match="m=0"):
        GemmShape("g", 0, 1, 1)
    with pytest.raises(TypeError, match="name"):
        GemmShape("", 1, 1, 1)
    with pytest.raises(ValueError, match="output_padding"):
        ConvTransposeShape("t", 4, 4, 1, 1, kernel=3, stride=2, output_padding=2)


def test_conv_transpose_matches_pytorch_size():
    t = ConvTransposeShape(
        "t", 7, 5, 4, 2, kernel=(3, 4), stride=(2, 3), padding=(1, 0), output_padding=(1, 2)
    )
    # PyTorch: (H-1)*s - 2p + d(k-1) + op + 1
    assert (t.out_h, t.out_w) == ((7 - 1) * 2 - 2 + 2 + 1 + 1, (5 - 1) * 3 - 0 + 3 + 2 + 1)
    p = t.problem()
    assert p.useful_macs < p.executed_macs
