"""environment.yml and pyproject.toml name the same packages with the same minimum versions."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def pyproject_requirements() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs += extra
    return {_normalize(r) for r in reqs}


def conda_requirements() -> set[str]:
    """Top-level conda entries (`  - name>=x`), without python, pip and the pip sub-list."""
    dependencies = (ROOT / "environment.yml").read_text().split("dependencies:", 1)[1]
    entries = re.findall(r"^  - ([A-Za-z0-9_.\-]+[^\n]*)$", dependencies, re.M)
    return {_normalize(e) for e in entries if not re.match(r"(python|pip)\b", e)}


def _normalize(requirement: str) -> str:
    return re.sub(r"\s+", "", requirement).lower().replace("_", "-")


def test_conda_environment_matches_pyproject():
    assert conda_requirements() == pyproject_requirements()


def test_conda_environment_installs_the_package_with_every_extra():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert f"-e .[{','.join(extras)}]" in (ROOT / "environment.yml").read_text()
