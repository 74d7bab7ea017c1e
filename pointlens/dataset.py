"""A dataset as a notebook uses it: ``ds[i]`` is sample i of one split (the test split unless
told), ``len(ds)`` its size, ``ds.classes`` the class names. Samples are the engine's
``PointCloud`` values (``.points`` (N, 3) float32, ``.label``)."""
from __future__ import annotations

from dataclasses import dataclass

from engine import PointCloud


@dataclass(frozen=True)
class Dataset:
    engine_dataset: object          # engine.data.dataset.Dataset
    split_name: str

    @property
    def path(self) -> str:
        return str(self.engine_dataset.path)

    @property
    def classes(self) -> list[str]:
        return list(self.engine_dataset.classes)

    @property
    def splits(self) -> dict[str, int]:
        return dict(self.engine_dataset.counts)

    def split(self, name: str) -> "Dataset":
        self.engine_dataset.split(name)              # an unknown split is refused here, by name
        return Dataset(self.engine_dataset, name)

    def __len__(self) -> int:
        return len(self.engine_dataset.split(self.split_name))

    def __getitem__(self, i: int) -> PointCloud:
        return self.engine_dataset.split(self.split_name)[i]

    def __repr__(self) -> str:
        return (f"<pointlens.Dataset {self.path!r} split {self.split_name!r}: {len(self)} samples, "
                f"{len(self.classes)} classes>")
