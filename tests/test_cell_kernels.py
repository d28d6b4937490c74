"""The compiled cell-phase kernels (minisim.kernels) against their numpy/scipy or interpreted forms.

Each kernel is checked on random ragged inputs that reach past the canvas
edges, against a reference that does not share its code.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.ndimage as ndi

from minisim.footprint import Footprints, _csr_arrays_numpy
from minisim.kernels.blur import blur_patches
from minisim.kernels.jit import LazyKernel
from minisim.kernels.sparse import patches_to_csr
from minisim.kernels.vessels import rasterize_capsules
from minisim.steps.vessels import Growth, capsule_chord_um, grow_vessel_tree, rasterize_vessels

pytest.importorskip("numba")
CANVAS = (150, 140)


def ragged_footprints(seed: int, n: int = 200) -> Footprints:
    """Patches of random sizes (some empty, many zeros inside), some partly or wholly off the canvas."""
    rng = np.random.default_rng(seed)
    patches = []
    for _ in range(n):
        shape = (int(rng.integers(0, 30)), int(rng.integers(1, 30)))
        patches.append(np.where(rng.random(shape) < 0.3, 0.0, rng.random(shape)).astype(np.float32))
    offsets = rng.integers(-40, 170, (n, 2))
    return Footprints(offsets, tuple(patches), CANVAS)


def test_compiled_kernels_are_compiled():
    assert patches_to_csr.is_compiled and blur_patches.is_compiled and rasterize_capsules.is_compiled


@pytest.mark.parametrize("weighted", [False, True])
def test_to_csr_equals_the_numpy_construction_and_the_dense_stack(weighted):
    fp = ragged_footprints(0)
    weights = np.random.default_rng(1).random(len(fp)) if weighted else None
    csr = fp.to_csr(weights)
    shapes = np.array([p.shape for p in fp.patches]).reshape(-1, 2)
    vals = np.concatenate([p.ravel() for p in fp.patches])
    wts = np.ones(len(fp)) if weights is None else weights
    data, indices, indptr = _csr_arrays_numpy(vals, shapes, shapes.prod(axis=1), fp.offsets, *CANVAS, wts)
    np.testing.assert_array_equal(csr.data, data)
    np.testing.assert_array_equal(csr.indices, indices)
    np.testing.assert_array_equal(csr.indptr, indptr)
    assert csr.has_canonical_format and csr.nnz > 1000
    dense = fp.to_dense().reshape(len(fp), -1) * wts[:, None]
    np.testing.assert_array_equal(csr.toarray(), dense.astype(np.float32))


def test_compiled_blur_equals_scipy_gaussian_filter_on_the_whole_canvas():
    fp = ragged_footprints(2)
    rng = np.random.default_rng(3)
    sigma = rng.choice([0.0, 0.7, 2.5, 9.0], len(fp))
    gain = rng.random(len(fp))
    blurred = fp.blurred(sigma, gain).to_dense()
    for i in range(len(fp)):  # the reference: the planted cell alone on the canvas, filtered by scipy
        canvas = fp.subset([i]).to_dense()[0]
        ref = ndi.gaussian_filter(canvas, sigma[i], mode="constant", truncate=4.0) if sigma[i] > 0 else canvas
        np.testing.assert_allclose(blurred[i], (ref * gain[i]).astype(np.float32), rtol=1e-5, atol=1e-7)


def test_compiled_blur_equals_its_scipy_fallback_exactly_in_float32():
    fp = ragged_footprints(4)
    sigma = np.random.default_rng(5).choice([0.0, 1.3, 6.0], len(fp))
    gain = np.full(len(fp), 0.5)
    fast = fp.blurred(sigma, gain)
    windows = np.array([p.shape for p in fast.patches]).reshape(-1, 2)
    slow = fp._blurred_scipy(sigma, gain, fast.offsets, windows)
    np.testing.assert_array_equal(fast.offsets, slow.offsets)
    assert max(np.abs(a - b).max(initial=0) for a, b in zip(fast.patches, slow.patches, strict=True)) <= 1e-7


def test_compiled_vessel_raster_equals_the_capsule_formula_and_the_interpreted_kernel():
    growth = Growth(14.0, 2.0, 0.2, math.radians(8), math.radians(30), 0.7, 1.5)
    bounds = (-120.0, 120.0, -120.0, 120.0)
    trees = [grow_vessel_tree(bounds, (-60.0 + 40 * k, -118.0, 0.3 * k), growth, (0, 1, 0, k)) for k in range(3)]
    shape, px = (97, 101), 2.5
    fast = rasterize_vessels(trees, shape, px)
    # reference: the chord formula, max within a tree, summed over trees, on every pixel at once
    py = ((np.arange(shape[0]) - (shape[0] - 1) / 2) * px)[:, None]
    pxs = ((np.arange(shape[1]) - (shape[1] - 1) / 2) * px)[None, :]
    ref = sum(np.max([capsule_chord_um(py, pxs, seg) for seg in tree], axis=0) for tree in trees)
    assert fast.max() > 20 and (fast > 0).mean() > 0.05
    np.testing.assert_allclose(fast, ref, rtol=1e-12, atol=1e-9)
    starts = np.cumsum([0] + [len(t) for t in trees])
    slow = rasterize_capsules.py(np.concatenate(trees), starts, *shape, px, (shape[0] - 1) / 2, (shape[1] - 1) / 2)
    np.testing.assert_array_equal(fast, slow)


def test_a_lazy_kernel_runs_interpreted_without_numba(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_numba(name, *args, **kwargs):
        if name == "numba":
            raise ImportError("numba hidden by the test")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_numba)
    kernel = LazyKernel(lambda x: x + 1)
    assert kernel(1) == 2 and not kernel.is_compiled


@pytest.mark.parametrize(("n", "sigma"), [(12, 1.5), (5, 2.0), (30, 1.0), (3, 4.0)])
def test_periodic_gaussian_matrix_is_scipys_wrap_mode_filter(n, sigma):
    from minisim.steps.morphology import periodic_gaussian_matrix

    x = np.random.default_rng(n).standard_normal((n, n))
    k = periodic_gaussian_matrix(n, sigma)
    np.testing.assert_allclose(k @ x @ k.T, ndi.gaussian_filter(x, sigma, mode="wrap"), rtol=0, atol=1e-14)
