"""Weight Gate: a model-weight transfer gate for ECCN 4E091 (the 2025 AI Diffusion rule)."""

__version__ = "0.1.0"
