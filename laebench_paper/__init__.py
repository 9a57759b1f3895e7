"""The Laplacian autoencoder paper (Miani, Warburg et al.) as a laebench paper: its published claims (`claims`),
the figures shown beside them (`figures`) and its numbers (`reference.csv`, copied from its tables; `SOURCE.md`).
Importing it registers the paper (`harness.report.claims`); installed, it is found through the entry point group
`laebench.papers`, so `python -m harness report DIR --paper` judges its claims."""

from pathlib import Path

from harness.report.claims import Paper, register_paper

from .claims import CLAIMS
from .estimates import departure

PAPER = register_paper(
    Paper(
        name="laplacian-autoencoders",
        title="Laplacian Autoencoders for Learning Stochastic "
        "Representations (Miani, Warburg et al.)",
        claims=CLAIMS,
        reference_csv=Path(__file__).with_name("reference.csv"),
        departure=departure,
    )
)
