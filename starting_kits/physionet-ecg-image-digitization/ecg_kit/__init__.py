"""An ECG image digitizer: deskew, grid-based calibration, a trace map (classical, or a timm U-Net), column-wise
decoding with sub-pixel refinement, time placement, resampling to fs, limb leads made consistent (Einthoven,
Goldberger). Never NaN."""

LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
ROWS = (("I", "aVR", "V1", "V4"), ("II", "aVL", "V2", "V5"), ("III", "aVF", "V3", "V6"), ("II",))
MM_PER_SECOND, MM_PER_MV = 25.0, 10.0
COLUMN_SECONDS = 2.5  # each printed column holds 2.5 s of its leads
PAGE_MM = (279.4, 215.9)
