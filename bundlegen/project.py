"""Where things live in the project, found by scanning folders: adding a task needs no central edit."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from programlib.safe_yaml import YamlError, load_yaml_file

ROOT = Path(__file__).resolve().parent.parent
DEFINITION_FILE = "bundle.yaml"


@dataclass(frozen=True)
class Project:
    root: Path = ROOT

    @property
    def bundles_dir(self) -> Path:
        return self.root / "bundles"

    @property
    def templates_dir(self) -> Path:
        return self.root / "templates"

    @property
    def data_cache_dir(self) -> Path:
        return self.root / "data" / "generated"

    def task_dirs(self) -> dict[str, Path]:
        """Task id (its folder name) → folder, for every folder of bundles/ holding a bundle.yaml."""
        if not self.bundles_dir.is_dir():
            return {}
        return {path.parent.name: path.parent for path in sorted(self.bundles_dir.glob(f"*/{DEFINITION_FILE}"))}

    def scoring_programs(self) -> dict[str, Path]:
        return self._programs("scoring_programs")

    def ingestion_programs(self) -> dict[str, Path]:
        return self._programs("ingestion_programs")

    def starting_kits(self) -> dict[str, Path]:
        folder = self.root / "starting_kits"
        return {path.name: path for path in sorted(folder.iterdir()) if path.is_dir()} if folder.is_dir() else {}

    def images(self) -> dict[str, dict]:
        """Docker images the project ships: docker/<name>/image.yaml (tag, python, module overrides)."""
        images = {}
        for path in sorted((self.root / "docker").glob("*/image.yaml")):
            label = self.relative(path)
            info = load_yaml_file(path, label=label) or {}  # a YamlError (a ValueError) names the file
            if not isinstance(info, dict):
                raise YamlError(label, f"the top level must be a mapping (tag, python, ...), not {type(info).__name__}")
            info["dir"] = path.parent
            images[path.parent.name] = info
        return images

    def _programs(self, kind: str) -> dict[str, Path]:
        folder = self.root / kind
        if not folder.is_dir():
            return {}
        return {path.parent.name: path.parent for path in sorted(folder.glob("*/metadata.yaml"))}

    def relative(self, path: Path) -> str:
        try:
            return str(path.resolve().relative_to(self.root))
        except ValueError:
            return str(path)
