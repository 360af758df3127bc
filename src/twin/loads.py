"""IT load profiles: named, validated utilisation schedules read from TOML.

``load_profile("training-job")`` reads ``sim/loads/training-job.toml``;
``load_profile("/path/to/mine.toml")`` reads a user's file. Each file has a
``kind`` (``"steady"``, ``"diurnal_inference"`` or ``"training_job"``), a
``description``, a ``source`` and the parameters of that kind's function in
:mod:`twin.physics.load`. Unknown keys, missing keys, wrong types and values out of
range are reported as :class:`~twin.errors.ConfigError` naming the file, the key
and, where it can be found, its line.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from twin.config import read_toml
from twin.errors import ConfigError
from twin.paths import data_path
from twin.physics import load as physics

__all__ = [
    "DiurnalInferenceLoad",
    "LoadProfile",
    "SteadyLoad",
    "TrainingJobLoad",
    "load_profile",
]

Level = Annotated[float, Field(ge=0.0, le=1.0)]
"""A utilisation [0-1]."""


class _ProfileFile(BaseModel):
    """Keys every profile file has."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    description: Annotated[str, Field(min_length=1)]
    source: Annotated[str, Field(min_length=1)]


class SteadyLoad(_ProfileFile):
    """Constant utilisation (:func:`twin.physics.load.steady`)."""

    kind: Literal["steady"]
    level: Level


class DiurnalInferenceLoad(_ProfileFile):
    """Daily raised-cosine cycle (:func:`twin.physics.load.diurnal_inference`)."""

    kind: Literal["diurnal_inference"]
    base: Level
    peak: Level
    peak_hour: Annotated[float, Field(ge=0.0, lt=24.0)] = 14.0

    @field_validator("peak")
    @classmethod
    def _peak_not_below_base(cls, peak: float, info: ValidationInfo) -> float:
        base = info.data.get("base")
        if base is not None and peak < base:
            raise ValueError(f"must not be below base ({base:g})")
        return peak


class TrainingJobLoad(_ProfileFile):
    """Compute/communication swings and checkpoint dips
    (:func:`twin.physics.load.training_job`)."""

    kind: Literal["training_job"]
    compute_level: Level
    communication_level: Level
    period_s: Annotated[float, Field(gt=0.0)]
    communication_frac: Level
    checkpoint_interval_s: Annotated[float, Field(gt=0.0)]
    checkpoint_duration_s: Annotated[float, Field(ge=0.0)]
    checkpoint_level: Level
    start_s: float = 0.0
    idle_level: Level = 0.0

    @field_validator("checkpoint_duration_s")
    @classmethod
    def _shorter_than_interval(cls, duration: float, info: ValidationInfo) -> float:
        interval = info.data.get("checkpoint_interval_s")
        if interval is not None and duration >= interval:
            raise ValueError(f"must be shorter than checkpoint_interval_s ({interval:g} s)")
        return duration


ProfileParameters = SteadyLoad | DiurnalInferenceLoad | TrainingJobLoad

_KINDS: dict[str, tuple[type[ProfileParameters], Callable[..., NDArray[np.float64]]]] = {
    "steady": (SteadyLoad, physics.steady),
    "diurnal_inference": (DiurnalInferenceLoad, physics.diurnal_inference),
    "training_job": (TrainingJobLoad, physics.training_job),
}


@dataclasses.dataclass(frozen=True)
class LoadProfile:
    """A validated IT utilisation profile.

    Attributes
    ----------
    name : str
        File stem, e.g. ``"training-job"``.
    path : pathlib.Path
        The file it was read from.
    parameters : SteadyLoad, DiurnalInferenceLoad or TrainingJobLoad
        The validated file contents (frozen): ``kind``, ``description``, ``source``
        and the parameters of the kind's function.
    """

    name: str
    path: Path
    parameters: ProfileParameters

    @property
    def kind(self) -> str:
        return self.parameters.kind

    @property
    def description(self) -> str:
        return self.parameters.description

    @property
    def source(self) -> str:
        return self.parameters.source

    def utilisation(self, t_s: ArrayLike, window_s: float = 0.0) -> NDArray[np.float64]:
        """Utilisation [0-1] at simulation times ``t_s`` [s], shape of ``t_s``.

        With ``window_s > 0`` it is the exact mean over ``(t_s - window_s, t_s]``:
        pass the step length when stepping coarser than the profile's swings.

        Examples
        --------
        The first day of the shipped training job in 1-minute steps (each step
        stamped at its end, like the weather):

        >>> profile = load_profile("training-job")
        >>> t_s = np.arange(1, 1441) * 60.0
        >>> round(float(profile.utilisation(t_s, window_s=60.0).mean()), 4)
        0.7576
        """
        function = _KINDS[self.kind][1]
        arguments = self.parameters.model_dump(exclude={"kind", "description", "source"})
        return function(t_s, **arguments, window_s=window_s)


def load_profile(name_or_path: str | os.PathLike[str]) -> LoadProfile:
    """Read and validate an IT load profile by name or from a TOML file.

    Parameters
    ----------
    name_or_path : str or os.PathLike
        A shipped profile (``"steady"``, ``"diurnal-inference"``,
        ``"training-job"``; ``_`` and ``-`` are interchangeable), or the path of a
        ``.toml`` file.

    Returns
    -------
    LoadProfile

    Raises
    ------
    twin.errors.ConfigError
        Unknown name (listing the shipped ones), unreadable file, TOML syntax
        error, or a missing, unknown, mistyped or out-of-range key.

    Examples
    --------
    >>> profile = load_profile("steady")
    >>> profile.kind, float(profile.utilisation(0.0))
    ('steady', 0.8)
    """
    path = _resolve(name_or_path)
    data, text = read_toml(path)
    return LoadProfile(name=path.stem, path=path, parameters=_validate(path, text, data))


def _resolve(name_or_path: str | os.PathLike[str]) -> Path:
    text = os.fspath(name_or_path)
    path = Path(text)
    if path.suffix.lower() == ".toml" or os.sep in text or path.exists():
        return path
    folder = data_path("sim", "loads")
    shipped = folder / f"{text.strip().lower().replace('_', '-')}.toml"
    if shipped.is_file():
        return shipped
    available = ", ".join(sorted(p.stem for p in folder.glob("*.toml"))) or "none found"
    raise ConfigError(
        folder, f"unknown load profile {text!r}: expected one of {available}, or a .toml path"
    )


def _validate(path: Path, text: str, data: dict[str, Any]) -> ProfileParameters:
    kinds = ", ".join(f'"{kind}"' for kind in _KINDS)
    kind = data.get("kind")
    if kind is None:
        raise ConfigError(path, f"required key is missing; expected one of {kinds}", key="kind")
    if kind not in _KINDS:
        raise ConfigError(
            path,
            f"expected one of {kinds}, got {kind!r}",
            key="kind",
            line=_line_of(text, "kind"),
        )
    model = _KINDS[kind][0]
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        key = ".".join(str(part) for part in first["loc"]) or None
        if first["type"] == "missing":
            message = "required key is missing"
        elif first["type"] == "extra_forbidden":
            valid = ", ".join(model.model_fields)
            message = f"unknown key for kind {kind!r}; valid keys: {valid}"
        else:
            reason = first["msg"].removeprefix("Value error, ")
            message = f"{reason[:1].lower()}{reason[1:]}, got {_show(first.get('input'))}"
        line = _line_of(text, key) if key else None
        raise ConfigError(path, message, key=key, line=line) from None


def _show(value: Any) -> str:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return str(value)
    return repr(value)


def _line_of(text: str, key: str) -> int | None:
    """1-based line where a top-level ``key = …`` is set, if it can be found."""
    pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
    for number, line in enumerate(text.splitlines(), start=1):
        if pattern.match(line):
            return number
    return None
