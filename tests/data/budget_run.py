"""Run as a script by test_memory_budget.py: fit and label a file on disk, print peak memory.

``python budget_run.py PATH CHUNK_ROWS OUT`` streams PATH (a .npy file) through
VAE.from_data, 20 training steps of the Trainer, encoding and labelling every row on
Dask (written to OUT, a zarr group), then prints one JSON line: rows, clusters, the
seconds taken and this process's peak resident memory (VmHWM, bytes).
"""

from __future__ import annotations

import json
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def vm_hwm() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM")


def main(path: str, chunk_rows: int, out: str) -> None:
    import zarr

    from vaewidget import VAE, Trainer
    from vaewidget.clustering.distributed import cluster_source
    from vaewidget.clustering.results import write_results
    from vaewidget.data import as_source

    start = time.perf_counter()
    source = as_source(path, chunk_rows=chunk_rows)
    model = VAE.from_data(source, latent_dim=2, hidden_units=(32,), seed=0)
    trainer = Trainer(model, source, epochs=1, steps_per_epoch=20, batch_size=256,
                      validation_split=0.0)
    trainer.start()
    assert trainer.wait(600) and trainer.state == "finished", trainer.error
    result = cluster_source(model, source, max_fit=2000, min_cluster_size=source.n_rows // 50,
                            min_samples=5, chunk_rows=chunk_rows)
    write_results(out, result, overwrite=True)
    labels = zarr.open_group(out, mode="r")["labels"]
    assert labels.shape == (source.n_rows,)
    print(json.dumps({"rows": source.n_rows, "clusters": result.n_clusters,
                      "seconds": time.perf_counter() - start, "peak": vm_hwm()}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
