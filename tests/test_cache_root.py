"""One cache root for models, datasets and indexes, and an empty TFGRPO_CACHE is not the working directory."""

from tfgrpo_agents._cache import cache_root
from tfgrpo_agents.core.hub import cache_path
from tfgrpo_agents.models.local_model import _cache_dir as models_dir  # model_path would assemble the model


def test_every_cache_follows_tfgrpo_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("TFGRPO_CACHE", str(tmp_path))
    assert cache_path("hf:openai/gsm8k:main:test").parent == tmp_path / "hub"
    assert models_dir() == tmp_path / "models"
    assert cache_root() == tmp_path


def test_an_empty_tfgrpo_cache_means_the_home_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("TFGRPO_CACHE", "")
    monkeypatch.setenv("HOME", str(tmp_path))
    home = tmp_path / ".cache" / "tfgrpo_agents"
    assert cache_path("hf:openai/gsm8k:main:test").parent == home / "hub"
    assert models_dir() == home / "models", "was Path('') / 'models': the working directory"
    assert cache_root() == home
