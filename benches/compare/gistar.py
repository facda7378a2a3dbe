"""Peers for the hotspot engine: esda (PySAL) and pygeoda (libgeoda) on the benchmark lattice.

The lattice is the one benches/hotspots.rs builds: side = floor(sqrt(N)) cells per row, cell (c, r)
at x = c, y = r (row-major, index r * side + c), distance band 3 with binary weights, values

    noise = mix64((i * 0x9E3779B97F4A7C15 mod 2^64) XOR 20261123) >> 62        (0..3, SplitMix64 finaliser)
    value = noise + 4 if ((c // 40) * 7 + (r // 40) * 3) % 11 == 0 else noise

One process per mode so that peak memory is per mode. Each mode prints one JSON line with seconds
and peak RSS, and writes its results to OUT (raw little-endian float64) for `compare` and for
jointmap's `peer_lattice` tests:

    python gistar.py esda_gistar  N OUT          # libpysal DistanceBand + esda G_Local(B, star) analytic
    python gistar.py geoda_gistar N OUT [THREADS] # pygeoda distance_weights + local_gstar (1 permutation)
    python gistar.py esda_moran   N OUT          # esda Moran_Local, 99 permutations, numba, n_jobs=-1
    python gistar.py geoda_moran  N OUT [THREADS] # pygeoda local_moran, 99 permutations
    python gistar.py compare      N OUT          # esda vs pygeoda answers

Needs numpy, esda, libpysal, pygeoda, geopandas (and numba for esda_moran).
"""
import json
import resource
import sys
import time

import numpy as np

SEED = 20261123
GOLDEN = 0x9E3779B97F4A7C15


def mix64(x):
    x = x.astype(np.uint64)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def lattice(n):
    side = int(np.sqrt(n))
    r, c = np.divmod(np.arange(side * side, dtype=np.uint64), np.uint64(side))
    i = np.arange(side * side, dtype=np.uint64)
    with np.errstate(over="ignore"):
        noise = mix64((i * np.uint64(GOLDEN)) ^ np.uint64(SEED)) >> np.uint64(62)
    ci, ri = c.astype(np.int64), r.astype(np.int64)
    hot = ((ci // 40) * 7 + (ri // 40) * 3) % 11 == 0
    y = noise.astype(np.float64) + np.where(hot, 4.0, 0.0)
    coords = np.column_stack([ci, ri]).astype(np.float64)
    return coords, y


def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report(**kw):
    kw["peak_mb"] = round(rss_mb())
    print(json.dumps(kw), flush=True)


def esda_weights(coords):
    import libpysal

    return libpysal.weights.DistanceBand(coords, threshold=3.0, binary=True, silence_warnings=True)


def geoda_weights(coords, y):
    import geopandas as gpd
    import pygeoda

    t0 = time.perf_counter()
    gdf = gpd.GeoDataFrame({"y": y}, geometry=gpd.points_from_xy(coords[:, 0], coords[:, 1]))
    gda = pygeoda.open(gdf)
    t1 = time.perf_counter()
    w = pygeoda.distance_weights(gda, 3.0)  # Euclidean, binary
    t2 = time.perf_counter()
    return w, t1 - t0, t2 - t1


def main():
    what, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    extra = sys.argv[4:]
    coords, y = lattice(n)
    cells = len(y)
    if what == "esda_gistar":
        import esda

        t0 = time.perf_counter()
        w = esda_weights(coords)
        t1 = time.perf_counter()
        g = esda.G_Local(y, w, transform="B", star=True, permutations=0)
        t2 = time.perf_counter()
        np.asarray(g.Zs, dtype="<f8").tofile(f"{out}/esda_gistar_z.f64")
        report(tool="esda", work="gistar", cells=cells, weights_s=t1 - t0, stat_s=t2 - t1, total_s=t2 - t0)
    elif what == "geoda_gistar":
        import pygeoda

        threads = int(extra[0]) if extra else 2
        w, load_s, weights_s = geoda_weights(coords, y)
        t0 = time.perf_counter()
        lisa = pygeoda.local_gstar(w, list(y), permutations=1, cpu_threads=threads, seed=123456789)
        stat_s = time.perf_counter() - t0
        np.asarray(lisa.lisa_values(), dtype="<f8").tofile(f"{out}/geoda_gistar_g.f64")
        np.asarray(lisa.lisa_num_nbrs(), dtype="<f8").tofile(f"{out}/geoda_nbrs.f64")
        report(tool="pygeoda", work="gistar", cells=cells, threads=threads, load_s=load_s, weights_s=weights_s,
               stat_s=stat_s, total_s=weights_s + stat_s)
    elif what == "esda_moran":
        import esda
        import numba  # noqa: F401  (without numba esda's permutation loop is pure Python)

        small_c, small_y = lattice(2500)  # compile the numba kernels outside the timing
        ws = esda_weights(small_c)
        ws.transform = "r"
        esda.Moran_Local(small_y, ws, transformation="r", permutations=99, seed=1, n_jobs=-1)
        t0 = time.perf_counter()
        w = esda_weights(coords)
        t1 = time.perf_counter()
        m = esda.Moran_Local(y, w, transformation="r", permutations=99, seed=12345, n_jobs=-1)
        t2 = time.perf_counter()
        np.asarray(m.Is, dtype="<f8").tofile(f"{out}/esda_moran_is.f64")
        np.asarray(m.p_sim, dtype="<f8").tofile(f"{out}/esda_moran_p.f64")
        report(tool="esda", work="moran99", cells=cells, weights_s=t1 - t0, stat_s=t2 - t1, total_s=t2 - t0)
    elif what == "geoda_moran":
        import pygeoda

        threads = int(extra[0]) if extra else 2
        w, load_s, weights_s = geoda_weights(coords, y)
        t0 = time.perf_counter()
        lisa = pygeoda.local_moran(w, list(y), permutations=99, cpu_threads=threads, seed=123456789)
        stat_s = time.perf_counter() - t0
        np.asarray(lisa.lisa_values(), dtype="<f8").tofile(f"{out}/geoda_moran_i.f64")
        np.asarray(lisa.lisa_pvalues(), dtype="<f8").tofile(f"{out}/geoda_moran_p.f64")
        report(tool="pygeoda", work="moran99", cells=cells, threads=threads, load_s=load_s, weights_s=weights_s,
               stat_s=stat_s, total_s=weights_s + stat_s)
    elif what == "compare":
        ez = np.fromfile(f"{out}/esda_gistar_z.f64")
        gg = np.fromfile(f"{out}/geoda_gistar_g.f64")
        k1 = np.fromfile(f"{out}/geoda_nbrs.f64") + 1.0
        # GeoDa's G* is row-standardised with the cell included: G_B = G_geoda * (k + 1); z from esda's moments.
        m, s2 = y.mean(), y.var()
        e = k1 / cells
        v = k1 * (cells - k1) / (cells - 1) / cells**2 * s2 / m**2
        gz = (gg * k1 - e) / np.sqrt(v)
        print(f"Gi*: esda Zs vs z from pygeoda G*: max |diff| {np.max(np.abs(ez - gz)):.2e}")
        try:
            ei = np.fromfile(f"{out}/esda_moran_is.f64")
            gi = np.fromfile(f"{out}/geoda_moran_i.f64")
            ep = np.fromfile(f"{out}/esda_moran_p.f64")
            gp = np.fromfile(f"{out}/geoda_moran_p.f64")
            print(f"Local Moran: max |esda Is - pygeoda I| {np.max(np.abs(ei - gi)):.2e}; "
                  f"share p <= 0.05: esda {np.mean(ep <= 0.05):.4f}, pygeoda {np.mean(gp <= 0.05):.4f}")
        except FileNotFoundError as ex:
            print("Local Moran compare skipped:", ex)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
