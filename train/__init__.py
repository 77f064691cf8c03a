"""Training (installed as ``lsr.train``): losses, distillation, data and the trainer.

Reserved for the training stack (SPLADE / inference-free training with FLOPS and IDF-aware
FLOPS, ensemble distillation); nothing is exported yet.
"""
