import numpy as np
from hist import axis
from tierflow.lh5 import LH5Iterator

hit_dir, dsp_dir = "tierflow-demo/tier/hit/cal/p00/r000", "tierflow-demo/tier/dsp/cal/p00/r000"
channels = ["ch1084803", "ch1084804", "ch1121600"]


def by_channel(tb, it):  # a function can return anything per chunk, here two arrays
    valid = tb.is_valid.nda
    return tb.trapTmax_cal.nda[valid], np.strings.replace(it.current_groups[valid], "/hit", "")


if __name__ == "__main__":  # processes=2 below starts workers that import this script again
    it = LH5Iterator(
        f"{hit_dir}/*.lh5", [f"{ch}/hit" for ch in channels],
        field_mask=["is_valid", "trapTmax_cal"], buffer_len="10 MB",
        friend=LH5Iterator(f"{dsp_dir}/*.lh5", [f"{ch}/dsp" for ch in channels],
                           field_mask=["bl_std"]),
    )
    df = it.query("is_valid & (trapTmax_cal > 2600) & (trapTmax_cal < 2630)", library="pd")
    h = it.hist(axis.Regular(300, 0, 3000, label="energy (keV)"), where="is_valid",
                keys="trapTmax_cal")
    h2 = it.hist([axis.Regular(300, 0, 3000, label="energy (keV)"),
                  axis.StrCategory([], growth=True, label="channel")], where=by_channel,
                 processes=2)  # or executor=ThreadPoolExecutor(...) or a dask distributed.Client
    counts = it.map(lambda tb, it: int(tb.is_valid.nda.sum()),
                    aggregate=lambda a, b: a + b, init=0)
    print(len(df), h.sum(flow=True), h2.sum(flow=True), sum(counts))
