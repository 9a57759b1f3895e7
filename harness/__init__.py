"""laebench harness: grid configs, the Ray Tune runner, the model cache, data and leaderboards.

`python -m harness run --grid configs/demo.yaml`; `python -m harness list`; `python -m harness report DIR`.
"""
