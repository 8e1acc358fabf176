"""The gap bins of the spread calibration (docs/design.md, "Calibrated spread"), for the
integration tests that check impute's /std and /members against the checkpoint's std_gap_factor."""
import numpy as np
def gap_bins(known, periodic=""):
    """the gap bin of every entry: chessboard distance d to the nearest known entry (the shorter way round along the
    axes in `periodic`, the checkpoint's attribute: "x", "y", "xy"; free borders elsewhere), bins 1, 2, 3-4, 5-8,
    9-16, 17-32, 33+ as 0..6"""
    dist = np.where(known, 0, 10**6)
    H, W = dist.shape[-2:]
    lead = [(0, 0)] * (dist.ndim - 2)
    for _ in range(max(H, W)):
        edge = lambda axis: {"mode": "wrap"} if axis in periodic else {"constant_values": 10**6}
        pad = np.pad(dist, lead + [(0, 0), (1, 1)], **edge("x"))
        pad = np.pad(pad, lead + [(1, 1), (0, 0)], **edge("y"))
        nb = np.min([pad[..., 1 + dy:1 + dy + H, 1 + dx:1 + dx + W] for dy in (-1, 0, 1) for dx in (-1, 0, 1)], axis=0)
        dist = np.minimum(dist, nb + 1)
    return np.minimum(np.ceil(np.log2(np.maximum(dist, 1))).astype(int), 6)
