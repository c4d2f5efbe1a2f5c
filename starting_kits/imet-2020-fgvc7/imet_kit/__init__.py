"""A GPU starting kit for iMet 2020 (FGVC7): timm backbones, asymmetric loss, OneCycle + AMP, flip TTA,
a global threshold searched on validation, and a submission writer. Runs on CUDA when present, CPU otherwise."""
